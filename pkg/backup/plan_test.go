package backup

import (
	"strings"
	"testing"
)

func TestPlanClusterRestore(t *testing.T) {
	ms := []Member{
		{Name: "cp-3", ID: "c", PeerURLs: []string{"https://10.0.0.13:2380"}},
		{Name: "cp-1", ID: "a", PeerURLs: []string{"https://10.0.0.11:2380"}},
		{Name: "cp-2", ID: "b", PeerURLs: []string{"https://10.0.0.12:2380"}, IsLearner: true},
	}
	nodes := []string{"cp-1", "cp-2", "cp-3"}
	plan, err := PlanClusterRestore(ms, nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := "cp-1=https://10.0.0.11:2380,cp-2=https://10.0.0.12:2380,cp-3=https://10.0.0.13:2380"
	if plan.InitialCluster != want {
		t.Errorf("initial cluster %s, want %s", plan.InitialCluster, want)
	}
	if len(plan.Members) != 3 {
		t.Fatalf("members %+v", plan.Members)
	}
	for i, m := range plan.Members {
		if m.Node != nodes[i] || m.Name != nodes[i] || len(m.PeerURLs) != 1 || m.PeerURLs[0] != "https://10.0.0.1"+string(rune('1'+i))+":2380" {
			t.Errorf("member %d: %+v", i, m)
		}
	}
	// A member without a node of its name, or unstarted, is refused: the procedure needs all.
	if _, err := PlanClusterRestore(ms, []string{"cp-1", "cp-2"}); err == nil || !strings.Contains(err.Error(), "cp-3 runs on no control-plane node") {
		t.Errorf("member without node: %v", err)
	}
	if _, err := PlanClusterRestore(append(ms, Member{ID: "d", PeerURLs: []string{"https://10.0.0.14:2380"}}), nodes); err == nil ||
		!strings.Contains(err.Error(), "has no name") {
		t.Errorf("unstarted member: %v", err)
	}
	if _, err := PlanClusterRestore(nil, nodes); err == nil {
		t.Errorf("empty member list planned")
	}
}
