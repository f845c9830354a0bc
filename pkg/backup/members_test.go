package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// oneMember is an etcd cluster of one healthy leader, whose alarm list answers alarms/alarmErr.
type oneMember struct {
	alarms   []*pb.AlarmMember
	alarmErr error
}

func (c oneMember) MemberList(context.Context, ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	return &clientv3.MemberListResponse{Header: &pb.ResponseHeader{ClusterId: 1},
		Members: []*pb.Member{{ID: 7, Name: "cp", ClientURLs: []string{"https://127.0.0.1:2379"}}}}, nil
}

func (c oneMember) Status(context.Context, string) (*clientv3.StatusResponse, error) {
	return &clientv3.StatusResponse{Header: &pb.ResponseHeader{MemberId: 7}, Leader: 7, Version: "3.7.3"}, nil
}

func (c oneMember) AlarmList(context.Context) (*clientv3.AlarmResponse, error) {
	if c.alarmErr != nil {
		return nil, c.alarmErr
	}
	return &clientv3.AlarmResponse{Alarms: c.alarms}, nil
}

// Defect 12 (issue 14): a failed AlarmList made etcd look healthy, hiding NOSPACE or CORRUPT. Now
// the cluster is not healthy, and the result says why.
func TestDefect12AlarmListFailureIsUnhealthy(t *testing.T) {
	ms, err := ListMembers(context.Background(), oneMember{}, nil, time.Second)
	if err != nil || !ms.Healthy || ms.AlarmsError != "" {
		t.Fatalf("no alarms: %v %+v", err, ms)
	}
	ms, _ = ListMembers(context.Background(), oneMember{alarms: []*pb.AlarmMember{{MemberID: 7, Alarm: pb.AlarmType_NOSPACE}}}, nil, time.Second)
	if ms.Healthy || len(ms.Alarms) != 1 || ms.Alarms[0].Alarm != "NOSPACE" {
		t.Errorf("NOSPACE: %+v", ms)
	}
	ms, err = ListMembers(context.Background(), oneMember{alarmErr: errors.New("permission denied")}, nil, time.Second)
	if err != nil || ms.Healthy || !strings.Contains(ms.AlarmsError, "permission denied") {
		t.Errorf("AlarmList failed: %v %+v", err, ms)
	}
	if !ms.Members[0].Healthy {
		t.Errorf("the member itself answered: %+v", ms.Members[0])
	}
}
