//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// Issue 14, defect 5: `user create --merge` writes the kubeconfig (which now holds a private key)
// mode 0600, keeps its owner, writes through a symlink to its target, and holds clientcmd's
// FILE.lock, so that it never races `kubectl config ...`.
func TestUserCreateMergeProtectsTheKubeconfig(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "users-merge", NoMirrorPods: true, NoControllerManager: true})
	admin, err := os.ReadFile(cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	asRoot := os.Geteuid() == 0
	const uid, gid = 4321, 4322
	// kubeconfig writes the admin kubeconfig at path, mode 0644, owned by uid:gid when we are root
	// (as a user's file is under sudo).
	kubeconfig := func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, admin, 0o644); err != nil {
			t.Fatal(err)
		}
		if asRoot {
			if err := os.Chown(path, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	merge := func(t *testing.T, kc, name string) result {
		t.Helper()
		return run(t, "kubectl", "clusterops", "user", "create", name, "--kubeconfig", kc, "-n", "default", "--no-binding",
			"--merge", "--local-ca", "--root", cp.Root, "--key-type", "ecdsa-p256")
	}
	// check asserts what must hold after every merge: the file is 0600, owned as before, a valid
	// kubeconfig with the admin and the given users and contexts, and no temp or lock file is left.
	check := func(t *testing.T, target string, users, contexts []string) {
		t.Helper()
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600: it holds private keys", target, st.Mode().Perm())
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); asRoot && ok && (sys.Uid != uid || sys.Gid != gid) {
			t.Errorf("%s is owned by %d:%d, want the original %d:%d", target, sys.Uid, sys.Gid, uid, gid)
		}
		cfg, err := clientcmd.LoadFromFile(target)
		if err != nil {
			t.Fatalf("%s is not a valid kubeconfig: %v", target, err)
		}
		for _, u := range append(users, "kubernetes-admin") {
			if cfg.AuthInfos[u] == nil {
				t.Errorf("%s has no user %s", target, u)
			}
		}
		for _, c := range contexts {
			if cfg.Contexts[c] == nil {
				t.Errorf("%s has no context %s", target, c)
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".*"))
		locks, _ := filepath.Glob(filepath.Join(filepath.Dir(target), "*.lock"))
		for _, l := range append(leftovers, locks...) {
			t.Errorf("left behind: %s", l)
		}
	}

	t.Run("WorldReadableBecomes0600", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		kubeconfig(t, kc)
		if r := merge(t, kc, "mode-user"); r.code != 0 {
			t.Fatalf("user create --merge: exit %d %s", r.code, r.stderr)
		}
		check(t, kc, []string{"mode-user"}, []string{"mode-user@users-merge"})
	})

	t.Run("SymlinkStaysALink", func(t *testing.T) {
		home, real := t.TempDir(), t.TempDir()
		target := filepath.Join(real, "config")
		kubeconfig(t, target)
		link := filepath.Join(home, "config")
		rel, _ := filepath.Rel(home, target)
		if err := os.Symlink(rel, link); err != nil {
			t.Fatal(err)
		}
		if r := merge(t, link, "link-user"); r.code != 0 {
			t.Fatalf("user create --merge: exit %d %s", r.code, r.stderr)
		}
		if got, err := os.Readlink(link); err != nil || got != rel {
			t.Fatalf("the kubeconfig symlink became %q (%v), want it still pointing at %s", got, err, rel)
		}
		check(t, target, []string{"link-user"}, nil)
		if ents, _ := os.ReadDir(home); len(ents) != 1 {
			t.Errorf("files next to the symlink: %v, want the link alone", ents)
		}
	})

	t.Run("HeldLockFileIsRespected", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		kubeconfig(t, kc)
		lock := kc + ".lock"
		if err := os.WriteFile(lock, nil, 0); err != nil { // as kubectl's ModifyConfig makes it
			t.Fatal(err)
		}
		oneLineError(t, merge(t, kc, "locked-user"), "the kubeconfig is locked: "+lock+" exists")
		if data, _ := os.ReadFile(kc); string(data) != string(admin) {
			t.Error("the kubeconfig was written while kubectl's lock file was held")
		}
		if _, err := os.Stat(lock); err != nil {
			t.Errorf("the lock file of another program was removed: %v", err)
		}
		os.Remove(lock)
		if r := merge(t, kc, "locked-user"); r.code != 0 {
			t.Errorf("after the lock was released: exit %d %s", r.code, r.stderr)
		}
	})

	// 50 rounds of `user create --merge` against `kubectl config set-context` on the same
	// symlinked kubeconfig. kubectl fails at once when our lock is held, so it retries. Every
	// context kubectl set is still there after our writes: we never write over its change.
	t.Run("ConcurrentKubectlConfigSetContext", func(t *testing.T) {
		home, real := t.TempDir(), t.TempDir()
		target := filepath.Join(real, "config")
		kubeconfig(t, target)
		link := filepath.Join(home, "config")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		var contexts, ours []string
		droppedByKubectl, tornReads := 0, 0
		for i := 0; i < 50; i++ {
			ctxName, user := "ctx-"+strconv.Itoa(i), "concurrent-"+strconv.Itoa(i)
			var wg sync.WaitGroup
			var kubectlErr string
			wg.Add(1)
			go func() {
				defer wg.Done()
				for attempt := 0; attempt < 1000; attempt++ {
					cmd := exec.Command(filepath.Join(env.binDir, "kubectl"), "config", "set-context", ctxName,
						"--cluster", "users-merge", "--user", "kubernetes-admin", "--kubeconfig", link)
					out, err := cmd.CombinedOutput()
					if err == nil {
						return
					}
					if !strings.Contains(string(out), ".lock") { // only a held lock is a reason to try again
						kubectlErr = string(out) + err.Error()
						return
					}
				}
				kubectlErr = "kubectl never got the lock"
			}()
			// kubectl writes the file in place (truncate, then write), and every client, ours too,
			// reads it without a lock before it starts: a read of a half-written file fails
			// cleanly (one line, exit 3, nothing written), and the run is repeated.
			r := merge(t, link, user)
			for retry := 0; r.code != 0 && retry < 20; retry++ {
				oneLineError(t, r, "")
				tornReads++
				r = merge(t, link, user)
			}
			wg.Wait()
			if r.code != 0 || kubectlErr != "" {
				t.Fatalf("round %d: user create exit %d %s; kubectl: %s", i, r.code, r.stderr, kubectlErr)
			}
			contexts = append(contexts, ctxName)
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("round %d: the kubeconfig is no longer a symlink", i)
			}
			check(t, target, nil, contexts)
			// kubectl reads the file before it takes the lock and then deletes what it did not
			// read, so it can drop a user we added in that window; that is kubectl's own race.
			if cfg, _ := clientcmd.LoadFromFile(target); cfg != nil && cfg.AuthInfos[user] != nil {
				ours = append(ours, user)
			} else {
				droppedByKubectl++
			}
			if t.Failed() {
				t.FailNow()
			}
		}
		t.Logf("50 rounds: every kubectl context kept; %d of our users kept, %d dropped by kubectl's unlocked read; %d runs repeated after reading a half-written file",
			len(ours), droppedByKubectl, tornReads)
	})
}
