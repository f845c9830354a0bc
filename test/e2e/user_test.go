//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/pkg/users"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type userCreated struct {
	User           string    `json:"user"`
	Kubeconfig     string    `json:"kubeconfig"`
	Signer         string    `json:"signer"`
	CSR            string    `json:"csr"`
	NotAfter       time.Time `json:"notAfter"`
	CappedBySigner bool      `json:"cappedBySigner"`
	Access         struct {
		Identity struct{ Username string } `json:"identity"`
		Rules    []struct{ Verbs, Resources []string }
	} `json:"access"`
}

func createUser(t *testing.T, cp *harness.ControlPlane, args ...string) userCreated {
	t.Helper()
	r := run(t, "kubectl", append([]string{"clusterops", "user", "create", "--kubeconfig", cp.AdminKubeconfig, "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("user create: exit %d: %s", r.code, r.stderr)
	}
	var u userCreated
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("user create -o json: %v\n%s", err, r.stdout)
	}
	return u
}

// as runs the real kubectl with only the produced kubeconfig.
func as(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	return run(t, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// The seed workflow: team-readonly in databases with the readonly template, through the
// certificates API and the real kube-controller-manager signer, then proven with real kubectl.
func TestUserCreateSeedWorkflow(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users", NoMirrorPods: true})
	ctx := context.Background()
	if r := run(t, "kubectl", "--kubeconfig", cp.AdminKubeconfig, "create", "namespace", "databases"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	run(t, "kubectl", "--kubeconfig", cp.AdminKubeconfig, "-n", "databases", "create", "secret", "generic", "db-password", "--from-literal=p=x")
	dir := t.TempDir()
	out := filepath.Join(dir, "team-readonly.kubeconfig")
	u := createUser(t, cp, "team-readonly", "-n", "databases", "--role", "readonly", "--output-kubeconfig", out)
	if u.Signer != "kubernetes.io/kube-apiserver-client" || u.CSR == "" || u.Access.Identity.Username != "team-readonly" {
		t.Errorf("result: %+v", u)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v %v", out, st, err)
	}
	// The CSR is approved, issued by the real signer, and named validly.
	csr, err := cp.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, u.CSR, metav1.GetOptions{})
	if err != nil || len(csr.Status.Certificate) == 0 || *csr.Spec.ExpirationSeconds != int32(8760*3600) {
		t.Fatalf("CSR %s: %v", u.CSR, err)
	}

	if r := as(t, out, "get", "pods"); r.code != 0 {
		t.Errorf("listing pods in databases with the new kubeconfig: exit %d %s", r.code, r.stderr)
	}
	if r := as(t, out, "get", "secrets"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("secrets must be Forbidden: exit %d %s", r.code, r.stderr)
	}
	if r := as(t, out, "get", "pods", "-n", "default"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("other namespaces must be Forbidden: exit %d %s", r.code, r.stderr)
	}
	if r := as(t, out, "auth", "can-i", "delete", "pods"); r.code == 0 || strings.TrimSpace(r.stdout) != "no" {
		t.Errorf("can-i delete pods: exit %d %q", r.code, r.stdout)
	}
	if r := as(t, out, "auth", "can-i", "list", "deployments.apps"); r.code != 0 || strings.TrimSpace(r.stdout) != "yes" {
		t.Errorf("can-i list deployments: exit %d %q", r.code, r.stdout)
	}

	// A longer expiration than the signer allows (1 year by default) is capped, and reported.
	capped := createUser(t, cp, "long-lived", "-n", "databases", "--no-binding", "--expiration", "20000h",
		"--key-type", "ecdsa-p256", "--output-kubeconfig", filepath.Join(dir, "long.kubeconfig"))
	if !capped.CappedBySigner || capped.NotAfter.After(time.Now().Add(8761*time.Hour)) {
		t.Errorf("the signer's cap is not reported: %+v", capped)
	}

	// user list shows both, with cert expiry and the binding.
	r := run(t, "kubectl", "clusterops", "user", "list", "--kubeconfig", cp.AdminKubeconfig, "-o", "json")
	var list struct {
		Items []users.UserEntry `json:"items"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
		t.Fatalf("user list: %d %s", r.code, r.stderr)
	}
	found := false
	for _, e := range list.Items {
		if e.Name == "team-readonly" && e.Kind == "User" {
			found = e.CertNotAfter != nil && len(e.Bindings) == 1 && strings.Contains(e.Bindings[0], "databases/clusterops-readonly-user-team-readonly")
		}
	}
	if !found {
		t.Errorf("user list lacks team-readonly with its cert and binding: %s", r.stdout)
	}

	// user delete removes the binding and the CSR, and says the cert cannot be revoked.
	d := run(t, "kubectl", "clusterops", "user", "delete", "team-readonly", "--kubeconfig", cp.AdminKubeconfig)
	if d.code != 0 || !strings.Contains(d.stdout, "cannot be revoked") || !strings.Contains(d.stdout, "RoleBinding databases/clusterops-readonly-user-team-readonly") {
		t.Errorf("user delete: %d %s", d.code, d.stdout)
	}
	if _, err := cp.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, u.CSR, metav1.GetOptions{}); err == nil {
		t.Errorf("CSR %s still there after user delete", u.CSR)
	}
	if r := as(t, out, "get", "pods"); r.code == 0 {
		t.Errorf("after user delete the cert still lists pods")
	}
}

// Signing with the kubeadm CA of the harness node, and --merge into a kubeconfig with three other
// contexts, an extension and a field clientcmd does not know.
func TestUserCreateLocalCAAndMerge(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users-ca", NoMirrorPods: true})
	dir := t.TempDir()
	kc := filepath.Join(dir, "admin.conf")
	base, err := os.ReadFile(cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	admin := cfg.Contexts[cfg.CurrentContext]
	for _, n := range []string{"staging", "prod", "dev"} {
		c := *admin
		cfg.Contexts[n] = &c
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("extensions:\n- name: corp.example/owner\n  extension:\n    team: platform\nx-unknown-field: keep-me\n")...)
	if err := os.WriteFile(kc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := clientcmd.LoadFromFile(kc)
	// The real controller-manager fills the aggregated ClusterRole view shortly after it starts.
	for deadline := time.Now().Add(60 * time.Second); ; {
		view, err := cp.Client.RbacV1().ClusterRoles().Get(context.Background(), "view", metav1.GetOptions{})
		if err == nil && len(view.Rules) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterRole view was never aggregated: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	u := createUser(t, cp, "jane", "-n", "default", "--clusterrole", "view", "--merge", "--kubeconfig", kc,
		"--local-ca", "--root", cp.Root, "--group", "devs")
	if !strings.HasPrefix(u.Signer, "local CA ") || u.CSR != "" {
		t.Errorf("not signed locally: %+v", u)
	}
	after, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range before.Contexts {
		if got := after.Contexts[name]; got == nil || got.Cluster != c.Cluster || got.AuthInfo != c.AuthInfo {
			t.Errorf("context %s changed: %+v", name, got)
		}
	}
	if after.CurrentContext != before.CurrentContext || len(after.Clusters) != len(before.Clusters) {
		t.Errorf("current-context or clusters changed")
	}
	if string(after.AuthInfos["kubernetes-admin"].ClientKeyData) != string(before.AuthInfos["kubernetes-admin"].ClientKeyData) {
		t.Errorf("the admin user entry changed")
	}
	raw, _ := os.ReadFile(kc)
	if !strings.Contains(string(raw), "x-unknown-field: keep-me") || !strings.Contains(string(raw), "corp.example/owner") {
		t.Errorf("unknown field or extension lost:\n%s", raw)
	}
	if _, ok := after.Contexts["jane@users-ca"]; !ok {
		t.Fatalf("no context jane@users-ca")
	}
	if r := run(t, "kubectl", "--kubeconfig", kc, "--context", "jane@users-ca", "get", "pods"); r.code != 0 {
		t.Errorf("jane (view) cannot list pods: %s", r.stderr)
	}
	if r := run(t, "kubectl", "--kubeconfig", kc, "--context", "jane@users-ca", "auth", "whoami", "-o", "json"); !strings.Contains(r.stdout, `"devs"`) {
		t.Errorf("jane's groups lack devs: %s", r.stdout)
	}
	// A second run refuses the existing entries; --overwrite replaces them.
	r := run(t, "kubectl", "clusterops", "user", "create", "jane", "-n", "default", "--no-binding", "--merge",
		"--kubeconfig", kc, "--local-ca", "--root", cp.Root)
	oneLineError(t, r, "already has a user \"jane\"")
	createUser(t, cp, "jane", "-n", "default", "--no-binding", "--merge", "--kubeconfig", kc, "--local-ca", "--root", cp.Root, "--overwrite")

	// user delete removes jane's merged entries and leaves the rest.
	if d := run(t, "kubectl", "clusterops", "user", "delete", "jane", "--kubeconfig", kc); d.code != 0 || !strings.Contains(d.stdout, "kubeconfig context jane@users-ca") {
		t.Errorf("user delete: %s %s", d.stdout, d.stderr)
	}
	final, err := clientcmd.LoadFromFile(kc)
	if err != nil || final.AuthInfos["jane"] != nil || len(final.Contexts) != len(before.Contexts) {
		t.Errorf("after delete: %v, %d contexts", err, len(final.Contexts))
	}
}
