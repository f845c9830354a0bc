package certs

import (
	"context"
	"encoding/json"
	"path"
	"strings"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// nodeMounts are the host paths a certs command reads (or, with write, renews) on a node:
// the kubeconfig dir (which holds the PKI in kubeadm's layout), the cert dir when it lies
// elsewhere, and the kubelet's PKI dir read-only (certs never writes the kubelet's files).
func (f *nodeFlags) nodeMounts(write bool) []agent.Mount {
	l := f.layout()
	mounts := []agent.Mount{{Path: path.Clean(l.KubeconfigDir), Write: write}}
	if cd := path.Clean(l.CertDir); !strings.HasPrefix(cd+"/", path.Clean(l.KubeconfigDir)+"/") {
		mounts = append(mounts, agent.Mount{Path: cd, Write: write})
	}
	return append(mounts, agent.Mount{Path: l.KubeletPKIDir, Optional: true})
}

// nodeArgs are the layout flags for the command the agent runs, with --root /host.
func (f *nodeFlags) nodeArgs() []string {
	return []string{"--root", agent.HostRoot, "--cert-dir", f.certDir, "--kubeconfig-dir", f.kubeconfigDir}
}

// checkNodes runs `certs check --source node` on each selected node through an agent pod and
// merges the reports, each entry tagged with its node. A node that cannot report gets a row.
func (o *CertsCheckOptions) checkNodes(ctx context.Context, report *certs.Report) error {
	server := ""
	if o.config != nil {
		server = o.config.Host
	}
	job := agent.Job{
		Command: "certs check",
		Args: append([]string{"certs", "check", "--source", "node", "-o", "json", "--warn-within", o.WarnWithin},
			o.node.nodeArgs()...),
		Mounts:   o.node.nodeMounts(false),
		Deadline: o.agents.Timeout,
	}
	if err := o.runner.Prepare(ctx, job); err != nil {
		return cmdutil.AgentError(err, server)
	}
	targets, err := agent.Resolve(ctx, o.runner.Client, o.agents.Selection())
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	defer func() { _ = o.runner.Cleanup() }()
	var ready []string
	for _, t := range targets {
		if t.Ready {
			ready = append(ready, t.Name)
		}
	}
	results, err := o.runner.RunAll(ctx, ready, job)
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	byNode := map[string]agent.NodeResult{}
	for _, r := range results {
		byNode[r.Node] = r
	}
	for _, t := range targets {
		if !t.Ready {
			report.Nodes = append(report.Nodes, certs.NodeStatus{Name: t.Name, Status: certs.StatusUnreachable, Problem: "node " + t.NotReady})
			continue
		}
		nr, problem := decodeNodeReport(byNode[t.Name])
		if problem != "" {
			report.Nodes = append(report.Nodes, certs.NodeStatus{Name: t.Name, Status: certs.StatusUnreachable, Problem: problem})
			continue
		}
		report.AddNode(t.Name, nr)
	}
	return nil
}

// decodeNodeReport reads one agent's `certs check -o json`: exit 0, 1 and 2 are reports; 3 (or
// no result) is a node that could not be checked, with the agent's one-line reason.
func decodeNodeReport(r agent.NodeResult) (*certs.Report, string) {
	if r.Err != nil {
		return nil, cmdutil.OneLine(r.Err.Error())
	}
	env := r.Envelope
	if env.ExitCode > cmdutil.ExitProblems {
		return nil, "the agent could not check this node: " + lastLine(env.Stderr)
	}
	var nr certs.Report
	if err := json.Unmarshal(env.Stdout, &nr); err != nil {
		return nil, "the agent's report is not valid JSON: " + err.Error()
	}
	return &nr, ""
}

// lastLine is the last non-empty line of s (a command's one-line error).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "error: ")
}
