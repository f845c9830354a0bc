package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

// StaticPodsDiffOptions holds the flags and clients of `staticpods diff`.
type StaticPodsDiffOptions struct {
	Node         string
	ManifestsDir string
	Root         string

	nodeDefaulted bool
	output        *outputFlags
	client        *clusteropsClient
	genericiooptions.IOStreams
}

// NewCmdStaticPodsDiff returns `staticpods diff`.
func NewCmdStaticPodsDiff(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsDiffOptions{output: newOutputFlags(), IOStreams: streams}
	cmd := &cobra.Command{
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

Exit codes:
  0  every manifest matches its mirror pod
  1  drift: a mirror pod differs from its manifest
  2  a manifest with no mirror pod, a mirror pod with no manifest, or an invalid file
  3  could not run (missing manifests directory, unknown node, unreachable or forbidden cluster)`,
		Example: `  # On a control-plane node
  kubectl clusterops staticpods diff

  # Against a copy of a node's filesystem, for node cp-1
  kubectl clusterops staticpods diff --root /mnt/cp-1 --node cp-1

  # Only the differences, as JSON
  kubectl clusterops staticpods diff -o jsonpath='{.manifests[*].differences}'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(getter); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Node, "node", "", "The node whose mirror pods to compare with (default: this machine's hostname).")
	cmd.Flags().StringVar(&o.ManifestsDir, "manifests-dir", "", "The manifests directory to read (default: ROOT"+staticpods.ManifestsDir+").")
	cmd.Flags().StringVar(&o.Root, "root", "/", "The node's root filesystem.")
	o.output.addFlags(cmd)
	return cmd
}

// Complete resolves the printer, the client and the default node.
func (o *StaticPodsDiffOptions) Complete(getter genericclioptions.RESTClientGetter) error {
	if _, err := o.output.toPrinter(); err != nil {
		return err
	}
	if o.Node == "" {
		o.Node, o.nodeDefaulted = defaultNodeName(), true
	}
	var err error
	o.client, err = newClusteropsClient(getter)
	return err
}

// Validate checks the flags; it does no I/O.
func (o *StaticPodsDiffOptions) Validate(cmd *cobra.Command) error {
	if o.ManifestsDir != "" && cmd.Flags().Changed("root") {
		return usageError(cmd.CommandPath(), errors.New("--manifests-dir and --root are mutually exclusive"))
	}
	if o.Node == "" {
		return usageError(cmd.CommandPath(), errors.New("cannot tell this machine's node name: pass --node"))
	}
	return nil
}

// Run compares and prints the result.
func (o *StaticPodsDiffOptions) Run(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, o.client.timeout)
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
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("node %q (this machine's hostname) not found: pass --node NAME (see 'kubectl get nodes')", o.Node)}
	}
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	if err := o.output.print(o.Out, "StaticPodDiff", res, func(w io.Writer) error { return diffTable(w, res) }); err != nil {
		return err
	}
	s := res.Summary
	switch {
	case s.NoMirrorPod > 0 || s.Orphans > 0 || s.Invalid > 0:
		return &ExitError{Code: ExitProblems}
	case s.Drift > 0:
		return &ExitError{Code: ExitWarnings}
	}
	return nil
}

func diffTable(out io.Writer, res *staticpods.DiffResult) error {
	fmt.Fprintf(out, "Node %s, manifests in %s\n\n", res.Node, res.ManifestsDir)
	w, flush := newSection(out)
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", filepath.Base(m.File), m.Status, orDash(m.Pod), detail)
	}
	for _, o := range res.Orphans {
		fmt.Fprintf(w, "-\tNoManifest\t%s\tmirror pod of %s has no file in %s\n", o.Pod, o.Component, res.ManifestsDir)
	}
	_ = flush()
	w, flush = newSection(out)
	first := true
	for _, m := range res.Manifests {
		for _, d := range m.Differences {
			if first {
				fmt.Fprintln(w, "\nFILE\tCONTAINER\tKIND\tNAME\tCHANGE\tMANIFEST\tMIRROR POD")
				first = false
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filepath.Base(m.File), orDash(d.Container), d.Kind, d.Name,
				d.Change, orDash(d.Manifest), orDash(d.Mirror))
		}
	}
	_ = flush()
	s := res.Summary
	_, err := fmt.Fprintf(out, "\n%d in sync, %d drifted, %d without mirror pod, %d mirror pod(s) without manifest, %d invalid file(s)\n",
		s.InSync, s.Drift, s.NoMirrorPod, s.Orphans, s.Invalid)
	return err
}

// StaticPodsInspectOptions holds the flags and clients of `staticpods inspect`.
type StaticPodsInspectOptions struct {
	Component string
	Node      string
	Root      string

	output *outputFlags
	client *clusteropsClient
	now    func() time.Time
	genericiooptions.IOStreams
}

// NewCmdStaticPodsInspect returns `staticpods inspect`.
func NewCmdStaticPodsInspect(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsInspectOptions{output: newOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "inspect COMPONENT [--node NODE] [--root ROOT]",
		Short: "Show a component's flags, the expiry of the certs they reference, hostPaths and ports",
		Long: `Show one static pod component (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, ...)
as the kubelet runs it: its flags as a table, and for every certificate, key or kubeconfig a
flag references, what the file is and when its certificate expires; its hostPath mounts and the
ports it listens on.

The flags come from the mirror pod; when the API has none, from the manifest under --root.
Referenced files are read under --root (default /): run it on the node, or point --root at the
node's filesystem. Files that are not there are reported as missing.

Exit codes: 0 shown; 1 a referenced certificate expires within 30 days; 2 a referenced
certificate has expired; 3 could not run (unknown component or node, unreachable or forbidden
cluster).`,
		Example: `  # The API server's flags, with the expiry of every cert and key they name
  kubectl clusterops staticpods inspect kube-apiserver

  # etcd on another control-plane node, as JSON
  kubectl clusterops staticpods inspect etcd --node cp-2 -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Component = args[0]
			if _, err := o.output.toPrinter(); err != nil {
				return err
			}
			var err error
			if o.client, err = newClusteropsClient(getter); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Node, "node", "", "The node whose static pod to show (needed when the component runs on several nodes).")
	cmd.Flags().StringVar(&o.Root, "root", "/", "The node's root filesystem, where referenced files are read.")
	o.output.addFlags(cmd)
	return cmd
}

// Run inspects the component and prints it.
func (o *StaticPodsInspectOptions) Run(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, o.client.timeout)
	defer cancel()
	now := o.now()
	res, err := staticpods.Inspect(ctx, o.client.kube, staticpods.InspectOptions{Component: o.Component, Node: o.Node, Root: o.Root}, now)
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	if err := o.output.print(o.Out, "StaticPodInspection", res, func(w io.Writer) error { return inspectTable(w, res) }); err != nil {
		return err
	}
	code := ExitOK
	for _, f := range res.Flags {
		for _, fi := range f.Files {
			switch {
			case fi.DaysLeft != nil && *fi.DaysLeft < 0:
				code = ExitProblems
			case fi.DaysLeft != nil && *fi.DaysLeft < 30 && code < ExitWarnings:
				code = ExitWarnings
			}
		}
	}
	if code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

func inspectTable(out io.Writer, res *staticpods.InspectResult) error {
	w, flush := newSection(out)
	fmt.Fprintf(w, "Component:\t%s\nNode:\t%s\nSource:\t%s\nImage:\t%s\n", res.Component, orDash(res.Node), res.Source, res.Image)
	if res.Executable != "" {
		fmt.Fprintf(w, "Executable:\t%s\n", res.Executable)
	}
	_ = flush()
	w, flush = newSection(out)
	fmt.Fprintf(w, "\nFLAG\tVALUE\tREFERENCED FILE (under %s)\n", res.Root)
	for _, f := range res.Flags {
		var files []string
		for _, fi := range f.Files {
			files = append(files, fi.ExpiryText())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Value, orDash(strings.Join(files, "; ")))
	}
	if len(res.Args) > 0 {
		fmt.Fprintf(w, "(arguments)\t%s\t-\n", strings.Join(res.Args, " "))
	}
	_ = flush()
	w, flush = newSection(out)
	fmt.Fprintln(w, "\nHOSTPATH\tTYPE\tMOUNTED AT\tREAD-ONLY")
	for _, h := range res.HostPaths {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", h.HostPath, orDash(h.Type), orDash(h.MountPath), h.ReadOnly)
	}
	_ = flush()
	w, flush = newSection(out)
	fmt.Fprintln(w, "\nPORT\tPROTOCOL\tHOST\tFROM")
	for _, p := range res.Ports {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", p.Port, p.Protocol, orDash(p.Host), p.Source)
	}
	_ = flush()
	return nil
}
