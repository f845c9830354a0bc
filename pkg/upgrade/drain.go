package upgrade

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The drain check follows two upstream files, pinned to the versions this module builds with:
//   - k8s.io/kubectl@v0.37.2 pkg/drain/filters.go: which pods `kubectl drain` leaves, refuses or
//     evicts (daemonSetFilter, mirrorPodFilter, localStorageFilter, unreplicatedFilter);
//   - k8s.io/kubernetes@v1.37.2 pkg/registry/core/pod/storage/eviction.go: whether the eviction
//     subresource lets a pod go (canIgnorePDB, getPodDisruptionBudgets, EvictionREST.Create,
//     checkAndDecrement).
// The rules are cited one by one where they are applied, and in drain_test.go.

// isAppsDaemonSet is kubectl's isControllerRefDaemonSet: the controller is an apps/v1
// DaemonSet. A DaemonSet of another group (OpenKruise's apps.kruise.io) is evicted like any pod.
func (p PodFacts) isAppsDaemonSet() bool {
	return p.ControllerKind == "DaemonSet" && p.ControllerAPIVersion == "apps/v1"
}

// pdbSelector is a PodDisruptionBudget with its selector parsed as the eviction subresource
// parses it: metav1.LabelSelectorAsSelector, where nil matches nothing and {} every pod of the
// namespace; an invalid selector matches nothing.
type pdbSelector struct {
	pdb *PDBFacts
	sel labels.Selector
}

func pdbSelectors(pdbs []PDBFacts) map[string][]pdbSelector {
	out := map[string][]pdbSelector{}
	for i := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdbs[i].Selector)
		if err != nil {
			continue
		}
		out[pdbs[i].Namespace] = append(out[pdbs[i].Namespace], pdbSelector{pdb: &pdbs[i], sel: sel})
	}
	return out
}

// evictionRefusal is why the eviction subresource refuses a pod under its one budget ("" when it
// lets it go). It follows EvictionREST.Create: a not-Ready pod goes under AlwaysAllow, or when the
// budget's current healthy count meets its desired count (desired > 0); otherwise
// checkAndDecrement decides from the status.
func evictionRefusal(pdb *PDBFacts, p PodFacts) string {
	if p.NotReady {
		if pdb.AlwaysAllow {
			return ""
		}
		if pdb.CurrentHealthy >= pdb.DesiredHealthy && pdb.DesiredHealthy > 0 {
			return ""
		}
	}
	switch {
	case pdb.ObservedGeneration < pdb.Generation:
		return "the disruption budget is still being processed by the server"
	case pdb.DisruptionsAllowed < 0:
		return "pdb disruptions allowed is negative"
	case pdb.DisruptionsAllowed == 0:
		return fmt.Sprintf("the disruption budget needs %d healthy pods and has %d currently", pdb.DesiredHealthy, pdb.CurrentHealthy)
	}
	return ""
}

// drainBlockers finds, per node, what `kubectl drain --ignore-daemonsets --delete-emptydir-data`
// would be stopped by or would lose: pods the eviction subresource refuses (one budget that
// allows no disruption now, or more than one budget), bare pods, pods of a DaemonSet that no
// longer exists, and pods with emptyDir data. It also counts the DaemonSets whose pods stay.
// Mirror pods and finished pods are skipped, as drain skips them.
func drainBlockers(f *Facts) ([]NodeDrain, []DaemonSetPods) {
	byNS := pdbSelectors(f.PDBs)
	dsExists := map[string]bool{}
	for _, ds := range f.DaemonSets {
		dsExists[ds.Namespace+"/"+ds.Name] = true
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
	type nodePDB struct{ node, pdb string }
	blocks := map[nodePDB]*PDBBlock{}
	dsNodes := map[string]map[string]bool{}
	dsOnNode := map[string][]string{}
	for _, p := range f.Pods {
		// filters.go mirrorPodFilter skips mirror pods; terminal pods are deleted by every
		// filter (and eviction.go canIgnorePDB lets them go).
		if p.Node == "" || p.Mirror || p.Terminal {
			continue
		}
		name := p.Namespace + "/" + p.Name
		if p.isAppsDaemonSet() {
			ds := p.Namespace + "/" + p.ControllerName
			// filters.go daemonSetFilter: a pod whose DaemonSet is not found is refused
			// without --force, even with --ignore-daemonsets; with --force it is evicted.
			if f.DaemonSetsRead && !dsExists[ds] {
				get(p.Node).OrphanedDaemonSetPods = append(get(p.Node).OrphanedDaemonSetPods, name)
			} else {
				if dsNodes[ds] == nil {
					dsNodes[ds] = map[string]bool{}
				}
				dsNodes[ds][p.Node] = true
				dsOnNode[p.Node] = append(dsOnNode[p.Node], ds)
				continue // --ignore-daemonsets leaves the pod alone, emptyDir or not
			}
		} else if p.ControllerKind == "" {
			// filters.go unreplicatedFilter: no controller, refused without --force.
			get(p.Node).BarePods = append(get(p.Node).BarePods, name)
		}
		if p.EmptyDir {
			// filters.go localStorageFilter: emptyDir data is deleted (--delete-emptydir-data).
			get(p.Node).EmptyDirPods = append(get(p.Node).EmptyDirPods, name)
		}
		// eviction.go canIgnorePDB: Pending pods and pods being deleted go without a PDB check.
		if p.Pending || p.Deleting {
			continue
		}
		var matched []*PDBFacts
		for _, ps := range byNS[p.Namespace] {
			if ps.sel.Matches(labels.Set(p.Labels)) {
				matched = append(matched, ps.pdb)
			}
		}
		switch {
		case len(matched) > 1:
			// eviction.go Create: "This pod has more than one PodDisruptionBudget, which the
			// eviction subresource does not support." (500), whatever each budget allows.
			var names []string
			for _, pdb := range matched {
				names = append(names, pdb.Namespace+"/"+pdb.Name)
			}
			sort.Strings(names)
			get(p.Node).MultiplePDBs = append(get(p.Node).MultiplePDBs, MultiPDBBlock{Pod: name, PDBs: names})
		case len(matched) == 1:
			reason := evictionRefusal(matched[0], p)
			if reason == "" {
				continue
			}
			key := nodePDB{p.Node, matched[0].Namespace + "/" + matched[0].Name}
			b, ok := blocks[key]
			if !ok {
				b = &PDBBlock{PDB: key.pdb, Reason: reason}
				blocks[key] = b
			}
			b.Pods = append(b.Pods, p.Name)
		}
	}
	for k, b := range blocks {
		sort.Strings(b.Pods)
		d := get(k.node)
		d.PDBs = append(d.PDBs, *b)
	}
	out := make([]NodeDrain, 0, len(nodes))
	for n, d := range nodes {
		sort.Slice(d.PDBs, func(i, j int) bool { return d.PDBs[i].PDB < d.PDBs[j].PDB })
		sort.Slice(d.MultiplePDBs, func(i, j int) bool { return d.MultiplePDBs[i].Pod < d.MultiplePDBs[j].Pod })
		sort.Strings(d.BarePods)
		sort.Strings(d.EmptyDirPods)
		sort.Strings(d.OrphanedDaemonSetPods)
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
