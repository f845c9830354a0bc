//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// kube-proxy's version comes from the image of the kube-system/kube-proxy DaemonSet that kubeadm
// created, node by node, never from status.nodeInfo.kubeProxyVersion (the harness fills that with
// the kubelet's version, as kubelets did). The real DaemonSet controller rolls the image out; the
// test binds its pods to their nodes and reports them running, as kube-scheduler and the kubelet
// would. A kube-proxy 4 minors behind the v1.37 apiserver and kubelets is a violation naming its
// nodes; on a node whose kubelet is v1.34 it is within 3 minors of the kubelet.
func TestUpgradePlanKubeProxyFromDaemonSet(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "proxy"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kc := cp.AdminKubeconfig
	for _, n := range []harness.NodeSpec{{Name: "w1"}, {Name: "w2"}, {Name: "w134", KubeletVersion: "v1.34.2"}} {
		if _, err := cp.AddNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	nodes := []string{cp.NodeName, "w1", "w134", "w2"}
	slices.Sort(nodes)
	rollKubeProxy(ctx, t, cp, "registry.k8s.io/kube-proxy:v1.33.0", nodes)
	if ds, err := cp.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); err != nil || ds.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/kube-proxy:v1.33.0" {
		t.Fatalf("kube-proxy DaemonSet: %v", err)
	}

	r := run(t, "kubectl", "clusterops", "upgrade", "plan", "-o", "json", "--kubeconfig", kc)
	p := planJSON(t, r)
	if r.code != 2 || p.Status != upgrade.StatusViolated {
		t.Errorf("exit %d status %s, want 2 violated", r.code, p.Status)
	}
	violations := map[string][]string{}
	for _, v := range p.Violations {
		if v.Component == "kube-proxy" {
			violations[v.Rule+" "+v.Version] = v.Nodes
		}
	}
	if got := violations["kube-proxy-too-old v1.33.0"]; !slices.Equal(got, nodes) {
		t.Errorf("kube-proxy-too-old v1.33.0 nodes = %v, want %v (violations %+v)", got, nodes, p.Violations)
	}
	wantSkew := []string{cp.NodeName, "w1", "w2"}
	slices.Sort(wantSkew)
	if got := violations["kube-proxy-kubelet-skew v1.33.0"]; !slices.Equal(got, wantSkew) {
		t.Errorf("kube-proxy-kubelet-skew nodes = %v, want %v: 4 minors from a v1.37 kubelet, not from w134's v1.34", got, wantSkew)
	}
	if len(violations) != 2 {
		t.Errorf("kube-proxy violations = %v, want only the two on v1.33.0", violations)
	}
	proxies := map[string]upgrade.ComponentVersions{}
	for _, c := range p.Components {
		if strings.HasPrefix(c.Component, "kube-proxy") {
			proxies[c.Component+" "+c.Version] = c
		}
	}
	if c := proxies["kube-proxy v1.33.0"]; !slices.Equal(c.Nodes, nodes) || c.Source != "pod image (DaemonSet kube-system/kube-proxy)" {
		t.Errorf("kube-proxy component = %+v", c)
	}
	if _, ok := proxies["kube-proxy (DaemonSet template) v1.33.0"]; !ok || len(proxies) != 2 {
		t.Errorf("kube-proxy components = %+v: want the pods' v1.33.0 and the template's, and nothing from status.nodeInfo", proxies)
	}
}

// rollKubeProxy sets the image of the kube-system/kube-proxy DaemonSet and waits until the real
// DaemonSet controller has given every node one pod of that image; the test binds the pods to
// their nodes and reports them running, as kube-scheduler and the kubelet would.
func rollKubeProxy(ctx context.Context, t *testing.T, cp *harness.ControlPlane, image string, nodes []string) {
	t.Helper()
	if r := run(t, "kubectl", "-n", "kube-system", "set", "image", "daemonset/kube-proxy", "kube-proxy="+image, "--kubeconfig", cp.AdminKubeconfig); r.code != 0 {
		t.Fatalf("kubectl set image: %s", r.stderr)
	}
	var last map[string]int
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		byNode, err := cp.ScheduleDaemonSetPods(ctx, "kube-system", "kube-proxy")
		if err != nil {
			return false, err
		}
		last = map[string]int{}
		for _, n := range nodes {
			for _, p := range byNode[n] {
				if p.Spec.Containers[0].Image == image {
					last[n]++
				}
			}
			if len(byNode[n]) != 1 || last[n] != 1 {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Fatalf("the DaemonSet controller did not give every node one %s kube-proxy pod: %v (%v)", image, err, last)
	}
}
