package staticpods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// StaticPodsInspectOptions holds the flags and clients of `staticpods inspect`.
type StaticPodsInspectOptions struct {
	Component string
	Node      string
	Root      string

	agents    *cmdutil.AgentFlags
	runner    *agent.Runner
	rootGiven bool
	output    *cmdutil.OutputFlags
	printer   *cmdutil.Printer
	client    *apiClient
	now       func() time.Time
	genericiooptions.IOStreams
}

// NewCmdStaticPodsInspect returns `staticpods inspect`.
func NewCmdStaticPodsInspect(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsInspectOptions{output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(3 * time.Minute), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "inspect COMPONENT [--node NODE] [--root ROOT]",
		Short: "Show a component's flags, the expiry of the certs they reference, hostPaths and ports",
		Long: `Show one static pod component (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, ...)
as the kubelet runs it: its flags as a table, and for every certificate, key or kubeconfig a
flag references, what the file is and when its certificate expires; its hostPath mounts and the
ports it listens on.

The flags come from the mirror pod; when the API has none, from the manifest under --root.
Referenced files are read under --root (default /): run it on the node, or point --root at the
node's filesystem. Files that are not there are reported as missing.

From a laptop, --node NAME without --root reads that node's files through a short-lived agent
pod (/etc/kubernetes mounted read-only); --nodes a,b or --control-plane shows the component on
several nodes, one section (-o json: one item) per node, with the node's name. See
docs/guide/agent.md.

Exit codes: 0 shown; 1 a referenced certificate expires within 30 days; 2 a referenced
certificate has expired; 3 could not run (unknown component or node, unreachable or forbidden
cluster).`,
		Example: `  # The API server's flags, with the expiry of every cert and key they name
  kubectl clusterops staticpods inspect kube-apiserver

  # etcd on another control-plane node, as JSON
  kubectl clusterops staticpods inspect etcd --node cp-2 -o json

  # From a laptop: the API server of every control-plane node (one agent pod per node)
  kubectl clusterops staticpods inspect kube-apiserver --control-plane`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.Node, "node", "", "The node whose static pod to show (needed when the component runs on several nodes); without --root, its files are read through an agent pod.")
	cmdutil.AddRootFlag(cmd, &o.Root, "/", "The node's root filesystem, where referenced files are read.")
	o.agents.AddFlags(cmd, false, true)
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes the component, and builds the printer and the client.
func (o *StaticPodsInspectOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Component = args[0]
	o.rootGiven = cmd.Flags().Changed("root")
	var err error
	if o.printer, o.client, err = complete(f, o.output); err != nil {
		return err
	}
	if o.useAgents() {
		o.runner, err = o.agents.Runner(f, o.ErrOut)
	}
	return err
}

// Validate checks the flags; it does no I/O.
func (o *StaticPodsInspectOptions) Validate() error {
	if o.useAgents() {
		if o.rootGiven {
			return errors.New("--root reads a local filesystem; --nodes and --control-plane read the nodes through agent pods: pass one or the other")
		}
		return o.agents.Validate()
	}
	return nil
}

// Run inspects the component and prints it.
func (o *StaticPodsInspectOptions) Run(ctx context.Context) error {
	if o.useAgents() {
		return o.runNodes(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, o.client.timeout)
	defer cancel()
	now := o.now()
	res, err := staticpods.Inspect(ctx, o.client.kube, staticpods.InspectOptions{Component: o.Component, Node: o.Node, Root: o.Root}, now)
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	if err := o.printer.Print(o.Out, "StaticPodInspection", res, func(w io.Writer) error { return inspectTable(w, res) }); err != nil {
		return err
	}
	if code := inspectExitCode(res); code != cmdutil.ExitOK {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}

// inspectExitCode is 2 when a referenced certificate has expired, 1 when one expires within 30
// days, else 0.
func inspectExitCode(res *staticpods.InspectResult) int {
	code := cmdutil.ExitOK
	for _, f := range res.Flags {
		for _, fi := range f.Files {
			switch {
			case fi.DaysLeft != nil && *fi.DaysLeft < 0:
				code = cmdutil.ExitProblems
			case fi.DaysLeft != nil && *fi.DaysLeft < 30 && code < cmdutil.ExitWarnings:
				code = cmdutil.ExitWarnings
			}
		}
	}
	return code
}

func inspectTable(out io.Writer, res *staticpods.InspectResult) error {
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintf(w, "Component:\t%s\nNode:\t%s\nSource:\t%s\nImage:\t%s\n", res.Component, cmdutil.OrDash(res.Node), res.Source, res.Image)
	if res.Executable != "" {
		fmt.Fprintf(w, "Executable:\t%s\n", res.Executable)
	}
	_ = flush()
	w, flush = cmdutil.NewSection(out)
	fmt.Fprintf(w, "\nFLAG\tVALUE\tREFERENCED FILE (under %s)\n", res.Root)
	for _, f := range res.Flags {
		var files []string
		for _, fi := range f.Files {
			files = append(files, fi.ExpiryText())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Value, cmdutil.OrDash(strings.Join(files, "; ")))
	}
	if len(res.Args) > 0 {
		fmt.Fprintf(w, "(arguments)\t%s\t-\n", strings.Join(res.Args, " "))
	}
	_ = flush()
	w, flush = cmdutil.NewSection(out)
	fmt.Fprintln(w, "\nHOSTPATH\tTYPE\tMOUNTED AT\tREAD-ONLY")
	for _, h := range res.HostPaths {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", h.HostPath, cmdutil.OrDash(h.Type), cmdutil.OrDash(h.MountPath), h.ReadOnly)
	}
	_ = flush()
	w, flush = cmdutil.NewSection(out)
	fmt.Fprintln(w, "\nPORT\tPROTOCOL\tHOST\tFROM")
	for _, p := range res.Ports {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", p.Port, p.Protocol, cmdutil.OrDash(p.Host), p.Source)
	}
	_ = flush()
	return nil
}
