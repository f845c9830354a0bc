package contexts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/contexts"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

const pruneLong = `Remove what no longer works from the kubeconfig: every dangling context (it names a
cluster or user that is not there), then every cluster and user that no remaining context names.
With --unreachable, also the contexts whose server does not answer within --timeout (checked as
'contexts' does); this asks for confirmation on the terminal, or needs --yes.

The plan is shown first. Each file of the KUBECONFIG list (or --kubeconfig) that changes is
backed up next to it (FILE.clusterops-backup-TIME, mode 0600) and then rewritten atomically
while holding clientcmd's FILE.lock (kubectl waits for it, and it for kubectl), keeping its
mode, its owner, a symlink as a symlink, and every field the prune does not remove: extensions,
preferences, fields no tool knows. An entry is removed as kubectl config delete-context does:
from the file the merged entry comes from (a shadowed entry of the same name in a later file
then shows, and a second prune judges it). When the current context is removed,
current-context is emptied.

Exit codes:
  0  pruned, or nothing to prune (and with --dry-run, the plan was printed)
  3  could not run: bad flags, an unreadable kubeconfig, a held lock, --unreachable not
     confirmed`

const pruneExample = `  # Show what would be removed, and change nothing
  kubectl clusterops contexts prune --dry-run

  # Remove dangling contexts and unreferenced clusters and users
  kubectl clusterops contexts prune

  # Also remove the contexts whose cluster does not answer within 2s, without a prompt
  kubectl clusterops contexts prune --unreachable --timeout 2s --yes`

// PruneOptions holds the flags of `contexts prune`.
type PruneOptions struct {
	Unreachable bool
	Yes         bool
	DryRun      bool

	probe   probeFlags
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	factory cmdutil.Factory
	now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdPrune returns `contexts prune`.
func NewCmdPrune(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PruneOptions{output: cmdutil.NewOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:     "prune",
		Short:   "Remove dangling contexts and unreferenced clusters and users (and, asked, unreachable contexts)",
		Long:    pruneLong,
		Example: pruneExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().BoolVar(&o.Unreachable, "unreachable", false, "Also remove the contexts whose server does not answer within --timeout (asks first unless --yes).")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "Do not ask before removing unreachable contexts.")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the plan and change nothing.")
	o.probe.AddFlags(cmd)
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer and keeps the Factory.
func (o *PruneOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	o.factory = f
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate checks the flags; it does no I/O.
func (o *PruneOptions) Validate() error { return o.probe.validate() }

// Run plans, prints the plan, asks when unreachable contexts would go, and applies it.
func (o *PruneOptions) Run(ctx context.Context) error {
	cfg, current, err := loadConfig(o.factory)
	if err != nil {
		return err
	}
	unreachable := map[string]string{}
	if o.Unreachable {
		report := contexts.Check(ctx, cfg, contexts.Options{Current: current, Now: o.now(), Timeout: o.probe.Timeout,
			Parallel: o.probe.Parallel, Connect: o.probe.connect(o.factory)})
		for _, c := range report.Contexts {
			if c.Reachable != nil && !*c.Reachable && c.TLS != "failed" {
				unreachable[c.Name] = c.Server
			}
		}
	}
	plan, err := contexts.PlanPrune(cfg, o.factory.ConfigAccess().GetLoadingPrecedence(), unreachable)
	if err != nil {
		return err
	}
	plan.DryRun = o.DryRun
	table := o.printer.IsTable()
	if table || o.DryRun || len(plan.Files) == 0 {
		if err := o.printer.Print(o.Out, "ContextPrunePlan", plan, func(w io.Writer) error { return printPlan(w, plan) }); err != nil {
			return err
		}
	}
	if o.DryRun || len(plan.Files) == 0 {
		return nil
	}
	if n := countUnreachable(plan); n > 0 && !o.Yes {
		if err := o.confirm(n); err != nil {
			return err
		}
	}
	if err := contexts.Apply(plan, o.now()); err != nil {
		return cmdutil.Rewrite(err.Error()+"; files listed as backed up above were not changed after their backup", err)
	}
	if !table {
		return o.printer.Print(o.Out, "ContextPrunePlan", plan, nil)
	}
	for _, b := range plan.Backups {
		fmt.Fprintf(o.Out, "backup: %s\n", b)
	}
	fmt.Fprintf(o.Out, "pruned %d entries from %s\n", len(plan.Removals), strings.Join(plan.Files, ", "))
	return nil
}

func countUnreachable(p *contexts.Plan) int {
	n := 0
	for _, r := range p.Removals {
		if strings.HasPrefix(r.Reason, "unreachable") {
			n++
		}
	}
	return n
}

// confirm asks on the input stream; anything but "yes" or "y" refuses (exit 3, nothing written).
func (o *PruneOptions) confirm(n int) error {
	fmt.Fprintf(o.ErrOut, "Remove %d unreachable context(s), as listed above? Type yes to go on: ", n)
	line, _ := bufio.NewReader(o.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun,
		Err: errors.New("not confirmed: nothing was changed; answer yes, or pass --yes to remove unreachable contexts")}
}

func printPlan(w io.Writer, p *contexts.Plan) error {
	if len(p.Removals) == 0 && p.CurrentContextCleared == "" {
		_, err := fmt.Fprintln(w, "nothing to prune")
		return err
	}
	fmt.Fprintln(w, "REMOVE\tNAME\tREASON\tFILES")
	for _, r := range p.Removals {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, r.Reason, strings.Join(r.Files, ","))
	}
	if p.CurrentContextCleared != "" {
		fmt.Fprintf(w, "current-context\t%s\tthe current context is removed: current-context is emptied\t\n", p.CurrentContextCleared)
	}
	if p.DryRun {
		fmt.Fprintln(w, "(dry run: nothing was changed)")
	}
	return nil
}
