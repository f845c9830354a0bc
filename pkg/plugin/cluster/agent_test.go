package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// The etcd agent job asks for JSON (the CLI decodes it), reaches the members over the host
// network, and mounts only the manifests and the etcd certificates, read-only.
func TestEtcdJob(t *testing.T) {
	o := &ClusterStatusOptions{agents: cmdutil.NewAgentFlags(2 * time.Minute)}
	j := etcdJob(o)
	if !slices.Equal(j.Args[len(j.Args)-2:], []string{"-o", "json"}) || !j.HostNetwork || j.Writes() || len(j.Mounts) != 2 {
		t.Errorf("%+v", j)
	}
}

func TestStatusMembers(t *testing.T) {
	got := statusMembers(&backup.Members{Members: []backup.Member{
		{Name: "cp1", ID: "a", Endpoint: "https://10.0.0.1:2379", IsLeader: true, Version: "3.6.5", DBSize: 10},
		{Name: "cp3", ID: "c", ClientURLs: []string{"https://10.0.0.3:2379"}},
		{Name: "cp2", ID: "b", Endpoint: "https://10.0.0.2:2379", Errors: []string{"NOSPACE"}},
	}})
	if len(got) != 3 || !got[0].Reachable || !got[0].Leader || got[0].Version != "3.6.5" ||
		got[1].Reachable || got[1].Error != "no answer at its client URLs" || !got[2].Reachable || got[2].Error != "NOSPACE" {
		t.Errorf("%+v", got)
	}
}
