package staticpods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

// agentMountedDir is what the inspect agent pod mounts (read-only): kubeadm keeps every file a
// control-plane component's flags name under it.
const agentMountedDir = "/etc/kubernetes"

// useAgents: the node's files come from agent pods (--nodes, --control-plane, or --node without
// --root).
func (o *StaticPodsInspectOptions) useAgents() bool {
	return o.agents.Enabled() || (o.Node != "" && !o.rootGiven)
}

func (o *StaticPodsInspectOptions) selection() agent.Selection {
	sel := o.agents.Selection()
	if o.Node != "" {
		sel.Names = append([]string{o.Node}, sel.Names...)
	}
	return sel
}

// referencedPaths are the files the component's mirror pods (on the selected nodes, or all)
// name: the agent reads them with the ones its node's manifest names.
func (o *StaticPodsInspectOptions) referencedPaths(ctx context.Context, now time.Time) ([]string, error) {
	targets, err := agent.Resolve(ctx, o.client.kube, o.selection())
	if err != nil {
		return nil, cmdutil.AgentError(err, o.client.server)
	}
	seen := map[string]bool{}
	var paths []string
	record := func(p string) certs.FileInfo {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
		return certs.FileInfo{Path: p}
	}
	for _, t := range targets {
		// A node without a mirror pod of the component names nothing here; the files its
		// manifest names are read by the agent anyway.
		_, _ = staticpods.Inspect(ctx, o.client.kube, staticpods.InspectOptions{Component: o.Component, Node: t.Name, Root: "/",
			Manifests: []staticpods.ManifestFile{}, ReadFile: record}, now)
	}
	sort.Strings(paths)
	return paths, nil
}

// runNodes inspects the component on each selected node: the flags from the node's mirror pod
// (the API, with the caller's credentials), the files the flags name read by an agent pod on
// the node.
func (o *StaticPodsInspectOptions) runNodes(ctx context.Context) error {
	now := o.now()
	paths, err := o.referencedPaths(ctx, now)
	if err != nil {
		return err
	}
	args := append([]string{"agent", "files", "--root", agent.HostRoot, "--component", o.Component,
		"--now", now.UTC().Format(time.RFC3339Nano), "--"}, paths...)
	job := agent.Job{Command: "staticpods inspect", Args: args, Mounts: []agent.Mount{{Path: agentMountedDir}}, Deadline: o.agents.Timeout}
	outs, err := runOnNodes(ctx, o.runner, o.client, o.selection(), job)
	if err != nil {
		return err
	}
	var items []*staticpods.InspectResult
	unreachable := map[string]string{}
	for _, no := range outs {
		res, problem, err := o.inspectNode(ctx, no, now)
		if err != nil {
			return err
		}
		if problem != "" {
			unreachable[no.target.Name] = problem
			fmt.Fprintf(o.ErrOut, "warning: node %s: %s\n", no.target.Name, problem)
			continue
		}
		items = append(items, res)
	}
	if len(unreachable) == 0 {
		unreachable = nil
	}
	return printPerNode(o.printer, o.Out, "StaticPodInspection", len(outs), items, unreachable,
		func(r *staticpods.InspectResult) string { return r.Node }, inspectTable, inspectExitCode)
}

// inspectNode is one node's inspection from its agent's answer. A component that is not on
// this node is a problem of the node when several were asked for, an error for one.
func (o *StaticPodsInspectOptions) inspectNode(ctx context.Context, no nodeOutput, now time.Time) (*staticpods.InspectResult, string, error) {
	if no.problem != "" {
		return nil, no.problem, nil
	}
	var nf staticpods.NodeFiles
	if err := json.Unmarshal(no.stdout, &nf); err != nil {
		return nil, "the agent's answer is not valid JSON: " + err.Error(), nil
	}
	files := map[string]certs.FileInfo{}
	for _, fi := range nf.Files {
		// The agent read under /host; on the node that is /.
		fi.Error = strings.ReplaceAll(fi.Error, "under "+agent.HostRoot, "under /")
		files[fi.Path] = fi
	}
	read := func(p string) certs.FileInfo {
		if fi, ok := files[p]; ok && (strings.HasPrefix(p, agentMountedDir+"/") || fi.Kind != certs.FileMissing) {
			return fi
		}
		return certs.FileInfo{Path: p, Kind: certs.FileUnreadable,
			Error: "outside " + agentMountedDir + ", which the agent pod does not mount: run inspect --root / on the node"}
	}
	manifests := staticpods.ParseRawFiles(staticpods.ManifestsDir, nf.Manifests)
	if manifests == nil {
		manifests = []staticpods.ManifestFile{}
	}
	res, err := staticpods.Inspect(ctx, o.client.kube, staticpods.InspectOptions{Component: o.Component, Node: no.target.Name,
		Root: "/", Manifests: manifests, ReadFile: read}, now)
	if err != nil {
		var cnf *staticpods.ErrComponentNotFound
		if errors.As(err, &cnf) && !(len(o.selection().Names) == 1 && !o.agents.ControlPlane) {
			return nil, cmdutil.OneLine(err.Error()), nil
		}
		return nil, "", staticpodsError(err, o.client.server)
	}
	return res, "", nil
}
