//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Defect 4 (issue 14): after a new-key renewal of apiserver.crt on disk — by the real kubeadm
// (which always makes a new key) and by ours with --new-key — `certs check --source node,api`
// says the running kube-apiserver must restart. Before the fix the served certificate was
// recognised by its key, so a new key hid the pending restart and the check said ok. A copy
// that was not renewed stays ok (no false alarm).
func TestDefect4NewKeyRenewalIsRestartPending(t *testing.T) {
	cp := env.cp
	served := func(root string) ourCert {
		t.Helper()
		c, r := certsCheck(t, "--root", root, "--source", "node,api", "--kubeconfig", cp.AdminKubeconfig)
		if r.code == 3 {
			t.Fatalf("certs check: %s", r.stderr)
		}
		for _, x := range c.Certificates {
			if x.Source == "api" && x.Name == "apiserver (serving)" {
				return x
			}
		}
		t.Fatalf("no served apiserver row:\n%s", r.stdout)
		return ourCert{}
	}
	if s := served(copyRoot(t, cp.Root)); s.Status == "RestartPending" {
		t.Fatalf("an untouched copy of the running node's root says restart-pending: %s", s.Problem)
	}

	kubeadmRoot := copyRoot(t, cp.Root)
	before := readCert(t, filepath.Join(kubeadmRoot, "etc/kubernetes/pki/apiserver.crt"))
	time.Sleep(1100 * time.Millisecond)
	if out, err := exec.Command(filepath.Join(env.binDir, "kubeadm"), "certs", "renew", "apiserver",
		"--config", "/kubeadm.yaml", "--rootfs", kubeadmRoot).CombinedOutput(); err != nil {
		t.Fatalf("kubeadm certs renew apiserver: %v\n%s", err, out)
	}
	after := readCert(t, filepath.Join(kubeadmRoot, "etc/kubernetes/pki/apiserver.crt"))
	if string(after.RawSubjectPublicKeyInfo) == string(before.RawSubjectPublicKeyInfo) {
		t.Fatal("kubeadm's renewal kept the key: this test needs a new-key renewal")
	}
	if s := served(kubeadmRoot); s.Status != "RestartPending" || !strings.Contains(s.Problem, "restart kube-apiserver") {
		t.Errorf("after kubeadm's new-key renewal: status %q (%s), want restart-pending", s.Status, s.Problem)
	}

	oursRoot := copyRoot(t, cp.Root)
	if r := run(t, "kubectl", "clusterops", "certs", "renew", "apiserver", "--root", oursRoot, "--new-key"); r.code != 0 {
		t.Fatalf("certs renew --new-key: %s", r.stderr)
	}
	if s := served(oursRoot); s.Status != "RestartPending" {
		t.Errorf("after our --new-key renewal: status %q (%s), want restart-pending", s.Status, s.Problem)
	}
}

// Defect 12 (issue 14): every renewal writes a backup that holds every CA key; only the last
// --keep-backups (default 5) stay, the removed ones are named in the output, and nothing else in
// etc/kubernetes/tmp is touched. Before the fix six renewals left six backups.
func TestDefect12CertBackupsArePruned(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	tmp := filepath.Join(root, "etc/kubernetes/tmp")
	os.MkdirAll(tmp, 0o700)
	keepMe := filepath.Join(tmp, "kubeadm-backup-etcd-2026-01-01-00-00-00")
	os.MkdirAll(keepMe, 0o700)
	var lastOut string
	for i := 0; i < 7; i++ {
		time.Sleep(1100 * time.Millisecond) // backup folders are named to the second
		r := run(t, "kubectl", "clusterops", "certs", "renew", "front-proxy-client", "--root", root)
		if r.code != 0 {
			t.Fatalf("renewal %d: %s", i, r.stderr)
		}
		lastOut = r.stdout + r.stderr
	}
	backups, _ := filepath.Glob(filepath.Join(tmp, "clusterops-backup-*"))
	if len(backups) != 5 {
		t.Errorf("%d backups after 7 renewals, want the last 5: %v", len(backups), backups)
	}
	if _, err := os.Stat(keepMe); err != nil {
		t.Errorf("pruning removed a folder it did not make: %v", err)
	}
	if !strings.Contains(lastOut, "clusterops-backup-") {
		t.Errorf("the removed backup is not named:\n%s", lastOut)
	}
	if r := run(t, "kubectl", "clusterops", "certs", "renew", "front-proxy-client", "--root", root, "--keep-backups", "2"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if backups, _ = filepath.Glob(filepath.Join(tmp, "clusterops-backup-*")); len(backups) != 2 {
		t.Errorf("--keep-backups 2 left %d", len(backups))
	}
}

// Defect 12 (issue 14): a kubeconfig whose certificate-authority file cannot be read is one line
// naming the file and exit 3; before the fix the read error was dropped and the system roots
// were used instead.
func TestDefect12UnreadableCAFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	caDir := filepath.Join(dir, "ca-is-a-directory")
	os.MkdirAll(caDir, 0o700)
	r := run(t, "kubectl", "config", "view", "--raw", "--minify", "--flatten", "--kubeconfig", env.cp.AdminKubeconfig)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	os.WriteFile(kc, []byte(r.stdout), 0o600)
	cluster := run(t, "kubectl", "config", "view", "--kubeconfig", kc, "-o", "jsonpath={.clusters[0].name}").stdout
	run(t, "kubectl", "config", "unset", "clusters."+cluster+".certificate-authority-data", "--kubeconfig", kc)
	if s := run(t, "kubectl", "config", "set", "clusters."+cluster+".certificate-authority", caDir, "--kubeconfig", kc); s.code != 0 {
		t.Fatal(s.stderr)
	}
	oneLineError(t, run(t, "kubectl", "clusterops", "certs", "check", "--source", "api", "--kubeconfig", kc), "ca-is-a-directory")
}
