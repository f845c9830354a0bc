package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func TestParseHealth(t *testing.T) {
	body := "[+]ping ok\n[+]etcd ok\n[-]etcd-readiness failed: reason withheld\n[+]poststarthook/start-apiextensions-informers ok\nreadyz check failed\n"
	want := []Check{{"ping", true, "ok"}, {"etcd", true, "ok"}, {"etcd-readiness", false, "failed: reason withheld"},
		{"poststarthook/start-apiextensions-informers", true, "ok"}}
	if got := ParseHealth(body); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	e := &Endpoint{Checks: want}
	if got := e.EtcdChecks(); len(got) != 2 || got[1].Name != "etcd-readiness" {
		t.Errorf("etcd checks %+v", got)
	}
}

func TestFillLease(t *testing.T) {
	renew := func(ago time.Duration) *metav1.MicroTime { m := metav1.NewMicroTime(now.Add(-ago)); return &m }
	cases := []struct {
		name  string
		spec  coordinationv1.LeaseSpec
		stale bool
	}{
		{"fresh", coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cp_1"), LeaseDurationSeconds: ptr.To[int32](15), RenewTime: renew(3 * time.Second)}, false},
		{"expired", coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cp_1"), LeaseDurationSeconds: ptr.To[int32](15), RenewTime: renew(16 * time.Second)}, true},
		{"default duration", coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cp_1"), RenewTime: renew(20 * time.Second)}, true},
		{"released", coordinationv1.LeaseSpec{HolderIdentity: ptr.To(""), RenewTime: renew(time.Second)}, true},
		{"never renewed", coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cp_1")}, true},
	}
	for _, c := range cases {
		li := &LeaseInfo{}
		fillLease(li, &coordinationv1.Lease{Spec: c.spec}, now)
		if li.Stale != c.stale {
			t.Errorf("%s: stale=%v, want %v (%+v)", c.name, li.Stale, c.stale, li)
		}
	}
}

func TestCNIFromConfig(t *testing.T) {
	cases := map[string]string{
		`{"cniVersion":"0.4.0","name":"clusterops-bridge","plugins":[{"type":"bridge"},{"type":"portmap"}]}`: "bridge",
		`{"name":"k8s-pod-network","plugins":[{"type":"calico"},{"type":"bandwidth"},{"type":"portmap"}]}`:   "calico",
		`{"name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"}]}`:                                  "flannel",
		`{"name":"kindnet","plugins":[{"type":"ptp"},{"type":"portmap"}]}`:                                   "kindnet",
		`{"cniVersion":"0.3.1","name":"cilium","type":"cilium-cni"}`:                                         "cilium",
		`not json`: "",
	}
	for in, want := range cases {
		if got := cniFromConfig([]byte(in)); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	for cni, want := range map[string]string{"calico": "yes", "flannel": "no", "bridge": "no", "kindnet": "yes", "something": "unknown"} {
		if got, src := PolicyEnforcement(cni); got != want || src == "" {
			t.Errorf("%s: %q (%s), want %q", cni, got, src, want)
		}
	}
}

type fakeHealth map[string]string

func (f fakeHealth) Check(_ context.Context, path string) (string, error) {
	body, ok := f[path]
	if !ok {
		return "", errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	if strings.Contains(body, "[-]") {
		return body, apierrors.NewInternalError(errors.New("check failed"))
	}
	return body, nil
}

func node(name string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"node-role.kubernetes.io/worker": ""}},
		Spec: corev1.NodeSpec{PodCIDRs: cidrs},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", ContainerRuntimeVersion: "containerd://2.1.0"}}}
	return n
}

func kubeadmConfig(podSubnet string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: "kube-system"},
		Data: map[string]string{"ClusterConfiguration": "networking:\n  podSubnet: " + podSubnet + "\n  serviceSubnet: 10.96.0.0/12\n"}}
}

func problems(s *Status, severity string) []string {
	var out []string
	for _, p := range s.Problems {
		if p.Severity == severity {
			out = append(out, p.Message)
		}
	}
	return out
}

func hasProblem(s *Status, severity, substr string) bool {
	for _, m := range problems(s, severity) {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

func TestCollectIPAMAndPolicy(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/cni/net.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/cni/net.d/10-flannel.conflist"), []byte(`{"name":"cbr0","plugins":[{"type":"flannel"}]}`), 0o600)
	objs := []runtime.Object{
		node("a", "10.244.0.0/24"), node("b", "10.244.0.0/25"), node("c", "10.245.0.0/24"), node("d"),
		kubeadmConfig("10.244.0.0/23"),
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny", Namespace: "prod"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "kube-flannel-ds", Namespace: "kube-flannel"},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, NumberReady: 4}},
	}
	client := fake.NewClientset(objs...)
	health := fakeHealth{"/readyz?verbose": "[+]ping ok\n[+]etcd ok\nreadyz check passed\n", "/livez?verbose": "[+]ping ok\n[-]etcd failed: reason withheld\n"}
	s, err := Collect(context.Background(), Inputs{Client: client, Health: health, Root: root}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"podCIDR 10.244.0.0/24 of node a overlaps podCIDR 10.244.0.0/25 of node b",
		"node c: podCIDR 10.245.0.0/24 is outside the cluster pod subnet 10.244.0.0/23",
		"pod subnet 10.244.0.0/23 is exhausted: 2 of 2 node ranges /24 used",
		"NetworkPolicies exist (namespaces prod) but the CNI flannel does not enforce them",
		"/livez fails: etcd",
		"no leader-election Lease kube-system/kube-scheduler",
	} {
		if !hasProblem(s, SeverityProblem, want) {
			t.Errorf("no problem %q in:\n%s", want, strings.Join(problems(s, SeverityProblem), "\n"))
		}
	}
	if !hasProblem(s, SeverityWarning, "1 node(s) have no podCIDR") {
		t.Errorf("warnings: %v", problems(s, SeverityWarning))
	}
	if s.Networking.CNI.Plugin != "flannel" || len(s.Networking.CNI.Detected) != 2 ||
		s.Networking.CNI.Detected[1].Source != "/etc/cni/net.d/10-flannel.conflist" {
		t.Errorf("cni %+v", s.Networking.CNI)
	}
	if s.Healthy || s.Worst() != SeverityProblem {
		t.Errorf("healthy=%v worst=%s", s.Healthy, s.Worst())
	}
}

func TestCollectForbiddenShowsTheRest(t *testing.T) {
	client := fake.NewClientset(node("a", "10.244.0.0/24"), kubeadmConfig("10.244.0.0/16"))
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("nodes"), "", errors.New("user cannot list nodes"))
	})
	s, err := Collect(context.Background(), Inputs{Client: client}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Unreadable) != 1 || s.Unreadable[0].What != "nodes" || !strings.Contains(s.Unreadable[0].Error, "forbidden") {
		t.Errorf("unreadable %+v", s.Unreadable)
	}
	if len(s.Networking.PodSubnets) != 1 {
		t.Errorf("the rest was not read: %+v", s.Networking)
	}
}

func TestCollectUnreachable(t *testing.T) {
	_, err := Collect(context.Background(), Inputs{Client: fake.NewClientset(), Health: fakeHealth{}}, now)
	var un *ErrUnreachable
	if !errors.As(err, &un) {
		t.Fatalf("want ErrUnreachable, got %v", err)
	}
}

func TestProxyMode(t *testing.T) {
	for in, want := range map[string]string{"mode: ipvs\n": "ipvs", "mode: \"\"\n": "iptables", "clusterCIDR: 10.244.0.0/16\n": "iptables", "": ""} {
		if got, _ := ProxyMode(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// An agent's reading of a node's CNI configs is used like --root's; when it could not run, the
// report says so and still comes back.
func TestCollectNodeCNI(t *testing.T) {
	client := fake.NewClientset(node("a", "10.244.0.0/24"), kubeadmConfig("10.244.0.0/16"))
	s, err := Collect(context.Background(), Inputs{Client: client, NodeCNI: &NodeCNI{Node: "a",
		Detected: []CNIDetection{{Name: "bridge", Source: "/etc/cni/net.d/10-bridge.conflist"}}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Networking.CNI; c.Plugin != "bridge" || c.ConfigsFrom != "a" || c.ConfigsError != "" || len(c.Detected) != 1 {
		t.Errorf("cni %+v", c)
	}
	s, err = Collect(context.Background(), Inputs{Client: client, NodeCNI: &NodeCNI{Node: "a", Err: "forbidden"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Networking.CNI; c.ConfigsError != "forbidden" || !hasProblem(s, SeverityWarning, "the CNI configs of node a were not read: forbidden") {
		t.Errorf("cni %+v, warnings %v", c, problems(s, SeverityWarning))
	}
}

func TestCollectNodeEtcd(t *testing.T) {
	client := fake.NewClientset()
	members := []EtcdMember{
		{Name: "cp1", ClientURLs: []string{"https://10.0.0.1:2379"}, Reachable: true, Leader: true},
		{Name: "cp2", ClientURLs: []string{"https://10.0.0.2:2379"}, Reachable: true},
		{Name: "cp3", ClientURLs: []string{"https://10.0.0.3:2379"}, Error: "no answer at its client URLs"},
	}
	s, err := Collect(context.Background(), Inputs{Client: client, NodeEtcd: &NodeEtcd{Node: "cp1", Members: members}}, now)
	if err != nil {
		t.Fatal(err)
	}
	e := s.ControlPlane.Etcd
	if !e.Checked || e.ReadOn != "cp1" || len(e.Members) != 3 || len(e.Endpoints) != 3 {
		t.Fatalf("etcd section: %+v", e)
	}
	if !hasProblem(s, SeverityProblem, "member cp3 (https://10.0.0.3:2379) is unreachable") || hasProblem(s, SeverityProblem, "no reachable member is the leader") {
		t.Errorf("problems: %+v", s.Problems)
	}
	members[0].Leader = false
	s, _ = Collect(context.Background(), Inputs{Client: client, NodeEtcd: &NodeEtcd{Node: "cp1", Members: members}}, now)
	if !hasProblem(s, SeverityProblem, "no reachable member is the leader") {
		t.Errorf("no leader is not a problem: %+v", s.Problems)
	}
	s, _ = Collect(context.Background(), Inputs{Client: client, NodeEtcd: &NodeEtcd{Node: "cp1", Err: "forbidden"}}, now)
	if s.ControlPlane.Etcd.Checked || !strings.Contains(s.ControlPlane.Etcd.Reason, "forbidden") || !hasProblem(s, SeverityWarning, "could not be read on node cp1") {
		t.Errorf("an agent error: %+v %+v", s.ControlPlane.Etcd, s.Problems)
	}
}
