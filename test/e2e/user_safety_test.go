//go:build e2e

package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/pkg/users"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// nothingLeft checks that a refused user create left no file, no CSR and no binding for name.
func nothingLeft(t *testing.T, cp *harness.ControlPlane, dir, name string) {
	t.Helper()
	ctx := context.Background()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left behind in the output folder: %s", e.Name())
	}
	csrs, err := cp.Client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{LabelSelector: users.LabelUser + "=" + users.UserLabel(name)})
	if err != nil || len(csrs.Items) != 0 {
		t.Errorf("CSRs left behind for %s: %v %d", name, err, len(csrs.Items))
	}
	rbs, err := cp.Client.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{LabelSelector: users.LabelUser + "=" + users.UserLabel(name)})
	if err != nil || len(rbs.Items) != 0 {
		t.Errorf("bindings left behind for %s: %v %d", name, err, len(rbs.Items))
	}
}

// Each bad input a tired admin types gives one line, exit 3, and leaves nothing behind.
func TestUserCreateBadInput(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users-bad", NoMirrorPods: true})
	ctx := context.Background()
	base := []string{"clusterops", "user", "create", "--kubeconfig", cp.AdminKubeconfig, "-n", "default"}
	try := func(name, want string, args ...string) {
		t.Helper()
		dir := t.TempDir()
		full := append(append(append([]string{}, base...), name, "--output-kubeconfig", filepath.Join(dir, "out.kubeconfig")), args...)
		oneLineError(t, run(t, "kubectl", full...), want)
		nothingLeft(t, cp, dir, name)
	}
	try("eve", "system:masters", "--no-binding", "--group", "system:masters")
	try("system:node:evil", "reserved system:", "--no-binding")
	try("eve", "unknown template", "--role", "no-such-template")
	try("eve", "exactly one of", "--role", "readonly", "--no-binding")
	try("eve", "too short", "--no-binding", "--expiration", "1m")
	try("eve", "unknown key type", "--no-binding", "--key-type", "dsa")
	try("eve", "no CA key", "--no-binding", "--ca-cert", filepath.Join(cp.PKI(), "ca.crt"), "--ca-key", filepath.Join(t.TempDir(), "missing.key"))
	try("eve", "cannot use the CA key", "--no-binding", "--ca-cert", filepath.Join(cp.PKI(), "ca.crt"), "--ca-key", t.TempDir())
	try("eve", "is not a CA certificate", "--no-binding", "--ca-cert", filepath.Join(cp.PKI(), "apiserver.crt"), "--ca-key", filepath.Join(cp.PKI(), "apiserver.key"))
	try("eve", `ClusterRole "no-such-role"`, "--clusterrole", "no-such-role")

	// The output file exists (refused without --overwrite; the file is untouched).
	dir := t.TempDir()
	existing := filepath.Join(dir, "taken.kubeconfig")
	os.WriteFile(existing, []byte("keep"), 0o600)
	oneLineError(t, run(t, "kubectl", append(base, "eve", "--no-binding", "--output-kubeconfig", existing)...), "already exists")
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Errorf("the existing file was changed")
	}
	// Unwritable kubeconfig destinations.
	oneLineError(t, run(t, "kubectl", append(base, "eve", "--no-binding", "--output-kubeconfig", "/proc/eve.kubeconfig")...), "cannot write in /proc")
	oneLineError(t, run(t, "kubectl", append(base, "eve", "--no-binding", "--output-kubeconfig", filepath.Join(dir, "no", "such", "dir", "x"))...), "does not exist")
	nothingLeft(t, cp, t.TempDir(), "eve")

	// CSR creation forbidden: a user who may only read pods tries to onboard someone.
	readerDir := t.TempDir()
	reader := filepath.Join(readerDir, "reader.kubeconfig")
	createUser(t, cp, "reader", "-n", "default", "--role", "readonly", "--output-kubeconfig", reader)
	r := run(t, "kubectl", "clusterops", "user", "create", "eve", "--kubeconfig", reader, "-n", "default", "--no-binding", "--output-kubeconfig", filepath.Join(dir, "eve"))
	oneLineError(t, r, "--ca-cert/--ca-key")
	nothingLeft(t, cp, t.TempDir(), "eve")

	// The CSR is denied by another admin while we wait.
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			list, err := cp.Client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{LabelSelector: users.LabelUser + "=mallory"})
			if err == nil && len(list.Items) == 1 {
				csr := list.Items[0]
				csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
					Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "NotOnTheList", Message: "mallory is not on the team"})
				if _, err := cp.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, &csr, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	try("mallory", "was denied (NotOnTheList", "--no-binding", "--approve=false", "--timeout", "30s")
}

// With no kube-controller-manager, nobody signs: a clear time-out with the hint, nothing left.
func TestUserCreateNoSigner(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users-nosigner", NoMirrorPods: true, NoControllerManager: true})
	dir := t.TempDir()
	r := run(t, "kubectl", "clusterops", "user", "create", "bob", "--kubeconfig", cp.AdminKubeconfig, "-n", "default",
		"--no-binding", "--timeout", "3s", "--output-kubeconfig", filepath.Join(dir, "bob.kubeconfig"))
	oneLineError(t, r, "is kube-controller-manager running")
	nothingLeft(t, cp, dir, "bob")
}

// SIGKILL at random points while user create --merge writes the kubeconfig, 50 times: the file is
// always valid, and always either the old one or the new one.
func TestUserCreateMergeSurvivesSIGKILL(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users-kill", NoMirrorPods: true, NoControllerManager: true})
	kc := filepath.Join(t.TempDir(), "config")
	data, err := os.ReadFile(cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(env.pluginDir, "kubectl-clusterops")
	// The kill points are spread over twice the time one whole run takes on this machine now, so
	// that some land before the write and some after it, however loaded the machine is.
	start := time.Now()
	if out, err := exec.Command(plugin, "user", "create", "timed", "--kubeconfig", kc, "-n", "default", "--no-binding",
		"--merge", "--local-ca", "--root", cp.Root, "--key-type", "ecdsa-p256").CombinedOutput(); err != nil {
		t.Fatalf("an uninterrupted run: %v\n%s", err, out)
	}
	window := max(int(2*time.Since(start)/time.Millisecond), 120)
	written := map[string]bool{"timed": true}
	killed := 0
	for i := 0; i < 50; i++ {
		name := "killed-" + strconv.Itoa(i)
		before, err := os.ReadFile(kc)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(plugin, "user", "create", name, "--kubeconfig", kc, "-n", "default", "--no-binding",
			"--merge", "--local-ca", "--root", cp.Root, "--key-type", "ecdsa-p256")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(window)) * time.Millisecond)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			killed++
		}
		_ = cmd.Wait()
		after, err := os.ReadFile(kc)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		cfg, err := clientcmd.Load(after)
		if err != nil {
			t.Fatalf("run %d: the kubeconfig is not valid after SIGKILL: %v\n%s", i, err, after)
		}
		if _, added := cfg.AuthInfos[name]; added {
			written[name] = true
		} else if string(after) != string(before) {
			t.Fatalf("run %d: the file changed but has no user %s", i, name)
		}
		for u := range written {
			if cfg.AuthInfos[u] == nil {
				t.Fatalf("run %d: user %s from an earlier run was lost", i, u)
			}
		}
		if cfg.AuthInfos["kubernetes-admin"] == nil {
			t.Fatalf("run %d: the admin user was lost", i)
		}
	}
	t.Logf("50 runs killed within %dms, %d killed, %d completed their write", window, killed, len(written)-1)
	// A run killed while it held the kubeconfig's lock file does not block the next one.
	r := run(t, "kubectl", "clusterops", "user", "create", "after-kills", "--kubeconfig", kc, "-n", "default", "--no-binding",
		"--merge", "--local-ca", "--root", cp.Root, "--key-type", "ecdsa-p256")
	if r.code != 0 {
		t.Errorf("a run after the killed ones: exit %d %s", r.code, r.stderr)
	}
	if locks, _ := filepath.Glob(kc + "*.lock"); len(locks) != 0 {
		t.Errorf("lock files left: %v", locks)
	}
	if len(written) == 1 || len(written) == 51 {
		t.Errorf("the kill points never hit before or after the write (%d of 50 wrote): widen the delays", len(written)-1)
	}
}
