package backup

import (
	"context"
	"fmt"
	"strconv"
)

// LeaderMove is the result of MoveLeader: who led before, who leads now, and why nothing moved
// when nothing did.
type LeaderMove struct {
	From   string `json:"from,omitempty"`
	FromID string `json:"fromID,omitempty"`
	To     string `json:"to,omitempty"`
	ToID   string `json:"toID,omitempty"`
	Moved  bool   `json:"moved"`
	Note   string `json:"note,omitempty"`
}

// Transferer asks the leader, at its own endpoint, to hand its leadership to transferee (etcd
// requires the request to go to the leader; clientv3's Maintenance.MoveLeader does it, and the
// server answers once the transferee leads).
type Transferer func(ctx context.Context, leaderEndpoint string, transferee uint64) error

// findMember finds a member by name or by its hex ID.
func findMember(ms *Members, nameOrID string) *Member {
	for i := range ms.Members {
		if ms.Members[i].Name == nameOrID || ms.Members[i].ID == nameOrID {
			return &ms.Members[i]
		}
	}
	return nil
}

// memberNames lists the members' names for a message.
func memberNames(ms *Members) string {
	var names []string
	for _, m := range ms.Members {
		names = append(names, m.Name)
	}
	return fmt.Sprint(names)
}

// MoveLeader moves the leadership of the cluster in ms, as listed by ListMembers. With to set,
// the leadership goes to that member (name or ID). With awayFrom set, it moves only when that
// member leads, and goes to the healthy voting follower that has applied the most entries (ties
// to the first by name): the one that can take over soonest. With neither, it moves away from
// the current leader. A cluster with no other healthy voting member is not an error: nothing
// moves, and Note says why. An unknown member, a member that cannot lead (a learner, an
// unhealthy one) and a cluster without a leader are errors.
func MoveLeader(ctx context.Context, ms *Members, awayFrom, to string, transfer Transferer) (LeaderMove, error) {
	var leader *Member
	for i := range ms.Members {
		if ms.Members[i].IsLeader {
			leader = &ms.Members[i]
		}
	}
	if leader == nil || leader.Endpoint == "" {
		return LeaderMove{}, fmt.Errorf("the etcd cluster has no reachable leader: nothing can move it (see `etcd members`)")
	}
	res := LeaderMove{From: leader.Name, FromID: leader.ID}
	if awayFrom != "" {
		away := findMember(ms, awayFrom)
		if away == nil {
			return res, fmt.Errorf("no etcd member named %q (members: %s)", awayFrom, memberNames(ms))
		}
		if away != leader {
			res.To, res.ToID = leader.Name, leader.ID
			res.Note = fmt.Sprintf("%s does not lead (%s does): nothing to move", away.Name, leader.Name)
			return res, nil
		}
	}
	var target *Member
	if to != "" {
		target = findMember(ms, to)
		switch {
		case target == nil:
			return res, fmt.Errorf("no etcd member named %q (members: %s)", to, memberNames(ms))
		case target == leader:
			res.To, res.ToID = leader.Name, leader.ID
			res.Note = fmt.Sprintf("%s leads already: nothing to move", leader.Name)
			return res, nil
		case target.IsLearner:
			return res, fmt.Errorf("etcd member %s is a learner and cannot lead: promote it first", target.Name)
		case !target.Healthy:
			return res, fmt.Errorf("etcd member %s is not healthy (%v): it should not lead", target.Name, target.Errors)
		}
	} else {
		for i := range ms.Members {
			m := &ms.Members[i]
			if m == leader || m.IsLearner || !m.Healthy {
				continue
			}
			if target == nil || m.RaftAppliedIndex > target.RaftAppliedIndex {
				target = m
			}
		}
		if target == nil {
			res.To, res.ToID = leader.Name, leader.ID
			res.Note = fmt.Sprintf("%s is the only healthy voting member: there is no other to lead", leader.Name)
			return res, nil
		}
	}
	id, err := strconv.ParseUint(target.ID, 16, 64)
	if err != nil {
		return res, fmt.Errorf("etcd member %s has a malformed ID %q", target.Name, target.ID)
	}
	if err := transfer(ctx, leader.Endpoint, id); err != nil {
		return res, fmt.Errorf("moving the etcd leadership from %s to %s: %w", leader.Name, target.Name, err)
	}
	res.To, res.ToID, res.Moved = target.Name, target.ID, true
	return res, nil
}

// ConnTransferer is the Transferer of a connection: a client on the leader's endpoint alone,
// with the connection's certificates.
func ConnTransferer(c Conn) Transferer {
	return func(ctx context.Context, endpoint string, transferee uint64) error {
		cli, err := c.New(endpoint)
		if err != nil {
			return err
		}
		defer cli.Close()
		_, err = cli.MoveLeader(ctx, transferee)
		return err
	}
}
