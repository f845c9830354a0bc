//go:build e2enode

package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// `staticpods inspect --node N` from the kubeconfig (files read by an agent pod) equals
// `staticpods inspect --root /` on the node, file by file; --control-plane gives the same as its
// one item. No agent pod is left.
func testAgentStaticPodsInspectNode(t *testing.T) {
	ref := imageRef(t)
	for _, component := range []string{"kube-apiserver", "etcd"} {
		var local, viaAgent map[string]any
		if r := runJSON(t, &local, "staticpods", "inspect", component, "--root", "/"); r.Code != 0 {
			t.Fatalf("inspect %s --root /: exit %d\n%s", component, r.Code, r.Stderr)
		}
		if r := runJSON(t, &viaAgent, "staticpods", "inspect", component, "--node", env.node.NodeName, "--image", ref); r.Code != 0 {
			t.Fatalf("inspect %s --node: exit %d\n%s", component, r.Code, r.Stderr)
		}
		if !reflect.DeepEqual(local, viaAgent) {
			a, _ := json.MarshalIndent(local, "", " ")
			b, _ := json.MarshalIndent(viaAgent, "", " ")
			t.Errorf("%s: --node differs from --root /:\n%s\n---\n%s", component, a, b)
		}
		files := 0
		for _, f := range local["flags"].([]any) {
			fis, _ := f.(map[string]any)["files"].([]any)
			for _, fi := range fis {
				if fi.(map[string]any)["kind"] == "certificate" {
					files++
				}
			}
		}
		if files == 0 {
			t.Errorf("%s: no certificate among the referenced files: the comparison proves nothing", component)
		}
		// One control-plane node: the one node's kind, as for --node.
		var cp map[string]any
		if r := runJSON(t, &cp, "staticpods", "inspect", component, "--control-plane", "--image", ref); r.Code != 0 || !reflect.DeepEqual(cp, local) {
			t.Errorf("%s --control-plane: exit %d, differs from --root /\n%s", component, r.Code, r.Stderr)
		}
	}
	assertNoAgentPods(t)
}

// `cluster status --node N` reads the CNI configs on the node through an agent pod: the same
// detections as `--root /` on the node.
func testAgentClusterStatusCNI(t *testing.T) {
	ref := imageRef(t)
	type cni struct {
		Plugin       string
		Detected     []struct{ Name, Source string }
		ConfigsFrom  string `json:"configsFrom"`
		ConfigsError string `json:"configsError"`
	}
	var local, viaAgent struct {
		Networking struct {
			CNI cni `json:"cni"`
		} `json:"networking"`
	}
	waitControlPlaneReady(t)
	runJSON(t, &local, "cluster", "status", "--root", "/")
	r := runJSON(t, &viaAgent, "cluster", "status", "--node", env.node.NodeName, "--image", ref)
	l, a := local.Networking.CNI, viaAgent.Networking.CNI
	if len(l.Detected) == 0 || !reflect.DeepEqual(l.Detected, a.Detected) || l.Plugin != a.Plugin {
		t.Errorf("CNI through the agent %+v, on the node %+v\n%s", a, l, r.Stderr)
	}
	if a.ConfigsFrom != env.node.NodeName || a.ConfigsError != "" {
		t.Errorf("configsFrom %q, configsError %q", a.ConfigsFrom, a.ConfigsError)
	}
	// An image that does not exist: the report still comes back, that part marked.
	var bad struct {
		Networking struct {
			CNI cni `json:"cni"`
		} `json:"networking"`
	}
	r = runJSON(t, &bad, "cluster", "status", "--control-plane", "--image", "localhost/clusterops-no-such-image:v0")
	if c := bad.Networking.CNI; c.ConfigsFrom != env.node.NodeName || !strings.Contains(c.ConfigsError, "--image") || r.Code == 3 {
		t.Errorf("no such image: exit %d, %+v\n%s", r.Code, c, r.Stderr)
	}
	assertNoAgentPods(t)
}

// The full restore loop from the kubeconfig alone: objects, `snapshot save --node`, objects
// deleted, `snapshot restore --node --from` (refused while kube-apiserver runs; then with
// --stop-apiserver the agent parks kube-apiserver, switches etcd and starts it again), the
// objects are back; no pod, no parked manifest left.
func testAgentEtcdSnapshotRestoreLoopNode(t *testing.T) {
	ref := imageRef(t)
	cli := env.cli
	cli.Timeout = 12 * time.Minute
	kubectl := func(args ...string) {
		t.Helper()
		if r := env.cli.Run(t, nil, "kubectl", args...); r.Code != 0 {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r.Stderr)
		}
	}
	waitControlPlaneReady(t)
	ns := fmt.Sprintf("agent-restore-%d", time.Now().Unix())
	kubectl("create", "namespace", ns)
	for i := 0; i < 3; i++ {
		kubectl("-n", ns, "create", "configmap", fmt.Sprintf("cm-%d", i), "--from-literal=i="+fmt.Sprint(i))
	}
	snap := filepath.Join(t.TempDir(), "agent.db")
	if r := cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "save", snap, "--node", env.node.NodeName, "--image", ref); r.Code != 0 {
		t.Fatalf("save --node: exit %d\n%s", r.Code, r.Stderr)
	}
	kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s")

	apiManifest := env.node.ManifestPath("kube-apiserver")
	parked := filepath.Join(filepath.Dir(filepath.Dir(apiManifest)), "tmp", "clusterops-restart", "kube-apiserver.yaml")
	t.Cleanup(func() {
		if _, err := os.Stat(parked); err == nil {
			t.Errorf("kube-apiserver's manifest was left parked at %s: moving it back", parked)
			os.Rename(parked, apiManifest)
		}
	})
	restored := fmt.Sprintf("/var/lib/etcd/agent-restored-%d", time.Now().Unix()) // below /var/lib/etcd: node-down removes it
	restore := func(extra ...string) harness.Result {
		return cli.Run(t, nil, "kubectl", append([]string{"clusterops", "etcd", "snapshot", "restore", "--node", env.node.NodeName,
			"--from", snap, "--data-dir", restored, "--update-manifest", "--image", ref}, extra...)...)
	}
	etcdManifest := mustRead(t, env.node.ManifestPath("etcd"))
	if r := restore(); r.Code != 3 || !strings.Contains(r.Stderr, "kube-apiserver is still running") || !strings.Contains(r.Stderr, "--stop-apiserver") {
		t.Fatalf("restore --node --update-manifest with kube-apiserver running: exit %d\n%s", r.Code, r.Stderr)
	}
	if mustRead(t, env.node.ManifestPath("etcd")) != etcdManifest {
		t.Fatal("a refused restore changed the etcd manifest")
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a refused restore created its data dir")
	}
	assertNoAgentPods(t)

	r := restore("--stop-apiserver", "-o", "json")
	var res struct {
		Node, DataDir, APIServer string
		EtcdRevision             int64
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &res) != nil {
		t.Fatalf("restore --node --stop-apiserver: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if res.Node != env.node.NodeName || res.DataDir != restored || res.EtcdRevision == 0 || !strings.Contains(res.APIServer, "started again") {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(r.Stderr, "at both ends") {
		t.Errorf("no both-ends upload hash line:\n%s", r.Stderr)
	}
	if !strings.Contains(mustRead(t, env.node.ManifestPath("etcd")), "--data-dir="+restored) {
		t.Errorf("the etcd manifest does not point at %s", restored)
	}
	if _, err := os.Stat(apiManifest); err != nil {
		t.Errorf("kube-apiserver's manifest is not back: %v", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := env.cli.Run(t, nil, "kubectl", "-n", ns, "get", "configmaps", "-o", "name")
		if r.Code == 0 && strings.Count(r.Stdout, "configmap/cm-") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the configmaps did not come back after the restore: %s%s", r.Stdout, r.Stderr)
		}
		time.Sleep(2 * time.Second)
	}
	assertNoAgentPods(t)
	waitControlPlaneReady(t)
}
