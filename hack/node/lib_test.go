// Package node holds the tests of the real-node tier's shell scripts (hack/node-up, hack/node-down
// and hack/node/lib.sh). They run the scripts in check-only mode, with CLUSTEROPS_NODE_ROOT set to a
// temp dir, and lib.sh's process helpers on processes the test starts itself: nothing here needs
// root or touches the host.
package node

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// script runs a hack script (or, with name "lib", bash with lib.sh sourced and then code) with the
// temp root; it returns the exit code and stderr.
func script(t *testing.T, root, name string, code string, extraEnv ...string) (int, string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the node tier's scripts run on Linux only")
	}
	hack, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if name == "lib" {
		cmd = exec.Command("bash", "-c", `source "$1"; `+code, "bash", filepath.Join(hack, "node", "lib.sh"))
	} else {
		cmd = exec.Command(filepath.Join(hack, name))
	}
	cmd.Env = append(os.Environ(), "CLUSTEROPS_E2E_NODE=1", "CLUSTEROPS_NODE_ROOT="+root)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// tree lists every path under root with its type, to show that a run changed nothing.
func tree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			b.WriteString(p + " " + d.Type().String() + "\n")
		}
		return nil
	})
	return b.String()
}

// listen makes a unix socket at path that is really listened on, as a running containerd's is.
func listen(t *testing.T, path string) net.Listener {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Defect 11 (issue 14): node-up refuses to start while a containerd socket it did not start exists
// (Docker's, k3s's, a real node's), or while a dir it would use and node-down removes is in use and
// not ours; it changes nothing then. On a clean root the checks pass and, in check-only mode, it
// stops there.
func TestDefect11NodeUpRefusesForeignContainerd(t *testing.T) {
	for _, sock := range []string{"/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock"} {
		root := t.TempDir()
		l := listen(t, filepath.Join(root, sock))
		before := tree(t, root)
		code, stderr := script(t, root, "node-up", "")
		if code == 0 || !strings.Contains(stderr, "a containerd socket that this tier did not start exists: "+filepath.Join(root, sock)) {
			t.Errorf("%s: node-up exit %d:\n%s", sock, code, stderr)
		}
		if after := tree(t, root); after != before {
			t.Errorf("%s: the refused node-up changed the root:\n%s", sock, after)
		}
		conn, err := net.Dial("unix", filepath.Join(root, sock))
		if err != nil {
			t.Errorf("%s: the foreign socket no longer answers: %v", sock, err)
		} else {
			conn.Close()
		}
		l.Close()
	}

	for _, dir := range []string{"/etc/kubernetes", "/var/lib/containerd", "/var/log/pods", "/etc/cni/net.d", "/run/containerd"} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, dir), 0o755)
		os.WriteFile(filepath.Join(root, dir, "theirs"), []byte("x"), 0o600)
		before := tree(t, root)
		code, stderr := script(t, root, "node-up", "")
		if code == 0 || !strings.Contains(stderr, filepath.Join(root, dir)+" is in use and was not created by this test tier") {
			t.Errorf("%s: node-up exit %d:\n%s", dir, code, stderr)
		}
		if after := tree(t, root); after != before {
			t.Errorf("%s: the refused node-up changed the root", dir)
		}
	}

	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc", "kubernetes"), 0o755) // empty: not in use
	before := tree(t, root)
	code, stderr := script(t, root, "node-up", "")
	if code != 0 || !strings.Contains(stderr, "checks passed; stopping before any change") {
		t.Errorf("clean root: node-up exit %d:\n%s", code, stderr)
	}
	if after := tree(t, root); after != before {
		t.Errorf("a check-only node-up changed the root:\n%s", after)
	}
}

// Defect 11: node-down, on a node this tier made, refuses to tear down while a containerd it did
// not start serves the socket (ours is not running), and never signals a recorded pid that now runs
// another program.
func TestDefect11NodeDownRefusesForeignContainerd(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "var", "lib", "clusterops-node-tier")
	os.MkdirAll(state, 0o755)
	os.WriteFile(filepath.Join(state, "created-by-clusterops"), nil, 0o644)
	// The recorded containerd pid is now a sleep of ours: not our containerd.
	sleep := startSleep(t)
	os.WriteFile(filepath.Join(state, "containerd.pid"), []byte(strconv.Itoa(sleep.Process.Pid)+" /usr/bin/containerd 1\n"), 0o644)
	l := listen(t, filepath.Join(root, "run", "containerd", "containerd.sock"))
	before := tree(t, root)
	code, stderr := script(t, root, "node-down", "")
	if code == 0 || !strings.Contains(stderr, "is served by a containerd this tier did not start") ||
		!strings.Contains(stderr, "leaving it alone") {
		t.Errorf("node-down exit %d:\n%s", code, stderr)
	}
	if after := tree(t, root); after != before {
		t.Errorf("the refused node-down changed the root")
	}
	if !running(sleep) {
		t.Error("node-down signalled a pid that was not its containerd")
	}
	// A stale socket (nobody listens) of our own stopped containerd is fine.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	code, stderr = script(t, root, "node-down", "")
	if code != 0 || !strings.Contains(stderr, "checks passed") {
		t.Errorf("node-down with our marker and no foreign containerd: exit %d:\n%s", code, stderr)
	}
}

func startSleep(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if len(args) == 0 {
		args = []string{"sleep", "1000"}
	}
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

// running reports whether the process has not exited (a zombie has: Wait reaps it).
func running(cmd *exec.Cmd) bool {
	for range 50 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil {
			return false
		}
		if fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(fields) > 0 && fields[0] != "Z" {
			return true
		}
		time.Sleep(10 * time.Millisecond) // a zombie about to be reaped by the test's Wait
	}
	return false
}

// Defect 11: stop_pidfile signals only the process it recorded (same executable, same start time)
// and its children; a stale pid, a pid reused by another program and an old pidfile without an
// executable are left alone. kill_tree sends TERM, then KILL after the grace period.
func TestDefect11StopPidfileChecksProcExe(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "var", "lib", "clusterops-node-tier")
	os.MkdirAll(state, 0o755)
	sleepExe, _ := filepath.EvalSymlinks(mustLookPath(t, "sleep"))

	// Recorded as kubelet, but the pid runs sleep now: left alone, pidfile removed.
	s1 := startSleep(t)
	os.WriteFile(filepath.Join(state, "kubelet.pid"), []byte(strconv.Itoa(s1.Process.Pid)+" /usr/local/bin/kubelet\n"), 0o644)
	// Old format (pid only): cannot be checked, left alone.
	s2 := startSleep(t)
	os.WriteFile(filepath.Join(state, "old.pid"), []byte(strconv.Itoa(s2.Process.Pid)+"\n"), 0o644)
	// The right executable but another start time (a reused pid): left alone.
	s3 := startSleep(t)
	os.WriteFile(filepath.Join(state, "reused.pid"), []byte(strconv.Itoa(s3.Process.Pid)+" "+sleepExe+" 1\n"), 0o644)
	code, stderr := script(t, root, "lib", "stop_pidfile kubelet; stop_pidfile old; stop_pidfile reused")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i, s := range []*exec.Cmd{s1, s2, s3} {
		if !running(s) {
			t.Errorf("case %d: a process that was not the recorded one was signalled\n%s", i+1, stderr)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(state, "*.pid")); len(left) > 0 {
		t.Errorf("pidfiles left: %v", left)
	}

	// Ours (recorded by record_pid): stopped, with its child, TERM first.
	s4 := startSleep(t)
	code, stderr = script(t, root, "lib", "record_pid mine "+strconv.Itoa(s4.Process.Pid)+" "+sleepExe+"; stop_pidfile mine")
	if code != 0 || running(s4) {
		t.Errorf("our own recorded process: exit %d, still running %v\n%s", code, running(s4), stderr)
	}

	// A process that ignores TERM, with a child: KILL after the grace period, child included.
	stubborn := startSleep(t, "bash", "-c", `trap "" TERM; sleep 1000 & while :; do sleep 0.1; done`)
	bashExe, _ := filepath.EvalSymlinks(mustLookPath(t, "bash"))
	code, stderr = script(t, root, "lib", "record_pid stubborn "+strconv.Itoa(stubborn.Process.Pid)+" "+bashExe+"; stop_pidfile stubborn", "KILL_GRACE=1")
	if code != 0 || running(stubborn) || !strings.Contains(stderr, "did not stop within 1s of SIGTERM: SIGKILL") {
		t.Errorf("a process that ignores TERM: exit %d, running %v\n%s", code, running(stubborn), stderr)
	}
}

// Defect 11: timed reports the step's own exit code (it said 1, the status of `[`, for any failure).
func TestDefect11TimedReportsExitCode(t *testing.T) {
	code, stderr := script(t, t.TempDir(), "lib", `timed step 60 bash -c "exit 7"`)
	if code == 0 || !strings.Contains(stderr, "step step failed (exit 7)") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found", name)
	}
	return p
}
