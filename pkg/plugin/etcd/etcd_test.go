package etcd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func runEtcd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	_, stderr, err := cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdEtcd}, append([]string{"etcd"}, args...)...)
	msg := stderr
	if err != nil {
		msg += err.Error()
	}
	return msg, cmdutil.ExitCode(err)
}

// Bad input is refused with exit 3 and one line, before anything touches etcd or the disk.
func TestEtcdBadInput(t *testing.T) {
	cmdtest.Isolate(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "taken"), []byte("x"), 0o600)
	os.MkdirAll(filepath.Join(dir, "full"), 0o755)
	os.WriteFile(filepath.Join(dir, "full", "f"), []byte("x"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "save"}, "give a FILE"},
		{[]string{"snapshot", "save", "a.db", "--dir", dir}, "not both"},
		{[]string{"snapshot", "save", "a.db", "--keep", "2"}, "--dir"},
		{[]string{"snapshot", "save", "--dir", dir, "--keep", "-1"}, "negative"},
		{[]string{"snapshot", "save", "--dir", dir, "--prefix", "a/b"}, "--prefix"},
		{[]string{"snapshot", "save", "a.db", "--max-rate", "fast"}, "--max-rate"},
		{[]string{"snapshot", "save", filepath.Join(dir, "taken")}, "--overwrite"},
		{[]string{"snapshot", "save", "a.db", "-o", "xml"}, "unsupported output format"},
		{[]string{"snapshot", "save", "a.db", "--root", dir}, "not a kubeadm control-plane node"},
		{[]string{"snapshot", "save", "a.db", "--endpoints", "127.0.0.1:2379"}, "invalid etcd endpoint"},
		{[]string{"snapshot", "save", "a.db", "--endpoints", "https://127.0.0.1:2379", "--cert", "c.crt"}, "--cert and --key"},
		{[]string{"snapshot", "restore", "x.db"}, "--data-dir is required"},
		{[]string{"snapshot", "restore", "x.db", "--data-dir", filepath.Join(dir, "full")}, "not empty"},
		{[]string{"snapshot", "restore", "x.db", "--data-dir", filepath.Join(dir, "no", "such")}, "does not exist"},
		{[]string{"snapshot", "restore", "x.db", "--data-dir", filepath.Join(dir, "new"), "--update-manifest", "--root", dir}, "--update-manifest"},
		{[]string{"snapshot", "list", filepath.Join(dir, "nope")}, "no such directory"},
		{[]string{"snapshot", "status"}, "accepts 1 arg"},
		{[]string{"snapshot", "verify", filepath.Join(dir, "nope.db")}, "no such snapshot file"},
		{[]string{"snapshot", "frobnicate"}, "unknown command"},
	} {
		msg, code := runEtcd(t, c.args...)
		if code != cmdutil.ExitCannotRun || !strings.Contains(msg, c.want) || strings.Contains(strings.TrimSpace(msg), "\n") {
			t.Errorf("%v: exit %d %q, want 3 and one line with %q", c.args, code, msg, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a refused restore created its data dir")
	}
}

// The progress bar: bytes, percent, rate and ETA from the member's db size; a TTY gets the bar,
// anything else one line at the end.
func TestSnapshotProgress(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var out bytes.Buffer
	p := newProgress(&out, 100<<20, func() time.Time { return now })
	p.tty = true
	now = start.Add(2 * time.Second)
	p.update(25 << 20)
	line := out.String()
	for _, want := range []string{"25%", "25.0 MiB / 100.0 MiB", "12.5 MiB/s", "ETA 6s", "[=======  "} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	out.Reset()
	p.tty = false
	if p.callback() != nil {
		t.Error("without a terminal, Save gets a progress callback")
	}
	now = start.Add(4 * time.Second)
	p.done(&backup.Metadata{Size: 100 << 20}, true)
	if got := out.String(); got != "Streamed 100.0 MiB in 4s (25.0 MiB/s)\n" {
		t.Errorf("non-TTY output %q", got)
	}
}

// Defect 10 (issue 14): --update-manifest refuses, with one line and exit 3, while the
// kube-apiserver manifest is still in the manifests dir: nothing is restored and the etcd manifest
// is unchanged. (test/e2e TestDefect10RestoreUpdateManifestRefusesRunningAPIServer proves it on the
// real harness, with a restore that goes through once the manifest is moved out.)
func TestDefect10RestoreUpdateManifestRefusesRunningAPIServer(t *testing.T) {
	cmdtest.Isolate(t)
	root := t.TempDir()
	manifests := filepath.Join(root, "etc", "kubernetes", "manifests")
	os.MkdirAll(manifests, 0o755)
	etcd := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n    - --name=cp\n"
	os.WriteFile(filepath.Join(manifests, "etcd.yaml"), []byte(etcd), 0o600)
	os.WriteFile(filepath.Join(manifests, "kube-apiserver.yaml"), []byte("kind: Pod\n"), 0o600)
	dataDir := filepath.Join(root, "var", "lib", "etcd-restored")
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		args := append([]string{"snapshot", "restore", filepath.Join(root, "snap.db"), "--data-dir", dataDir,
			"--update-manifest", "--root", root}, extra...)
		msg, code := runEtcd(t, args...)
		if code != cmdutil.ExitCannotRun || !strings.Contains(msg, "kube-apiserver is still running") ||
			!strings.Contains(msg, "--force-while-apiserver-running") || strings.Contains(strings.TrimSpace(msg), "\n") {
			t.Errorf("%v: exit %d %q", extra, code, msg)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(manifests, "etcd.yaml")); string(got) != etcd {
		t.Error("the etcd manifest changed")
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Error("a refused restore created its data dir")
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "kubernetes", "tmp")); err == nil {
		t.Error("a refused restore wrote a manifest backup")
	}
	// The flag alone, without --update-manifest, is bad input.
	msg, code := runEtcd(t, "snapshot", "restore", "x.db", "--data-dir", dataDir, "--force-while-apiserver-running")
	if code != cmdutil.ExitCannotRun || !strings.Contains(msg, "only applies to --update-manifest") {
		t.Errorf("--force-while-apiserver-running alone: exit %d %q", code, msg)
	}
	// With the flag, the check passes (the restore then fails on the missing snapshot file, after it).
	msg, _ = runEtcd(t, "snapshot", "restore", filepath.Join(root, "snap.db"), "--data-dir", dataDir,
		"--update-manifest", "--root", root, "--force-while-apiserver-running")
	if strings.Contains(msg, "kube-apiserver is still running") {
		t.Errorf("--force-while-apiserver-running: still refused: %q", msg)
	}
}
