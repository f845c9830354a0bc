package backup

import (
	"context"
	"fmt"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cluster is the part of the etcd client that member discovery uses.
type Cluster interface {
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	AlarmList(ctx context.Context) (*clientv3.AlarmResponse, error)
}

// Member is one etcd member and what its own endpoint reports.
type Member struct {
	Name             string   `json:"name"`
	ID               string   `json:"id"`
	PeerURLs         []string `json:"peerURLs"`
	ClientURLs       []string `json:"clientURLs"`
	Endpoint         string   `json:"endpoint,omitempty"` // the client URL that answered
	IsLearner        bool     `json:"isLearner"`
	IsLeader         bool     `json:"isLeader"`
	Version          string   `json:"version,omitempty"`
	StorageVersion   string   `json:"storageVersion,omitempty"`
	DBSize           int64    `json:"dbSize"`
	DBSizeInUse      int64    `json:"dbSizeInUse"`
	RaftIndex        uint64   `json:"raftIndex"`
	RaftAppliedIndex uint64   `json:"raftAppliedIndex"`
	RaftTerm         uint64   `json:"raftTerm"`
	Healthy          bool     `json:"healthy"`
	Errors           []string `json:"errors,omitempty"`
}

// Alarm is an active etcd alarm (NOSPACE, CORRUPT).
type Alarm struct {
	MemberID string `json:"memberID"`
	Alarm    string `json:"alarm"`
}

// Members is the result of `etcd members`.
type Members struct {
	ClusterID string   `json:"clusterID"`
	Leader    string   `json:"leader,omitempty"`
	Members   []Member `json:"members"`
	Alarms    []Alarm  `json:"alarms,omitempty"`
	// AlarmsError is why the alarm list could not be read. The cluster is then not reported
	// healthy: a NOSPACE or CORRUPT alarm may be active and unseen.
	AlarmsError string `json:"alarmsError,omitempty"`
	Healthy     bool   `json:"healthy"`
}

// MemberID formats an etcd member or cluster ID as etcdctl does.
func MemberID(id uint64) string { return fmt.Sprintf("%x", id) }

// ListMembers asks the cluster for its members and each member, at its own client URLs, for its
// status. extraEndpoints are tried for members whose advertised URLs do not answer (the URLs the
// connection was made with, e.g. a loopback URL of the local member).
func ListMembers(ctx context.Context, c Cluster, extraEndpoints []string, perMember time.Duration) (*Members, error) {
	ml, err := c.MemberList(ctx)
	if err != nil {
		return nil, err
	}
	res := &Members{ClusterID: MemberID(ml.Header.GetClusterId())}
	byID := map[uint64]*Member{}
	var leader uint64
	for _, m := range ml.Members {
		mem := Member{Name: m.Name, ID: MemberID(m.ID), PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
		res.Members = append(res.Members, mem)
	}
	for i := range res.Members {
		byID[ml.Members[i].ID] = &res.Members[i]
	}
	status := func(ep string) (*clientv3.StatusResponse, error) {
		sctx, cancel := context.WithTimeout(ctx, perMember)
		defer cancel()
		return c.Status(sctx, ep)
	}
	// Extra endpoints first: they are the ones this machine was told to use.
	for _, ep := range extraEndpoints {
		if st, err := status(ep); err == nil {
			if m := byID[st.Header.GetMemberId()]; m != nil && m.Endpoint == "" {
				fill(m, ep, st)
				leader = st.Leader
			}
		}
	}
	for i, m := range ml.Members {
		mem := &res.Members[i]
		if mem.Endpoint != "" {
			continue
		}
		var lastErr error
		for _, ep := range m.ClientURLs {
			st, err := status(ep)
			if err != nil {
				lastErr = err
				continue
			}
			fill(mem, ep, st)
			leader = st.Leader
			lastErr = nil
			break
		}
		if lastErr != nil {
			mem.Errors = append(mem.Errors, "unreachable: "+lastErr.Error())
		} else if len(m.ClientURLs) == 0 {
			mem.Errors = append(mem.Errors, "no client URL (not started yet?)")
		}
	}
	if leader != 0 {
		res.Leader = MemberID(leader)
		if m := byID[leader]; m != nil {
			m.IsLeader = true
		}
	}
	if al, err := c.AlarmList(ctx); err != nil {
		res.AlarmsError = "cannot list alarms: " + err.Error()
	} else {
		for _, a := range al.Alarms {
			res.Alarms = append(res.Alarms, Alarm{MemberID: MemberID(a.MemberID), Alarm: a.Alarm.String()})
		}
	}
	res.Healthy = leader != 0 && len(res.Alarms) == 0 && res.AlarmsError == ""
	for i := range res.Members {
		m := &res.Members[i]
		m.Healthy = m.Endpoint != "" && len(m.Errors) == 0 && leader != 0
		if !m.Healthy {
			res.Healthy = false
		}
	}
	sort.SliceStable(res.Members, func(i, j int) bool { return res.Members[i].Name < res.Members[j].Name })
	return res, nil
}

func fill(m *Member, ep string, st *clientv3.StatusResponse) {
	m.Endpoint = ep
	m.Version = st.Version
	m.StorageVersion = st.StorageVersion
	m.DBSize = st.DbSize
	m.DBSizeInUse = st.DbSizeInUse
	m.RaftIndex = st.RaftIndex
	m.RaftAppliedIndex = st.RaftAppliedIndex
	m.RaftTerm = st.RaftTerm
	m.Errors = append(m.Errors, st.Errors...)
	if st.Leader == 0 {
		m.Errors = append(m.Errors, "no leader")
	}
}

// PickSnapshotMember chooses the member to take a snapshot from: a healthy voting follower
// first, then the healthy leader. Ties go to the first by name.
func PickSnapshotMember(ms *Members) (*Member, error) {
	var leader *Member
	for i := range ms.Members {
		m := &ms.Members[i]
		if !m.Healthy || m.IsLearner {
			continue
		}
		if !m.IsLeader {
			return m, nil
		}
		leader = m
	}
	if leader != nil {
		return leader, nil
	}
	var why []string
	for _, m := range ms.Members {
		why = append(why, fmt.Sprintf("%s: %v", m.Name, m.Errors))
	}
	return nil, fmt.Errorf("no healthy etcd member to take a snapshot from (%v)", why)
}
