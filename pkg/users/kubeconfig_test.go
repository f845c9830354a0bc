package users

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/internal/kubeconfigfile"
)

var janeCreds = Credentials{ClusterName: "prod", UserName: "jane", ContextName: "jane@prod", Namespace: "dev",
	CertPEM: []byte("cert"), KeyPEM: []byte("key")}

func noWait() kubeconfigfile.LockOptions {
	return kubeconfigfile.LockOptions{Wait: 0, Poll: time.Millisecond}
}

func assertMerged(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil || cfg.AuthInfos["jane"] == nil || cfg.AuthInfos["admin"] == nil {
		t.Errorf("%s after the merge: %v\n%s", path, err, data)
	}
}

func assertNoTemps(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		left, _ := filepath.Glob(filepath.Join(dir, ".*"))
		locks, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
		for _, l := range append(left, locks...) {
			t.Errorf("left behind: %s", l)
		}
	}
}

// A world-readable kubeconfig becomes 0600 once it holds a key, and keeps its owner and group.
func TestMergeWritesMode0600AndKeepsTheOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(kubeconfigWithExtras), 0o644); err != nil {
		t.Fatal(err)
	}
	asRoot := runtime.GOOS != "windows" && os.Geteuid() == 0
	if asRoot { // as under sudo: the file belongs to someone else
		if err := os.Chown(path, 4321, 4322); err != nil {
			t.Fatal(err)
		}
	}
	if err := Merge(path, janeCreds, false); err != nil {
		t.Fatal(err)
	}
	assertMerged(t, path)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", st.Mode().Perm(), err)
	}
	if uid, gid, ok := fileOwner(st); asRoot && ok && (uid != 4321 || gid != 4322) {
		t.Errorf("owner %d:%d, want the original 4321:4322", uid, gid)
	} else if !asRoot {
		t.Log("not root: the owner cannot change, so it is not checked")
	}
	assertNoTemps(t, dir)
}

// A symlinked kubeconfig stays a symlink; the merge is written at its target.
func TestMergeWritesThroughASymlink(t *testing.T) {
	home, real := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "config")
	if err := os.WriteFile(target, []byte(kubeconfigWithExtras), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(home, target)
	link := filepath.Join(home, "config")
	if err := os.Symlink(rel, link); err != nil {
		t.Fatal(err)
	}
	if err := Merge(link, janeCreds, false); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(link); err != nil || got != rel {
		t.Fatalf("the symlink became %q %v, want it kept pointing at %s", got, err, rel)
	}
	assertMerged(t, target)
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("target mode %v, want 0600", st.Mode().Perm())
	}
	assertNoTemps(t, home, real)
}

// kubectl's own lock (FILE.lock, as clientcmd.ModifyConfig makes it) is respected: while it is
// held the merge waits, and fails in plain words when it is not released; the lock of a symlink's
// target counts too. A lock we did not take is never removed.
func TestMergeTakesClientcmdsLockFile(t *testing.T) {
	home, real := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "config")
	os.WriteFile(target, []byte(kubeconfigWithExtras), 0o600)
	link := filepath.Join(home, "config")
	os.Symlink(target, link)
	for _, held := range []string{link + ".lock", target + ".lock"} {
		os.WriteFile(held, nil, 0) // kubectl's lock files are empty, mode 0
		err := merge(link, janeCreds, false, noWait())
		if err == nil || !strings.Contains(err.Error(), "locked: "+held+" exists") {
			t.Errorf("held %s: %v, want a clear 'locked' error", held, err)
		}
		if data, _ := os.ReadFile(target); string(data) != kubeconfigWithExtras {
			t.Errorf("held %s: the kubeconfig was written", held)
		}
		if _, err := os.Stat(held); err != nil {
			t.Errorf("the lock %s, which is not ours, was removed", held)
		}
		os.Remove(held)
	}

	// Released while we wait: the merge goes on, and leaves no lock behind.
	held := link + ".lock"
	os.WriteFile(held, nil, 0)
	waits := 0
	err := merge(link, janeCreds, false, kubeconfigfile.LockOptions{Wait: time.Hour, Poll: time.Millisecond, Waiting: func(lock string) {
		if waits++; waits == 3 {
			os.Remove(lock) // kubectl finished
		}
	}})
	if err != nil || waits != 3 {
		t.Fatalf("merge after the lock was released: %v (waited %d times, want 3)", err, waits)
	}
	assertMerged(t, target)
	assertNoTemps(t, home, real)
}

// While we hold the lock files, they say who we are; kubectl's ModifyConfig then fails on them.
// The lock file of a killed run of ours (its pid is gone) does not block the next run.
func TestKubeconfigLockFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	os.WriteFile(path, []byte(kubeconfigWithExtras), 0o600)
	unlock, err := kubeconfigfile.Lock(path, noWait())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path + ".lock")
	if string(data) != kubeconfigfile.LockMarker+strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q", data)
	}
	cfg, _ := clientcmd.LoadFromFile(path)
	cfg.CurrentContext = "changed"
	err = clientcmd.ModifyConfig(&clientcmd.PathOptions{GlobalFile: path, LoadingRules: &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}}, *cfg, false)
	if err == nil || !strings.Contains(err.Error(), path+".lock") {
		t.Errorf("clientcmd.ModifyConfig while we held the lock: %v, want it refused on %s.lock", err, path)
	}
	unlock()
	if _, err := os.Stat(path + ".lock"); err == nil {
		t.Error("unlock left the lock file")
	}

	if runtime.GOOS == "windows" {
		return
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no 'true' to get the pid of a finished process:", err)
	}
	os.WriteFile(path+".lock", []byte(kubeconfigfile.LockMarker+strconv.Itoa(gone.Process.Pid)+"\n"), 0o600)
	if err := merge(path, janeCreds, false, noWait()); err != nil {
		t.Errorf("the stale lock of a killed run blocked the merge: %v", err)
	}
	// Our marker with a live pid (another run in progress) is waited for like any other lock.
	os.WriteFile(path+".lock", []byte(kubeconfigfile.LockMarker+"1\n"), 0o600)
	if err := merge(path, Credentials{ClusterName: "prod", UserName: "bob", ContextName: "bob@prod"}, false, noWait()); err == nil {
		t.Error("the lock of a live process was ignored")
	}
}
