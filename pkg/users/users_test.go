package users

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

func TestValidateIdentity(t *testing.T) {
	for _, c := range []struct {
		name   string
		groups []string
		allow  bool
		want   string
	}{
		{"jane", nil, false, ""},
		{"jane", []string{"devs", "ops"}, false, ""},
		{"", nil, false, "missing user name"},
		{" jane", nil, false, "spaces"},
		{"jane", []string{"system:masters"}, false, "system:masters"},
		{"jane", []string{"System:Nodes"}, false, "privileged system group"},
		{"system:node:x", nil, false, "reserved system:"},
		{"jane", []string{""}, false, "empty --group"},
		{"jane", []string{"system:masters"}, true, ""},
	} {
		err := ValidateIdentity(c.name, c.groups, c.allow)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("ValidateIdentity(%q, %v, %v) = %v, want %q", c.name, c.groups, c.allow, err, c.want)
		}
	}
}

// ValidateInput checks the input only: a taken output file, a missing directory, an unreadable
// merge kubeconfig and an empty namespace (all checked by Create) pass it.
func TestValidateInput(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken")
	os.WriteFile(taken, nil, 0o600)
	ok := CreateOptions{Name: "jane", BindKind: BindNone, Expiration: time.Hour, OutputKubeconfig: taken}
	for _, c := range []struct {
		change func(*CreateOptions)
		want   string
	}{
		{func(*CreateOptions) {}, ""},
		{func(o *CreateOptions) { o.OutputKubeconfig = filepath.Join(dir, "missing", "x") }, ""},
		{func(o *CreateOptions) { o.Merge, o.MergeKubeconfig = true, filepath.Join(dir, "missing.conf") }, ""},
		{func(o *CreateOptions) { o.BindKind, o.BindName = BindTemplate, "readonly" }, ""},
		{func(o *CreateOptions) { o.Groups = []string{"system:masters"} }, "system:masters"},
		{func(o *CreateOptions) { o.Expiration = time.Minute }, "too short"},
		{func(o *CreateOptions) { o.CACert = "ca.crt" }, "give both --ca-cert and --ca-key"},
		{func(o *CreateOptions) { o.BindKind, o.BindName = BindTemplate, "no-such" }, "no-such"},
		{func(o *CreateOptions) { o.BindKind = BindClusterRole }, "--clusterrole needs a name"},
		{func(o *CreateOptions) { o.BindKind = "" }, "choose the access"},
	} {
		o := ok
		c.change(&o)
		err := ValidateInput(o)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("ValidateInput(%+v) = %v, want %q", o, err, c.want)
		}
	}
	// What ValidateInput leaves alone, checkTarget refuses.
	inDev := ok
	inDev.Namespace = "dev"
	for want, o := range map[string]CreateOptions{"already exists": inDev,
		"missing namespace": {Name: "jane", OutputKubeconfig: filepath.Join(dir, "new")}} {
		if err := checkTarget(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkTarget(%+v) = %v, want %q", o, err, want)
		}
	}
}

func TestCSRNameIsAValidUniqueSubdomain(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	seen := map[string]string{}
	for _, n := range []string{"jane", "Jane", "jane doe", "jane/doe", "ä", strings.Repeat("x", 400), "-.-", "jane@corp.example"} {
		name := CSRName(n, now)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("CSRName(%q) = %q: %v", n, name, errs)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("CSRName(%q) clashes with CSRName(%q): %s", n, other, name)
		}
		seen[name] = n
		if errs := validation.IsValidLabelValue(UserLabel(n)); len(errs) > 0 {
			t.Errorf("UserLabel(%q) = %q: %v", n, UserLabel(n), errs)
		}
	}
	if CSRName("jane", now) == CSRName("jane", now.Add(time.Second)) {
		t.Errorf("the same user onboarded twice gets the same CSR name")
	}
}

const kubeconfigWithExtras = `apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://127.0.0.1:6443
  name: prod
contexts:
- context:
    cluster: prod
    user: admin
  name: prod
current-context: prod
users:
- name: admin
  user:
    token: secret-token
preferences: {}
extensions:
- name: corp.example/owner
  extension:
    team: platform
x-unknown: keep-me
`

func TestMergeKeepsEverythingElse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfigWithExtras), 0o640); err != nil {
		t.Fatal(err)
	}
	c := Credentials{ClusterName: "prod", UserName: "jane", ContextName: "jane@prod", Namespace: "dev",
		CertPEM: []byte("cert"), KeyPEM: []byte("key")}
	if err := Merge(path, c, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"x-unknown: keep-me", "corp.example/owner", "token: secret-token", "current-context: prod"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("lost %q:\n%s", want, data)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (the file now holds a private key)", st.Mode().Perm())
	}
	cfg, err := clientcmd.Load(data)
	if err != nil || cfg.Contexts["jane@prod"].Namespace != "dev" || string(cfg.AuthInfos["jane"].ClientKeyData) != "key" {
		t.Fatalf("merged config: %v %+v", err, cfg)
	}
	if err := Merge(path, c, false); err == nil || !strings.Contains(err.Error(), `already has a user "jane"`) {
		t.Errorf("second merge without overwrite: %v", err)
	}
	if err := Merge(path, Credentials{ClusterName: "nope", UserName: "x", ContextName: "x"}, false); err == nil || !strings.Contains(err.Error(), "no cluster") {
		t.Errorf("merge to an unknown cluster: %v", err)
	}
}

func TestCheckOutputFile(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken")
	os.WriteFile(taken, nil, 0o600)
	for _, c := range []struct {
		path      string
		overwrite bool
		want      string
	}{
		{filepath.Join(dir, "new"), false, ""},
		{taken, false, "already exists"},
		{taken, true, ""},
		{dir, true, "is a directory"},
		{filepath.Join(dir, "missing", "x"), false, "does not exist"},
		{"", false, "missing output file"},
	} {
		err := CheckOutputFile(c.path, c.overwrite)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckOutputFile(%q, %v) = %v, want %q", c.path, c.overwrite, err, c.want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".clusterops-probe-*")); len(left) > 0 {
		t.Errorf("probe files left: %v", left)
	}
}

// user delete refuses system: users, as create does: their bindings are Kubernetes' own.
func TestDeleteRefusesSystemUsers(t *testing.T) {
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:kube-controller-manager"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:kube-controller-manager"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "system:kube-controller-manager"}}}
	client := fake.NewClientset(crb)
	for _, name := range []string{"system:kube-controller-manager", "SYSTEM:kube-controller-manager", " "} {
		if _, err := Delete(context.Background(), client, name, "", false); err == nil {
			t.Errorf("Delete(%q) accepted", name)
		}
	}
	for _, a := range client.Actions() {
		t.Errorf("a refused delete sent %s %s", a.GetVerb(), a.GetResource().Resource)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Get(context.Background(), crb.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the built-in binding is gone: %v", err)
	}
}
