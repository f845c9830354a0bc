//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Defect 10 (issue 14): `etcd snapshot restore --update-manifest` switched etcd at once and only
// then said "stop kube-apiserver". Now, while the node's kube-apiserver manifest is in place, it
// refuses with one line and exit 3, and nothing changes: no data dir, no manifest edit, no backup.
// With the manifest moved out (the documented first step) the restore goes through and the
// manifest points at the restored dir; --force-while-apiserver-running switches anyway.
func TestDefect10RestoreUpdateManifestRefusesRunningAPIServer(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "snap.db")
	if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", snap, "--root", env.cp.Root); r.code != 0 {
		t.Fatalf("save: exit %d %s", r.code, r.stderr)
	}
	// A node root with the harness node's real manifests (etcd and kube-apiserver, as kubeadm wrote them).
	newRoot := func(t *testing.T) string {
		root := filepath.Join(t.TempDir(), "root")
		manifests := filepath.Join(root, "etc", "kubernetes", "manifests")
		for _, d := range []string{manifests, filepath.Join(root, "var", "lib")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []string{"etcd", "kube-apiserver"} {
			data, err := os.ReadFile(env.cp.ManifestPath(c))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(manifests, c+".yaml"), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	restore := func(root string, extra ...string) result {
		return run(t, "kubectl", append([]string{"clusterops", "etcd", "snapshot", "restore", snap, "--root", root,
			"--data-dir", filepath.Join(root, "var", "lib", "etcd-restored"), "--update-manifest", "-o", "json"}, extra...)...)
	}
	type restored struct {
		Manifest *struct {
			NewDataDir string `json:"newDataDir"`
		} `json:"manifest"`
		NextSteps []string `json:"nextSteps"`
	}

	root := newRoot(t)
	etcdManifest := filepath.Join(root, "etc", "kubernetes", "manifests", "etcd.yaml")
	before, _ := os.ReadFile(etcdManifest)
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		oneLineError(t, restore(root, extra...), "kube-apiserver is still running on this node")
		if after, _ := os.ReadFile(etcdManifest); string(after) != string(before) {
			t.Fatalf("%v: a refused restore changed the etcd manifest", extra)
		}
		for _, p := range []string{filepath.Join(root, "var", "lib", "etcd-restored"), filepath.Join(root, "etc", "kubernetes", "tmp")} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%v: a refused restore created %s", extra, p)
			}
		}
	}

	// The documented way: stop kube-apiserver (move its manifest out), then restore.
	if err := os.Rename(filepath.Join(root, "etc", "kubernetes", "manifests", "kube-apiserver.yaml"),
		filepath.Join(root, "etc", "kubernetes", "kube-apiserver.yaml")); err != nil {
		t.Fatal(err)
	}
	r := restore(root)
	var out restored
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Manifest == nil ||
		out.Manifest.NewDataDir != "/var/lib/etcd-restored" || len(out.NextSteps) == 0 ||
		!strings.HasPrefix(out.NextSteps[0], "Check that kube-apiserver is stopped on every other control-plane node") {
		t.Fatalf("restore with kube-apiserver stopped: exit %d %s %+v", r.code, r.stderr, out)
	}
	if after, _ := os.ReadFile(etcdManifest); !strings.Contains(string(after), "--data-dir=/var/lib/etcd-restored") {
		t.Errorf("the etcd manifest does not point at the restored dir")
	}

	// The explicit override.
	root = newRoot(t)
	r = restore(root, "--force-while-apiserver-running")
	out = restored{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Manifest == nil ||
		len(out.NextSteps) == 0 || !strings.HasPrefix(out.NextSteps[0], "Stop kube-apiserver") {
		t.Fatalf("--force-while-apiserver-running: exit %d %s %+v", r.code, r.stderr, out)
	}
}
