package upgrade

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream sources the drain rules follow (the versions this module builds with).
const (
	evictionGo = "k8s.io/kubernetes@v1.37.2 pkg/registry/core/pod/storage/eviction.go"
	filtersGo  = "k8s.io/kubectl@v0.37.2 pkg/drain/filters.go"
)

// dpod is a Ready, Running pod of a ReplicaSet in shop on w1; edits change it.
func dpod(name string, edits ...func(*PodFacts)) PodFacts {
	p := PodFacts{Namespace: "shop", Name: name, Node: "w1", Labels: map[string]string{"app": "db"},
		ControllerKind: "ReplicaSet", ControllerName: "db-x", ControllerAPIVersion: "apps/v1"}
	for _, e := range edits {
		e(&p)
	}
	return p
}

// dpdb is a processed PodDisruptionBudget in shop over app=db.
func dpdb(name string, allowed, current, desired int32, edits ...func(*PDBFacts)) PDBFacts {
	p := PDBFacts{Namespace: "shop", Name: name, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		DisruptionsAllowed: allowed, CurrentHealthy: current, DesiredHealthy: desired, Generation: 1, ObservedGeneration: 1}
	for _, e := range edits {
		e(&p)
	}
	return p
}

func notReady(p *PodFacts) { p.NotReady = true }
func emptyDir(p *PodFacts) { p.EmptyDir = true }
func bare(p *PodFacts)     { p.ControllerKind, p.ControllerName, p.ControllerAPIVersion = "", "", "" }
func daemonSet(apiVersion, name string) func(*PodFacts) {
	return func(p *PodFacts) {
		p.ControllerKind, p.ControllerName, p.ControllerAPIVersion = "DaemonSet", name, apiVersion
	}
}

// flatDrain lists a drain report one line per finding.
func flatDrain(ds []NodeDrain) []string {
	var out []string
	for _, d := range ds {
		for _, b := range d.PDBs {
			out = append(out, d.Node+" pdb "+b.PDB+" "+strings.Join(b.Pods, ",")+": "+b.Reason)
		}
		for _, m := range d.MultiplePDBs {
			out = append(out, d.Node+" multiple "+m.Pod+" "+strings.Join(m.PDBs, ","))
		}
		for _, p := range d.BarePods {
			out = append(out, d.Node+" bare "+p)
		}
		for _, p := range d.EmptyDirPods {
			out = append(out, d.Node+" emptyDir "+p)
		}
		for _, p := range d.OrphanedDaemonSetPods {
			out = append(out, d.Node+" orphaned "+p)
		}
		for _, p := range d.DaemonSets {
			out = append(out, d.Node+" daemonset "+p)
		}
	}
	return out
}

const needs = ": the disruption budget needs "

// TestDrainRules has one row per drain rule, each citing the upstream file and function it
// follows. A row's pods and budgets are the whole cluster.
func TestDrainRules(t *testing.T) {
	tests := []struct {
		rule, upstream string
		pods           []PodFacts
		pdbs           []PDBFacts
		daemonSets     []DaemonSetFacts // listed (DaemonSetsRead) unless unreadDaemonSets
		unreadDS       bool
		want           []string
	}{
		{rule: "a PDB whose selector is {} selects every pod of its namespace",
			upstream: evictionGo + ":498 getPodDisruptionBudgets (metav1.LabelSelectorAsSelector: {} is labels.Everything)",
			pods:     []PodFacts{dpod("db-0"), dpod("web-0", func(p *PodFacts) { p.Labels = nil }), dpod("other", func(p *PodFacts) { p.Namespace = "other" })},
			pdbs:     []PDBFacts{dpdb("all", 0, 2, 2, func(p *PDBFacts) { p.Selector = &metav1.LabelSelector{} })},
			want:     []string{"w1 pdb shop/all db-0,web-0" + needs + "2 healthy pods and has 2 currently"}},
		{rule: "a PDB with a nil selector matches nothing",
			upstream: evictionGo + ":498 getPodDisruptionBudgets (metav1.LabelSelectorAsSelector: nil is labels.Nothing)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs:     []PDBFacts{dpdb("none", 0, 0, 0, func(p *PDBFacts) { p.Selector = nil })}},
		{rule: "a PDB with an invalid selector matches nothing",
			upstream: evictionGo + ":498 getPodDisruptionBudgets (an invalid selector does not match the pod)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs: []PDBFacts{dpdb("bad", 0, 0, 0, func(p *PDBFacts) {
				p.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"not a key!": "x"}}
			})}},
		{rule: "one PDB with 0 disruptions allowed refuses a Ready pod",
			upstream: evictionGo + ":425 checkAndDecrement (DisruptionsAllowed == 0: 429)",
			pods:     []PodFacts{dpod("db-0"), dpod("db-1", func(p *PodFacts) { p.Node = "w2" })},
			pdbs:     []PDBFacts{dpdb("db", 0, 2, 2)},
			want:     []string{"w1 pdb shop/db db-0" + needs + "2 healthy pods and has 2 currently", "w2 pdb shop/db db-1" + needs + "2 healthy pods and has 2 currently"}},
		{rule: "one PDB that allows a disruption lets the pod go",
			upstream: evictionGo + ":425 checkAndDecrement (DisruptionsAllowed > 0: decrement)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs:     []PDBFacts{dpdb("db", 1, 3, 2)}},
		{rule: "a negative allowance refuses",
			upstream: evictionGo + ":425 checkAndDecrement (DisruptionsAllowed < 0: 403)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs:     []PDBFacts{dpdb("db", -1, 1, 2)},
			want:     []string{"w1 pdb shop/db db-0: pdb disruptions allowed is negative"}},
		{rule: "a PDB the disruption controller has not processed refuses, whatever it allows",
			upstream: evictionGo + ":425 checkAndDecrement (ObservedGeneration < Generation: 429)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs:     []PDBFacts{dpdb("db", 3, 3, 0, func(p *PDBFacts) { p.Generation = 2 })},
			want:     []string{"w1 pdb shop/db db-0: the disruption budget is still being processed by the server"}},
		{rule: "a pod selected by two PDBs is refused, whatever each allows",
			upstream: evictionGo + ":130 EvictionREST.Create (len(pdbs) > 1: 500, more than one PodDisruptionBudget)",
			pods:     []PodFacts{dpod("db-0")},
			pdbs:     []PDBFacts{dpdb("db", 5, 5, 0), dpdb("all", 5, 5, 0, func(p *PDBFacts) { p.Selector = &metav1.LabelSelector{} })},
			want:     []string{"w1 multiple shop/db-0 shop/all,shop/db"}},
		{rule: "a Pending pod goes, even under a budget that allows nothing",
			upstream: evictionGo + ":392 canIgnorePDB (PodPending)",
			pods:     []PodFacts{dpod("db-0", func(p *PodFacts) { p.Pending, p.NotReady = true, true })},
			pdbs:     []PDBFacts{dpdb("db", 0, 0, 1)}},
		{rule: "a pod being deleted goes, even under two budgets",
			upstream: evictionGo + ":392 canIgnorePDB (DeletionTimestamp set)",
			pods:     []PodFacts{dpod("db-0", func(p *PodFacts) { p.Deleting = true })},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 1), dpdb("all", 0, 1, 1, func(p *PDBFacts) { p.Selector = &metav1.LabelSelector{} })}},
		{rule: "a not-Ready pod goes under unhealthyPodEvictionPolicy AlwaysAllow; a Ready one is refused",
			upstream: evictionGo + ":130 EvictionREST.Create (!IsPodReady, UnhealthyPodEvictionPolicy == AlwaysAllow)",
			pods:     []PodFacts{dpod("ok"), dpod("sick", notReady)},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 2, func(p *PDBFacts) { p.AlwaysAllow = true })},
			want:     []string{"w1 pdb shop/db ok" + needs + "2 healthy pods and has 1 currently"}},
		{rule: "a not-Ready pod goes when currentHealthy >= desiredHealthy > 0",
			upstream: evictionGo + ":130 EvictionREST.Create (!IsPodReady, CurrentHealthy >= DesiredHealthy && DesiredHealthy > 0)",
			pods:     []PodFacts{dpod("ok"), dpod("sick", notReady)},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 1)},
			want:     []string{"w1 pdb shop/db ok" + needs + "1 healthy pods and has 1 currently"}},
		{rule: "a not-Ready pod is refused when the budget is short (IfHealthyBudget)",
			upstream: evictionGo + ":130 EvictionREST.Create then checkAndDecrement (CurrentHealthy < DesiredHealthy)",
			pods:     []PodFacts{dpod("ok"), dpod("sick", notReady)},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 2)},
			want:     []string{"w1 pdb shop/db ok,sick" + needs + "2 healthy pods and has 1 currently"}},
		{rule: "a not-Ready pod under a budget that desires 0 healthy pods is judged by the allowance",
			upstream: evictionGo + ":130 EvictionREST.Create (DesiredHealthy > 0 required) then checkAndDecrement",
			pods:     []PodFacts{dpod("sick", notReady)},
			pdbs:     []PDBFacts{dpdb("db", 0, 0, 0)},
			want:     []string{"w1 pdb shop/db sick" + needs + "0 healthy pods and has 0 currently"}},
		{rule: "an apps/v1 DaemonSet pod stays (--ignore-daemonsets), emptyDir or budget or not",
			upstream:   filtersGo + ":179 daemonSetFilter, isControllerRefDaemonSet (Kind DaemonSet, APIVersion apps/v1)",
			pods:       []PodFacts{dpod("proxy", daemonSet("apps/v1", "proxy"), emptyDir), dpod("debug", bare, func(p *PodFacts) { p.Labels = nil })},
			pdbs:       []PDBFacts{dpdb("db", 0, 1, 1)},
			daemonSets: []DaemonSetFacts{{Namespace: "shop", Name: "proxy"}},
			want:       []string{"w1 bare shop/debug", "w1 daemonset shop/proxy"}},
		{rule: "a DaemonSet of another API group (apps.kruise.io) is evicted like any pod",
			upstream:   filtersGo + ":173 isControllerRefDaemonSet (APIVersion must be apps/v1), localStorageFilter",
			pods:       []PodFacts{dpod("kruise", daemonSet("apps.kruise.io/v1alpha1", "proxy"), emptyDir)},
			pdbs:       []PDBFacts{dpdb("db", 0, 1, 1)},
			daemonSets: []DaemonSetFacts{{Namespace: "shop", Name: "proxy"}},
			want:       []string{"w1 pdb shop/db kruise" + needs + "1 healthy pods and has 1 currently", "w1 emptyDir shop/kruise"}},
		{rule: "a pod whose DaemonSet no longer exists stops drain without --force",
			upstream: filtersGo + ":179 daemonSetFilter (DaemonSets.Get NotFound and !Force: error)",
			pods:     []PodFacts{dpod("gone-abc", daemonSet("apps/v1", "gone"), emptyDir)},
			want:     []string{"w1 emptyDir shop/gone-abc", "w1 orphaned shop/gone-abc"}},
		{rule: "when DaemonSets cannot be listed no pod is called orphaned",
			upstream: filtersGo + ":179 daemonSetFilter (the DaemonSet is looked up by name)",
			pods:     []PodFacts{dpod("proxy-abc", daemonSet("apps/v1", "proxy"))},
			unreadDS: true},
		{rule: "mirror pods are skipped",
			upstream: filtersGo + ":211 mirrorPodFilter",
			pods:     []PodFacts{dpod("etcd-w1", bare, emptyDir, func(p *PodFacts) { p.Mirror = true })},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 1)}},
		{rule: "finished pods are deleted, bare, emptyDir and budget or not",
			upstream: filtersGo + ":218 localStorageFilter and unreplicatedFilter (PodSucceeded/PodFailed); " + evictionGo + ":392 canIgnorePDB",
			pods:     []PodFacts{dpod("job", bare, emptyDir, func(p *PodFacts) { p.Terminal = true })},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 1)}},
		{rule: "a bare pod stops drain without --force",
			upstream: filtersGo + ":236 unreplicatedFilter (no controllerRef and !Force: error)",
			pods:     []PodFacts{dpod("debug", bare, func(p *PodFacts) { p.Labels = nil })},
			want:     []string{"w1 bare shop/debug"}},
		{rule: "emptyDir data is deleted",
			upstream: filtersGo + ":218 localStorageFilter (hasLocalStorage: an emptyDir volume)",
			pods:     []PodFacts{dpod("cache", emptyDir, func(p *PodFacts) { p.Labels = nil })},
			want:     []string{"w1 emptyDir shop/cache"}},
		{rule: "a pod bound to no node is not drained",
			upstream: "k8s.io/kubectl@v0.37.2 pkg/drain/drain.go GetPodsForDeletion (spec.nodeName field selector)",
			pods:     []PodFacts{dpod("db-0", bare, emptyDir, func(p *PodFacts) { p.Node = "" })},
			pdbs:     []PDBFacts{dpdb("db", 0, 1, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if tt.upstream == "" {
				t.Fatal("every drain rule cites the upstream code it follows")
			}
			f := &Facts{Pods: tt.pods, PDBs: tt.pdbs, DaemonSets: tt.daemonSets, DaemonSetsRead: !tt.unreadDS}
			got, _ := drainBlockers(f)
			if flat := flatDrain(got); !slices.Equal(flat, tt.want) {
				t.Errorf("drain report =\n  %s\nwant\n  %s\n(%s)", strings.Join(flat, "\n  "), strings.Join(tt.want, "\n  "), tt.upstream)
			}
		})
	}
}

func TestDrainDaemonSetCounts(t *testing.T) {
	f := &Facts{DaemonSetsRead: true, DaemonSets: []DaemonSetFacts{{Namespace: "kube-system", Name: "kube-proxy"}}, Pods: []PodFacts{
		dpod("kube-proxy-a", daemonSet("apps/v1", "kube-proxy"), func(p *PodFacts) { p.Namespace = "kube-system" }),
		dpod("kube-proxy-b", daemonSet("apps/v1", "kube-proxy"), func(p *PodFacts) { p.Namespace, p.Node = "kube-system", "w2" }),
		dpod("debug", bare, func(p *PodFacts) { p.Node = "w2" }),
	}}
	blockers, ds := drainBlockers(f)
	if got := flatDrain(blockers); !slices.Equal(got, []string{"w2 bare shop/debug", "w2 daemonset kube-system/kube-proxy"}) {
		t.Errorf("blockers = %v: a node with only DaemonSet pods has nothing to report", got)
	}
	if len(ds) != 1 || ds[0] != (DaemonSetPods{DaemonSet: "kube-system/kube-proxy", Nodes: 2}) {
		t.Errorf("daemonsets = %+v", ds)
	}
}
