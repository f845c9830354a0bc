package upgrade

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// drainBlockers finds, per node, what `kubectl drain --ignore-daemonsets` would be stopped by or
// would lose: PodDisruptionBudgets with 0 allowed disruptions that select a pod on the node, bare
// pods (no controller), and pods with emptyDir data. It also counts the DaemonSets whose pods
// stay. Mirror pods and finished pods are skipped, as drain skips them.
func drainBlockers(f *Facts) ([]NodeDrain, []DaemonSetPods) {
	byNS := map[string][]int{}
	for i, p := range f.Pods {
		if p.Node == "" || p.Mirror || p.Terminal {
			continue
		}
		byNS[p.Namespace] = append(byNS[p.Namespace], i)
	}
	nodes := map[string]*NodeDrain{}
	get := func(n string) *NodeDrain {
		d, ok := nodes[n]
		if !ok {
			d = &NodeDrain{Node: n}
			nodes[n] = d
		}
		return d
	}
	for _, pdb := range f.PDBs {
		if pdb.DisruptionsAllowed > 0 || pdb.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Selector)
		if err != nil || sel.Empty() {
			continue // an empty selector matches nothing for a PDB (policy/v1)
		}
		perNode := map[string][]string{}
		for _, i := range byNS[pdb.Namespace] {
			p := f.Pods[i]
			if sel.Matches(labels.Set(p.Labels)) {
				perNode[p.Node] = append(perNode[p.Node], p.Name)
			}
		}
		for n, pods := range perNode {
			sort.Strings(pods)
			d := get(n)
			d.PDBs = append(d.PDBs, PDBBlock{PDB: pdb.Namespace + "/" + pdb.Name, Pods: pods})
		}
	}
	dsNodes := map[string]map[string]bool{}
	dsOnNode := map[string][]string{}
	for _, idxs := range byNS {
		for _, i := range idxs {
			p := f.Pods[i]
			name := p.Namespace + "/" + p.Name
			switch {
			case p.ControllerKind == "DaemonSet":
				ds := p.Namespace + "/" + p.ControllerName
				if dsNodes[ds] == nil {
					dsNodes[ds] = map[string]bool{}
				}
				dsNodes[ds][p.Node] = true
				dsOnNode[p.Node] = append(dsOnNode[p.Node], ds)
				continue // drain leaves DaemonSet pods alone, emptyDir or not
			case p.ControllerKind == "":
				get(p.Node).BarePods = append(get(p.Node).BarePods, name)
			}
			if p.EmptyDir {
				get(p.Node).EmptyDirPods = append(get(p.Node).EmptyDirPods, name)
			}
		}
	}
	out := make([]NodeDrain, 0, len(nodes))
	for n, d := range nodes {
		sort.Slice(d.PDBs, func(i, j int) bool { return d.PDBs[i].PDB < d.PDBs[j].PDB })
		sort.Strings(d.BarePods)
		sort.Strings(d.EmptyDirPods)
		d.DaemonSets = dsOnNode[n]
		sort.Strings(d.DaemonSets)
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	ds := make([]DaemonSetPods, 0, len(dsNodes))
	for name, ns := range dsNodes {
		ds = append(ds, DaemonSetPods{DaemonSet: name, Nodes: len(ns)})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].DaemonSet < ds[j].DaemonSet })
	return out, ds
}
