//go:build e2enode

// Package node is the real-node test tier: a single-node kubeadm cluster on this machine with a real
// kubelet and containerd (hack/node-up). It changes the host and runs only with
// CLUSTEROPS_E2E_NODE=1 as root (hack/test runs it last, then hack/node-down).
package node

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

var env struct {
	node *harness.RealNode
	cli  harness.CLI
	bin  string // the upstream binaries
}

const testVersion = "v0.0.0-e2enode"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

// TestNode is the whole node tier: one shared node, so the steps run one after another, in this
// order, as subtests (run one with -run 'TestNode/NAME'). A step that fails does not stop the
// next ones. The etcd restore comes last on purpose: it replaces the cluster's state.
func TestNode(t *testing.T) {
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"CertsCheckOnTheRealNode", testCertsCheckOnTheRealNode},
		{"CertsRenewAllRestartsStaticPods", testCertsRenewAllRestartsStaticPods},
		{"ClusterStatusRealNode", testClusterStatusRealNode},
		{"RealNodeVersion", testRealNodeVersion},
		{"RealNodeKubeletArtifacts", testRealNodeKubeletArtifacts},
		{"RealNodeSchedulerKillIsARestart", testRealNodeSchedulerKillIsARestart},
		{"RealNodeManifestEditRestartsThePod", testRealNodeManifestEditRestartsThePod},
		{"StaticPodsListRealNode", testStaticPodsListRealNode},
		{"StaticPodsDiffRealNode", testStaticPodsDiffRealNode},
		{"StaticPodsListShowsARestartRealNode", testStaticPodsListShowsARestartRealNode},
		{"UserCreateWithTheNodeCA", testUserCreateWithTheNodeCA},
		{"AgentCertsCheckEqualsTheNode", testAgentCertsCheckEqualsTheNode},
		{"AgentStaticPodsDiffNode", testAgentStaticPodsDiffNode},
		{"AgentStaticPodsInspectNode", testAgentStaticPodsInspectNode},
		{"AgentClusterStatusCNI", testAgentClusterStatusCNI},
		{"AgentEtcdSnapshotSaveNode", testAgentEtcdSnapshotSaveNode},
		{"AgentRefusals", testAgentRefusals},
		{"AgentRenewInterrupted", testAgentRenewInterrupted},
		{"AutomateEtcdBackupNode", testAutomateEtcdBackupNode},
		{"AutomateCertRenewalNode", testAutomateCertRenewalNode},
		{"AgentEtcdSnapshotRestoreLoopNode", testAgentEtcdSnapshotRestoreLoopNode},
		{"EtcdSnapshotRestoreLoopOnTheRealNode", testEtcdSnapshotRestoreLoopOnTheRealNode},
	}
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
}

func runMain(m *testing.M) int {
	if why := harness.NodeTierAllowed(); why != "" {
		fmt.Fprintln(os.Stderr, "node tier:", why) // a failure, not a skip: this package runs only when asked for
		return 1
	}
	bin, err := harness.Binaries("kubectl", "kubeadm", "etcdctl", "etcdutl")
	if err != nil {
		fmt.Fprintln(os.Stderr, "node tier:", err)
		return 1
	}
	pluginDir, err := os.MkdirTemp("", "clusterops-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "node tier:", err)
		return 1
	}
	defer os.RemoveAll(pluginDir)
	if _, err := harness.BuildPlugin(pluginDir, testVersion); err != nil {
		fmt.Fprintln(os.Stderr, "node tier:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if env.node, err = harness.UseRealNode(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "node tier:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "node tier: node %s Ready after %s\n", env.node.NodeName, time.Since(start).Round(time.Second))
	env.bin = bin
	env.cli = harness.CLI{Dirs: []string{pluginDir, bin}, Env: []string{"KUBECONFIG=" + env.node.AdminKubeconfig}}
	return m.Run()
}

// editSchedulerFlag adds --leader-elect-retry-period with a value unique to this run to
// kube-scheduler.yaml (the kubelet must see a pod it has never run). When the test ends it
// restores the original the safe way, checks that the original pod is back, and calls
// afterRestore (if not nil). It returns the value and the mirror pod's config.hash before the edit.
func editSchedulerFlag(t *testing.T, afterRestore func()) (value, oldHash string) {
	t.Helper()
	ctx := context.Background()
	path := env.node.ManifestPath("kube-scheduler")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := env.node.MirrorPod(ctx, "kube-scheduler")
	if err != nil {
		t.Fatal(err)
	}
	oldHash = pod.Annotations["kubernetes.io/config.hash"]
	value = fmt.Sprintf("2.%03ds", time.Now().UnixMilli()%1000)
	edited := strings.Replace(string(orig), "- --leader-elect=true", "- --leader-elect=true\n    - --leader-elect-retry-period="+value, 1)
	if edited == string(orig) {
		t.Fatalf("kube-scheduler.yaml has no --leader-elect=true line to edit:\n%s", orig)
	}
	t.Cleanup(func() {
		if err := env.node.RestoreManifest(context.Background(), "kube-scheduler", orig); err != nil {
			t.Errorf("restoring kube-scheduler.yaml: %v", err)
		}
		if pod, err := env.node.MirrorPod(context.Background(), "kube-scheduler"); err != nil || pod.Annotations["kubernetes.io/config.hash"] != oldHash {
			t.Errorf("after the restore the mirror pod is not the original (hash %s): %v", oldHash, err)
		}
		if afterRestore != nil {
			afterRestore()
		}
	})
	if err := harness.WriteFileAtomic(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	return value, oldHash
}
