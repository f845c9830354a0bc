//go:build e2eha

package ha

import (
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
)

// etcdFlags reach the three members from this host, with cp1's etcd CA and healthcheck client
// certificate read through its mount namespace.
func etcdFlags(t *testing.T) []string {
	t.Helper()
	var eps []string
	for _, n := range env.ha.ControlPlane {
		eps = append(eps, "https://"+env.ha.NodeIP[n]+":2379")
	}
	file := func(p string) string {
		path, err := env.ha.Path("cp1", "/etc/kubernetes/pki/etcd/"+p)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	return []string{"--endpoints", strings.Join(eps, ","), "--cacert", file("ca.crt"),
		"--cert", file("healthcheck-client.crt"), "--key", file("healthcheck-client.key")}
}

func etcdLeader(t *testing.T) (leader string, followers []string) {
	t.Helper()
	var ms backup.Members
	if r := runJSON(t, &ms, append([]string{"etcd", "members"}, etcdFlags(t)...)...); r.Code != 0 {
		t.Fatalf("etcd members: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, m := range ms.Members {
		if m.IsLeader {
			leader = m.Name
		} else {
			followers = append(followers, m.Name)
		}
	}
	if leader == "" || len(followers) != 2 {
		t.Fatalf("etcd members: leader %q, followers %v: want one leader and two followers", leader, followers)
	}
	return leader, followers
}

// etcd move-leader against the three real members: away from the leader (the new leader is
// the one etcd itself then reports), to a named member, nothing to do away from a follower,
// and an unknown member is one line and exit 3.
func testEtcdMoveLeader(t *testing.T) {
	flags := etcdFlags(t)
	leader, followers := etcdLeader(t)
	var mv backup.LeaderMove
	if r := runJSON(t, &mv, append([]string{"etcd", "move-leader", "--away-from", leader}, flags...)...); r.Code != 0 || !mv.Moved || mv.From != leader || mv.To == leader {
		t.Fatalf("move-leader --away-from %s: exit %d, %+v\n%s", leader, r.Code, mv, r.Stderr)
	}
	if now, _ := etcdLeader(t); now != mv.To {
		t.Errorf("after moving to %s, etcd reports %s as the leader", mv.To, now)
	}
	t.Logf("etcd leadership moved from %s to %s", mv.From, mv.To)
	var back backup.LeaderMove
	if r := runJSON(t, &back, append([]string{"etcd", "move-leader", leader}, flags...)...); r.Code != 0 || !back.Moved || back.To != leader {
		t.Fatalf("move-leader %s: exit %d, %+v\n%s", leader, r.Code, back, r.Stderr)
	}
	if now, _ := etcdLeader(t); now != leader {
		t.Errorf("after moving back to %s, etcd reports %s as the leader", leader, now)
	}
	var none backup.LeaderMove
	if r := runJSON(t, &none, append([]string{"etcd", "move-leader", "--away-from", followers[0]}, flags...)...); r.Code != 0 || none.Moved ||
		!strings.Contains(none.Note, "does not lead") {
		t.Errorf("move-leader --away-from %s (a follower): exit %d, %+v\n%s", followers[0], r.Code, none, r.Stderr)
	}
	r := env.cli.Run(t, nil, "kubectl", append([]string{"clusterops", "etcd", "move-leader", "cp9"}, flags...)...)
	if r.Code != 3 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, `no etcd member named "cp9"`) {
		t.Errorf("move-leader cp9: exit %d, stderr %q: want one line and exit 3", r.Code, r.Stderr)
	}
}
