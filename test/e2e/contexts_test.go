//go:build e2e

package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/yaml"

	"github.com/clusterops/kubectl-clusterops/pkg/contexts"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// fleet is a KUBECONFIG of two files over two live harness clusters ("one", current, and
// "two") and six broken contexts and entries, as issue 20 lists them.
type fleet struct {
	a, b         string // the two files, in loading precedence
	one, two     *harness.ControlPlane
	closedServer string
}

func (f fleet) env() []string {
	return []string{"KUBECONFIG=" + f.a + string(os.PathListSeparator) + f.b}
}

func adminEntries(t *testing.T, cp *harness.ControlPlane) (*clientcmdapi.Cluster, *clientcmdapi.AuthInfo) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Contexts[cfg.CurrentContext]
	cluster, user := cfg.Clusters[c.Cluster], cfg.AuthInfos[c.AuthInfo]
	cluster.LocationOfOrigin, user.LocationOfOrigin = "", ""
	return cluster, user
}

// expiredCert signs a client certificate with the cluster's CA that expired an hour ago.
func expiredCert(t *testing.T, cp *harness.ControlPlane) (certPEM, keyPEM []byte) {
	t.Helper()
	cas, err := certutil.CertsFromFile(filepath.Join(cp.PKI(), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := keyutil.PrivateKeyFromFile(filepath.Join(cp.PKI(), "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := keyutil.ParsePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "expired-user"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, cas[0], priv.(crypto.Signer).Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key
}

func newFleet(t *testing.T) fleet {
	t.Helper()
	two := harness.StartT(t, harness.Options{Name: "two", NoControllerManager: true, NoKubeadmObjects: true, NoMirrorPods: true})
	one := env.cp
	closedPort := heldClosedPort(t)
	f := fleet{one: one, two: two, closedServer: fmt.Sprintf("https://127.0.0.1:%d", closedPort)}
	dir := t.TempDir()
	f.a, f.b = filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")

	oneCluster, oneAdmin := adminEntries(t, one)
	twoCluster, twoAdmin := adminEntries(t, two)
	certPEM, keyPEM := expiredCert(t, one)
	closed := oneCluster.DeepCopy()
	closed.Server = f.closedServer

	a := clientcmdapi.NewConfig()
	a.Clusters["one"], a.Clusters["closed"] = oneCluster, closed
	a.Clusters["unreferenced"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:9"}
	a.AuthInfos["admin-one"] = oneAdmin
	a.AuthInfos["expired-user"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	a.Contexts["one"] = &clientcmdapi.Context{Cluster: "one", AuthInfo: "admin-one"}
	a.Contexts["closed-port"] = &clientcmdapi.Context{Cluster: "closed", AuthInfo: "admin-one"}
	a.Contexts["expired"] = &clientcmdapi.Context{Cluster: "one", AuthInfo: "expired-user"}
	a.Contexts["missing-user"] = &clientcmdapi.Context{Cluster: "one", AuthInfo: "ghost"}
	a.CurrentContext = "one"

	b := clientcmdapi.NewConfig()
	b.Clusters["two"] = twoCluster
	b.Clusters["unreferenced"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:10"} // shadowed by a's
	b.AuthInfos["admin-two"] = twoAdmin
	b.AuthInfos["exec-user"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1", Command: "clusterops-no-such-credential-plugin", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}
	b.Contexts["two"] = &clientcmdapi.Context{Cluster: "two", AuthInfo: "admin-two"}
	b.Contexts["no-ns"] = &clientcmdapi.Context{Cluster: "two", AuthInfo: "admin-two", Namespace: "no-such-namespace"}
	b.Contexts["exec-missing"] = &clientcmdapi.Context{Cluster: "two", AuthInfo: "exec-user"}

	// Fields only a future (or another) tool knows, extensions and preferences, to be kept.
	writeWithExtras(t, f.a, a, func(doc map[string]any) {
		doc["extensions"] = []any{map[string]any{"name": "top-ext", "extension": map[string]any{"owner": "team-a"}}}
		doc["preferences"] = map[string]any{"colors": true}
		for _, c := range doc["clusters"].([]any) {
			if c.(map[string]any)["name"] == "one" {
				cl := c.(map[string]any)["cluster"].(map[string]any)
				cl["extensions"] = []any{map[string]any{"name": "cluster-ext", "extension": map[string]any{"region": "eu"}}}
				cl["futureField"] = "kept-by-prune"
			}
		}
	}, 0o640)
	writeWithExtras(t, f.b, b, func(doc map[string]any) { doc["x-unknown-top"] = "kept" }, 0o600)
	return f
}

// heldClosedPort is a 127.0.0.1 port that refuses connections for the whole test: a TCP socket is
// bound to it and never listens, so no other program on this shared machine can take the port
// (a port merely found free can be bound by another test's etcd a moment later).
func heldClosedPort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

func writeWithExtras(t *testing.T, path string, cfg *clientcmdapi.Config, edit func(map[string]any), mode os.FileMode) {
	t.Helper()
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if data, err = yaml.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func contextsReport(t *testing.T, f fleet, args ...string) (contexts.Report, result) {
	t.Helper()
	r := runEnv(t, f.env(), "kubectl", append([]string{"clusterops", "contexts", "-o", "json"}, args...)...)
	var rep contexts.Report
	decodeInto(t, r, &rep)
	return rep, r
}

func findingChecks(c contexts.Context) []string {
	var out []string
	for _, f := range c.Findings {
		out = append(out, f.Severity+"/"+f.Check)
	}
	slices.Sort(out)
	return out
}

// `contexts` over two live clusters and six broken contexts and entries reports each one with
// its own check, marks the current context, and exits 2.
func TestContextsChecksEveryContext(t *testing.T) {
	f := newFleet(t)
	rep, r := contextsReport(t, f, "--timeout", "10s")
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (problems found); stderr %q", r.code, r.stderr)
	}
	want := map[string][]string{
		"one":          nil,
		"two":          nil,
		"closed-port":  {"problem/reachable"},
		"expired":      {"problem/client-cert", "problem/credentials"},
		"missing-user": {"problem/dangling"},
		"no-ns":        {"problem/namespace"},
		"exec-missing": {"problem/exec"},
	}
	got := map[string][]string{}
	for _, c := range rep.Contexts {
		got[c.Name] = findingChecks(c)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings by context:\n got %v\nwant %v", got, want)
	}
	byName := map[string]contexts.Context{}
	for _, c := range rep.Contexts {
		byName[c.Name] = c
	}
	for name, cp := range map[string]*harness.ControlPlane{"one": f.one, "two": f.two} {
		c := byName[name]
		if c.Status != contexts.StatusOK || c.Server != cp.Server || c.ServerVersion != harness.KubernetesVersion ||
			c.TLS != "verified" || c.Reachable == nil || !*c.Reachable || c.LatencyMilliseconds == nil ||
			c.Identity == nil || c.Identity.Username != "kubernetes-admin" || c.NamespaceExists == nil || !*c.NamespaceExists ||
			c.Credential.Type != contexts.CredClientCert || c.Credential.ClientCert == nil || c.ClusterCA == nil ||
			c.Credential.ClientCert.Issuer != "CN=kubernetes" || c.ClusterCA.Subject != "CN=kubernetes" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if !byName["one"].Current || byName["two"].Current || rep.CurrentContext != "one" {
		t.Errorf("current: report %q, one %v, two %v", rep.CurrentContext, byName["one"].Current, byName["two"].Current)
	}
	if c := byName["closed-port"]; c.Reachable == nil || *c.Reachable || c.Server != f.closedServer {
		t.Errorf("closed-port: reachable %v server %s", c.Reachable, c.Server)
	}
	if c := byName["expired"]; c.Credential.ClientCert == nil || c.Credential.ClientCert.ExpiresInSeconds >= 0 ||
		c.Credential.ClientCert.Issuer != "CN=kubernetes" || c.Identity != nil || c.Reachable == nil || !*c.Reachable {
		t.Errorf("expired: %+v", c)
	}
	if c := byName["no-ns"]; c.NamespaceExists == nil || *c.NamespaceExists || c.Identity == nil {
		t.Errorf("no-ns: %+v", c)
	}
	if c := byName["exec-missing"]; c.Credential.Type != contexts.CredExec || c.Credential.ExecFound == nil || *c.Credential.ExecFound ||
		c.Reachable == nil || !*c.Reachable || c.ServerVersion != harness.KubernetesVersion {
		t.Errorf("exec-missing: %+v", c)
	}
	if len(rep.UnreferencedClusters) != 1 || rep.UnreferencedClusters[0].Name != "unreferenced" || rep.UnreferencedClusters[0].Source != f.a ||
		len(rep.UnreferencedUsers) != 0 {
		t.Errorf("unreferenced: clusters %+v users %+v", rep.UnreferencedClusters, rep.UnreferencedUsers)
	}

	// The table marks the current context and lists the unreferenced cluster.
	table := runEnv(t, f.env(), "kubectl", "clusterops", "contexts")
	if table.code != 2 || !containsLine(table.stdout, "*") || !strings.Contains(table.stdout, "unreferenced") {
		t.Errorf("table (exit %d):\n%s", table.code, table.stdout)
	}
	// --kubeconfig alone replaces the KUBECONFIG list, as with kubectl.
	only, _ := contextsReport(t, f, "--kubeconfig", f.b)
	if len(only.Contexts) != 3 {
		t.Errorf("--kubeconfig %s: %d contexts", f.b, len(only.Contexts))
	}
}

// `contexts prune` removes exactly the dangling context and the unreferenced cluster, from every
// file that has them, as clientcmd's own ModifyConfig (kubectl config delete-*) would, and keeps
// every other byte of meaning: extensions, preferences, unknown fields, mode and owner.
func TestContextsPruneMatchesClientcmd(t *testing.T) {
	f := newFleet(t)
	asRoot := os.Geteuid() == 0
	if asRoot {
		if err := os.Chown(f.a, 4321, 4322); err != nil {
			t.Fatal(err)
		}
	}
	origA, _ := os.ReadFile(f.a)
	origB, _ := os.ReadFile(f.b)

	// The reference: the same removals through clientcmd.ModifyConfig on a copy.
	refDir := t.TempDir()
	refA, refB := filepath.Join(refDir, "a.conf"), filepath.Join(refDir, "b.conf")
	os.WriteFile(refA, origA, 0o600)
	os.WriteFile(refB, origB, 0o600)
	refRules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{refA, refB}}
	refCfg, err := refRules.Load()
	if err != nil {
		t.Fatal(err)
	}
	delete(refCfg.Contexts, "missing-user")
	delete(refCfg.Clusters, "unreferenced")
	if err := clientcmd.ModifyConfig(refRules, *refCfg, false); err != nil {
		t.Fatal(err)
	}

	dry := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune", "--dry-run", "-o", "json")
	var plan contexts.Plan
	decodeInto(t, dry, &plan)
	var got []string
	for _, r := range plan.Removals {
		got = append(got, r.Kind+"/"+r.Name+"@"+strings.Join(r.Files, ","))
	}
	want := []string{"context/missing-user@" + f.a, "cluster/unreferenced@" + f.a}
	if dry.code != 0 || !reflect.DeepEqual(got, want) || !plan.DryRun {
		t.Fatalf("dry-run plan (exit %d): %v, want %v", dry.code, got, want)
	}
	if a, _ := os.ReadFile(f.a); string(a) != string(origA) {
		t.Fatal("--dry-run changed the kubeconfig")
	}

	p := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune")
	if p.code != 0 || !strings.Contains(p.stdout, "missing-user") || !strings.Contains(p.stdout, "backup: ") {
		t.Fatalf("prune: exit %d\n%s\n%s", p.code, p.stdout, p.stderr)
	}
	for i, file := range []string{f.a, f.b} {
		ours, err := clientcmd.LoadFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := clientcmd.LoadFromFile([]string{refA, refB}[i])
		if err != nil {
			t.Fatal(err)
		}
		clearOrigins(ours)
		clearOrigins(ref)
		if !reflect.DeepEqual(ours, ref) {
			t.Errorf("%s: clientcmd sees\n%+v\nwant what ModifyConfig made\n%+v", file, ours, ref)
		}
	}
	a, _ := os.ReadFile(f.a)
	b, _ := os.ReadFile(f.b)
	for _, keep := range []string{"futureField: kept-by-prune", "region: eu", "owner: team-a", "colors: true"} {
		if !strings.Contains(string(a), keep) {
			t.Errorf("%s lost %q:\n%s", f.a, keep, a)
		}
	}
	if !strings.Contains(string(b), "x-unknown-top: kept") {
		t.Errorf("%s lost its unknown field:\n%s", f.b, b)
	}
	// Extensions round-trip: clientcmd decodes the same extension before and after.
	before, _ := clientcmd.Load(origA)
	after, _ := clientcmd.LoadFromFile(f.a)
	if !reflect.DeepEqual(before.Clusters["one"].Extensions, after.Clusters["one"].Extensions) ||
		!reflect.DeepEqual(before.Extensions, after.Extensions) || len(after.Extensions) != 1 {
		t.Errorf("extensions changed: %v -> %v", before.Extensions, after.Extensions)
	}
	st, _ := os.Stat(f.a)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	if sys := st.Sys().(*syscall.Stat_t); asRoot && (sys.Uid != 4321 || sys.Gid != 4322) {
		t.Errorf("owner %d:%d, want 4321:4322 kept", sys.Uid, sys.Gid)
	}
	backups, _ := filepath.Glob(f.a + ".clusterops-backup-*")
	if len(backups) != 1 {
		t.Fatalf("backups of a: %v", backups)
	}
	if data, _ := os.ReadFile(backups[0]); string(data) != string(origA) {
		t.Error("the backup is not the original file")
	}
	if locks, _ := filepath.Glob(filepath.Join(filepath.Dir(f.a), "*.lock")); len(locks) != 0 {
		t.Errorf("locks left: %v", locks)
	}

	// As with kubectl config delete-cluster, b's shadowed "unreferenced" now shows: the second
	// prune removes it from b, and a third finds nothing.
	again := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune", "-o", "json")
	var second contexts.Plan
	decodeInto(t, again, &second)
	if again.code != 0 || len(second.Removals) != 1 || second.Removals[0].Name != "unreferenced" ||
		!reflect.DeepEqual(second.Removals[0].Files, []string{f.b}) {
		t.Errorf("second prune: exit %d %+v", again.code, second.Removals)
	}
	third := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune")
	if third.code != 0 || !strings.Contains(third.stdout, "nothing to prune") {
		t.Errorf("third prune: exit %d\n%s", third.code, third.stdout)
	}
	if !strings.Contains(string(mustRead(t, f.b)), "x-unknown-top: kept") {
		t.Errorf("%s lost its unknown field", f.b)
	}

	// --unreachable asks first; without an answer nothing changes (exit 3).
	a, _ = os.ReadFile(f.a)
	refused := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune", "--unreachable", "--timeout", "10s")
	oneLineError(t, refused, "not confirmed")
	if now, _ := os.ReadFile(f.a); string(now) != string(a) {
		t.Error("an unconfirmed --unreachable prune changed the kubeconfig")
	}
	yes := runEnv(t, f.env(), "kubectl", "clusterops", "contexts", "prune", "--unreachable", "--timeout", "10s", "--yes", "-o", "json")
	decodeInto(t, yes, &plan)
	got = nil
	for _, r := range plan.Removals {
		got = append(got, r.Kind+"/"+r.Name)
	}
	if yes.code != 0 || !reflect.DeepEqual(got, []string{"context/closed-port", "cluster/closed"}) || len(plan.Backups) != 1 {
		t.Errorf("--unreachable --yes (exit %d): %v, backups %v; %s", yes.code, got, plan.Backups, yes.stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func clearOrigins(c *clientcmdapi.Config) {
	for _, v := range c.Clusters {
		v.LocationOfOrigin = ""
	}
	for _, v := range c.AuthInfos {
		v.LocationOfOrigin = ""
	}
	for _, v := range c.Contexts {
		v.LocationOfOrigin = ""
	}
}

// dropVolatile removes what depends on the second a command ran (residualSeconds) from a decoded
// JSON value, so that two runs can be compared.
func dropVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if k == "residualSeconds" {
				delete(x, k)
			} else {
				x[k] = dropVolatile(x[k])
			}
		}
	case []any:
		for i := range x {
			x[i] = dropVolatile(x[i])
		}
	}
	return v
}

// `upgrade plan` and `certs check --source api` with --all-contexts over two live clusters and a
// closed port: each live context's result equals running that context alone, the closed port is
// one entry with exit 3, and the overall exit code is the worst.
func TestFleetReportsEqualEachContextAlone(t *testing.T) {
	f := newFleet(t)
	// Only the live clusters and the closed port: drop the other broken contexts.
	cfg, err := (&clientcmd.ClientConfigLoadingRules{Precedence: []string{f.a, f.b}}).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"expired", "missing-user", "no-ns", "exec-missing"} {
		delete(cfg.Contexts, name)
	}
	clearOrigins(cfg)
	path := filepath.Join(t.TempDir(), "fleet.conf")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"upgrade plan", []string{"upgrade", "plan", "--kubectl-version", "v1.37.2", "--helm-releases=false"}},
		{"certs check", []string{"certs", "check", "--source", "api"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"clusterops"}, c.args...)
			fleetRun := run(t, "kubectl", append(args, "--kubeconfig", path, "--all-contexts", "--request-timeout", "20s", "-o", "json")...)
			var rep struct {
				Kind       string `json:"kind"`
				ReportKind string `json:"reportKind"`
				Contexts   []struct {
					Context  string         `json:"context"`
					ExitCode int            `json:"exitCode"`
					Error    string         `json:"error"`
					Result   map[string]any `json:"result"`
				} `json:"contexts"`
			}
			decodeInto(t, fleetRun, &rep)
			if rep.Kind != "FleetReport" || len(rep.Contexts) != 3 {
				t.Fatalf("fleet report: kind %q, %d contexts\n%s", rep.Kind, len(rep.Contexts), fleetRun.stdout)
			}
			worst := 0
			for _, e := range rep.Contexts {
				worst = max(worst, e.ExitCode)
				alone := run(t, "kubectl", append(args, "--kubeconfig", path, "--context", e.Context, "--request-timeout", "20s", "-o", "json")...)
				if e.ExitCode != alone.code {
					t.Errorf("%s: exit %d in the fleet, %d alone", e.Context, e.ExitCode, alone.code)
				}
				if e.Context == "closed-port" {
					if e.ExitCode != 3 || !strings.Contains(e.Error, "connection refused") || e.Result != nil {
						t.Errorf("closed-port: %+v", e)
					}
					continue
				}
				var want map[string]any
				decodeInto(t, alone, &want)
				if e.Result == nil || !reflect.DeepEqual(dropVolatile(e.Result), dropVolatile(want)) {
					t.Errorf("%s: the fleet's result differs from the context alone:\n fleet %v\n alone %v", e.Context, e.Result, want)
				}
				if kind, _ := want["kind"].(string); kind != rep.ReportKind {
					t.Errorf("reportKind %q, the command's kind %q", rep.ReportKind, kind)
				}
			}
			if fleetRun.code != worst || worst != 3 {
				t.Errorf("overall exit %d, worst of the contexts %d (want 3: the closed port)", fleetRun.code, worst)
			}
			table := run(t, "kubectl", append(args, "--kubeconfig", path, "--contexts", "one,two", "--request-timeout", "20s")...)
			for _, name := range []string{"one", "two"} {
				if !strings.Contains(table.stdout, "\n"+name+" ") && !strings.HasPrefix(table.stdout, name+" ") {
					t.Errorf("table has no rows for %s:\n%s", name, table.stdout)
				}
			}
		})
	}
}
