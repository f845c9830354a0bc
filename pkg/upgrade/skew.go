package upgrade

import (
	"fmt"
	"slices"
	"strings"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// parseVersion accepts "v1.37.2", "1.37.2", "v1.38.0-rc.1", "v1.37.2+build" and image tags such as
// "3.7.0-0"; it returns nil for "" or anything else.
func parseVersion(s string) *utilversion.Version {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if v, err := utilversion.ParseSemantic(s); err == nil {
		return v
	}
	if v, err := utilversion.ParseGeneric(s); err == nil {
		return v
	}
	return nil
}

// vstr prints a Kubernetes version with its "v".
func vstr(v *utilversion.Version) string {
	if v == nil {
		return ""
	}
	return "v" + v.String()
}

// minorName is "1.37".
func minorName(major, minor uint) string { return fmt.Sprintf("%d.%d", major, minor) }

// apiservers are the kube-apiserver versions of the cluster: every control-plane node's mirror
// pod, or the /version answer when there is none.
func apiservers(f *Facts) []*utilversion.Version {
	var out []*utilversion.Version
	for _, cp := range f.ControlPlane {
		if v := parseVersion(cp.APIServer); v != nil {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		if v := parseVersion(f.APIServerVersion); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// minorOf is a version's position on one line of minors, so majors compare too.
func minorOf(v *utilversion.Version) int { return int(v.Major())*1000 + int(v.Minor()) }

// group collects findings per (rule, version), so 5,000 nodes give one line per version.
type group struct {
	order []string
	by    map[string]*Finding
}

func (g *group) add(rule, component, version, node, msg string) {
	if g.by == nil {
		g.by = map[string]*Finding{}
	}
	key := rule + "\x00" + component + "\x00" + version
	f, ok := g.by[key]
	if !ok {
		f = &Finding{Rule: rule, Component: component, Version: version, Message: msg}
		g.by[key] = f
		g.order = append(g.order, key)
	}
	if node != "" {
		f.Nodes = append(f.Nodes, node)
	}
}

func (g *group) list() []Finding {
	out := make([]Finding, 0, len(g.order))
	for _, k := range g.order {
		f := *g.by[k]
		slices.Sort(f.Nodes)
		out = append(out, f)
	}
	return out
}

// checkSkew applies the version-skew policy to the facts as they are now. It returns violations
// and warnings. The policy text followed is kubernetes/website
// content/en/releases/version-skew-policy.md ("Supported version skew"), as of commit
// 01bc09751ea95187842d07b12453df0eba104622; skew_test.go quotes the sentence each rule follows.
func checkSkew(f *Facts) (violations, warnings []Finding) {
	api := apiservers(f)
	if len(api) == 0 {
		return nil, nil
	}
	lo, hi := api[0], api[0]
	for _, v := range api[1:] {
		if minorOf(v) < minorOf(lo) {
			lo = v
		}
		if minorOf(v) > minorOf(hi) {
			hi = v
		}
	}
	var bad, warn group
	if minorOf(hi)-minorOf(lo) > 1 {
		var nodes []string
		for _, cp := range f.ControlPlane {
			nodes = append(nodes, cp.Node+"="+cp.APIServer)
		}
		bad.add("apiserver-ha-skew", "kube-apiserver", vstr(lo)+".."+vstr(hi), "",
			fmt.Sprintf("HA kube-apiservers must be within one minor of each other; they are %s to %s (%s)",
				vstr(lo), vstr(hi), strings.Join(nodes, ", ")))
	}
	check := func(g *group, component, node, raw string, older, newer int) {
		checkRange(g, &warn, component, node, raw, lo, hi, older, newer)
	}
	local := map[string]*utilversion.Version{}
	for _, cp := range f.ControlPlane {
		if v := parseVersion(cp.APIServer); v != nil {
			local[cp.Node] = v
		}
	}
	for _, n := range f.Nodes {
		// kubelet: not newer than kube-apiserver, at most 3 minors older (2 below 1.25). kubeadm
		// points a control-plane node's kubelet at the apiserver of its own node (kubeadm
		// v1.37.2 cmd/kubeadm/app/cmd/phases/join/kubelet.go on join, and
		// phases/upgrade/postupgrade.go UpdateKubeletKubeconfigServer on upgrade), so during an
		// HA upgrade it is compared with that apiserver only.
		if v, ok := local[n.Name]; ok && n.ControlPlane && f.Kubeadm != nil {
			checkRange(&bad, &warn, "kubelet", n.Name, n.Kubelet, v, v, maxOlder(n.Kubelet), 0)
		} else {
			check(&bad, "kubelet", n.Name, n.Kubelet, maxOlder(n.Kubelet), 0)
		}
		// kube-proxy: not newer than kube-apiserver, at most 3 minors older (2 below 1.25).
		check(&bad, "kube-proxy", n.Name, n.KubeProxy, maxOlder(n.KubeProxy), 0)
		// kube-proxy: at most 3 minors older or newer than the kubelet on its node (2 when
		// kube-proxy is below 1.25).
		kl, kp := parseVersion(n.Kubelet), parseVersion(n.KubeProxy)
		if kl != nil && kp != nil {
			limit := maxOlder(n.KubeProxy)
			if d := minorOf(kp) - minorOf(kl); d > limit || d < -limit {
				bad.add("kube-proxy-kubelet-skew", "kube-proxy", n.KubeProxy, n.Name,
					fmt.Sprintf("kube-proxy %s is more than %d minors from the kubelet on its node", n.KubeProxy, limit))
			}
		}
	}
	// The kube-proxy DaemonSet's image is what every node gets next; a finding of the same
	// version as its pods' joins theirs.
	if tpl := kubeProxyTemplate(f); tpl != "" {
		check(&bad, "kube-proxy", "", tpl, maxOlder(tpl), 0)
	}
	for _, cp := range f.ControlPlane {
		// kubeadm points each node's controller-manager and scheduler at the apiserver of the
		// same node: compare with it when it is known, else with the whole range.
		// (Installers other than kubeadm may point them at a load balancer: the plan's order
		// for them upgrades every kube-apiserver first, see nonKubeadmHASteps.)
		clo, chi := lo, hi
		if local := parseVersion(cp.APIServer); local != nil {
			clo, chi = local, local
		}
		checkRange(&bad, &warn, "kube-controller-manager", cp.Node, cp.ControllerManager, clo, chi, 1, 0)
		checkRange(&bad, &warn, "kube-scheduler", cp.Node, cp.Scheduler, clo, chi, 1, 0)
	}
	// cloud-controller-manager: the rule of kube-controller-manager (policy: "kube-controller-manager,
	// kube-scheduler, and cloud-controller-manager must not be newer than the kube-apiserver
	// instances they communicate with ... may be up to one minor version older").
	checkCCM(f, &bad, &warn, minorOf(lo), minorOf(hi), vstr(lo), vstr(hi))
	// kubectl is supported within one minor (older or newer) of kube-apiserver. It is the
	// client's skew, not the cluster's, so it is a warning.
	check(&warn, "kubectl", "", f.KubectlVersion, 1, 1)
	// etcd behind what kubeadm deploys for this minor.
	if want, ok := KubeadmAddonVersions(lo.Minor()); ok && want.Etcd != "" && (f.Kubeadm == nil || !f.Kubeadm.ExternalEtcd) {
		wv := parseVersion(want.Etcd)
		for _, cp := range f.ControlPlane {
			if ev := parseVersion(cp.Etcd); ev != nil && wv != nil && ev.LessThan(wv) {
				warn.add("etcd-behind", "etcd", cp.Etcd, cp.Node,
					fmt.Sprintf("etcd %s is older than %s, which kubeadm deploys for %s", cp.Etcd, want.Etcd, minorName(lo.Major(), lo.Minor())))
			}
		}
	}
	return bad.list(), warn.list()
}

// maxOlder is how many minors a kubelet or kube-proxy may be behind kube-apiserver, or how far
// kube-proxy may be from its kubelet: 3, but 2 for a version below 1.25.
func maxOlder(raw string) int {
	if v := parseVersion(raw); v != nil && v.Major() == 1 && v.Minor() < 25 {
		return 2
	}
	return 3
}

// checkRange checks one component version: at most newer minors above the oldest apiserver (lo)
// and at most older minors below the newest one (hi).
func checkRange(g, warn *group, component, node, raw string, lo, hi *utilversion.Version, older, newer int) {
	v := parseVersion(raw)
	if v == nil {
		if raw != "" {
			warn.add("unparsable-version", component, raw, node, fmt.Sprintf("%s version %q cannot be parsed", component, raw))
		}
		return
	}
	if d := minorOf(v) - minorOf(lo); d > newer {
		what := "newer than the kube-apiserver"
		if newer > 0 {
			what = fmt.Sprintf("more than %d minor newer than the kube-apiserver", newer)
		}
		g.add(component+"-too-new", component, raw, node, fmt.Sprintf("%s %s is %s (%s)", component, raw, what, vstr(lo)))
	}
	if d := minorOf(hi) - minorOf(v); d > older {
		g.add(component+"-too-old", component, raw, node, fmt.Sprintf("%s %s is %d minors older than the kube-apiserver (%s); at most %d allowed",
			component, raw, d, vstr(hi), older))
	}
}
