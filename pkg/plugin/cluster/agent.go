package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/cluster"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// cniJob is the agent pod of `cluster status --node`: /etc/cni/net.d read-only, nothing else.
func cniJob(o *ClusterStatusOptions) agent.Job {
	return agent.Job{
		Command:  "cluster status",
		Args:     []string{"agent", "cni", "--root", agent.HostRoot},
		Mounts:   []agent.Mount{{Path: cluster.CNIDirectory}},
		Deadline: o.agents.Timeout,
	}
}

// nodeCNI reads one node's CNI configs through an agent pod. Whatever keeps the agent from
// running is returned in NodeCNI.Err, for the report to show; only a --node that names no node
// is an error (bad input).
func (o *ClusterStatusOptions) nodeCNI(ctx context.Context) (*cluster.NodeCNI, error) {
	sel := o.agents.Selection()
	nc := &cluster.NodeCNI{}
	if len(sel.Names) == 1 {
		nc.Node = sel.Names[0]
	}
	targets, err := agent.Resolve(ctx, o.kube, sel)
	var noNode *agent.NoSuchNodeError
	switch {
	case errors.As(err, &noNode):
		return nil, cmdutil.AgentError(err, o.server)
	case err != nil:
		nc.Err = cmdutil.OneLine(err.Error())
		return nc, nil
	}
	var why []string
	for _, t := range targets {
		if t.Ready {
			nc.Node = t.Name
			break
		}
		why = append(why, t.Name+": "+t.NotReady)
	}
	if nc.Node == "" || len(why) == len(targets) {
		if len(targets) == 1 {
			nc.Node = targets[0].Name
		}
		nc.Err = "no Ready node to read them on (" + strings.Join(why, "; ") + ")"
		return nc, nil
	}
	stdout, reason, err := o.runAgent(ctx, nc.Node, cniJob(o), "read them")
	switch {
	case err != nil:
		return nil, err
	case reason != "":
		nc.Err = reason
	default:
		if err := json.Unmarshal(stdout, &nc.Detected); err != nil {
			nc.Err = "the agent's answer is not valid JSON: " + err.Error()
		}
	}
	return nc, nil
}

// runAgent runs job on node and returns the agent's stdout when it exits 0 or with one of
// answers (exit codes that still carry a report). What keeps the agent from answering is
// returned as why, for the report to show; err is only a cancelled context.
func (o *ClusterStatusOptions) runAgent(ctx context.Context, node string, job agent.Job, what string, answers ...int) (stdout []byte, why string, err error) {
	if o.runnerErr != nil {
		return nil, cmdutil.OneLine(o.runnerErr.Error()), nil
	}
	if err := o.runner.Prepare(ctx, job); err != nil {
		return nil, cmdutil.OneLine(err.Error()), nil
	}
	defer func() { _ = o.runner.Cleanup() }()
	res, err := o.runner.RunOn(ctx, node, job)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, cmdutil.OneLine(err.Error()), nil
	case res.Err != nil:
		return nil, cmdutil.OneLine(res.Err.Error()), nil
	case res.Envelope.ExitCode != 0 && !slices.Contains(answers, res.Envelope.ExitCode):
		return nil, "the agent could not " + what + ": " + cmdutil.OneLine(strings.TrimPrefix(strings.TrimSpace(res.Envelope.Stderr), "error: ")), nil
	}
	return res.Envelope.Stdout, "", nil
}

// etcdJob is the agent pod that lists the etcd members on a control-plane node: `etcd members`
// with the node's etcd manifest and etcd certificates (read-only) and the host network, so that
// it reaches every member at its own client URLs -- the same mounts as `etcd snapshot save --node`.
func etcdJob(o *ClusterStatusOptions) agent.Job {
	return agent.Job{
		Command:     "cluster status",
		Args:        []string{"etcd", "members", "--root", agent.HostRoot, "-o", "json"},
		Mounts:      []agent.Mount{{Path: "/etc/kubernetes/manifests"}, {Path: "/etc/kubernetes/pki/etcd"}},
		HostNetwork: true,
		Deadline:    o.agents.Timeout,
	}
}

// nodeEtcd lists the etcd members through an agent pod on node, when node is a control-plane
// node (nil otherwise: a worker has no etcd to ask). What keeps it from running is returned in
// NodeEtcd.Err, for the report to show.
func (o *ClusterStatusOptions) nodeEtcd(ctx context.Context, node string) (*cluster.NodeEtcd, error) {
	n, err := o.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, nil //nolint:nilerr // the CNI part already reports an unreadable node
	}
	if _, cp := n.Labels[agent.LabelControlPlane]; !cp {
		return nil, nil
	}
	ne := &cluster.NodeEtcd{Node: node}
	// exit 2 is an answer: a member is unreachable
	stdout, why, err := o.runAgent(ctx, node, etcdJob(o), "list them", cmdutil.ExitProblems)
	switch {
	case err != nil:
		return nil, err
	case why != "":
		ne.Err = why
	default:
		var ms backup.Members
		if err := json.Unmarshal(stdout, &ms); err != nil {
			ne.Err = "the agent's answer is not valid JSON: " + err.Error()
			break
		}
		ne.Members = statusMembers(&ms)
	}
	return ne, nil
}

// statusMembers is the status report's view of `etcd members`.
func statusMembers(ms *backup.Members) []cluster.EtcdMember {
	out := make([]cluster.EtcdMember, 0, len(ms.Members))
	for _, m := range ms.Members {
		em := cluster.EtcdMember{Name: m.Name, ID: m.ID, ClientURLs: m.ClientURLs, PeerURLs: m.PeerURLs, Learner: m.IsLearner,
			Reachable: m.Endpoint != "", Leader: m.IsLeader, Version: m.Version, DBSize: m.DBSize, Error: strings.Join(m.Errors, "; ")}
		if !em.Reachable && em.Error == "" {
			em.Error = "no answer at its client URLs"
		}
		out = append(out, em)
	}
	return out
}
