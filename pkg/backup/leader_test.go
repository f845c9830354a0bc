package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func threeMembers() *Members {
	return &Members{Leader: "a1", Members: []Member{
		{Name: "cp1", ID: "a1", Endpoint: "https://10.0.0.1:2379", IsLeader: true, Healthy: true, RaftAppliedIndex: 100},
		{Name: "cp2", ID: "b2", Endpoint: "https://10.0.0.2:2379", Healthy: true, RaftAppliedIndex: 98},
		{Name: "cp3", ID: "c3", Endpoint: "https://10.0.0.3:2379", Healthy: true, RaftAppliedIndex: 99},
	}}
}

type transferCall struct {
	endpoint string
	id       uint64
}

func recorder(calls *[]transferCall, err error) Transferer {
	return func(_ context.Context, ep string, id uint64) error {
		*calls = append(*calls, transferCall{ep, id})
		return err
	}
}

func TestMoveLeader(t *testing.T) {
	learner := threeMembers()
	learner.Members[2].IsLearner = true
	sick := threeMembers()
	sick.Members[1].Healthy = false
	sick.Members[2].Healthy = false
	noLeader := threeMembers()
	noLeader.Members[0].IsLeader = false
	tests := []struct {
		name          string
		ms            *Members
		away, to      string
		transferErr   error
		wantCall      *transferCall
		wantMoved     bool
		wantTo        string
		wantErr, note string
	}{
		// the follower that has applied the most entries (cp3: 99) takes over, asked at the leader's endpoint
		{name: "away from the leader", ms: threeMembers(), away: "cp1", wantCall: &transferCall{"https://10.0.0.1:2379", 0xc3}, wantMoved: true, wantTo: "cp3"},
		{name: "away by ID", ms: threeMembers(), away: "a1", wantCall: &transferCall{"https://10.0.0.1:2379", 0xc3}, wantMoved: true, wantTo: "cp3"},
		{name: "away from a follower", ms: threeMembers(), away: "cp2", note: "cp2 does not lead (cp1 does): nothing to move", wantTo: "cp1"},
		{name: "to a named member", ms: threeMembers(), to: "cp2", wantCall: &transferCall{"https://10.0.0.1:2379", 0xb2}, wantMoved: true, wantTo: "cp2"},
		{name: "to the leader", ms: threeMembers(), to: "cp1", note: "cp1 leads already: nothing to move", wantTo: "cp1"},
		{name: "no target: away from the leader", ms: threeMembers(), wantCall: &transferCall{"https://10.0.0.1:2379", 0xc3}, wantMoved: true, wantTo: "cp3"},
		{name: "learners cannot lead", ms: learner, away: "cp1", wantCall: &transferCall{"https://10.0.0.1:2379", 0xb2}, wantMoved: true, wantTo: "cp2"},
		{name: "to a learner", ms: learner, to: "cp3", wantErr: "cp3 is a learner"},
		{name: "to an unhealthy member", ms: sick, to: "cp2", wantErr: "cp2 is not healthy"},
		{name: "nobody else healthy", ms: sick, away: "cp1", note: "cp1 is the only healthy voting member: there is no other to lead", wantTo: "cp1"},
		{name: "unknown away", ms: threeMembers(), away: "cp9", wantErr: `no etcd member named "cp9" (members: [cp1 cp2 cp3])`},
		{name: "unknown target", ms: threeMembers(), to: "cp9", wantErr: `no etcd member named "cp9"`},
		{name: "no leader", ms: noLeader, away: "cp1", wantErr: "no reachable leader"},
		{name: "transfer fails", ms: threeMembers(), away: "cp1", transferErr: errors.New("etcdserver: request timed out"),
			wantCall: &transferCall{"https://10.0.0.1:2379", 0xc3}, wantErr: "moving the etcd leadership from cp1 to cp3: etcdserver: request timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls []transferCall
			mv, err := MoveLeader(context.Background(), tc.ms, tc.away, tc.to, recorder(&calls, tc.transferErr))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantCall == nil && len(calls) != 0:
				t.Errorf("transfer called %+v, want no call", calls)
			case tc.wantCall != nil && (len(calls) != 1 || calls[0] != *tc.wantCall):
				t.Errorf("transfer calls %+v, want %+v", calls, *tc.wantCall)
			}
			if tc.wantErr != "" {
				return
			}
			if mv.Moved != tc.wantMoved || mv.To != tc.wantTo || mv.Note != tc.note || mv.From != "cp1" {
				t.Errorf("got %+v, want moved=%v to=%s note=%q", mv, tc.wantMoved, tc.wantTo, tc.note)
			}
		})
	}
}
