package automate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// RemoveOptions holds the flags of `automate remove`.
type RemoveOptions struct {
	Names  []string
	DryRun bool

	namespace string
	client    kubernetes.Interface
	server    string
	output    *cmdutil.OutputFlags
	printer   *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdRemove returns `automate remove`.
func NewCmdRemove(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RemoveOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove exactly what automate installed",
		Long: `Remove the automations named (their --name: etcd-backup, cert-renewal, ...): every object that
carries both app.kubernetes.io/managed-by=kubectl-clusterops and clusterops.io/automation-name=NAME
in the namespace (CronJobs, their Jobs and pods, the Lease, the status ConfigMap, the
RoleBinding, the Role, the ServiceAccount), each deleted only if it is still the object that was
listed (UID precondition). An object of that name without those labels is never touched.
Snapshots already saved (on nodes or in a bucket) stay.

Exit codes: 0 removed; 3 nothing of that name is installed, or no access.`,
		Example: `  # Remove the scheduled snapshots (the snapshots already saved stay)
  kubectl clusterops automate remove etcd-backup

  # See what would go
  kubectl clusterops automate remove cert-renewal --dry-run`,
		Args:              cmdutil.UsageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeAutomations(f),
	}, f, o)
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "List what would be removed; remove nothing.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes the names and resolves the namespace, the printer and the client.
func (o *RemoveOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Names = args
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.namespace = namespace(f)
	if o.client, err = f.ClientSet(); err != nil {
		return err
	}
	o.server = f.Server()
	return nil
}

// Validate checks the names; it does no I/O.
func (o *RemoveOptions) Validate() error {
	for _, n := range o.Names {
		if n == "" || strings.ContainsAny(n, "/,= ") {
			return fmt.Errorf("invalid automation name %q: give the --name it was installed with (see automate status)", n)
		}
	}
	return nil
}

// Run removes each automation; a name with nothing installed is exit 3 after the others.
func (o *RemoveOptions) Run(ctx context.Context) error {
	var all []automate.Change
	var missing []error
	for _, n := range o.Names {
		changes, err := automate.Remove(ctx, o.client, o.namespace, n, o.DryRun)
		if errors.Is(err, automate.ErrNotInstalled) {
			missing = append(missing, err)
			continue
		}
		if err != nil {
			return cmdutil.FriendlyError(err, o.server)
		}
		all = append(all, changes...)
	}
	if len(missing) > 0 && len(all) == 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: errors.New(cmdutil.OneLine(missing[0].Error()))}
	}
	if err := o.printer.Print(o.Out, "AutomationRemove", struct {
		Namespace string            `json:"namespace"`
		Changes   []automate.Change `json:"changes"`
	}{o.namespace, all}, func(w io.Writer) error {
		for _, c := range all {
			fmt.Fprintf(w, "%s/%s %s\n", strings.ToLower(c.Kind), c.Name, c.Action)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(missing) > 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: errors.New(cmdutil.OneLine(missing[0].Error()))}
	}
	return nil
}

// completeAutomations completes the names of installed automations.
func completeAutomations(f cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		client, err := f.ClientSet()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		sts, err := automate.Gather(cmd.Context(), client, namespace(f), timeNow())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, st := range sts {
			names = append(names, st.Name)
		}
		return cmdutil.CompleteFrom(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}
