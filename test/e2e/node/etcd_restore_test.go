//go:build e2enode

package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// etcd snapshot save with no flags at all on the node (connection from the etcd manifest and the
// kubeadm PKI), then the full loop: objects, snapshot, delete, restore --update-manifest, the kubelet
// restarts etcd on the restored data, and the objects are back. It runs last (see TestNode).
func testEtcdSnapshotRestoreLoopOnTheRealNode(t *testing.T) {
	ctx := context.Background()
	kubectl := func(args ...string) string {
		t.Helper()
		r := env.cli.Run(t, nil, "kubectl", args...)
		if r.Code != 0 {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r.Stderr)
		}
		return r.Stdout
	}
	ns := fmt.Sprintf("restore-%d", time.Now().Unix())
	kubectl("create", "namespace", ns)
	for i := 0; i < 5; i++ {
		kubectl("-n", ns, "create", "configmap", fmt.Sprintf("cm-%d", i), "--from-literal=i="+fmt.Sprint(i))
	}
	dir := t.TempDir()
	snap := filepath.Join(dir, "node.db")
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "save", snap, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("etcd snapshot save with no flags: exit %d\n%s", r.Code, r.Stderr)
	}
	var saved struct {
		Metadata struct {
			SHA256   string `json:"sha256"`
			Revision int64  `json:"revision"`
			Endpoint string `json:"endpoint"`
		} `json:"metadata"`
	}
	err := json.Unmarshal([]byte(r.Stdout), &saved)
	meta := saved.Metadata
	if err != nil || meta.SHA256 == "" || meta.Revision == 0 {
		t.Fatalf("save -o json: %v\n%s", err, r.Stdout)
	}
	if _, err := os.Stat(snap + ".json"); err != nil {
		t.Errorf("no metadata sidecar: %v", err)
	}
	t.Logf("snapshot of %s at revision %d", meta.Endpoint, meta.Revision)

	kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s")
	if r := env.cli.Run(t, nil, "kubectl", "-n", ns, "get", "configmap", "cm-0"); r.Code == 0 {
		t.Fatalf("the configmap is still there after deleting its namespace")
	}

	pod, err := env.node.MirrorPod(ctx, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	oldHash := pod.Annotations["kubernetes.io/config.hash"]
	restored := fmt.Sprintf("/var/lib/etcd/restored-%d", time.Now().Unix()) // below /var/lib/etcd: node-down removes it
	restore := func() (int, string) {
		r := env.cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "restore", snap, "--data-dir", restored, "--update-manifest")
		return r.Code, r.Stdout + r.Stderr
	}
	// Defect 10 (issue 14): while kube-apiserver's manifest is in place, --update-manifest refuses
	// and changes nothing.
	etcdManifest := mustRead(t, env.node.ManifestPath("etcd"))
	if code, out := restore(); code != 3 || !strings.Contains(out, "kube-apiserver is still running") {
		t.Fatalf("restore --update-manifest with kube-apiserver running: exit %d\n%s", code, out)
	}
	if mustRead(t, env.node.ManifestPath("etcd")) != etcdManifest {
		t.Fatal("a refused restore changed the etcd manifest")
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a refused restore created its data dir")
	}
	// The documented way: stop kube-apiserver by moving its manifest out, wait until it no longer
	// answers, restore, and put the manifest back.
	apiManifest := env.node.ManifestPath("kube-apiserver")
	parked := filepath.Join(filepath.Dir(filepath.Dir(apiManifest)), "kube-apiserver.yaml")
	if err := os.Rename(apiManifest, parked); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(parked); err == nil {
			os.Rename(parked, apiManifest)
		}
	})
	for deadline := time.Now().Add(3 * time.Minute); env.cli.Run(t, nil, "kubectl", "get", "--raw", "/readyz").Code == 0; time.Sleep(2 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver still answers 3 minutes after its manifest left the manifests dir")
		}
	}
	if code, out := restore(); code != 0 {
		t.Fatalf("restore --update-manifest: exit %d\n%s", code, out)
	}
	if err := os.Rename(parked, apiManifest); err != nil {
		t.Fatal(err)
	}
	// The kubelet sees the edited manifest and restarts etcd on the restored data, and starts
	// kube-apiserver again. The API server is unavailable for a while; WaitMirrorHashChange keeps
	// asking.
	if _, err := env.node.WaitMirrorHashChange(ctx, "etcd", oldHash, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := env.cli.Run(t, nil, "kubectl", "-n", ns, "get", "configmaps", "-o", "name")
		if r.Code == 0 && strings.Count(r.Stdout, "configmap/cm-") == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the configmaps did not come back after the restore: %s%s", r.Stdout, r.Stderr)
		}
		time.Sleep(2 * time.Second)
	}
	if !strings.Contains(mustRead(t, env.node.ManifestPath("etcd")), "--data-dir="+restored) {
		t.Errorf("the etcd manifest does not point at %s", restored)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
