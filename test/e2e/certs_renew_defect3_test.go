//go:build e2e

package e2e

import (
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// Defect 3 (issue 14): SIGKILL at 30 random points of `certs renew all --new-key` on a running
// control plane, each followed by a plain `certs renew all`. After every plain run: every cert/key
// pair matches (crypto/tls pairs them), nothing is left behind, kube-apiserver restarted from the
// manifest and the renewed files starts, serves the renewed apiserver.crt and accepts the renewed
// admin.conf; and the killed run's backup, when it made one, restores the state before it.
// Before the fix, a kill between a key's and its cert's rename made the next run refuse ("does not
// match"), and a kill before the renames made it sign for the old key, after which recovery put the
// new key in place: kube-apiserver did not start.
func TestDefect3RenewNewKeySurvivesSIGKILL(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "newkeykill", NoControllerManager: true, NoKubeadmObjects: true, NoMirrorPods: true})
	ctx := context.Background()
	plugin := filepath.Join(env.pluginDir, "kubectl-clusterops")
	tmp := filepath.Join(cp.Root, "etc", "kubernetes", "tmp")

	// How long an uninterrupted run takes, on a copy of the node's files.
	timed := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(timed, 0o755)
	if out, err := exec.Command("cp", "-a", filepath.Join(cp.Root, "etc"), timed+"/").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	start := time.Now()
	if out, err := exec.Command(plugin, "certs", "renew", "all", "--new-key", "--root", timed).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	full := time.Since(start)
	t.Logf("an uninterrupted renew all --new-key takes %s", full)

	states := map[string]int{}
	for i := range 30 {
		before := etcKubernetesSums(t, cp.Root)
		backupsBefore, _ := filepath.Glob(filepath.Join(tmp, "clusterops-backup-*"))
		watch := newMoveWatch(t, filepath.Join(cp.Root, "etc", "kubernetes", "pki"),
			filepath.Join(cp.Root, "etc", "kubernetes", "pki", "etcd"), filepath.Join(cp.Root, "etc", "kubernetes"))
		cmd := exec.Command(plugin, "certs", "renew", "all", "--new-key", "--root", cp.Root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A third of the kills at a random time; a third when the n-th key has just been renamed
		// into place (aiming between a key's and its cert's rename); a third when the n-th new
		// cert has been written beside the old one (before the renames), after up to 1ms.
		var aim string
		switch n := 1 + rand.IntN(7); i % 3 {
		case 0:
			aim = "time"
			time.Sleep(time.Duration(rand.Int64N(int64(full))))
		case 1:
			aim = "key renamed"
			watch.wait(n, func(name string) bool { return strings.HasSuffix(name, ".key") })
		case 2:
			aim = "new cert written"
			watch.wait(n, func(name string) bool { return strings.HasSuffix(name, ".crt.clusterops-new") })
			time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond))))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		killed := cmd.Wait() != nil
		watch.close()

		// The killed run's backup, if it finished one, restores the state before it.
		backups, _ := filepath.Glob(filepath.Join(tmp, "clusterops-backup-*[0-9Z]"))
		var made []string
		for _, b := range backups {
			if !slices.Contains(backupsBefore, b) {
				made = append(made, b)
			}
		}
		state := killState(cp.Root, killed, len(made) > 0)
		states[aim+": "+state]++
		now := etcKubernetesSums(t, cp.Root)
		maps.DeleteFunc(now, func(k, _ string) bool { return strings.HasSuffix(k, ".clusterops-new") })
		switch {
		case len(made) > 1:
			t.Fatalf("kill %d: %d backups from one run", i, len(made))
		case len(made) == 0 && !maps.Equal(now, before):
			t.Fatalf("kill %d (%s): files changed without a backup", i, state)
		case len(made) == 1:
			restored := filepath.Join(t.TempDir(), "root")
			os.MkdirAll(restored, 0o755)
			for _, c := range [][]string{{"cp", "-a", filepath.Join(cp.Root, "etc"), restored + "/"}, {"cp", "-a", filepath.Join(made[0], "etc"), restored + "/"}} {
				if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v %s", c, err, out)
				}
			}
			got := etcKubernetesSums(t, restored)
			maps.DeleteFunc(got, func(k, _ string) bool { return strings.HasSuffix(k, ".clusterops-new") })
			if !maps.Equal(got, before) {
				t.Fatalf("kill %d (%s): the backup %s does not restore the state before the run", i, state, made[0])
			}
		}

		// The next plain run finishes what the killed one left, and renews.
		if out, err := exec.Command(plugin, "certs", "renew", "all", "--root", cp.Root).CombinedOutput(); err != nil {
			t.Fatalf("kill %d (%s): the next plain renew: %v %s", i, state, err, out)
		}
		if bad := pairsMismatch(cp.Root); len(bad) > 0 {
			t.Fatalf("kill %d (%s): mismatched pairs after the next plain renew: %v", i, state, bad)
		}
		left, _ := filepath.Glob(filepath.Join(cp.Root, "etc", "kubernetes", "pki", "*.clusterops-new"))
		more, _ := filepath.Glob(filepath.Join(cp.Root, "etc", "kubernetes", "pki", "etcd", "*.clusterops-new"))
		partial, _ := filepath.Glob(filepath.Join(tmp, "*.partial"))
		if left = append(append(left, more...), partial...); len(left) > 0 {
			t.Fatalf("kill %d: left after the next run: %v", i, left)
		}

		// kube-apiserver starts on the renewed files (and reaches etcd, which loads its own
		// renewed pair for the new connection), serves the new certificate, accepts admin.conf.
		cp.StopAPIServer()
		if err := cp.StartAPIServer(ctx); err != nil {
			t.Fatalf("kill %d (%s): kube-apiserver does not start on the renewed files: %v\n%s", i, state, err, cp.Logs(30))
		}
		onDisk := readCert(t, filepath.Join(cp.PKI(), "apiserver.crt"))
		if served := servedCert(t, cp.Server); !served.Equal(onDisk) {
			t.Fatalf("kill %d: kube-apiserver serves serial %s, apiserver.crt is %s", i, served.SerialNumber, onDisk.SerialNumber)
		}
		if r := run(t, "kubectl", "get", "--raw", "/readyz", "--kubeconfig", cp.AdminKubeconfig); r.code != 0 {
			t.Fatalf("kill %d: the renewed admin.conf is not accepted: %s", i, r.stderr)
		}
	}
	t.Logf("kill points: %v", states)
	if len(states) < 3 {
		t.Errorf("the 30 kills landed in only %d states %v: the kill points do not cover the run", len(states), states)
	}
}

// killState names what a killed --new-key run left on the node.
func killState(root string, killed, backedUp bool) string {
	if !killed {
		return "finished"
	}
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	crtNew, _ := filepath.Glob(filepath.Join(pki, "*.crt.clusterops-new"))
	more, _ := filepath.Glob(filepath.Join(pki, "etcd", "*.crt.clusterops-new"))
	crtNew = append(crtNew, more...)
	for _, c := range crtNew {
		if _, err := os.Stat(strings.TrimSuffix(c, ".crt.clusterops-new") + ".key.clusterops-new"); err != nil {
			return "between a key's and its cert's rename"
		}
	}
	if len(crtNew) > 0 {
		return "new pair written, not renamed"
	}
	if partial, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "*.partial")); len(partial) > 0 {
		return "during the backup"
	}
	if !backedUp {
		return "before the backup"
	}
	return "between files"
}

// moveWatch reports, through inotify, every file renamed into the watched folders (an atomic
// write ends with one), so a kill can follow a given rename within microseconds.
type moveWatch struct {
	f     *os.File
	names chan string
}

func newMoveWatch(t *testing.T, dirs ...string) *moveWatch {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Go's poller waits, and Close ends the Read
	for _, d := range dirs {
		if _, err := syscall.InotifyAddWatch(fd, d, syscall.IN_MOVED_TO); err != nil {
			t.Fatal(err)
		}
	}
	w := &moveWatch{f: f, names: make(chan string, 1024)}
	go func() {
		defer close(w.names)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil || n <= 0 {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)])
				w.names <- strings.TrimRight(name, "\x00")
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()
	return w
}

// wait returns after the n-th renamed file that match accepts, or when the run ends (5s budget).
func (w *moveWatch) wait(n int, match func(string) bool) {
	timeout := time.After(5 * time.Second)
	for seen := 0; seen < n; {
		select {
		case name, ok := <-w.names:
			if !ok {
				return
			}
			if match(name) {
				seen++
			}
		case <-timeout:
			return
		}
	}
}

func (w *moveWatch) close() { w.f.Close() }

// Defect 3: two renewals cannot run at once. While one holds the node's lock (here, while it keeps
// a manifest parked during --restart-static-pods), a second gets one line and exit 3 and changes
// nothing; once the first is done, the next run goes through. Defect 12: --keep-backups keeps the
// last N backups and lists the ones it removed.
func TestDefect3RenewLockRefusesSecondRun(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	first := exec.Command(filepath.Join(env.pluginDir, "kubectl-clusterops"), "certs", "renew", "scheduler.conf", "--root", root,
		"--restart-static-pods", "--restart-wait", "20s", "--server", "https://127.0.0.1:1")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	parked := filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-restart", "kube-scheduler.yaml")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(parked); err == nil {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("the first renewal never parked kube-scheduler.yaml")
		}
	}
	before := etcKubernetesSums(t, root)
	backups, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-backup-*"))
	r := run(t, "kubectl", "clusterops", "certs", "renew", "all", "--root", root)
	if _, err := os.Stat(parked); err != nil {
		t.Errorf("the second run moved the first run's parked manifest back")
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first renewal: %v", err)
	}
	oneLineError(t, r, "another certs renew is running on this node")
	if !maps.Equal(etcKubernetesSums(t, root), before) {
		t.Error("the refused run changed files")
	}
	if now, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-backup-*")); len(now) != len(backups) {
		t.Errorf("the refused run made a backup: %v", now)
	}

	// After it: renewals go through, and only the last 2 backups stay.
	var made, pruned []string
	for range 3 {
		out, r := renew(t, "front-proxy-client", "--root", root, "--keep-backups", "2")
		if r.code != 0 {
			t.Fatalf("renew after the lock was released: exit %d %s", r.code, r.stderr)
		}
		made = append(made, out.BackupDir)
		pruned = append(pruned, out.PrunedBackups...)
	}
	now, _ := filepath.Glob(filepath.Join(root, "etc", "kubernetes", "tmp", "clusterops-backup-*"))
	if !slices.Equal(now, made[1:]) || len(pruned) != 2 || !slices.Contains(pruned, made[0]) {
		t.Errorf("--keep-backups 2: left %v, pruned %v (made %v)", now, pruned, made)
	}
	if r := run(t, "kubectl", "clusterops", "certs", "renew", "front-proxy-client", "--root", root, "--keep-backups", "1"); !strings.Contains(r.stdout, "Removed the older backup") {
		t.Errorf("the table does not say what was pruned: %s", r.stdout)
	}
}
