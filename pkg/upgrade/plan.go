package upgrade

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// InputError is bad input: a malformed, older or unknown target, or a bad release table.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, a ...any) error { return &InputError{Msg: fmt.Sprintf(format, a...)} }

// Options say what to plan for.
type Options struct {
	// Target is --to ("" for the newest patch of the next minor, or of the current one).
	Target string
	// Releases is the release table (BuiltinReleases(), a --releases file, or --online).
	Releases *Releases
	// RefreshHint says how to get a newer release table; it ends the "unknown target" error.
	RefreshHint string
}

// MakePlan plans the upgrade from the facts. It returns an *InputError for a bad target.
func MakePlan(f *Facts, opts Options) (*Plan, error) {
	if opts.Releases == nil {
		opts.Releases = BuiltinReleases()
	}
	p := &Plan{Releases: opts.Releases.Source, Kubeadm: f.Kubeadm, ControlPlane: f.ControlPlane,
		MissingFacts: f.Missing, Components: components(f)}
	api := apiservers(f)
	var cur *utilversion.Version
	for _, v := range api {
		if cur == nil || v.LessThan(cur) {
			cur = v
		}
	}
	if cur == nil && f.Kubeadm != nil {
		cur = parseVersion(f.Kubeadm.KubernetesVersion)
	}
	if cur == nil {
		return nil, errors.New("cannot tell the cluster version: neither /version, nor a kube-apiserver mirror pod, nor kubeadm-config could be read")
	}
	p.ClusterVersion = vstr(cur)
	p.Violations, p.Warnings = checkSkew(f)
	if f.Kubeadm == nil {
		p.Notes = append(p.Notes, "no kubeadm-config ConfigMap: the cluster is not managed by kubeadm (or it could not be read); "+
			"the plan has no kubeadm commands: upgrade the control plane with the tool that installed it")
	}
	rel := opts.Releases
	if v, ok := rel.LatestPatch(cur.Major(), cur.Minor()); ok && v.GreaterThan(cur) {
		p.AvailableTargets = append(p.AvailableTargets, AvailableTarget{Kind: "patch", Version: vstr(v)})
	}
	if v, ok := rel.LatestPatch(cur.Major(), cur.Minor()+1); ok {
		p.AvailableTargets = append(p.AvailableTargets, AvailableTarget{Kind: "minor", Version: vstr(v)})
	}
	target, err := chooseTarget(cur, opts)
	if err != nil {
		return nil, err
	}
	if target == nil {
		p.Notes = append(p.Notes, fmt.Sprintf("the cluster is at %s; the release table (%s) knows nothing newer", vstr(cur), rel.Source))
	} else if target.EqualTo(cur) {
		p.Notes = append(p.Notes, fmt.Sprintf("the cluster is already at %s", vstr(cur)))
	} else {
		p.Target = vstr(target)
		if target.PreRelease() != "" {
			p.Warnings = append(p.Warnings, Finding{Rule: "pre-release-target", Component: "kube-apiserver", Version: vstr(target),
				Message: fmt.Sprintf("%s is a pre-release: not for production clusters", vstr(target))})
		}
		if target.Major() != cur.Major() {
			p.Violations = append(p.Violations, Finding{Rule: "target-unreachable", Component: "kube-apiserver", Version: vstr(target),
				Message: fmt.Sprintf("no upgrade path from %s to %s: the version-skew policy covers one major version", vstr(cur), vstr(target))})
		} else if p.Hops, err = planHops(f, cur, target, rel, opts.RefreshHint); err != nil {
			return nil, err
		}
	}
	p.RemovedAPIs = removedAPIFindings(f, cur, p.Hops)
	p.DrainBlockers, p.DaemonSets = drainBlockers(f)
	for _, h := range p.Hops {
		if h.Addons.Etcd == "" && h.Addons.CoreDNS == "" {
			p.Notes = append(p.Notes, fmt.Sprintf("kubeadm's etcd and CoreDNS versions for %s are not in the built-in table (%s): `kubeadm upgrade plan` of that release shows them",
				h.To, kubeadmSource))
		}
	}
	p.Status = StatusClean
	if len(p.Warnings) > 0 || len(p.RemovedAPIs) > 0 || len(p.DrainBlockers) > 0 || len(p.MissingFacts) > 0 {
		p.Status = StatusWarnings
	}
	if len(p.Violations) > 0 {
		p.Status = StatusViolated
	}
	nonNil(p)
	return p, nil
}

// chooseTarget validates --to, or picks the newest patch of the next minor (else of this one).
func chooseTarget(cur *utilversion.Version, opts Options) (*utilversion.Version, error) {
	rel := opts.Releases
	if opts.Target == "" {
		if v, ok := rel.LatestPatch(cur.Major(), cur.Minor()+1); ok {
			return v, nil
		}
		if v, ok := rel.LatestPatch(cur.Major(), cur.Minor()); ok && v.GreaterThan(cur) {
			return v, nil
		}
		return nil, nil
	}
	t, err := utilversion.ParseSemantic(opts.Target)
	if err != nil {
		return nil, inputErr("--to %q is not a version: write it as vMAJOR.MINOR.PATCH, for example v%d.%d.0", opts.Target, cur.Major(), cur.Minor()+1)
	}
	if t.LessThan(cur) {
		return nil, inputErr("--to %s is older than the cluster (%s): upgrade plans only go forward; pick %s or newer", vstr(t), vstr(cur), vstr(cur))
	}
	if t.PreRelease() == "" && t.GreaterThan(rel.Newest()) {
		return nil, inputErr("--to %s is newer than the newest release the %s knows (%s); %s", vstr(t), rel.Source, vstr(rel.Newest()), opts.RefreshHint)
	}
	if t.PreRelease() == "" {
		if latest, ok := rel.LatestPatch(t.Major(), t.Minor()); ok && t.GreaterThan(latest) {
			return nil, inputErr("--to %s is not a release the %s knows: the newest %s release it knows is %s; %s",
				vstr(t), rel.Source, minorName(t.Major(), t.Minor()), vstr(latest), opts.RefreshHint)
		}
	}
	return t, nil
}

// planHops walks one minor at a time from cur to target.
func planHops(f *Facts, cur, target *utilversion.Version, rel *Releases, hint string) ([]Hop, error) {
	var stops []*utilversion.Version
	for m := cur.Minor() + 1; m < target.Minor(); m++ {
		v, ok := rel.LatestPatch(cur.Major(), m)
		if !ok {
			return nil, inputErr("the %s has no %s release, which the path from %s to %s must go through; %s",
				rel.Source, minorName(cur.Major(), m), vstr(cur), vstr(target), hint)
		}
		stops = append(stops, v)
	}
	stops = append(stops, target)
	// kubelet minors as they will be, node by node, while the hops proceed.
	kubelet := map[string]int{}
	for _, n := range f.Nodes {
		if v := parseVersion(n.Kubelet); v != nil {
			kubelet[n.Name] = int(v.Minor())
		}
	}
	cps := controlPlaneNodes(f)
	var hops []Hop
	from := cur
	for i, to := range stops {
		m := int(to.Minor())
		h := Hop{From: vstr(from), To: vstr(to)}
		h.Addons, _ = KubeadmAddonVersions(to.Minor())
		snap := Step{Kind: "snapshot", Title: "Take an etcd snapshot and keep it off the node",
			Commands: []string{"kubectl clusterops etcd snapshot save"}}
		if f.Kubeadm != nil && f.Kubeadm.ExternalEtcd {
			snap.Title = "Take a snapshot of the external etcd cluster"
		}
		h.Steps = append(h.Steps, snap)
		if first := nodesWhere(kubelet, cps, func(k int) bool { return tooFarBehind(m, k) }); len(first) > 0 {
			h.Steps = append(h.Steps, Step{Kind: "workers-first", Nodes: first,
				Title:    fmt.Sprintf("Upgrade these kubelets and kube-proxies to %s first: after this hop they would be out of the skew policy (3 minors behind, 2 below 1.25)", vstr(from)),
				Commands: workerCommands(f, from)})
			for _, n := range first {
				kubelet[n] = int(from.Minor())
			}
		}
		h.Steps = append(h.Steps, controlPlaneSteps(f, cps, to)...)
		for _, n := range cps {
			kubelet[n] = m
		}
		addon := Step{Kind: "addons", Title: "etcd and CoreDNS for " + minorName(to.Major(), to.Minor())}
		if h.Addons.Etcd != "" || h.Addons.CoreDNS != "" {
			addon.Title += fmt.Sprintf(" (%s): etcd %s, CoreDNS %s", h.Addons.Source, orUnknown(h.Addons.Etcd), orUnknown(h.Addons.CoreDNS))
		} else {
			addon.Title += ": not in the built-in kubeadm table"
		}
		if f.Kubeadm != nil {
			addon.Commands = addonCommands(f, cps, to)
		}
		h.Steps = append(h.Steps, addon)
		var workers []string
		var title string
		if i < len(stops)-1 {
			workers = nodesWhere(kubelet, cps, func(k int) bool { return tooFarBehind(m+1, k) })
			title = fmt.Sprintf("Upgrade these worker nodes to %s before the next hop: they would be out of the skew policy against %s", vstr(to), vstr(stops[i+1]))
		} else {
			workers = nodesWhere(kubelet, cps, func(k int) bool { return k < m })
			title = fmt.Sprintf("Upgrade the remaining worker nodes to %s (required before the control plane goes past %s)", vstr(to), minorName(to.Major(), to.Minor()))
		}
		if len(workers) > 0 {
			h.Steps = append(h.Steps, Step{Kind: "workers", Title: title, Nodes: workers, Commands: workerCommands(f, to)})
			for _, n := range workers {
				kubelet[n] = m
			}
		}
		hops = append(hops, h)
		from = to
	}
	return hops, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// components groups every version found by component and version.
func components(f *Facts) []ComponentVersions {
	type key struct{ c, v string }
	idx := map[key]int{}
	var out []ComponentVersions
	add := func(c, v, node, source string) {
		if v == "" {
			return
		}
		k := key{c, v}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, ComponentVersions{Component: c, Version: v, Source: source})
		}
		out[i].Count++
		if node != "" {
			out[i].Nodes = append(out[i].Nodes, node)
		}
	}
	add("kube-apiserver (/version)", f.APIServerVersion, "", "GET /version")
	for _, cp := range f.ControlPlane {
		add("kube-apiserver", cp.APIServer, cp.Node, "mirror pod image")
		add("kube-controller-manager", cp.ControllerManager, cp.Node, "mirror pod image")
		add("kube-scheduler", cp.Scheduler, cp.Node, "mirror pod image")
		add("etcd", cp.Etcd, cp.Node, "mirror pod image")
	}
	for _, n := range f.Nodes {
		add("kubelet", n.Kubelet, n.Name, "node status.nodeInfo")
	}
	for _, n := range f.Nodes {
		add("kube-proxy", n.KubeProxy, n.Name, n.KubeProxySource)
	}
	for _, c := range f.CloudControllerManagers {
		add("cloud-controller-manager", c.Version, c.Node, "pod image ("+c.Source+")")
	}
	add("kube-proxy (DaemonSet template)", kubeProxyTemplate(f), "", "kube-system/kube-proxy DaemonSet image")
	add("coredns", imageTag(f.CoreDNSImage), "", "kube-system/coredns image")
	if f.Kubeadm != nil {
		add("kubeadm-config kubernetesVersion", f.Kubeadm.KubernetesVersion, "", "kube-system/kubeadm-config")
	}
	add("kubectl", f.KubectlVersion, "", "kubectl version --client")
	for i := range out {
		sort.Strings(out[i].Nodes)
	}
	return out
}

// imageTag is the tag of an image reference ("" when it has none).
func imageTag(image string) string {
	if i := lastIndex(image, '@'); i >= 0 {
		image = image[:i]
	}
	i := lastIndex(image, ':')
	if i < 0 || lastIndex(image, '/') > i {
		return ""
	}
	return image[i+1:]
}

func lastIndex(s string, c byte) int { return strings.LastIndexByte(s, c) }

// nonNil makes empty lists print as [] in JSON.
func nonNil(p *Plan) {
	if p.AvailableTargets == nil {
		p.AvailableTargets = []AvailableTarget{}
	}
	if p.Components == nil {
		p.Components = []ComponentVersions{}
	}
	if p.ControlPlane == nil {
		p.ControlPlane = []ControlPlaneNode{}
	}
	if p.Violations == nil {
		p.Violations = []Finding{}
	}
	if p.Warnings == nil {
		p.Warnings = []Finding{}
	}
	if p.Hops == nil {
		p.Hops = []Hop{}
	}
	if p.RemovedAPIs == nil {
		p.RemovedAPIs = []APIFinding{}
	}
	if p.DrainBlockers == nil {
		p.DrainBlockers = []NodeDrain{}
	}
	if p.DaemonSets == nil {
		p.DaemonSets = []DaemonSetPods{}
	}
	if p.MissingFacts == nil {
		p.MissingFacts = []MissingFact{}
	}
	if p.Notes == nil {
		p.Notes = []string{}
	}
}
