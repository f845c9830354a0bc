package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
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
	if o.runnerErr != nil {
		nc.Err = cmdutil.OneLine(o.runnerErr.Error())
		return nc, nil
	}
	job := cniJob(o)
	if err := o.runner.Prepare(ctx, job); err != nil {
		nc.Err = cmdutil.OneLine(err.Error())
		return nc, nil
	}
	defer func() { _ = o.runner.Cleanup() }()
	res, err := o.runner.RunOn(ctx, nc.Node, job)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		nc.Err = cmdutil.OneLine(err.Error())
	case res.Err != nil:
		nc.Err = cmdutil.OneLine(res.Err.Error())
	case res.Envelope.ExitCode != 0:
		nc.Err = "the agent could not read them: " + cmdutil.OneLine(strings.TrimPrefix(strings.TrimSpace(res.Envelope.Stderr), "error: "))
	default:
		if err := json.Unmarshal(res.Envelope.Stdout, &nc.Detected); err != nil {
			nc.Err = "the agent's answer is not valid JSON: " + err.Error()
		}
	}
	return nc, nil
}
