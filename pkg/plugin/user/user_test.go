package user

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdUser}, args...)
}

// isolate gives the test an empty kubeconfig in an empty directory, which is also the working
// directory (where user create writes NAME.kubeconfig by default).
func isolate(t *testing.T) string {
	t.Helper()
	dir := cmdtest.Isolate(t)
	t.Chdir(dir)
	return dir
}

// assertBadInput checks the one-line error contract: exit 3, one line that says want, nothing on
// stdout.
func assertBadInput(t *testing.T, args []string, want, stdout string, err error) {
	t.Helper()
	cmdtest.AssertOneLine(t, err)
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), want) || stdout != "" {
		t.Errorf("%q: exit %d, %v, stdout %q; want exit 3 and %q", args, code, err, stdout, want)
	}
}

// assertNothingWritten checks that dir holds only the isolated kubeconfig, unchanged (want is
// what it held before), and the files named in keep.
func assertNothingWritten(t *testing.T, dir string, args []string, want string, keep ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "kubeconfig" && !slices.Contains(keep, e.Name()) {
			t.Errorf("%q left %s behind", args, e.Name())
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "kubeconfig")); err != nil || string(got) != want {
		t.Errorf("%q changed the isolated kubeconfig (%v):\n%s", args, err, got)
	}
}

// Bad input is refused before the kubeconfig is read: exit 3, one line, nothing written, even
// with an empty kubeconfig.
func TestUserBadInput(t *testing.T) {
	for _, c := range []struct {
		want string
		args []string
	}{
		{"system:masters", []string{"user", "create", "eve", "--no-binding", "--group", "system:masters"}},
		{"reserved system:", []string{"user", "create", "system:node:evil", "--no-binding"}},
		{"leading/trailing spaces", []string{"user", "create", " eve", "--no-binding"}},
		{"empty --group", []string{"user", "create", "eve", "--no-binding", "--group", ""}},
		{"unknown template", []string{"user", "create", "eve", "--role", "no-such-template"}},
		{"exactly one of", []string{"user", "create", "eve", "--role", "readonly", "--no-binding"}},
		{"exactly one of", []string{"user", "create", "eve", "--clusterrole", "view", "--role", "readonly"}},
		{"exactly one of", []string{"user", "create", "eve"}},
		{"too short", []string{"user", "create", "eve", "--no-binding", "--expiration", "1m"}},
		{"unknown key type", []string{"user", "create", "eve", "--no-binding", "--key-type", "dsa"}},
		{"give both --ca-cert and --ca-key", []string{"user", "create", "eve", "--no-binding", "--ca-cert", "ca.crt"}},
		{"unsupported output format", []string{"user", "create", "eve", "--no-binding", "-o", "wide"}},
		{"accepts 1 arg", []string{"user", "create"}},
		{"accepts 1 arg", []string{"user", "create", "eve", "bob", "--no-binding"}},
		{"unknown flag", []string{"user", "create", "eve", "--no-binding", "--bogus"}},
		{"missing user name", []string{"user", "delete", ""}},
		{"reserved system:", []string{"user", "delete", "system:kube-controller-manager"}},
		{"reserved system:", []string{"user", "delete", "System:Kube-Scheduler", "--dry-run"}},
		{"accepts 1 arg", []string{"user", "delete"}},
		{"unsupported output format", []string{"user", "delete", "eve", "-o", "wide"}},
		{"unknown command", []string{"user", "list", "extra"}},
		{"unsupported output format", []string{"user", "list", "-o", "wide"}},
		{"unknown command", []string{"user", "nope"}},
	} {
		dir := isolate(t)
		out, _, err := run(t, c.args...)
		assertBadInput(t, c.args, c.want, out, err)
		assertNothingWritten(t, dir, c.args, "")
	}
}

// Good input, but the kubeconfig names no cluster: one line that says so, nothing written.
func TestUserCreateNoCluster(t *testing.T) {
	for _, args := range [][]string{
		{"user", "create", "eve", "--no-binding"},
		{"user", "create", "eve", "--role", "readonly", "--merge"},
		{"user", "create", "eve", "--no-binding", "--server", cmdtest.ClosedPortURL(t)},
	} {
		dir := isolate(t)
		out, _, err := run(t, args...)
		assertBadInput(t, args, "pass --cluster or --context", out, err)
		assertNothingWritten(t, dir, args, "")
	}
}

const kubeconfigTemplate = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: SERVER
contexts:
- name: admin@c
  context:
    cluster: c
    user: admin
current-context: admin@c
users:
- name: admin
  user:
    token: admin-token
`

// What user create checks on disk it checks before it contacts the cluster (nothing listens at
// the kubeconfig's server): the output file, the kubeconfig to merge into, the CA files.
func TestUserCreateRefusesBeforeContact(t *testing.T) {
	for _, c := range []struct {
		want  string
		args  []string
		setup func(dir string)
	}{
		{want: "already exists", args: []string{"eve", "--output-kubeconfig", "taken.kubeconfig"},
			setup: func(dir string) { os.WriteFile(filepath.Join(dir, "taken.kubeconfig"), []byte("keep"), 0o600) }},
		{want: "already exists", args: []string{"eve"}, // the default ./NAME.kubeconfig
			setup: func(dir string) { os.WriteFile(filepath.Join(dir, "eve.kubeconfig"), []byte("keep"), 0o600) }},
		{want: "does not exist", args: []string{"eve", "--output-kubeconfig", filepath.Join("no", "such", "dir", "x")}},
		{want: "is a directory", args: []string{"eve", "--output-kubeconfig", "."}},
		{want: `already has a user "admin"`, args: []string{"admin", "--merge"}},
		{want: `already has a context "admin@c"`, args: []string{"eve", "--merge", "--context-name", "admin@c"}},
		{want: "no CA certificate at", args: []string{"eve", "--local-ca", "--root", "no-such-root"}},
		{want: "no CA certificate at", args: []string{"eve", "--ca-cert", "missing.crt", "--ca-key", "missing.key"}},
	} {
		dir := isolate(t)
		kubeconfig := strings.Replace(kubeconfigTemplate, "SERVER", cmdtest.ClosedPortURL(t), 1)
		if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
			t.Fatal(err)
		}
		if c.setup != nil {
			c.setup(dir)
		}
		args := append([]string{"user", "create", "--no-binding"}, c.args...)
		out, _, err := run(t, args...)
		assertBadInput(t, args, c.want, out, err)
		assertNothingWritten(t, dir, args, kubeconfig, "taken.kubeconfig", "eve.kubeconfig")
		for _, name := range []string{"taken.kubeconfig", "eve.kubeconfig"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && string(b) != "keep" {
				t.Errorf("%q changed %s", args, name)
			}
		}
	}
}

// Signed by a local CA, then the cluster does not answer: one line, and no kubeconfig is written
// (it is written last, after the check with the new credentials).
func TestUserCreateWritesNothingWhenTheClusterFails(t *testing.T) {
	dir := isolate(t)
	kubeconfig := strings.Replace(kubeconfigTemplate, "SERVER", cmdtest.ClosedPortURL(t), 1)
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := t.TempDir()
	key, err := certs.GenerateKey(certs.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: "kubernetes"}, key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pki, "ca.crt"), certs.EncodeCertPEM(ca), 0o600)
	os.WriteFile(filepath.Join(pki, "ca.key"), keyPEM, 0o600)
	for _, args := range [][]string{
		{"user", "create", "eve", "--no-binding", "--key-type", "ecdsa-p256", "--ca-cert", filepath.Join(pki, "ca.crt"), "--ca-key", filepath.Join(pki, "ca.key")},
		{"user", "create", "eve", "--no-binding", "--key-type", "ecdsa-p256", "--ca-cert", filepath.Join(pki, "ca.crt"), "--ca-key", filepath.Join(pki, "ca.key"), "--merge"},
	} {
		out, _, err := run(t, args...)
		assertBadInput(t, args, "cannot reach the Kubernetes API server", out, err)
		assertNothingWritten(t, dir, args, kubeconfig)
	}
}
