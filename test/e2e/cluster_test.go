//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type clusterStatusJSON struct {
	Kind         string `json:"kind"`
	ControlPlane struct {
		Readyz, Livez *struct {
			OK     bool
			Checks []struct {
				Name string
				OK   bool
			}
		}
		Etcd struct {
			Checked bool
			Members []struct {
				Name, Version     string
				ClientURLs        []string
				Reachable, Leader bool
			}
		}
		Components []struct {
			Name string
			Pods []struct {
				Node  string
				Ready bool
			}
			Lease *struct {
				Found  bool
				Holder string
				Stale  bool
			}
		}
	} `json:"controlPlane"`
	Nodes []struct {
		Name, KubeletVersion, ContainerRuntime string
		Ready                                  bool
		Roles, PodCIDRs, Taints                []string
	} `json:"nodes"`
	Addons struct {
		CoreDNS struct {
			Found              bool
			Desired, Ready     int
			Service, ClusterIP string
		} `json:"coreDNS"`
		KubeProxy struct {
			Found          bool
			Desired, Ready int
			Mode           string
		} `json:"kubeProxy"`
	} `json:"addons"`
	Networking struct {
		CNI struct {
			Plugin                                   string
			Detected                                 []struct{ Name, Source string }
			EnforcesNetworkPolicy, EnforcementSource string
		} `json:"cni"`
		NetworkPolicies struct{ Count int }
		PodSubnets      []string
		Overlaps        []struct{ A, CIDRA, B, CIDRB string }
		ServiceCIDRs    []struct {
			Name  string
			CIDRs []string
		}
	} `json:"networking"`
	Unreadable []struct{ What, Error string }
	Problems   []struct{ Severity, Section, Message string }
}

func (s clusterStatusJSON) problem(substr string) bool {
	for _, p := range s.Problems {
		if strings.Contains(p.Message, substr) {
			return true
		}
	}
	return false
}

func (s clusterStatusJSON) component(name string) (c struct {
	Name string
	Pods []struct {
		Node  string
		Ready bool
	}
	Lease *struct {
		Found  bool
		Holder string
		Stale  bool
	}
}) {
	for _, x := range s.ControlPlane.Components {
		if x.Name == name {
			return x
		}
	}
	return c
}

// `cluster status` on the shared harness: the real apiserver's health checks with etcd, the real
// controller-manager's Lease holder, the node, kubeadm's CoreDNS and kube-proxy objects (their
// pods stay Pending: this tier has no scheduler or kubelet, and the status says so), the pod
// subnet from kubeadm-config and the ServiceCIDR.
func TestClusterStatus(t *testing.T) {
	ctx := context.Background()
	waitDaemonSetObserved(t, env.cp, "kube-proxy")
	r := run(t, "kubectl", "clusterops", "cluster", "status", "-o", "json", "--kubeconfig", env.cp.AdminKubeconfig)
	var s clusterStatusJSON
	decodeInto(t, r, &s)
	if r.code != 2 || s.Kind != "ClusterStatus" {
		t.Errorf("exit %d (want 2: add-on pods are not ready), kind %q", r.code, s.Kind)
	}
	if s.ControlPlane.Readyz == nil || !s.ControlPlane.Readyz.OK || s.ControlPlane.Livez == nil || !s.ControlPlane.Livez.OK {
		t.Fatalf("health endpoints %+v %+v", s.ControlPlane.Readyz, s.ControlPlane.Livez)
	}
	etcdCheck := false
	for _, c := range s.ControlPlane.Readyz.Checks {
		etcdCheck = etcdCheck || (c.Name == "etcd" && c.OK)
	}
	if !etcdCheck {
		t.Errorf("no passing etcd check in /readyz: %+v", s.ControlPlane.Readyz.Checks)
	}
	lease, err := env.cp.Client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kcm := s.component("kube-controller-manager")
	if kcm.Lease == nil || !kcm.Lease.Found || kcm.Lease.Holder != *lease.Spec.HolderIdentity || kcm.Lease.Stale {
		t.Errorf("controller-manager lease %+v, want holder %s", kcm.Lease, *lease.Spec.HolderIdentity)
	}
	if len(kcm.Pods) != 1 || !kcm.Pods[0].Ready {
		t.Errorf("controller-manager pods %+v", kcm.Pods)
	}
	if sched := s.component("kube-scheduler"); sched.Lease == nil || sched.Lease.Found || !s.problem("no leader-election Lease kube-system/kube-scheduler") {
		t.Errorf("the harness runs no scheduler: lease %+v", sched.Lease)
	}
	cpNode := false
	for _, n := range s.Nodes {
		if n.Name == env.cp.NodeName {
			cpNode = n.Ready && n.KubeletVersion == harness.KubernetesVersion && strings.Join(n.Roles, ",") == "control-plane" &&
				strings.HasPrefix(n.ContainerRuntime, "containerd://")
		}
	}
	if !cpNode {
		t.Errorf("nodes %+v", s.Nodes)
	}
	dns, proxy := s.Addons.CoreDNS, s.Addons.KubeProxy
	if !dns.Found || dns.Desired != 2 || dns.Ready != 0 || dns.ClusterIP != "10.96.0.10" || !s.problem("CoreDNS: 0 of 2 replicas ready") {
		t.Errorf("CoreDNS %+v", dns)
	}
	if !proxy.Found || proxy.Mode != "iptables" || proxy.Ready != 0 || !s.problem("kube-proxy: 0 of") {
		t.Errorf("kube-proxy %+v", proxy)
	}
	if strings.Join(s.Networking.PodSubnets, ",") != env.cp.PodSubnet {
		t.Errorf("pod subnets %v, want %s", s.Networking.PodSubnets, env.cp.PodSubnet)
	}
	if len(s.Networking.ServiceCIDRs) != 1 || s.Networking.ServiceCIDRs[0].Name != "kubernetes" || s.Networking.ServiceCIDRs[0].CIDRs[0] != env.cp.ServiceSubnet {
		t.Errorf("service CIDRs %+v", s.Networking.ServiceCIDRs)
	}

	text := run(t, "kubectl", "clusterops", "cluster", "status", "--kubeconfig", env.cp.AdminKubeconfig)
	for _, want := range []string{"CONTROL PLANE", "NODES", "ADD-ONS", "NETWORKING", "PROBLEMS", *lease.Spec.HolderIdentity} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, text.stdout)
		}
	}

	// A user who may read nothing but the health endpoints sees those, and what was missing.
	limited := run(t, "kubectl", "clusterops", "cluster", "status", "-o", "json", "--as", "nobody", "--kubeconfig", env.cp.AdminKubeconfig)
	var ls clusterStatusJSON
	decodeInto(t, limited, &ls)
	if limited.code != 1 || ls.ControlPlane.Readyz == nil || !ls.ControlPlane.Readyz.OK {
		t.Errorf("--as nobody: exit %d (want 1), readyz %+v", limited.code, ls.ControlPlane.Readyz)
	}
	unreadable := map[string]bool{}
	for _, u := range ls.Unreadable {
		unreadable[u.What] = strings.Contains(u.Error, "forbidden")
	}
	if ls.ControlPlane.Etcd.Checked {
		t.Errorf("etcd checked without --root: %+v", ls.ControlPlane.Etcd)
	}
	for _, what := range []string{"nodes", "pods in kube-system", "Deployment kube-system/coredns", "DaemonSets"} {
		if !unreadable[what] {
			t.Errorf("--as nobody: %q not reported as forbidden: %+v", what, ls.Unreadable)
		}
	}
	oneLineError(t, run(t, "kubectl", "clusterops", "cluster", "status", "--server", "https://127.0.0.1:1", "--request-timeout", "3s",
		"--kubeconfig", env.cp.AdminKubeconfig), "cannot reach")
}

// On its own cluster: a DaemonSet named calico-node, a bridge conflist on the node, two workers
// whose podCIDRs overlap, and a NetworkPolicy. The status detects each of them.
func TestClusterStatusNetworking(t *testing.T) {
	ctx := context.Background()
	cp := harness.StartT(t, harness.Options{Name: "netstatus"})
	for _, n := range []harness.NodeSpec{
		{Name: "worker-a", PodCIDRs: []string{"10.244.10.0/24"}},
		{Name: "worker-b", PodCIDRs: []string{"10.244.10.128/25"}},
	} {
		addNode(t, cp, n)
	}
	labels := map[string]string{"k8s-app": "calico-node"}
	_, err := cp.Client.AppsV1().DaemonSets("kube-system").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "calico-node", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "calico-node", Image: "quay.io/calico/node:v3.30.0"}}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Client.NetworkingV1().NetworkPolicies("default").Create(ctx, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	netd := filepath.Join(cp.Root, "etc", "cni", "net.d")
	os.MkdirAll(netd, 0o755)
	if err := os.WriteFile(filepath.Join(netd, "10-test-bridge.conflist"), []byte(`{"cniVersion":"0.4.0","name":"test","plugins":[{"type":"bridge","bridge":"cni0"},{"type":"portmap"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	waitDaemonSetObserved(t, cp, "calico-node")
	r := run(t, "kubectl", "clusterops", "cluster", "status", "--root", cp.Root, "-o", "json", "--kubeconfig", cp.AdminKubeconfig)
	var s clusterStatusJSON
	decodeInto(t, r, &s)
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (an overlap)", r.code)
	}
	n := s.Networking
	sources := map[string]string{}
	for _, d := range n.CNI.Detected {
		sources[d.Source] = d.Name
	}
	if n.CNI.Plugin != "calico" || sources["DaemonSet kube-system/calico-node"] != "calico" ||
		sources["/etc/cni/net.d/10-test-bridge.conflist"] != "bridge" {
		t.Errorf("CNI %+v", n.CNI)
	}
	if n.NetworkPolicies.Count != 1 || n.CNI.EnforcesNetworkPolicy != "yes" || !strings.Contains(n.CNI.EnforcementSource, "tigera.io") {
		t.Errorf("policies %+v, enforcement %q (%s)", n.NetworkPolicies, n.CNI.EnforcesNetworkPolicy, n.CNI.EnforcementSource)
	}
	if len(n.Overlaps) != 1 || n.Overlaps[0].A != "node worker-a" || n.Overlaps[0].B != "node worker-b" ||
		!s.problem("podCIDR 10.244.10.0/24 of node worker-a overlaps podCIDR 10.244.10.128/25 of node worker-b") {
		t.Errorf("overlaps %+v", n.Overlaps)
	}
	if !s.problem("CNI calico: 0/2 pods ready in DaemonSet kube-system/calico-node") {
		t.Errorf("calico-node readiness (2 workers; the control-plane taint keeps it off the third node) not reported: %+v", s.Problems)
	}
	if !s.Addons.CoreDNS.Found || !s.Addons.KubeProxy.Found || s.Addons.KubeProxy.Mode != "iptables" {
		t.Errorf("add-ons %+v", s.Addons)
	}
	if e := s.ControlPlane.Etcd; !e.Checked || len(e.Members) != 1 || e.Members[0].Name != cp.Etcd[0].Name ||
		!e.Members[0].Reachable || !e.Members[0].Leader || e.Members[0].ClientURLs[0] != cp.Etcd[0].ClientURL {
		t.Errorf("etcd members %+v, want the harness's member %s at %s", e, cp.Etcd[0].Name, cp.Etcd[0].ClientURL)
	}
	if len(s.Nodes) != 3 {
		t.Errorf("nodes %+v", s.Nodes)
	}
	text := run(t, "kubectl", "clusterops", "cluster", "status", "--root", cp.Root, "--kubeconfig", cp.AdminKubeconfig)
	for _, want := range []string{"calico (from DaemonSet kube-system/calico-node", "bridge (from /etc/cni/net.d/10-test-bridge.conflist)",
		"OVERLAP: node worker-a 10.244.10.0/24 and node worker-b 10.244.10.128/25"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, text.stdout)
		}
	}
}

// waitDaemonSetObserved waits until the real DaemonSet controller has counted the DaemonSet's
// nodes (a fresh control plane may not have yet).
func waitDaemonSetObserved(t *testing.T, cp *harness.ControlPlane, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ds, err := cp.Client.AppsV1().DaemonSets("kube-system").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && ds.Status.ObservedGeneration >= ds.Generation && ds.Status.DesiredNumberScheduled > 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the DaemonSet controller did not count DaemonSet kube-system/%s within a minute", name)
}

// addNode is cp.AddNode, retried after deleting the half-made node when a controller modified the
// new Node between AddNode's create and its status update (a conflict the harness does not retry).
func addNode(t *testing.T, cp *harness.ControlPlane, spec harness.NodeSpec) {
	t.Helper()
	ctx := context.Background()
	for attempt := 1; ; attempt++ {
		_, err := cp.AddNode(ctx, spec)
		if err == nil {
			return
		}
		if attempt == 3 || !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
		t.Logf("AddNode %s: %v; retrying", spec.Name, err)
		if err := cp.Client.CoreV1().Nodes().Delete(ctx, spec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for {
			if _, err := cp.Client.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
