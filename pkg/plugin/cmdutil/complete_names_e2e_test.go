//go:build e2e

package cmdutil_test

import (
	"context"
	"slices"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// The node-name helpers list the nodes of a real kube-apiserver (the harness
// control plane: its control-plane Node, plus two workers added here), with
// the kubeconfig given by --kubeconfig, as the command groups will use them.
func TestCompleteNodeNamesRealCluster(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "complete", NoControllerManager: true, NoKubeadmObjects: true, NoMirrorPods: true})
	ctx := context.Background()
	for _, n := range []string{"worker-a", "worker-b"} {
		if _, err := cp.AddNode(ctx, harness.NodeSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	cmdtest.Isolate(t)
	all := completeWith(t, cmdutil.CompleteNodeNames, "pick", "--kubeconfig", cp.AdminKubeconfig, "")
	want := []string{cp.NodeName, "worker-a", "worker-b"}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("nodes: got %v, want %v", all, want)
	}
	if got := completeWith(t, cmdutil.CompleteNodeNames, "pick", "--kubeconfig", cp.AdminKubeconfig, "worker-a", "work"); !slices.Equal(got, []string{"worker-b"}) {
		t.Errorf("nodes after worker-a: got %v", got)
	}
	if got := completeWith(t, cmdutil.CompleteControlPlaneNodeNames, "pick", "--kubeconfig", cp.AdminKubeconfig, ""); !slices.Equal(got, []string{cp.NodeName}) {
		t.Errorf("control-plane nodes: got %v, want [%s]", got, cp.NodeName)
	}
}
