package upgrade

import (
	"slices"
	"strings"
	"testing"
)

// cluster builds facts: one control-plane node per apiserver version, workers name=version.
func cluster(apis []string, workers ...string) *Facts {
	f := &Facts{APIServerVersion: apis[0], Kubeadm: &KubeadmConfig{KubernetesVersion: apis[0]}, KubectlVersion: apis[0]}
	for i, a := range apis {
		n := "cp" + string(rune('1'+i))
		f.ControlPlane = append(f.ControlPlane, ControlPlaneNode{Node: n, APIServer: a, ControllerManager: a, Scheduler: a, Etcd: "3.7.0-0"})
		f.Nodes = append(f.Nodes, NodeFacts{Name: n, Kubelet: a, KubeProxy: a, ControlPlane: true})
	}
	for _, w := range workers {
		name, v, _ := strings.Cut(w, "=")
		f.Nodes = append(f.Nodes, NodeFacts{Name: name, Kubelet: v, KubeProxy: v})
	}
	return f
}

func rules(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+":"+strings.Join(f.Nodes, ","))
	}
	slices.Sort(out)
	return out
}

// wantRules compares findings, as rule:nodes, with want in any order; note says why.
func wantRules(t *testing.T, what string, fs []Finding, want []string, note string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := rules(fs); !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v %s\n%+v", what, got, want, note, fs)
	}
}

// setKubeProxy puts every node's kube-proxy at v.
func setKubeProxy(f *Facts, v string) {
	for i := range f.Nodes {
		f.Nodes[i].KubeProxy = v
	}
}

func TestCheckSkew(t *testing.T) {
	tests := []struct {
		name       string
		facts      *Facts
		edit       func(*Facts)
		violations []string
		warnings   []string
	}{
		{name: "all at one version", facts: cluster([]string{"v1.37.2"}, "w1=v1.37.2")},
		{name: "kubelet 3 minors behind is allowed", facts: cluster([]string{"v1.37.2"}, "w1=v1.34.9")},
		{name: "kubelet 4 minors behind", facts: cluster([]string{"v1.37.2"}, "w1=v1.33.1"),
			violations: []string{"kube-proxy-too-old:w1", "kubelet-too-old:w1"}},
		{name: "kubelet newer than the apiserver", facts: cluster([]string{"v1.36.4"}, "w1=v1.37.0"),
			violations: []string{"kube-proxy-too-new:w1", "kubelet-too-new:w1"}},
		{name: "kubelet newer patch of the same minor is fine", facts: cluster([]string{"v1.37.0"}, "w1=v1.37.5")},
		{name: "kubelet pre-release of the next minor is newer", facts: cluster([]string{"v1.37.2"}, "w1=v1.38.0-rc.1"),
			violations: []string{"kube-proxy-too-new:w1", "kubelet-too-new:w1"}},
		{name: "kubelet pre-release of the same minor is fine", facts: cluster([]string{"v1.38.0-alpha.3"}, "w1=v1.38.0-alpha.1")},
		{name: "HA apiservers one minor apart, kubelets at the older", facts: cluster([]string{"v1.36.3", "v1.37.2"}),
			edit: func(f *Facts) { f.Nodes[1].Kubelet, f.Nodes[1].KubeProxy = "v1.36.3", "v1.36.3" }},
		{name: "HA apiservers one minor apart: a kubeadm control-plane kubelet at its own apiserver's version", facts: cluster([]string{"v1.36.3", "v1.37.2"}),
			violations: []string{"kube-proxy-too-new:cp2"}},
		{name: "HA apiservers one minor apart, not kubeadm: a kubelet newer than the older apiserver", facts: cluster([]string{"v1.36.3", "v1.37.2"}),
			edit: func(f *Facts) { f.Kubeadm = nil }, violations: []string{"kube-proxy-too-new:cp2", "kubelet-too-new:cp2"}},
		{name: "HA apiservers one minor apart: a kubeadm control-plane kubelet newer than its own apiserver", facts: cluster([]string{"v1.36.3", "v1.37.2"}),
			edit: func(f *Facts) { f.Nodes[0].Kubelet = "v1.37.2" }, violations: []string{"kube-proxy-too-new:cp2", "kubelet-too-new:cp1"}},
		{name: "HA apiservers two minors apart", facts: cluster([]string{"v1.35.0", "v1.37.2"}),
			violations: []string{"apiserver-ha-skew:", "kube-proxy-too-new:cp2"},
			warnings:   []string{"kubectl-too-old:"}},
		{name: "mixed HA narrows the kubelet range: a kubelet at the newest apiserver is too new", facts: cluster([]string{"v1.36.3", "v1.37.2"}, "w1=v1.37.2"),
			violations: []string{"kube-proxy-too-new:cp2,w1", "kubelet-too-new:w1"}},
		{name: "mixed HA: controller-manager newer than its local apiserver", facts: cluster([]string{"v1.36.3", "v1.37.2"}),
			edit:       func(f *Facts) { f.ControlPlane[0].ControllerManager = "v1.37.2" },
			violations: []string{"kube-controller-manager-too-new:cp1", "kube-proxy-too-new:cp2"}},
		{name: "mixed HA narrows the kubelet range: 3 behind the newest only", facts: cluster([]string{"v1.36.3", "v1.37.2"}, "w1=v1.33.0"),
			violations: []string{"kube-proxy-too-new:cp2", "kube-proxy-too-old:w1", "kubelet-too-old:w1"}},
		{name: "controller-manager one minor behind is allowed", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.ControlPlane[0].ControllerManager = "v1.36.0" }},
		{name: "controller-manager two minors behind", facts: cluster([]string{"v1.37.2"}),
			edit:       func(f *Facts) { f.ControlPlane[0].ControllerManager = "v1.35.0" },
			violations: []string{"kube-controller-manager-too-old:cp1"}},
		{name: "scheduler newer than the apiserver", facts: cluster([]string{"v1.37.2"}),
			edit:       func(f *Facts) { f.ControlPlane[0].Scheduler = "v1.38.0" },
			violations: []string{"kube-scheduler-too-new:cp1"}},
		{name: "kubectl one minor either way is fine", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.KubectlVersion = "v1.38.1" }},
		{name: "kubectl two minors newer", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.KubectlVersion = "v1.39.0" }, warnings: []string{"kubectl-too-new:"}},
		{name: "kubectl two minors older", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.KubectlVersion = "v1.35.0" }, warnings: []string{"kubectl-too-old:"}},
		{name: "kube-proxy more than 3 minors from its kubelet", facts: cluster([]string{"v1.37.2"}, "w1=v1.37.0"),
			edit: func(f *Facts) { f.Nodes[1].KubeProxy = "v1.33.0" }, violations: []string{"kube-proxy-kubelet-skew:w1", "kube-proxy-too-old:w1"}},
		{name: "etcd older than kubeadm's table", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.ControlPlane[0].Etcd = "3.6.5-0" }, warnings: []string{"etcd-behind:cp1"}},
		{name: "external etcd is not compared", facts: cluster([]string{"v1.37.2"}),
			edit: func(f *Facts) { f.ControlPlane[0].Etcd = "3.6.5-0"; f.Kubeadm.ExternalEtcd = true }},
		{name: "unparsable kubelet version", facts: cluster([]string{"v1.37.2"}, "w1=banana"), warnings: []string{"unparsable-version:w1", "unparsable-version:w1"}},
		{name: "only /version known", facts: &Facts{APIServerVersion: "v1.37.2", Nodes: []NodeFacts{{Name: "w1", Kubelet: "v1.38.0"}}},
			violations: []string{"kubelet-too-new:w1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.edit != nil {
				tt.edit(tt.facts)
			}
			v, w := checkSkew(tt.facts)
			wantRules(t, "violations", v, tt.violations, "")
			wantRules(t, "warnings", w, tt.warnings, "")
		})
	}
}

func TestCheckSkewGroupsNodes(t *testing.T) {
	var workers []string
	for i := range 5000 {
		workers = append(workers, "w"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+itoa(i)+"=v1.33.0")
	}
	v, _ := checkSkew(cluster([]string{"v1.37.2"}, workers...))
	if len(v) != 2 || len(v[0].Nodes) != 5000 {
		t.Fatalf("5,000 nodes at one version must give one finding per rule with 5,000 nodes, got %d findings", len(v))
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
