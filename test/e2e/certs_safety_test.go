//go:build e2e

package e2e

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// refusedRenewal checks a refused command: exit 3, one line on stderr that contains want, and
// nothing changed on disk (no backup either).
func refusedRenewal(t *testing.T, r result, root string, before map[string]string, want string) {
	t.Helper()
	oneLineError(t, r, want)
	if after := etcKubernetesSums(t, root); !maps.Equal(after, before) {
		t.Errorf("a refused renewal changed files")
	}
	if backups, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-backup-*")); len(backups) > 0 {
		t.Errorf("a refused renewal left a backup: %v", backups)
	}
}

// Bad input is refused before anything is written: an externally managed CA (with the --csr-only
// way out), a missing certificate, an unreadable key, a key that does not match, a file that is not
// a certificate, no --root, a root without kubeadm's layout, an unknown name.
func TestCertsRenewRefusesBadInput(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	before := etcKubernetesSums(t, root)
	renewArgs := func(extra ...string) []string {
		return append([]string{"clusterops", "certs", "renew"}, extra...)
	}

	refusedRenewal(t, run(t, "kubectl", renewArgs("all")...), root, before, "--root is required")
	refusedRenewal(t, run(t, "kubectl", renewArgs("all", "--root", t.TempDir())...), root, before, "no kubeadm layout")
	refusedRenewal(t, run(t, "kubectl", renewArgs("apiserver", "kubelet-client", "--root", root)...), root, before, "rotated by the kubelet")
	refusedRenewal(t, run(t, "kubectl", renewArgs("etcd", "--root", root)...), root, before, `unknown certificate "etcd"`)

	// Externally managed etcd CA: refused with the --csr-only hint; --csr-only writes requests.
	caKey := filepath.Join(pki, "etcd", "ca.key")
	caKeyData, _ := os.ReadFile(caKey)
	os.Remove(caKey)
	before = etcKubernetesSums(t, root)
	refusedRenewal(t, run(t, "kubectl", renewArgs("all", "--root", root)...), root, before, "--csr-only")
	csrDir := filepath.Join(t.TempDir(), "csrs")
	out, r := renew(t, "etcd-server", "etcd-peer", "--root", root, "--csr-only", "--csr-dir", csrDir)
	if r.code != 0 || len(out.Certificates) != 2 {
		t.Fatalf("--csr-only: exit %d %s", r.code, r.stderr)
	}
	for name, file := range map[string]string{"etcd-server": "etcd/server", "etcd-peer": "etcd/peer"} {
		data, err := os.ReadFile(filepath.Join(csrDir, name+".csr"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil || csr.CheckSignature() != nil {
			t.Fatalf("%s.csr: %v", name, err)
		}
		cert := readCert(t, filepath.Join(pki, file+".crt"))
		if csr.Subject.String() != cert.Subject.String() || fmt.Sprint(csr.DNSNames, csr.IPAddresses) != fmt.Sprint(cert.DNSNames, cert.IPAddresses) ||
			!cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
			t.Errorf("%s.csr does not ask for the same subject, SANs and key as %s.crt", name, file)
		}
	}
	if !maps.Equal(etcKubernetesSums(t, root), before) {
		t.Errorf("--csr-only changed the PKI")
	}
	if err := os.WriteFile(caKey, caKeyData, 0o600); err != nil {
		t.Fatal(err)
	}

	corrupt := []struct {
		file, content, want string
	}{
		{"front-proxy-client.key", "garbage\n", "cannot read the private key"},
		{"apiserver.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", "apiserver"},
		{"apiserver-kubelet-client.crt", "hello\n", "not a certificate"},
	}
	for _, c := range corrupt {
		p := filepath.Join(pki, c.file)
		orig, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(c.content), 0o600)
		before := etcKubernetesSums(t, root)
		refusedRenewal(t, run(t, "kubectl", renewArgs("all", "--root", root)...), root, before, c.want)
		os.WriteFile(p, orig, 0o600)
	}
	other, _ := os.ReadFile(filepath.Join(pki, "apiserver-kubelet-client.key"))
	orig, _ := os.ReadFile(filepath.Join(pki, "apiserver-etcd-client.key"))
	os.WriteFile(filepath.Join(pki, "apiserver-etcd-client.key"), other, 0o600)
	before = etcKubernetesSums(t, root)
	refusedRenewal(t, run(t, "kubectl", renewArgs("all", "--root", root)...), root, before, "does not match")
	os.WriteFile(filepath.Join(pki, "apiserver-etcd-client.key"), orig, 0o600)
	os.Remove(filepath.Join(pki, "apiserver.crt"))
	before = etcKubernetesSums(t, root)
	refusedRenewal(t, run(t, "kubectl", renewArgs("all", "--root", root)...), root, before, "apiserver is missing")
}

// A full disk during the writes: one clear line, every pair still matches, no half backup; with
// space again the renewal goes through.
func TestCertsRenewDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s); the disk-full path is covered by unit tests", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	root := filepath.Join(mnt, "root")
	os.MkdirAll(root, 0o755)
	// The PKI and kubeconfigs only (etcd's data would not fit).
	if out, err := exec.Command("cp", "-a", filepath.Join(env.cp.Root, "etc"), root+"/").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	filler := filepath.Join(mnt, "filler")
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k").Run() // until the disk is full
	before := etcKubernetesSums(t, root)
	r := run(t, "kubectl", "clusterops", "certs", "renew", "all", "--root", root)
	refusedRenewal(t, r, root, before, "disk is full")
	if bad := pairsMismatch(root); len(bad) > 0 {
		t.Errorf("mismatched pairs after a full disk: %v", bad)
	}
	if partial, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "*.partial")); len(partial) > 0 {
		t.Errorf("a partial backup was left: %v", partial)
	}
	os.Remove(filler)
	if _, r := renew(t, "all", "--root", root); r.code != 0 {
		t.Errorf("with space again: exit %d %s", r.code, r.stderr)
	}
}

// SIGKILL at 30 random points during `renew all` never leaves a mismatched pair, and the backup
// (complete whenever it exists) restores the old state exactly.
func TestCertsRenewSurvivesSIGKILL(t *testing.T) {
	base := layRoot(t)
	oldSums := etcKubernetesSums(t, base)
	plugin := filepath.Join(env.pluginDir, "kubectl-clusterops")

	// The shortest of three runs, uninterrupted and dry (start-up, reading and signing: what comes
	// before the first write).
	measure := func(extra ...string) time.Duration {
		best := time.Hour
		for range 3 {
			timed := copyRoot(t, base)
			start := time.Now()
			if out, err := exec.Command(plugin, append([]string{"certs", "renew", "all", "--root", timed}, extra...)...).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	full, dry := measure(), measure("--dry-run")
	t.Logf("an uninterrupted renew all takes %s, a dry run %s", full, dry)

	states := map[string]int{}
	for i := range 30 {
		root := copyRoot(t, base)
		cmd := exec.Command(plugin, "certs", "renew", "all", "--root", root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// 5 points anywhere in the run (by time). 25 by progress, since timing on a busy machine
		// is too coarse: a random k in 0..11, then kill when the backup has begun (k = 0) or k of
		// the 11 files have been replaced, after a random jitter of up to 2ms.
		delay := time.Duration(rand.Int64N(int64(full)))
		if i >= 5 {
			k := rand.IntN(12)
			waitProgress(root, k, inodes(root))
			delay = time.Duration(rand.Int64N(int64(2 * time.Millisecond)))
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		killed := err != nil

		if bad := pairsMismatch(root); len(bad) > 0 {
			t.Fatalf("kill %d after %s: mismatched pairs: %v", i, delay, bad)
		}
		kubeadmCheck(t, root) // kubeadm still reads every certificate
		now := etcKubernetesSums(t, root)
		changed := 0
		for k, v := range oldSums {
			if now[k] != v {
				changed++
			}
		}
		backups, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-backup-*[0-9Z]"))
		state := "before the backup"
		if partial, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "*.partial")); len(partial) > 0 {
			state = "during the backup"
		}
		switch {
		case len(backups) > 1:
			t.Fatalf("kill %d: %d backups", i, len(backups))
		case len(backups) == 0 && changed > 0:
			t.Fatalf("kill %d: %d files changed without a backup", i, changed)
		case len(backups) == 1:
			state = fmt.Sprintf("backup done, %d files renewed", changed)
			if !killed {
				state = "finished"
			}
			// Restore as the help says, and get the old state back exactly.
			if out, err := exec.Command("cp", "-a", filepath.Join(backups[0], "etc"), root+"/").CombinedOutput(); err != nil {
				t.Fatalf("restore: %v %s", err, out)
			}
			if restored := etcKubernetesSums(t, root); !maps.Equal(restored, oldSums) {
				t.Fatalf("kill %d after %s: the backup does not restore the old state", i, delay)
			}
		}
		states[state]++
		// The next run cleans what the killed one left (temp files, a partial backup) and renews.
		if out, err := exec.Command(plugin, "certs", "renew", "all", "--root", root).CombinedOutput(); err != nil {
			t.Fatalf("kill %d: renewing again: %v %s", i, err, out)
		}
		left, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "pki", ".*"))
		more, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", ".*.tmp-*"))
		partial, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "*.partial"))
		if left = append(append(left, more...), partial...); len(left) > 0 {
			t.Fatalf("kill %d: left after the next run: %v", i, left)
		}
		if bad := pairsMismatch(root); len(bad) > 0 {
			t.Fatalf("kill %d: mismatched pairs after the next run: %v", i, bad)
		}
	}
	t.Logf("kill points: %v", states)
	if len(states) < 2 {
		t.Errorf("all 30 kills landed in the same state %v: the kill points do not cover the run", states)
	}
}

// inodes maps the 11 renewable files of root to their inode now.
func inodes(root string) map[string]uint64 {
	out := map[string]uint64{}
	for _, p := range pkiPairs {
		out[filepath.Join(root, "etc", "kubernetes", "pki", p+".crt")] = 0
	}
	for _, kc := range kubeconfigNames {
		out[filepath.Join(root, "etc", "kubernetes", kc)] = 0
	}
	for p := range out {
		out[p] = inode(p)
	}
	return out
}

func inode(p string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(p, &st) != nil {
		return 0
	}
	return st.Ino
}

// waitProgress returns when the backup folder of root appears (k = 0) or k of the files have
// been replaced (an atomic rename gives a new inode), or after 5 seconds.
func waitProgress(root string, k int, before map[string]uint64) {
	tmp := filepath.Join(root, "etc", "kubernetes", "tmp")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
		if k == 0 {
			if m, _ := filepath.Glob(filepath.Join(tmp, "clusterops-backup-*")); len(m) > 0 {
				return
			}
			continue
		}
		n := 0
		for p, ino := range before {
			if inode(p) != ino {
				n++
			}
		}
		if n >= k {
			return
		}
	}
}
