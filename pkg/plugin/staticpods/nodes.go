package staticpods

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

// useAgents: the manifests come from agent pods (--nodes, --control-plane, --across-nodes, or
// --node without --root/--manifests-dir).
func (o *StaticPodsDiffOptions) useAgents() bool {
	return o.AcrossNodes || o.agents.Enabled() || (o.nodeGiven && !o.rootGiven && !o.manifestsGiven)
}

func (o *StaticPodsDiffOptions) selection() agent.Selection {
	sel := o.agents.Selection()
	if o.Node != "" {
		sel.Names = append([]string{o.Node}, sel.Names...)
	}
	if o.AcrossNodes && sel.Empty() {
		sel.ControlPlane = true
	}
	return sel
}

// nodeManifests is one node's manifests as an agent read them, or why it could not.
type nodeManifests struct {
	target  agent.Target
	files   []staticpods.ManifestFile
	problem string
}

// nodeOutput is one node's agent output (the command's stdout), or why it has none.
type nodeOutput struct {
	target  agent.Target
	stdout  []byte
	problem string
}

// runOnNodes runs job on every Ready node of sel through agent pods and returns each selected
// node's output in order; a node that is not Ready, or whose agent failed, has a problem.
func runOnNodes(ctx context.Context, runner *agent.Runner, client *apiClient, sel agent.Selection, job agent.Job) ([]nodeOutput, error) {
	if err := runner.Prepare(ctx, job); err != nil {
		return nil, cmdutil.AgentError(err, client.server)
	}
	targets, err := agent.Resolve(ctx, client.kube, sel)
	if err != nil {
		return nil, cmdutil.AgentError(err, client.server)
	}
	defer func() { _ = runner.Cleanup() }()
	var ready []string
	for _, t := range targets {
		if t.Ready {
			ready = append(ready, t.Name)
		}
	}
	results, err := runner.RunAll(ctx, ready, job)
	if err != nil {
		return nil, cmdutil.AgentError(err, client.server)
	}
	byNode := map[string]agent.NodeResult{}
	for _, r := range results {
		byNode[r.Node] = r
	}
	out := make([]nodeOutput, 0, len(targets))
	for _, t := range targets {
		no := nodeOutput{target: t}
		r := byNode[t.Name]
		switch {
		case !t.Ready:
			no.problem = "node " + t.NotReady
		case r.Err != nil:
			no.problem = cmdutil.OneLine(r.Err.Error())
		case r.Envelope.ExitCode != 0:
			no.problem = "the agent could not read the node: " + cmdutil.OneLine(r.Envelope.Stderr)
		default:
			no.stdout = r.Envelope.Stdout
		}
		out = append(out, no)
	}
	return out, nil
}

// readNodes reads each selected node's manifests dir through agent pods.
func (o *StaticPodsDiffOptions) readNodes(ctx context.Context) ([]nodeManifests, error) {
	job := agent.Job{
		Command:  "staticpods diff",
		Args:     []string{"agent", "manifests", "--dir", agent.HostRoot + staticpods.ManifestsDir},
		Mounts:   []agent.Mount{{Path: staticpods.ManifestsDir}},
		Deadline: o.agents.Timeout,
	}
	outs, err := runOnNodes(ctx, o.runner, o.client, o.selection(), job)
	if err != nil {
		return nil, err
	}
	nodes := make([]nodeManifests, 0, len(outs))
	for _, no := range outs {
		nm := nodeManifests{target: no.target, problem: no.problem}
		if nm.problem == "" {
			var raws []staticpods.RawFile
			if err := json.Unmarshal(no.stdout, &raws); err != nil {
				nm.problem = "the agent's answer is not valid JSON: " + err.Error()
			} else {
				nm.files = staticpods.ParseRawFiles(staticpods.ManifestsDir, raws)
			}
		}
		nodes = append(nodes, nm)
	}
	return nodes, nil
}

// acrossNodes is printed with kind StaticPodDriftAcrossNodes.
type acrossNodes struct {
	*staticpods.AcrossNodesResult
	Unreachable map[string]string `json:"unreachable,omitempty"`
}

func (o *StaticPodsDiffOptions) runNodes(ctx context.Context) error {
	nodes, err := o.readNodes(ctx)
	if err != nil {
		return err
	}
	unreachable := map[string]string{}
	var ok []nodeManifests
	for _, n := range nodes {
		if n.problem != "" {
			unreachable[n.target.Name] = n.problem
			fmt.Fprintf(o.ErrOut, "warning: node %s: %s\n", n.target.Name, n.problem)
		} else {
			ok = append(ok, n)
		}
	}
	if len(unreachable) == 0 {
		unreachable = nil
	}
	if o.AcrossNodes {
		return o.printAcross(ok, unreachable)
	}
	var diffs []*staticpods.DiffResult
	for _, n := range ok {
		res, err := staticpods.Diff(ctx, o.client.kube, staticpods.DiffOptions{Node: n.target.Name,
			Dir: staticpods.ManifestsDir, DisplayDir: staticpods.ManifestsDir, Files: n.files})
		if err != nil {
			return staticpodsError(err, o.client.server)
		}
		diffs = append(diffs, res)
	}
	return printPerNode(o.printer, o.Out, "StaticPodDiff", len(nodes), diffs, unreachable,
		func(d *staticpods.DiffResult) string { return d.Node }, diffTable, diffExitCode)
}

// perNode is printed with kind <Kind>List when several nodes are shown.
type perNode[T any] struct {
	Items []T `json:"items"`
	// Unreachable maps a node that could not report to the reason.
	Unreachable map[string]string `json:"unreachable,omitempty"`
}

// printPerNode prints the result of the one node asked for with kind, or several as kind+"List"
// (a NODE header before each table, then the nodes that could not report), and returns the
// worst exit code of them (a node that could not report is a problem).
func printPerNode[T any](p *cmdutil.Printer, out io.Writer, kind string, asked int, items []T, unreachable map[string]string,
	node func(T) string, table func(io.Writer, T) error, exitCode func(T) int) error {
	code := cmdutil.ExitOK
	if unreachable != nil {
		code = cmdutil.ExitProblems
	}
	for _, it := range items {
		code = max(code, exitCode(it))
	}
	var err error
	if asked == 1 && len(items) == 1 {
		err = p.Print(out, kind, items[0], func(w io.Writer) error { return table(w, items[0]) })
	} else {
		list := perNode[T]{Items: items, Unreachable: unreachable}
		if list.Items == nil {
			list.Items = []T{}
		}
		err = p.Print(out, kind+"List", list, func(w io.Writer) error {
			for i, it := range items {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "NODE %s\n", node(it))
				if err := table(w, it); err != nil {
					return err
				}
			}
			return unreachableTable(w, unreachable)
		})
	}
	if err != nil {
		return err
	}
	if code > 0 {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}

func (o *StaticPodsDiffOptions) printAcross(nodes []nodeManifests, unreachable map[string]string) error {
	in := make([]staticpods.NodeManifests, 0, len(nodes))
	for _, n := range nodes {
		in = append(in, staticpods.NodeManifests{Node: n.target.Name, IPs: []string{n.target.InternalIP}, Files: n.files})
	}
	res := acrossNodes{AcrossNodesResult: staticpods.CompareAcrossNodes(in), Unreachable: unreachable}
	err := o.printer.Print(o.Out, "StaticPodDriftAcrossNodes", res, func(w io.Writer) error {
		fmt.Fprintf(w, "NODES: %s\n\n", strings.Join(res.Nodes, ", "))
		fmt.Fprintln(w, "COMPONENT\tCONTAINER\tFLAG\tVALUES")
		for _, c := range res.Components {
			if len(c.MissingOn) > 0 {
				fmt.Fprintf(w, "%s\t\t(manifest)\tmissing on %s\n", c.Component, strings.Join(c.MissingOn, ", "))
			}
			for node, e := range c.Invalid {
				fmt.Fprintf(w, "%s\t\t(manifest)\tinvalid on %s: %s\n", c.Component, node, e)
			}
			for _, d := range c.Drift {
				var vals []string
				for _, n := range res.Nodes {
					if v, ok := d.Values[n]; ok {
						vals = append(vals, n+"="+v)
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Component, d.Container, d.Flag, strings.Join(vals, "  "))
			}
			if len(c.MissingOn) == 0 && len(c.Invalid) == 0 && len(c.Drift) == 0 {
				fmt.Fprintf(w, "%s\t\t\tsame on every node\n", c.Component)
			}
		}
		if len(res.Expected) > 0 {
			fmt.Fprintf(w, "\nDiffer by design (kubeadm writes them per member; not drift): %s\n", strings.Join(res.Expected, ", "))
		}
		return unreachableTable(w, unreachable)
	})
	if err != nil {
		return err
	}
	switch {
	case unreachable != nil || !cleanPresence(res.AcrossNodesResult):
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	case res.Drifts > 0:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
	return nil
}

func cleanPresence(r *staticpods.AcrossNodesResult) bool {
	for _, c := range r.Components {
		if len(c.MissingOn) > 0 || len(c.Invalid) > 0 {
			return false
		}
	}
	return true
}

func unreachableTable(w io.Writer, unreachable map[string]string) error {
	if len(unreachable) == 0 {
		return nil
	}
	names := make([]string, 0, len(unreachable))
	for n := range unreachable {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "\nNODE\tNOT CHECKED")
	for _, n := range names {
		fmt.Fprintf(w, "%s\t%s\n", n, unreachable[n])
	}
	return nil
}

// diffExitCode is the exit code of one node's diff (see the command's help).
func diffExitCode(res *staticpods.DiffResult) int {
	s := res.Summary
	switch {
	case s.NoMirrorPod > 0 || s.Orphans > 0 || s.Invalid > 0:
		return cmdutil.ExitProblems
	case s.Drift > 0:
		return cmdutil.ExitWarnings
	}
	return 0
}
