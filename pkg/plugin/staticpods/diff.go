package staticpods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

// StaticPodsDiffOptions holds the flags and clients of `staticpods diff`.
type StaticPodsDiffOptions struct {
	Node         string
	ManifestsDir string
	Root         string

	AcrossNodes    bool
	agents         *cmdutil.AgentFlags
	runner         *agent.Runner
	nodeGiven      bool
	manifestsGiven bool
	nodeDefaulted  bool
	rootGiven      bool
	output         *cmdutil.OutputFlags
	printer        *cmdutil.Printer
	client         *apiClient
	genericiooptions.IOStreams
}

// NewCmdStaticPodsDiff returns `staticpods diff`.
func NewCmdStaticPodsDiff(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsDiffOptions{output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(3 * time.Minute), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "diff [--node NODE] [--manifests-dir DIR | --root ROOT]",
		Short: "Compare a node's static pod manifests with its mirror pods, field by field",
		Long: `Compare every file of a node's manifests directory with the mirror pod the kubelet reports for
it. Run it on the node (or point --root at a copy of the node's filesystem).

Per container it compares the image, the command line flag by flag (not as text), env,
volume mounts, ports, resources and probes; per pod the volumes (hostPaths included),
hostNetwork and priorityClassName. API defaults are applied to both sides first. It also
reports files with no mirror pod (the kubelet has not started them), mirror pods with no file
(a manifest was removed or renamed) and files in the directory that are not valid pods (the
kubelet reads every file there that does not start with a dot).

Drift is normal for a short time after a manifest edit: the kubelet restarts the pod within
about half a minute. Drift that stays means the kubelet did not pick the change up.

--node defaults to this machine's hostname, as kubeadm names the node.

From a laptop (no SSH): --node NAME without --root reads that node's manifests through a
short-lived agent pod; --nodes a,b or --control-plane compares several nodes, each with its own
mirror pods. --across-nodes compares the same component's manifests between the control-plane
nodes (or --nodes), flag by flag: config drift between the members of an HA control plane. Each
node's own name and addresses are replaced by <node-name> and <node-ip> first, since kubeadm
writes them per node; etcd's --initial-cluster and --initial-cluster-state differ per member by
design (listed under "expected", not drift). See docs/guide/agent.md.

Exit codes:
  0  every manifest matches its mirror pod
  1  drift: a mirror pod differs from its manifest
  2  a manifest with no mirror pod, a mirror pod with no manifest, or an invalid file
  3  could not run (missing manifests directory, unknown node, unreachable or forbidden cluster)`,
		Example: `  # On a control-plane node
  kubectl clusterops staticpods diff

  # Against a copy of a node's filesystem, for node cp-1
  kubectl clusterops staticpods diff --root /mnt/cp-1 --node cp-1

  # From a laptop: node cp-2's manifests (agent pod) against its mirror pods
  kubectl clusterops staticpods diff --node cp-2

  # Config drift between the control-plane nodes of an HA cluster, flag by flag
  kubectl clusterops staticpods diff --across-nodes

  # Only the differences, as JSON
  kubectl clusterops staticpods diff -o jsonpath='{.manifests[*].differences}'`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().StringVar(&o.Node, "node", "", "The node whose mirror pods to compare with (default: this machine's hostname); without --root, its manifests are read through an agent pod.")
	cmd.Flags().BoolVar(&o.AcrossNodes, "across-nodes", false, "Compare each component's manifest between the control-plane nodes (or --nodes), flag by flag.")
	o.agents.AddFlags(cmd, false, true)
	cmd.Flags().StringVar(&o.ManifestsDir, "manifests-dir", "", "The manifests directory to read (default: ROOT"+staticpods.ManifestsDir+").")
	cmdutil.AddRootFlag(cmd, &o.Root, "/", "The node's root filesystem.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete resolves the printer, the client and the default node.
func (o *StaticPodsDiffOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	o.rootGiven = cmd.Flags().Changed("root")
	o.nodeGiven = o.Node != ""
	o.manifestsGiven = o.ManifestsDir != ""
	if o.useAgents() {
		var err error
		if o.printer, o.client, err = complete(f, o.output); err != nil {
			return err
		}
		o.runner, err = o.agents.Runner(f, o.ErrOut)
		return err
	}
	if o.Node == "" {
		o.Node, o.nodeDefaulted = cmdutil.DefaultNodeName(), true
	}
	var err error
	o.printer, o.client, err = complete(f, o.output)
	return err
}

// Validate checks the flags; it does no I/O.
func (o *StaticPodsDiffOptions) Validate() error {
	if o.useAgents() {
		if o.rootGiven || o.manifestsGiven {
			return errors.New("--root and --manifests-dir read a local filesystem; --nodes, --control-plane and --across-nodes read the nodes through agent pods: pass one or the other")
		}
		return o.agents.Validate()
	}
	if o.ManifestsDir != "" && o.rootGiven {
		return errors.New("--manifests-dir and --root are mutually exclusive")
	}
	if o.Node == "" {
		return errors.New("cannot tell this machine's node name: pass --node")
	}
	return nil
}

// Run compares and prints the result.
func (o *StaticPodsDiffOptions) Run(ctx context.Context) error {
	if o.useAgents() {
		return o.runNodes(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, o.client.timeout)
	defer cancel()
	opts := staticpods.DiffOptions{Node: o.Node, Dir: o.ManifestsDir, DisplayDir: o.ManifestsDir}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(o.Root, staticpods.ManifestsDir)
		opts.DisplayDir = staticpods.ManifestsDir
		if o.Root != "/" {
			opts.DisplayDir = opts.Dir
		}
	}
	res, err := staticpods.Diff(ctx, o.client.kube, opts)
	var nf *staticpods.ErrNodeNotFound
	if errors.As(err, &nf) && o.nodeDefaulted {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("node %q (this machine's hostname) not found: pass --node NAME (see 'kubectl get nodes')", o.Node)}
	}
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	if err := o.printer.Print(o.Out, "StaticPodDiff", res, func(w io.Writer) error { return diffTable(w, res) }); err != nil {
		return err
	}
	if code := diffExitCode(res); code > 0 {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}

func diffTable(out io.Writer, res *staticpods.DiffResult) error {
	fmt.Fprintf(out, "Node %s, manifests in %s\n\n", res.Node, res.ManifestsDir)
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintln(w, "FILE\tSTATUS\tMIRROR POD\tDETAIL")
	for _, m := range res.Manifests {
		detail := m.Error
		switch m.Status {
		case staticpods.Drift:
			detail = fmt.Sprintf("%d difference(s)", len(m.Differences))
		case staticpods.NoMirrorPod:
			detail = "the node reports no mirror pod for this file"
		case staticpods.InSync:
			detail = "hash " + shortHash(m.MirrorHash)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", filepath.Base(m.File), m.Status, cmdutil.OrDash(m.Pod), detail)
	}
	for _, o := range res.Orphans {
		fmt.Fprintf(w, "-\tNoManifest\t%s\tmirror pod of %s has no file in %s\n", o.Pod, o.Component, res.ManifestsDir)
	}
	_ = flush()
	w, flush = cmdutil.NewSection(out)
	first := true
	for _, m := range res.Manifests {
		for _, d := range m.Differences {
			if first {
				fmt.Fprintln(w, "\nFILE\tCONTAINER\tKIND\tNAME\tCHANGE\tMANIFEST\tMIRROR POD")
				first = false
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filepath.Base(m.File), cmdutil.OrDash(d.Container), d.Kind, d.Name,
				d.Change, cmdutil.OrDash(d.Manifest), cmdutil.OrDash(d.Mirror))
		}
	}
	_ = flush()
	s := res.Summary
	_, err := fmt.Fprintf(out, "\n%d in sync, %d drifted, %d without mirror pod, %d mirror pod(s) without manifest, %d invalid file(s)\n",
		s.InSync, s.Drift, s.NoMirrorPod, s.Orphans, s.Invalid)
	return err
}
