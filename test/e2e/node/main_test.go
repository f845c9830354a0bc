//go:build e2enode

// Package node is the real-node test tier: a single-node kubeadm cluster on this machine with a real
// kubelet and containerd (hack/node-up). It changes the host and runs only with
// CLUSTEROPS_E2E_NODE=1 as root (hack/test runs it last, then hack/node-down).
package node

import (
	"context"
	"fmt"
	"os"
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
