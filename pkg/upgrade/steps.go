package upgrade

import (
	"fmt"
	"slices"
	"sort"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// tooFarBehind says whether a kubelet of minor k is out of the skew policy against an apiserver
// of minor api: more than 3 minors behind, or more than 2 below 1.25 (see maxOlder).
func tooFarBehind(api, k int) bool {
	limit := 3
	if k < 25 {
		limit = 2
	}
	return api-k > limit
}

// nodesWhere lists the non-control-plane nodes whose kubelet minor satisfies the predicate.
func nodesWhere(kubelet map[string]int, cps []string, pred func(int) bool) []string {
	var out []string
	for n, m := range kubelet {
		if pred(m) && !slices.Contains(cps, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// controlPlaneNodes are the nodes with control-plane mirror pods, else the nodes with the
// control-plane role, sorted.
func controlPlaneNodes(f *Facts) []string {
	var out []string
	for _, cp := range f.ControlPlane {
		out = append(out, cp.Node)
	}
	if len(out) == 0 {
		for _, n := range f.Nodes {
			if n.ControlPlane {
				out = append(out, n.Name)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// drainFlags are the flags of every drain the plan prints, control-plane nodes included: the
// drain report (drainBlockers) judges what these flags leave, emptyDir data on a control-plane
// node too (kubectl drain refuses such a pod without --delete-emptydir-data, k8s.io/kubectl
// pkg/drain/filters.go localStorageFilter).
const drainFlags = " --ignore-daemonsets --delete-emptydir-data"

// controlPlaneSteps upgrades the control-plane nodes one at a time. In the middle of an HA
// upgrade, a node whose kube-apiserver already runs the target is done (its kubelet too, when it
// does), `kubeadm upgrade apply` has run, and every node left gets `kubeadm upgrade node`.
// Without kubeadm and with more than one control-plane node, see nonKubeadmHASteps.
func controlPlaneSteps(f *Facts, cps []string, to *utilversion.Version) []Step {
	if len(cps) == 0 {
		return []Step{{Kind: "control-plane", Title: "Upgrade the control plane to " + vstr(to) + " (no control-plane node was found)"}}
	}
	upgraded := map[string]bool{}
	applied := false
	for _, cp := range f.ControlPlane {
		if v := parseVersion(cp.APIServer); v != nil && v.EqualTo(to) {
			upgraded[cp.Node], applied = true, true
		}
	}
	kubeletDone := map[string]bool{}
	for _, n := range f.Nodes {
		if v := parseVersion(n.Kubelet); v != nil && !v.LessThan(to) {
			kubeletDone[n.Name] = true
		}
	}
	if f.Kubeadm == nil && len(cps) > 1 {
		return nonKubeadmHASteps(cps, to, upgraded, kubeletDone)
	}
	var steps []Step
	for i, n := range cps {
		s := Step{Kind: "control-plane", Nodes: []string{n}}
		switch {
		case upgraded[n] && kubeletDone[n]:
			s.Title = fmt.Sprintf("Control-plane node %d of %d: already upgraded: its kube-apiserver and kubelet run %s", i+1, len(cps), vstr(to))
			steps = append(steps, s)
			continue
		case upgraded[n]:
			s.Title = fmt.Sprintf("Control-plane node %d of %d: its control plane already runs %s; upgrade its kubelet", i+1, len(cps), vstr(to))
		case f.Kubeadm == nil:
			s.Title = fmt.Sprintf("Control-plane node %d of %d: upgrade kube-apiserver, kube-controller-manager and kube-scheduler to %s with your installer", i+1, len(cps), vstr(to))
		case !applied:
			// kubeadm v1.37.2 cmd/kubeadm/app/cmd/upgrade/apply.go:132-139: `upgrade apply` on
			// the first control-plane node (preflight, the control plane and etcd of this node,
			// upload-config, kubeconfig, kubelet-config, bootstrap-token, addon, post-upgrade).
			s.Title = fmt.Sprintf("Control-plane node %d of %d (first): upgrade kubeadm to %s, then apply", i+1, len(cps), vstr(to))
			s.Commands = []string{"kubeadm upgrade plan " + vstr(to), "kubeadm upgrade apply " + vstr(to)}
			applied = true
		default:
			// kubeadm v1.37.2 cmd/kubeadm/app/cmd/upgrade/node.go:119-124: `upgrade node` on the
			// other control-plane nodes (preflight, this node's etcd and control plane,
			// kubeconfig, kubelet-config, addon, post-upgrade).
			s.Title = fmt.Sprintf("Control-plane node %d of %d: upgrade kubeadm to %s, then", i+1, len(cps), vstr(to))
			s.Commands = []string{"kubeadm upgrade node"}
		}
		s.Commands = append(s.Commands, "kubectl drain "+n+drainFlags,
			"upgrade the kubelet and kubectl packages to "+vstr(to)+" and restart the kubelet", "kubectl uncordon "+n)
		steps = append(steps, s)
	}
	return steps
}

// nonKubeadmHASteps is the order the skew policy asks for when the control-plane components
// and kubelets may reach any kube-apiserver (through a load balancer): version-skew-policy.md:195-213
// "Supported component upgrade order": every kube-apiserver first ("in HA clusters in which
// these control plane components can communicate with any kube-apiserver instance in the
// cluster, all kube-apiserver instances must be upgraded before upgrading these components"),
// then kube-controller-manager, kube-scheduler and cloud-controller-manager, then the kubelets
// ("The kube-apiserver instances the kubelet communicates with are at 1.(n+1)").
func nonKubeadmHASteps(cps []string, to *utilversion.Version, upgraded, kubeletDone map[string]bool) []Step {
	var steps []Step
	for i, n := range cps {
		s := Step{Kind: "control-plane", Nodes: []string{n}}
		if upgraded[n] {
			s.Title = fmt.Sprintf("Control-plane node %d of %d: kube-apiserver already runs %s", i+1, len(cps), vstr(to))
		} else {
			s.Title = fmt.Sprintf("Control-plane node %d of %d: upgrade kube-apiserver (only) to %s with your installer; "+
				"kube-controller-manager, kube-scheduler and the kubelet wait until every kube-apiserver runs %s", i+1, len(cps), vstr(to), vstr(to))
		}
		steps = append(steps, s)
	}
	steps = append(steps, Step{Kind: "control-plane", Nodes: cps,
		Title: fmt.Sprintf("On every control-plane node, once every kube-apiserver runs %s: upgrade kube-controller-manager, kube-scheduler and cloud-controller-manager to %s "+
			"(they may talk to any kube-apiserver, so none may be newer than the oldest)", vstr(to), vstr(to))})
	for i, n := range cps {
		s := Step{Kind: "control-plane", Nodes: []string{n}}
		if kubeletDone[n] {
			s.Title = fmt.Sprintf("Control-plane node %d of %d: its kubelet already runs %s", i+1, len(cps), vstr(to))
			steps = append(steps, s)
			continue
		}
		s.Title = fmt.Sprintf("Control-plane node %d of %d: upgrade its kubelet to %s (after every kube-apiserver: a kubelet behind a load balancer may talk to any of them)", i+1, len(cps), vstr(to))
		s.Commands = []string{"kubectl drain " + n + drainFlags, "upgrade the kubelet and kubectl packages to " + vstr(to) + " and restart the kubelet", "kubectl uncordon " + n}
		steps = append(steps, s)
	}
	return steps
}

// addonCommands say what kubeadm v1.37.2 does with the addons: each node's `kubeadm upgrade`
// upgrades that node's stacked etcd, and the addon phase (cmd/kubeadm/app/cmd/phases/upgrade/
// addons.go:63 shouldUpgradeAddons, via phases/upgrade/postupgrade.go:49
// UnupgradedControlPlaneInstances) skips CoreDNS and kube-proxy until every kube-apiserver
// mirror pod runs the same image: the last control-plane node's upgrade does them.
func addonCommands(f *Facts, cps []string, to *utilversion.Version) []string {
	check := "check with: kubectl -n kube-system get deploy/coredns ds/kube-proxy -o jsonpath='{..image}'"
	etcd := "etcd"
	if f.Kubeadm.ExternalEtcd {
		etcd = "no etcd (it is external: upgrade it yourself)"
	}
	if len(cps) <= 1 {
		return []string{fmt.Sprintf("kubeadm upgrade apply upgrades %s, CoreDNS and kube-proxy; %s", etcd, check)}
	}
	if !f.Kubeadm.ExternalEtcd {
		etcd = "that node's etcd"
	}
	return []string{fmt.Sprintf("each node's kubeadm upgrade upgrades %s; CoreDNS and kube-proxy are upgraded by the last one (on %s), "+
		"once every kube-apiserver runs %s: kubeadm skips the addons until then; %s", etcd, cps[len(cps)-1], vstr(to), check)}
}

func workerCommands(f *Facts, to *utilversion.Version) []string {
	cmds := []string{"kubectl drain NODE" + drainFlags}
	if f.Kubeadm != nil {
		cmds = append(cmds, "kubeadm upgrade node  # on NODE, with kubeadm "+vstr(to))
	}
	return append(cmds, "upgrade the kubelet package to "+vstr(to)+" and restart the kubelet", "kubectl uncordon NODE")
}
