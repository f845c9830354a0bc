//go:build e2e

package e2e

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// flagsKubeconfig is a kubeconfig for the shared control plane with a good and a bad entry of each
// kind: clusters "good" (the real API server) and "closed" (a closed port on 127.0.0.1), users
// "admin" (the real admin) and "stranger" (a client certificate of a CA the API server does not
// trust), and the contexts "good" (good/admin), "bad-cluster" (closed/admin) and "bad-user"
// (good/stranger). The current context is "bad-cluster", so only the flags make a command work.
type flagsKubeconfig struct {
	path   string
	closed string // the server URL of the cluster "closed"
}

func newFlagsKubeconfig(t *testing.T) flagsKubeconfig {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(env.cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cur := admin.Contexts[admin.CurrentContext]
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	closed := fmt.Sprintf("https://127.0.0.1:%d", port)
	good := admin.Clusters[cur.Cluster]
	bad := good.DeepCopy()
	bad.Server = closed

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["good"], cfg.Clusters["closed"] = good, bad
	cfg.AuthInfos["admin"], cfg.AuthInfos["stranger"] = admin.AuthInfos[cur.AuthInfo], strangerUser(t)
	cfg.Contexts["good"] = &clientcmdapi.Context{Cluster: "good", AuthInfo: "admin", Namespace: "default"}
	cfg.Contexts["bad-cluster"] = &clientcmdapi.Context{Cluster: "closed", AuthInfo: "admin", Namespace: "default"}
	cfg.Contexts["bad-user"] = &clientcmdapi.Context{Cluster: "good", AuthInfo: "stranger", Namespace: "default"}
	cfg.CurrentContext = "bad-cluster"
	path := filepath.Join(t.TempDir(), "flags.conf")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return flagsKubeconfig{path: path, closed: closed}
}

// strangerUser is a user with a client certificate (CN=stranger) signed by a CA of its own, which
// the API server rejects with 401.
func strangerUser(t *testing.T) *clientcmdapi.AuthInfo {
	t.Helper()
	now := time.Now()
	caKey, err := certs.GenerateKey(certs.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stranger-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	key, _ := certs.GenerateKey(certs.ECDSAP256, nil)
	cert, err := certs.SignClientCert(ca, caKey, key.Public(), pkix.Name{CommonName: "stranger"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return &clientcmdapi.AuthInfo{ClientCertificateData: certs.EncodeCertPEM(cert), ClientKeyData: keyPEM}
}

// --context, --cluster and --user, resolved by the Factory, pick what `certs check --source api`
// probes (the served certificate of the chosen cluster) and which kubeconfig user it reports and
// talks as.
func TestKubeconfigFlagsCertsCheck(t *testing.T) {
	kc := newFlagsKubeconfig(t)
	check := func(args ...string) (ourCheck, result) {
		t.Helper()
		return certsCheck(t, append([]string{"--source", "api", "--kubeconfig", kc.path}, args...)...)
	}
	unreachable := "cannot reach the Kubernetes API server at " + kc.closed
	// works checks that the report is of the real API server and holds the kubeconfig user's
	// client certificate, under that user's name.
	works := func(what string, c ourCheck, r result, user string) {
		t.Helper()
		if r.code >= 3 {
			t.Errorf("%s: exit %d: %s", what, r.code, r.stderr)
			return
		}
		if served, ok := c.cert("apiserver (serving)"); !ok || served.Path != env.cp.Server {
			t.Errorf("%s: served certificate %+v, want the one of %s", what, served, env.cp.Server)
		}
		// The label is the user's name; the certificate is that user's own.
		cn := map[string]string{"admin": "CN=kubernetes-admin", "stranger": "CN=stranger"}[user]
		if u, ok := c.cert("kubeconfig user " + user); !ok || !strings.HasPrefix(u.Subject, cn) {
			t.Errorf("%s: no \"kubeconfig user %s\" with subject %s in %+v", what, user, cn, c.Certificates)
		}
	}

	_, r := check()
	oneLineError(t, r, unreachable) // the current context, bad-cluster
	_, r = check("--context", "bad-cluster")
	oneLineError(t, r, unreachable)

	c, r := check("--context", "good")
	works("--context good", c, r, "admin")
	if strings.Contains(r.stderr, "CSRs not checked") {
		t.Errorf("--context good: the admin could not list CSRs: %s", r.stderr)
	}

	c, r = check("--context", "bad-cluster", "--cluster", "good")
	works("--context bad-cluster --cluster good", c, r, "admin")

	// The user is the one the requests are made as, not only a label: the stranger is refused.
	c, r = check("--context", "bad-user")
	works("--context bad-user", c, r, "stranger")
	if !strings.Contains(r.stderr, "CSRs not checked") || !strings.Contains(r.stderr, "401 Unauthorized") {
		t.Errorf("--context bad-user: want the CSR list refused with 401, stderr %q", r.stderr)
	}
	c, r = check("--context", "good", "--user", "stranger")
	works("--context good --user stranger", c, r, "stranger")
	if !strings.Contains(r.stderr, "401 Unauthorized") {
		t.Errorf("--context good --user stranger: want the CSR list refused with 401, stderr %q", r.stderr)
	}
	c, r = check("--context", "bad-user", "--user", "admin")
	works("--context bad-user --user admin", c, r, "admin")
	if strings.Contains(r.stderr, "CSRs not checked") {
		t.Errorf("--context bad-user --user admin: %s", r.stderr)
	}
}

// --context, --cluster and --user, resolved by the Factory, pick the API server and credentials
// `user create` works with, and the cluster its kubeconfig entry names.
func TestKubeconfigFlagsUserCreate(t *testing.T) {
	kc := newFlagsKubeconfig(t)
	dir := t.TempDir()
	create := func(name string, args ...string) (result, string) {
		t.Helper()
		out := filepath.Join(dir, name+".kubeconfig")
		r := run(t, "kubectl", append([]string{"clusterops", "user", "create", name, "--no-binding", "-o", "json",
			"--kubeconfig", kc.path, "--output-kubeconfig", out}, args...)...)
		if r.code == 0 {
			t.Cleanup(func() {
				run(t, "kubectl", "clusterops", "user", "delete", name, "--kubeconfig", env.cp.AdminKubeconfig)
			})
		}
		return r, out
	}
	// made checks a standalone kubeconfig: one cluster, named cluster, at the real API server, and
	// the context NAME@cluster; the real kubectl is the user with it.
	made := func(what, user string, r result, out, cluster string) {
		t.Helper()
		if r.code != 0 {
			t.Errorf("%s: exit %d: %s", what, r.code, r.stderr)
			return
		}
		cfg, err := clientcmd.LoadFromFile(out)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		if len(cfg.Clusters) != 1 || cfg.Clusters[cluster] == nil || cfg.Clusters[cluster].Server != env.cp.Server ||
			cfg.CurrentContext != user+"@"+cluster || ctx == nil || ctx.Cluster != cluster {
			t.Errorf("%s: kubeconfig names cluster(s) %v, context %q, want cluster %q at %s", what,
				slices.Sorted(maps.Keys(cfg.Clusters)), cfg.CurrentContext, cluster, env.cp.Server)
		}
		if w := as(t, out, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); w.code != 0 || w.stdout != user {
			t.Errorf("%s: the new kubeconfig is %q (exit %d %s), want %s", what, w.stdout, w.code, w.stderr, user)
		}
	}
	nothingLeft := func(what, out string) {
		t.Helper()
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: %s was left behind (%v)", what, out, err)
		}
	}

	r, out := create("flags-cur")
	oneLineError(t, r, "cannot reach the Kubernetes API server at "+kc.closed) // the current context, bad-cluster
	nothingLeft("the current context", out)

	r, out = create("flags-good", "--context", "good")
	made("--context good", "flags-good", r, out, "good")

	r, out = create("flags-cluster", "--context", "bad-cluster", "--cluster", "good")
	made("--context bad-cluster --cluster good", "flags-cluster", r, out, "good")

	r, out = create("flags-stranger", "--context", "bad-user")
	oneLineError(t, r, "401 Unauthorized")
	nothingLeft("--context bad-user", out)

	r, out = create("flags-user", "--context", "bad-user", "--user", "admin")
	made("--context bad-user --user admin", "flags-user", r, out, "good")

	// --merge adds a context that names the chosen cluster entry of the kubeconfig itself.
	r = run(t, "kubectl", "clusterops", "user", "create", "flags-merge", "--no-binding", "--merge",
		"--kubeconfig", kc.path, "--context", "bad-cluster", "--cluster", "good")
	if r.code != 0 {
		t.Fatalf("--merge --context bad-cluster --cluster good: exit %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() {
		run(t, "kubectl", "clusterops", "user", "delete", "flags-merge", "--kubeconfig", env.cp.AdminKubeconfig)
	})
	cfg, err := clientcmd.LoadFromFile(kc.path)
	if err != nil {
		t.Fatal(err)
	}
	if ctx := cfg.Contexts["flags-merge@good"]; ctx == nil || ctx.Cluster != "good" || ctx.AuthInfo != "flags-merge" {
		t.Errorf("merged context flags-merge@good: %+v", ctx)
	}
	if w := run(t, "kubectl", "--kubeconfig", kc.path, "--context", "flags-merge@good", "auth", "whoami",
		"-o", "jsonpath={.status.userInfo.username}"); w.code != 0 || w.stdout != "flags-merge" {
		t.Errorf("the merged context is %q (exit %d %s), want flags-merge", w.stdout, w.code, w.stderr)
	}
}
