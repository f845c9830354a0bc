//go:build e2enode

package node

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// `cluster status --root /` on the real node: the node Ready with its kubelet version and
// container runtime, the real scheduler's and controller-manager's Leases, and the bridge CNI
// from /etc/cni/net.d.
func testClusterStatusRealNode(t *testing.T) {
	var s struct {
		ControlPlane struct {
			Readyz struct{ OK bool }
			Etcd   struct {
				Checked bool
				Members []struct {
					Name              string
					Reachable, Leader bool
				}
			}
			Components []struct {
				Name  string
				Pods  []struct{ Ready bool }
				Lease *struct {
					Found, Stale bool
					Holder       string
				}
			}
		} `json:"controlPlane"`
		Nodes []struct {
			Name, KubeletVersion, ContainerRuntime string
			Ready                                  bool
		}
		Networking struct {
			CNI struct {
				Plugin   string
				Detected []struct{ Name, Source string }
			} `json:"cni"`
		} `json:"networking"`
		Problems []struct{ Severity, Message string }
	}
	waitControlPlaneReady(t)
	r := runJSON(t, &s, "cluster", "status", "--root", "/")
	if !s.ControlPlane.Readyz.OK {
		t.Errorf("readyz not ok")
	}
	if e := s.ControlPlane.Etcd; !e.Checked || len(e.Members) != 1 || e.Members[0].Name != env.node.NodeName || !e.Members[0].Reachable || !e.Members[0].Leader {
		t.Errorf("etcd members %+v", e)
	}
	ok := false
	for _, n := range s.Nodes {
		if n.Name == env.node.NodeName {
			ok = n.Ready && n.KubeletVersion == harness.KubernetesVersion && strings.HasPrefix(n.ContainerRuntime, "containerd://")
		}
	}
	if !ok {
		t.Errorf("nodes %+v", s.Nodes)
	}
	for _, c := range s.ControlPlane.Components {
		if len(c.Pods) != 1 || !c.Pods[0].Ready {
			t.Errorf("%s: pods %+v", c.Name, c.Pods)
		}
		if (c.Name == "kube-scheduler" || c.Name == "kube-controller-manager") &&
			(c.Lease == nil || !c.Lease.Found || c.Lease.Stale || !strings.HasPrefix(strings.ToLower(c.Lease.Holder), env.node.NodeName)) {
			t.Errorf("%s: lease %+v", c.Name, c.Lease)
		}
	}
	cni := s.Networking.CNI
	if cni.Plugin != "bridge" || len(cni.Detected) != 1 || cni.Detected[0].Source != "/etc/cni/net.d/10-clusterops-bridge.conflist" {
		t.Errorf("CNI %+v", cni)
	}
	// The tier runs kubeadm with dns and proxy disabled: those are the only findings, as warnings.
	var problems []string
	for _, p := range s.Problems {
		if p.Severity == "problem" || !(strings.Contains(p.Message, "CoreDNS") || strings.Contains(p.Message, "kube-proxy")) {
			problems = append(problems, p.Severity+": "+p.Message)
		}
	}
	if r.Code != 1 || len(problems) > 0 {
		t.Errorf("exit %d (want 1: no CoreDNS, no kube-proxy), unexpected findings %q", r.Code, problems)
	}
	text := env.cli.Run(t, nil, "kubectl", "clusterops", "cluster", "status", "--root", "/")
	if !strings.Contains(text.Stdout, "bridge (from /etc/cni/net.d/10-clusterops-bridge.conflist)") {
		t.Errorf("table lacks the bridge CNI:\n%s", text.Stdout)
	}
}

// waitControlPlaneReady waits until every static pod's mirror pod is Ready: right after
// hack/node-up (or a restart by another test) they run but their readiness probes have not passed.
// A controller-manager or scheduler that lost its API server during a control-plane restart exits
// and the kubelet restarts it with crash-loop back-off: 10s doubling up to 300s
// (k8s.io/kubernetes v1.37.2 pkg/kubelet/kubelet.go:166, MaxCrashLoopBackOff), so after a restart
// of etcd and kube-apiserver it may take the full cap before it runs again. Wait for the cap plus
// a start.
func waitControlPlaneReady(t *testing.T) {
	t.Helper()
	const budget = 300*time.Second + 90*time.Second
	deadline := time.Now().Add(budget)
	for {
		notReady := ""
		for _, c := range components {
			pod, err := env.node.MirrorPod(context.Background(), c)
			ready := false
			if err == nil {
				for _, cond := range pod.Status.Conditions {
					ready = ready || (cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue)
				}
			}
			if !ready {
				notReady = c
				break
			}
		}
		// A component restarted by an earlier test is Ready before it holds its leader Lease again.
		for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
			if notReady != "" {
				break
			}
			lease, err := env.node.Client.CoordinationV1().Leases("kube-system").Get(context.Background(), c, metav1.GetOptions{})
			if err != nil || lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil ||
				time.Since(lease.Spec.RenewTime.Time) > time.Duration(*lease.Spec.LeaseDurationSeconds)*time.Second {
				notReady = c + " (leader Lease)"
			}
		}
		if notReady == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not Ready after %s", notReady, budget)
		}
		time.Sleep(time.Second)
	}
}
