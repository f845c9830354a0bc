package backup

import (
	"fmt"
	"sort"
	"strings"
)

// RecoveryProcedure names etcd's documented procedure for restoring a cluster of several members
// (etcd-io/website content/en/docs/v3.5/op-guide/recovery.md, "Restoring with updated
// membership" and "End-2-End Example"): every member is restored from the same snapshot, each
// with its own --name and --initial-advertise-peer-urls and the same --initial-cluster (and
// --initial-cluster-token), into a new data dir, and the members are started together.
const RecoveryProcedure = "etcd's recovery procedure (https://etcd.io/docs/v3.5/op-guide/recovery/#restoring-a-cluster): " +
	"restore every member from the same snapshot with the same --initial-cluster"

// MemberRestore is one member's part of a cluster restore.
type MemberRestore struct {
	// Node is the node the member runs on (kubeadm names a member after its node).
	Node     string   `json:"node"`
	Name     string   `json:"name"`
	PeerURLs []string `json:"peerURLs"`
}

// ClusterRestorePlan is a restore of every member: one --initial-cluster for all.
type ClusterRestorePlan struct {
	InitialCluster string          `json:"initialCluster"`
	Members        []MemberRestore `json:"members"`
}

// PlanClusterRestore plans the restore of every member of ms on the control-plane nodes: each
// member (learners included: they are members of the list) is restored on the node of its
// name, and all share the --initial-cluster built from the member list. A member that has no
// name (it never started), no peer URL, or no node of its name is refused: etcd's procedure
// needs all of them.
func PlanClusterRestore(ms []Member, nodes []string) (*ClusterRestorePlan, error) {
	if len(ms) == 0 {
		return nil, fmt.Errorf("the etcd member list is empty")
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n] = true
	}
	members := append([]Member(nil), ms...)
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	plan := &ClusterRestorePlan{}
	var parts []string
	for _, m := range members {
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("etcd member %s has no name (it has not started): %s needs every member", m.ID, RecoveryProcedure)
		case len(m.PeerURLs) == 0:
			return nil, fmt.Errorf("etcd member %s has no peer URL", m.Name)
		case !known[m.Name]:
			return nil, fmt.Errorf("etcd member %s runs on no control-plane node of that name (control-plane nodes: %s): restore it by hand with %s",
				m.Name, strings.Join(nodes, ", "), RecoveryProcedure)
		}
		urls := append([]string(nil), m.PeerURLs...)
		sort.Strings(urls)
		for _, u := range urls {
			parts = append(parts, m.Name+"="+u)
		}
		plan.Members = append(plan.Members, MemberRestore{Node: m.Name, Name: m.Name, PeerURLs: urls})
	}
	plan.InitialCluster = strings.Join(parts, ",")
	return plan, nil
}
