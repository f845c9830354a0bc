package contexts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/clusterops/kubectl-clusterops/internal/kubeconfigfile"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func certPEM(t *testing.T, cn string, notAfter time.Time, isCA bool) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter, IsCA: isCA, BasicConstraintsValid: isCA}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func findings(c Context) map[string]string {
	m := map[string]string{}
	for _, f := range c.Findings {
		m[f.Check] = f.Severity
	}
	return m
}

// Each broken context is reported with its own check and severity; a healthy one is OK, and
// entries no context names are listed.
func TestCheckFindsEachProblem(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["live"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthorityData: certPEM(t, "ca", now.Add(10*24*time.Hour), true)}
	cfg.Clusters["orphan"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["expired"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM(t, "old", now.Add(-time.Hour), false)}
	cfg.AuthInfos["good"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM(t, "jane", now.Add(400*24*time.Hour), false)}
	cfg.AuthInfos["exec"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "gone-plugin"}}
	cfg.AuthInfos["unused"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["ok"] = &clientcmdapi.Context{Cluster: "live", AuthInfo: "good"}
	cfg.Contexts["expired"] = &clientcmdapi.Context{Cluster: "live", AuthInfo: "expired"}
	cfg.Contexts["exec"] = &clientcmdapi.Context{Cluster: "live", AuthInfo: "exec"}
	cfg.Contexts["dangling"] = &clientcmdapi.Context{Cluster: "live", AuthInfo: "nobody"}
	r := Check(context.Background(), cfg, Options{Current: "ok", Now: now, WarnWithin: 30 * 24 * time.Hour, Timeout: time.Second,
		LookPath: func(string) (string, error) { return "", errors.New("not found") }})
	got := map[string]map[string]string{}
	for _, c := range r.Contexts {
		got[c.Name] = findings(c)
		if c.Name == "ok" && (!c.Current || c.Credential.ClientCert == nil || c.Credential.ClientCert.Subject != "CN=jane") {
			t.Errorf("ok: %+v", c)
		}
	}
	want := map[string]map[string]string{
		"ok":       {CheckClusterCA: SeverityWarning},
		"expired":  {CheckClusterCA: SeverityWarning, CheckClientCert: SeverityProblem},
		"exec":     {CheckClusterCA: SeverityWarning, CheckExec: SeverityProblem},
		"dangling": {CheckClusterCA: SeverityWarning, CheckDangling: SeverityProblem},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n got %v\nwant %v", got, want)
	}
	if r.Worst() != StatusProblem || r.Contexts[0].Status != StatusProblem || r.Contexts[3].Status != StatusWarning {
		t.Errorf("statuses: worst %s, %s=%s, %s=%s", r.Worst(), r.Contexts[0].Name, r.Contexts[0].Status, r.Contexts[3].Name, r.Contexts[3].Status)
	}
	if len(r.UnreferencedClusters) != 1 || r.UnreferencedClusters[0].Name != "orphan" ||
		len(r.UnreferencedUsers) != 1 || r.UnreferencedUsers[0].Name != "unused" {
		t.Errorf("unreferenced: %+v %+v", r.UnreferencedClusters, r.UnreferencedUsers)
	}
}

// A namespace the server does not have is a problem; the default namespace that exists is not.
func TestCheckNamespace(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["missing-ns"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "nope"}
	cfg.Contexts["default-ns"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	client := fake.NewClientset()
	_ = client.Tracker().Add(nsObject("default"))
	client.PrependReactor("create", "selfsubjectreviews", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{
			UserInfo: authenticationv1.UserInfo{Username: "jane", Groups: []string{"dev"}}}}, nil
	})
	r := Check(context.Background(), cfg, Options{Now: now, Timeout: time.Second, Parallel: 2,
		Connect: func(string) (*Conn, error) { return &Conn{Client: client, Anonymous: client}, nil }})
	for _, c := range r.Contexts {
		wantExists := c.Name == "default-ns"
		if c.NamespaceExists == nil || *c.NamespaceExists != wantExists || c.Reachable == nil || !*c.Reachable || c.TLS != "verified" {
			t.Errorf("%s: namespaceExists %v reachable %v tls %q", c.Name, c.NamespaceExists, c.Reachable, c.TLS)
		}
		if c.Identity == nil || c.Identity.Username != "jane" {
			t.Errorf("%s: identity %+v", c.Name, c.Identity)
		}
		if (findings(c)[CheckNamespace] == SeverityProblem) == wantExists {
			t.Errorf("%s: findings %v", c.Name, c.Findings)
		}
	}
}

const twoFiles = `apiVersion: v1
kind: Config
current-context: broken
preferences: {colors: true}
extensions:
- name: top
  extension: {keep: me}
clusters:
- name: live
  cluster:
    server: https://127.0.0.1:6443
    futureField: kept
    extensions:
    - name: ext
      extension: {a: 1}
- name: only-broken
  cluster: {server: https://127.0.0.1:7}
- name: orphan
  cluster: {server: https://127.0.0.1:8}
users:
- name: admin
  user: {token: t}
contexts:
- name: ok
  context: {cluster: live, user: admin}
- name: broken
  context: {cluster: only-broken, user: ghost}
`

// The prune removes the dangling context, the unreferenced cluster and the cluster only the
// dangling context named, from every file that has them; everything else keeps its meaning for
// clientcmd, and the fields clientcmd does not know stay.
func TestPruneRemovesExactlyTheDanglingAndUnreferenced(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte(twoFiles), 0o640)
	os.WriteFile(b, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: orphan\n  cluster: {server: https://127.0.0.1:9}\n"), 0o600)
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{a, b}}
	merged, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanPrune(merged, []string{a, b, filepath.Join(dir, "absent")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range plan.Removals {
		got = append(got, r.Kind+"/"+r.Name+" "+strings.Join(r.Files, ","))
	}
	want := []string{"context/broken " + a, "cluster/only-broken " + a, "cluster/orphan " + a}
	if !reflect.DeepEqual(got, want) || plan.CurrentContextCleared != "broken" || !reflect.DeepEqual(plan.Files, []string{a}) {
		t.Fatalf("plan: %v, current %q, files %v", got, plan.CurrentContextCleared, plan.Files)
	}
	if !strings.Contains(plan.Removals[1].Reason, "broken") {
		t.Errorf("reason for only-broken: %q", plan.Removals[1].Reason)
	}
	if err := apply(plan, now, kubeconfigfile.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	after, err := clientcmd.LoadFromFile(a)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := clientcmd.Load([]byte(twoFiles))
	delete(before.Contexts, "broken")
	delete(before.Clusters, "only-broken")
	delete(before.Clusters, "orphan")
	before.CurrentContext = ""
	for _, c := range []*clientcmdapi.Config{before, after} {
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
	if !reflect.DeepEqual(before, after) {
		t.Errorf("clientcmd sees a different config:\n got %+v\nwant %+v", after, before)
	}
	data, _ := os.ReadFile(a)
	var doc map[string]any
	yaml.Unmarshal(data, &doc)
	if !strings.Contains(string(data), "futureField: kept") || !strings.Contains(string(data), "keep: me") {
		t.Errorf("unknown fields or extensions lost:\n%s", data)
	}
	if st, _ := os.Stat(a); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	if len(plan.Backups) != 1 {
		t.Fatalf("backups %v", plan.Backups)
	}
	if orig, _ := os.ReadFile(plan.Backups[0]); string(orig) != twoFiles {
		t.Errorf("backup of a differs from the original")
	}
	if left, _ := clientcmd.LoadFromFile(b); len(left.Clusters) != 1 {
		t.Errorf("b's shadowed cluster was touched: %v", left.Clusters)
	}
}

// Unreachable contexts are removed only when named, with what only they used.
func TestPruneUnreachable(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dead"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["dead"] = &clientcmdapi.Context{Cluster: "dead", AuthInfo: "u"}
	plan, err := PlanPrune(cfg, nil, nil)
	if err != nil || len(plan.Removals) != 0 {
		t.Fatalf("without unreachable: %v %+v", err, plan.Removals)
	}
	plan, _ = PlanPrune(cfg, nil, map[string]string{"dead": "https://127.0.0.1:1"})
	if len(plan.Removals) != 3 || !strings.HasPrefix(plan.Removals[0].Reason, "unreachable") {
		t.Errorf("with unreachable: %+v", plan.Removals)
	}
}

func nsObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
