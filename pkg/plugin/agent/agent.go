// Package agent holds `kubectl clusterops agent`: gc for agent pods left behind, and the two
// hidden commands the agent pods run (run, serve).
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/cluster"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

const agentLong = `Node-level commands (certs check/renew, staticpods diff/inspect, etcd snapshot save/restore,
cluster status's CNI view) run on nodes from a kubeconfig alone when given --node, --nodes or
--control-plane: the plugin makes one short-lived agent pod per node from its own image, reads the
result and deletes the pod. See docs/guide/agent.md for what the pod mounts and may do.

An agent pod carries the labels app.kubernetes.io/managed-by=kubectl-clusterops and
app.kubernetes.io/component=agent. A CLI killed with SIGKILL cannot delete its pods: the next run
removes them, and so does 'agent gc'.`

// NewCmdAgent returns the agent group.
func NewCmdAgent(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("agent", "Agent pods: remove leftovers (the pods run the hidden run/serve)", agentLong)
	cmd.Example = `  # Every control-plane node's certificates from a laptop (one agent pod per node)
  kubectl clusterops certs check --control-plane

  # Remove agent pods a killed CLI left behind
  kubectl clusterops agent gc`
	cmd.AddCommand(newCmdGC(f, streams), newCmdRun(streams), newCmdServe(streams), newCmdManifests(streams), newCmdFiles(streams), newCmdCNI(streams), newCmdResult(streams))
	return cmd
}

// GCOptions holds the flags of `agent gc`.
type GCOptions struct {
	Namespace     string
	AllNamespaces bool
	All           bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  kubernetes.Interface
	server  string
	genericiooptions.IOStreams
}

func newCmdGC(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GCOptions{Namespace: agent.DefaultNamespace, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "gc",
		Short: "Delete agent pods left behind (finished, or past their deadline)",
		Long: `Delete agent pods (labels app.kubernetes.io/managed-by=kubectl-clusterops,
app.kubernetes.io/component=agent) that have finished or are past their deadline. A pod still
running for another invocation is left alone unless --all is given. Pods without both labels are
never touched.`,
		Example: `  # Remove leftovers in kube-system
  kubectl clusterops agent gc

  # Every namespace, running ones too
  kubectl clusterops agent gc -A --all`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().StringVar(&o.Namespace, "agent-namespace", o.Namespace, "Namespace of the agent pods.")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Look in every namespace.")
	cmd.Flags().BoolVar(&o.All, "all", false, "Delete running agent pods too (they may belong to a command still running).")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the client and the printer.
func (o *GCOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if c, err := f.RESTConfig(); err == nil {
		o.server = c.Host
	}
	o.client, err = f.ClientSet()
	return err
}

// Validate checks the flags.
func (o *GCOptions) Validate() error {
	if o.Namespace == "" && !o.AllNamespaces {
		return errors.New("--agent-namespace must not be empty (or pass -A)")
	}
	return nil
}

type gcOutput struct {
	Removed []agent.GCResult `json:"removed"`
}

// Run deletes and prints what it deleted.
func (o *GCOptions) Run(ctx context.Context) error {
	ns := o.Namespace
	if o.AllNamespaces {
		ns = ""
	}
	removed, err := agent.GC(ctx, o.client, ns, time.Now(), o.All)
	if err != nil {
		return cmdutil.AgentError(err, o.server)
	}
	out := gcOutput{Removed: removed}
	if out.Removed == nil {
		out.Removed = []agent.GCResult{}
	}
	return o.printer.Print(o.Out, "AgentGC", out, func(w io.Writer) error {
		if len(removed) == 0 {
			fmt.Fprintln(w, "No agent pod to remove.")
			return nil
		}
		fmt.Fprintln(w, "NAMESPACE\tPOD\tNODE\tCOMMAND\tPHASE\tWHY")
		for _, g := range removed {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Namespace, g.Name, g.Node, g.Command, g.Phase, g.Why)
		}
		return nil
	})
}

// RunOptions is the hidden `agent run`: the agent pod's entry point for a one-shot command.
type RunOptions struct {
	CLIVersion string
	WaitFor    string
	ResultFile string
	args       []string
	genericiooptions.IOStreams
}

func newCmdRun(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RunOptions{IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "run --cli-version VERSION -- COMMAND...",
		Short:  "Run a command on this node and print its result line (what an agent pod runs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.MinimumNArgs(1)),
	}, nil, o)
	cmd.Flags().StringVar(&o.CLIVersion, "cli-version", "", "The version of the CLI that made this pod; the agent refuses to run for another.")
	cmd.Flags().StringVar(&o.ResultFile, "result-file", "", "Also write the result line to this file (on the node): an etcd restore removes the pod from the API, so the CLI reads it from there with 'agent result'.")
	cmd.Flags().StringVar(&o.WaitFor, "wait-for", "", "Run the command only once this file exists (the CLI writes it after an upload); exit without running it on SIGTERM.")
	return cmd
}

// Complete takes the command line.
func (o *RunOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.args = args
	return nil
}

// Validate checks the flags.
func (o *RunOptions) Validate() error {
	if o.CLIVersion == "" {
		return errors.New("--cli-version is required")
	}
	return nil
}

// Run runs the plugin binary itself with the arguments, captures its output and exit code, and
// prints the result line. SIGTERM (the pod being deleted) is passed on, so that a renewal can
// put parked manifests back before it exits.
func (o *RunOptions) Run(ctx context.Context) error {
	env := &agent.Envelope{AgentVersion: cmdutil.ClientVersion().GitVersion}
	if o.CLIVersion != env.AgentVersion {
		env.Error = (&agent.VersionMismatch{Agent: env.AgentVersion, CLI: o.CLIVersion, Image: "of this pod"}).Error()
		return env.Write(o.Out)
	}
	if o.WaitFor != "" {
		if err := waitForFile(ctx, o.WaitFor); err != nil {
			env.Error = "the command did not start: " + err.Error()
			return env.Write(o.Out)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		env.Error = err.Error()
		return env.Write(o.Out)
	}
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, exe, o.args...)
	c.Stdout, c.Stderr = &stdout, io.MultiWriter(&stderr, o.ErrOut)
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = 25 * time.Second
	err = c.Run()
	env.Stdout, env.Stderr = stdout.Bytes(), stderr.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		env.ExitCode = exitErr.ExitCode()
	default:
		env.Error = err.Error()
	}
	if o.ResultFile != "" {
		var b bytes.Buffer
		if err := env.Write(&b); err == nil {
			if err := atomicfile.WriteFile(o.ResultFile, b.Bytes(), 0o600); err != nil {
				fmt.Fprintf(o.ErrOut, "writing the result to %s: %v\n", o.ResultFile, err)
			}
		}
	}
	return env.Write(o.Out)
}

// ResultOptions is the hidden `agent result`: prints the result line an earlier agent pod wrote
// to a file on the node (--result-file), and removes the file.
type ResultOptions struct {
	File string
	Wait time.Duration
	genericiooptions.IOStreams
}

func newCmdResult(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ResultOptions{Wait: 2 * time.Minute, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "result --file FILE",
		Short:  "Print and remove the result an earlier agent pod left on the node",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().StringVar(&o.File, "file", "", "The result file.")
	cmd.Flags().DurationVar(&o.Wait, "wait", o.Wait, "Wait this long for the file to appear.")
	return cmd
}

// Complete does nothing.
func (o *ResultOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate checks the flags.
func (o *ResultOptions) Validate() error {
	if o.File == "" {
		return errors.New("--file is required")
	}
	return nil
}

// Run waits for the file, prints it and removes it.
func (o *ResultOptions) Run(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	if err := waitForFile(wctx, o.File); err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("no result at %s: %w", o.File, err)}
	}
	b, err := os.ReadFile(o.File)
	if err != nil {
		return err
	}
	if _, err := o.Out.Write(b); err != nil {
		return err
	}
	return os.Remove(o.File)
}

// waitForFile polls until path exists, or ctx ends (SIGTERM: the pod is being deleted).
func waitForFile(ctx context.Context, path string) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// ServeOptions is the hidden `agent serve`: an idle agent pod that waits to be exec'ed into.
type ServeOptions struct {
	Deadline time.Duration
	genericiooptions.IOStreams
}

func newCmdServe(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ServeOptions{Deadline: 10 * time.Minute, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "serve",
		Short:  "Wait to be exec'ed into, until the deadline or SIGTERM (what a streaming agent pod runs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().DurationVar(&o.Deadline, "deadline", o.Deadline, "Exit after this long.")
	return cmd
}

// Complete does nothing.
func (o *ServeOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate checks the deadline.
func (o *ServeOptions) Validate() error {
	if o.Deadline <= 0 {
		return errors.New("--deadline must be positive")
	}
	return nil
}

// Run waits.
func (o *ServeOptions) Run(ctx context.Context) error {
	fmt.Fprintf(o.ErrOut, "agent %s: waiting to be exec'ed into (at most %s)\n", cmdutil.ClientVersion().GitVersion, o.Deadline)
	t := time.NewTimer(o.Deadline)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil
}

// ManifestsOptions is the hidden `agent manifests`: the files of a static pod manifests dir, as
// the kubelet would read them, printed as JSON for the CLI to parse and compare.
type ManifestsOptions struct {
	Dir string
	genericiooptions.IOStreams
}

func newCmdManifests(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ManifestsOptions{Dir: agent.HostRoot + staticpods.ManifestsDir, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "manifests [--dir DIR]",
		Short:  "Print the files of a static pod manifests dir as JSON (what a staticpods agent pod runs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().StringVar(&o.Dir, "dir", o.Dir, "The manifests dir.")
	return cmd
}

// Complete does nothing.
func (o *ManifestsOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate does nothing.
func (o *ManifestsOptions) Validate() error { return nil }

// Run reads and prints.
func (o *ManifestsOptions) Run(context.Context) error {
	files, err := staticpods.ReadRawDir(o.Dir)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	if files == nil {
		files = []staticpods.RawFile{}
	}
	return json.NewEncoder(o.Out).Encode(files)
}

// FilesOptions is the hidden `agent files`: what `staticpods inspect --node` needs from a node,
// as JSON: the static pod manifests dir, and what each referenced file is (a certificate's
// expiry) — the files named on the command line (the mirror pod's) and those the component's
// own manifest names.
type FilesOptions struct {
	Root      string
	Component string
	Now       string
	paths     []string
	now       time.Time
	genericiooptions.IOStreams
}

func newCmdFiles(streams genericiooptions.IOStreams) *cobra.Command {
	o := &FilesOptions{Root: agent.HostRoot, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "files --component NAME [--root ROOT] [--now TIME] [PATH...]",
		Short:  "Print a node's static pod manifests and what the referenced files are, as JSON (what a staticpods inspect agent pod runs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.ArbitraryArgs),
	}, nil, o)
	cmd.Flags().StringVar(&o.Root, "root", o.Root, "The node's root.")
	cmd.Flags().StringVar(&o.Component, "component", "", "Also read the files this component's manifest names.")
	cmd.Flags().StringVar(&o.Now, "now", "", "The CLI's time (RFC 3339), for days left: both ends count from the same instant.")
	return cmd
}

// Complete takes the paths and the time.
func (o *FilesOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.paths, o.now = args, time.Now()
	if o.Now != "" {
		t, err := time.Parse(time.RFC3339Nano, o.Now)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		o.now = t
	}
	return nil
}

// Validate does nothing.
func (o *FilesOptions) Validate() error { return nil }

// Run reads and prints.
func (o *FilesOptions) Run(context.Context) error {
	out := staticpods.NodeFiles{Manifests: []staticpods.RawFile{}, Files: []certs.FileInfo{}}
	raws, err := staticpods.ReadRawDir(o.Root + staticpods.ManifestsDir)
	if err != nil {
		out.ManifestsError = err.Error()
	} else if raws != nil {
		out.Manifests = raws
	}
	paths := append([]string(nil), o.paths...)
	if o.Component != "" {
		for _, f := range staticpods.ParseRawFiles(staticpods.ManifestsDir, out.Manifests) {
			if f.Pod != nil && f.Path == staticpods.ManifestsDir+"/"+o.Component+".yaml" {
				paths = append(paths, staticpods.ReferencedFiles(f.Pod, o.Component)...)
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out.Files = append(out.Files, certs.ReadFileInfo(o.Root, p, o.now))
		}
	}
	return json.NewEncoder(o.Out).Encode(out)
}

// CNIOptions is the hidden `agent cni`: the CNI configs of a node's /etc/cni/net.d, detected as
// `cluster status --root` does, printed as JSON (what a cluster status agent pod runs).
type CNIOptions struct {
	Root string
	genericiooptions.IOStreams
}

func newCmdCNI(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CNIOptions{Root: agent.HostRoot, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "cni [--root ROOT]",
		Short:  "Print the CNI configs a node's /etc/cni/net.d holds, as JSON (what a cluster status agent pod runs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().StringVar(&o.Root, "root", o.Root, "The node's root.")
	return cmd
}

// Complete does nothing.
func (o *CNIOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate does nothing.
func (o *CNIOptions) Validate() error { return nil }

// Run reads and prints.
func (o *CNIOptions) Run(context.Context) error {
	found, err := cluster.ReadCNIConfigs(o.Root+cluster.CNIDirectory, cluster.CNIDirectory)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: errors.New(strings.ReplaceAll(err.Error(), o.Root+cluster.CNIDirectory, cluster.CNIDirectory))}
	}
	if found == nil {
		found = []cluster.CNIDetection{}
	}
	return json.NewEncoder(o.Out).Encode(found)
}
