//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A full disk: a 256 KiB tmpfs in a private mount namespace (the host sees nothing of it).
func TestEtcdSnapshotDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "full")
	os.MkdirAll(dir, 0o755)
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("unshare -m is not permitted here (%v): cannot simulate a full disk", err)
	}
	script := `mount -t tmpfs -o size=256k tmpfs "$1" || exit 99
"$2" etcd snapshot save "$1/snap.db" --root "$3"; rc=$?
echo "left:$(ls -A "$1")"; exit $rc`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, "sh", dir, filepath.Join(env.pluginDir, "kubectl-clusterops"), env.cp.Root)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	code := cmd.ProcessState.ExitCode()
	if code == 99 {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	if code != 3 || !strings.Contains(string(out), "disk is full") {
		t.Errorf("exit %d, want 3 and 'disk is full'", code)
	}
	if !strings.Contains(string(out), "left:\n") {
		t.Errorf("files left on the full disk: %s", out)
	}
}
