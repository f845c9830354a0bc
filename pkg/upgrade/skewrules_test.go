package upgrade

import (
	"fmt"
	"slices"
	"testing"
)

// skewPolicy is the text the skew rules follow: kubernetes/website
// content/en/releases/version-skew-policy.md, section "Supported version skew", at commit
// 01bc09751ea95187842d07b12453df0eba104622.
func skewPolicy(line int) string { return fmt.Sprintf("version-skew-policy.md:%d: ", line) }

// TestSkewRules has one row per version-skew rule, each quoting the policy sentence it follows.
// A row's facts are the whole cluster; want lists every violation as rule:nodes.
func TestSkewRules(t *testing.T) {
	tests := []struct {
		rule, cite string
		facts      *Facts
		edit       func(*Facts)
		want       []string
	}{
		{rule: "apiserver-ha-skew", cite: skewPolicy(46) + "the newest and oldest `kube-apiserver` instances must be within one minor version.",
			facts: cluster([]string{"v1.35.0", "v1.37.2"}), edit: func(f *Facts) { f.Nodes[1].Kubelet, f.Nodes[1].KubeProxy = "v1.35.0", "v1.35.0" },
			want: []string{"apiserver-ha-skew:"}},
		{rule: "kubelet-too-new", cite: skewPolicy(55) + "`kubelet` must not be newer than `kube-apiserver`.",
			facts: cluster([]string{"v1.36.4"}, "w1=v1.36.4"), edit: func(f *Facts) { f.Nodes[1].Kubelet = "v1.37.0" },
			want: []string{"kubelet-too-new:w1"}},
		{rule: "kubelet-too-old", cite: skewPolicy(56) + "`kubelet` may be up to three minor versions older than `kube-apiserver`",
			facts: cluster([]string{"v1.37.2"}, "w1=v1.34.0", "w2=v1.33.9"), edit: func(f *Facts) { f.Nodes[2].KubeProxy = "v1.34.0" },
			want: []string{"kubelet-too-old:w2"}},
		{rule: "kubelet-too-old below 1.25", cite: skewPolicy(56) + "(`kubelet` < 1.25 may only be up to two minor versions older than `kube-apiserver`)",
			facts: cluster([]string{"v1.26.3"}, "w124=v1.24.9", "w123=v1.23.17", "w125=v1.25.0"),
			edit:  func(f *Facts) { setKubeProxy(f, "v1.26.3") },
			want:  []string{"kubelet-too-old:w123"}}, // kube-proxy v1.26 may be 3 from its kubelet
		{rule: "kubelet-too-new on a kubeadm control-plane node: against its own apiserver",
			cite: skewPolicy(55) + "`kubelet` must not be newer than `kube-apiserver` (the one it talks to: kubeadm v1.37.2 points a control-plane kubelet at its node's apiserver, " +
				"cmd/kubeadm/app/cmd/phases/join/kubelet.go and phases/upgrade/postupgrade.go UpdateKubeletKubeconfigServer)",
			facts: cluster([]string{"v1.37.2", "v1.36.5"}, "w1=v1.36.5"), edit: func(f *Facts) {
				setKubeProxy(f, "v1.36.5")
				f.Nodes[1].Kubelet = "v1.37.2" // cp2's kubelet is newer than cp2's apiserver
			},
			want: []string{"kubelet-too-new:cp2"}},
		{rule: "kube-proxy-too-new", cite: skewPolicy(77) + "`kube-proxy` must not be newer than `kube-apiserver`.",
			facts: cluster([]string{"v1.36.4"}, "w1=v1.36.4"), edit: func(f *Facts) { f.Nodes[1].KubeProxy = "v1.37.0" },
			want: []string{"kube-proxy-too-new:w1"}},
		{rule: "kube-proxy-too-old", cite: skewPolicy(78) + "`kube-proxy` may be up to three minor versions older than `kube-apiserver`",
			facts: cluster([]string{"v1.37.2"}, "w1=v1.34.0", "w2=v1.34.0"), edit: func(f *Facts) { f.Nodes[2].KubeProxy = "v1.33.0" },
			want: []string{"kube-proxy-too-old:w2"}},
		{rule: "kube-proxy-too-old below 1.25", cite: skewPolicy(79) + "(`kube-proxy` < 1.25 may only be up to two minor versions older than `kube-apiserver`)",
			facts: cluster([]string{"v1.26.0"}, "w1=v1.24.0", "w2=v1.24.0"), edit: func(f *Facts) { f.Nodes[2].KubeProxy = "v1.23.0" },
			want: []string{"kube-proxy-too-old:w2"}},
		{rule: "kube-proxy-too-old from the DaemonSet template", cite: skewPolicy(78) + "`kube-proxy` may be up to three minor versions older than `kube-apiserver` (the template is what every node runs next)",
			facts: cluster([]string{"v1.37.2"}), edit: func(f *Facts) {
				f.DaemonSets = []DaemonSetFacts{{Namespace: "kube-system", Name: "kube-proxy", Images: map[string]string{"kube-proxy": "registry.k8s.io/kube-proxy:v1.33.0"}}}
			},
			want: []string{"kube-proxy-too-old:"}},
		{rule: "kube-proxy-kubelet-skew, kube-proxy older", cite: skewPolicy(80) + "`kube-proxy` may be up to three minor versions older or newer than the `kubelet` instance it runs alongside",
			facts: cluster([]string{"v1.37.2"}, "w1=v1.37.0", "w2=v1.37.0"), edit: func(f *Facts) { f.Nodes[1].KubeProxy, f.Nodes[2].KubeProxy = "v1.34.0", "v1.33.0" },
			want: []string{"kube-proxy-kubelet-skew:w2", "kube-proxy-too-old:w2"}},
		{rule: "kube-proxy-kubelet-skew, kube-proxy newer", cite: skewPolicy(80) + "`kube-proxy` may be up to three minor versions older or newer than the `kubelet` instance it runs alongside",
			facts: cluster([]string{"v1.37.2"}, "w1=v1.34.0", "w2=v1.33.0"), edit: func(f *Facts) { f.Nodes[1].KubeProxy, f.Nodes[2].KubeProxy = "v1.37.2", "v1.37.2" },
			want: []string{"kube-proxy-kubelet-skew:w2", "kubelet-too-old:w2"}},
		{rule: "kube-proxy-kubelet-skew below 1.25", cite: skewPolicy(81) + "(`kube-proxy` < 1.25 may only be up to two minor versions older or newer than the `kubelet` instance it runs alongside)",
			facts: cluster([]string{"v1.24.17"}, "w1=v1.21.14", "w2=v1.22.17"), edit: func(f *Facts) { f.Nodes[1].KubeProxy, f.Nodes[2].KubeProxy = "v1.24.17", "v1.24.17" },
			want: []string{"kube-proxy-kubelet-skew:w1", "kubelet-too-old:w1"}},
		{rule: "kube-controller-manager-too-new", cite: skewPolicy(103) + "`kube-controller-manager`, `kube-scheduler`, and `cloud-controller-manager` must not be newer than the `kube-apiserver` instances they communicate with.",
			facts: cluster([]string{"v1.37.2"}), edit: func(f *Facts) { f.ControlPlane[0].ControllerManager = "v1.38.0" },
			want: []string{"kube-controller-manager-too-new:cp1"}},
		{rule: "kube-controller-manager-too-old", cite: skewPolicy(104) + "They are expected to match the `kube-apiserver` minor version, but may be up to one minor version older",
			facts: cluster([]string{"v1.37.2", "v1.37.2"}), edit: func(f *Facts) {
				f.ControlPlane[0].ControllerManager, f.ControlPlane[1].ControllerManager = "v1.36.0", "v1.35.9"
			},
			want: []string{"kube-controller-manager-too-old:cp2"}},
		{rule: "kube-scheduler-too-new", cite: skewPolicy(103) + "must not be newer than the `kube-apiserver` instances they communicate with (kubeadm: the apiserver of the same node)",
			facts: cluster([]string{"v1.36.4", "v1.37.2"}), edit: func(f *Facts) {
				f.Nodes[1].Kubelet, f.Nodes[1].KubeProxy = "v1.36.4", "v1.36.4"
				f.ControlPlane[0].Scheduler = "v1.37.2"
			},
			want: []string{"kube-scheduler-too-new:cp1"}},
		{rule: "kube-scheduler-too-old", cite: skewPolicy(105) + "may be up to one minor version older (to allow live upgrades)",
			facts: cluster([]string{"v1.37.2"}), edit: func(f *Facts) { f.ControlPlane[0].Scheduler = "v1.35.0" },
			want: []string{"kube-scheduler-too-old:cp1"}},
		{rule: "cloud-controller-manager-too-new", cite: skewPolicy(103) + "`kube-controller-manager`, `kube-scheduler`, and `cloud-controller-manager` must not be newer than the `kube-apiserver` instances they communicate with.",
			facts: cluster([]string{"v1.36.4", "v1.37.2"}), edit: func(f *Facts) {
				f.Nodes[1].Kubelet, f.Nodes[1].KubeProxy, f.ControlPlane[1].ControllerManager, f.ControlPlane[1].Scheduler = "v1.36.4", "v1.36.4", "v1.36.4", "v1.36.4"
				// a Deployment's pod on cp2: it talks to any apiserver, the oldest counts
				f.CloudControllerManagers = []CloudControllerManager{{Node: "cp2", Pod: "kube-system/ccm-1", Version: "v1.37.0", Source: "ReplicaSet kube-system/ccm-5d9"}}
			},
			want: []string{"cloud-controller-manager-too-new:cp2"}},
		{rule: "cloud-controller-manager-too-old", cite: skewPolicy(104) + "They are expected to match the `kube-apiserver` minor version, but may be up to one minor version older",
			facts: cluster([]string{"v1.37.2"}, "w1=v1.37.2"), edit: func(f *Facts) {
				f.CloudControllerManagers = []CloudControllerManager{{Node: "cp1", Pod: "kube-system/ccm-cp1", Version: "v1.36.9", Source: "static pod"},
					{Node: "w1", Pod: "kube-system/ccm-x", Version: "v1.35.1", Source: "DaemonSet kube-system/ccm"}}
			},
			want: []string{"cloud-controller-manager-too-old:w1"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if tt.cite == "" {
				t.Fatal("every skew rule quotes the policy sentence it follows")
			}
			if tt.edit != nil {
				tt.edit(tt.facts)
			}
			v, _ := checkSkew(tt.facts)
			wantRules(t, "violations", v, tt.want, "("+tt.cite+")")
		})
	}
}

// kubectl's rule is a warning (it is the client's skew).
func TestSkewRuleKubectl(t *testing.T) {
	cite := skewPolicy(130) + "`kubectl` is supported within one minor version (older or newer) of `kube-apiserver`."
	for version, want := range map[string]string{"v1.36.0": "", "v1.38.9": "", "v1.35.9": "kubectl-too-old:", "v1.39.0": "kubectl-too-new:"} {
		f := cluster([]string{"v1.37.2"})
		f.KubectlVersion = version
		v, w := checkSkew(f)
		if got := rules(w); len(v) != 0 || (want == "" && len(got) != 0) || (want != "" && !slices.Equal(got, []string{want})) {
			t.Errorf("kubectl %s: violations %v warnings %v, want warning %q (%s)", version, rules(v), got, want, cite)
		}
	}
}

// A cloud-controller-manager numbered on its own (hcloud 1.2x on Kubernetes 1.37) cannot be
// judged: a warning, not a violation; a tag without a version is a warning too.
func TestSkewRuleCCMUnknownVersion(t *testing.T) {
	f := cluster([]string{"v1.37.2"})
	f.CloudControllerManagers = []CloudControllerManager{{Node: "cp1", Pod: "kube-system/hcloud", Version: "v1.26.0", Source: "ReplicaSet kube-system/hcloud-ccm"},
		{Node: "cp1", Pod: "kube-system/other", Version: "latest", Source: "static pod"}}
	v, w := checkSkew(f)
	if len(v) != 0 || !slices.Equal(rules(w), []string{"cloud-controller-manager-version-unknown:cp1", "unparsable-version:cp1"}) {
		t.Errorf("violations %v warnings %v", rules(v), rules(w))
	}
}
