package automate

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// StatusOptions holds the flags of `automate status`.
type StatusOptions struct {
	AllNamespaces bool
	prometheus    bool
	namespace     string
	client        kubernetes.Interface
	server        string
	output        *cmdutil.OutputFlags
	printer       *cmdutil.Printer
	now           func() time.Time
	genericiooptions.IOStreams
}

// NewCmdStatus returns `automate status`.
func NewCmdStatus(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{output: cmdutil.NewOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "status",
		Short: "Last run, newest snapshot, soonest expiry and next run of each automation",
		Long: `Show each installed automation: its schedule and next run, its last run (success or failure,
when, and why), the newest good snapshot and its age (on the node or in the bucket), each
node's last renewal and the soonest kubeadm certificate expiry the runs saw.

-o prometheus writes metrics for node-exporter's textfile collector.

Exit codes (for scripts and alerting):
  0  every automation's last run succeeded (or has not run yet)
  1  the newest good snapshot is older than twice the schedule
  2  a last run failed
  3  could not run (nothing installed, no access)`,
		Example: `  kubectl clusterops automate status
  kubectl clusterops automate status -A -o json

  # For node-exporter's textfile collector
  kubectl clusterops automate status -o prometheus > /var/lib/node_exporter/clusterops.prom.$$ && mv /var/lib/node_exporter/clusterops.prom.$$ /var/lib/node_exporter/clusterops.prom`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Automations of every namespace.")
	o.output.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = strings.Replace(cmd.Flags().Lookup("output").Usage, "One of: (", "One of: (prometheus, ", 1)
	return cmd
}

// Complete resolves the namespace, the printer and the client.
func (o *StatusOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.output.Format() == "prometheus" {
		o.prometheus = true
		_ = cmd.Flags().Set("output", "")
	}
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.namespace = namespace(f)
	if o.AllNamespaces {
		o.namespace = ""
	}
	if o.client, err = f.ClientSet(); err != nil {
		return err
	}
	o.server = f.Server()
	return nil
}

// Validate does nothing: the flags cannot conflict.
func (o *StatusOptions) Validate() error { return nil }

// Run gathers and prints the statuses; the exit code says the worst.
func (o *StatusOptions) Run(ctx context.Context) error {
	now := o.now()
	sts, err := automate.Gather(ctx, o.client, o.namespace, now)
	if err != nil {
		return cmdutil.FriendlyError(err, o.server)
	}
	if len(sts) == 0 {
		where := "namespace " + o.namespace
		if o.namespace == "" {
			where = "any namespace"
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("no automation installed in %s: install one with `kubectl clusterops automate etcd-backup` or `automate cert-renewal` (or try -A)", where)}
	}
	if o.prometheus {
		err = automate.WritePrometheus(o.Out, sts, now)
	} else {
		err = o.printer.Print(o.Out, "AutomationStatus", struct {
			Automations []automate.Status `json:"automations"`
		}{sts}, func(w io.Writer) error { return statusTable(w, sts, now) })
	}
	if err != nil {
		return err
	}
	if code := automate.ExitCode(sts); code != 0 {
		fmt.Fprintln(o.ErrOut, worst(sts))
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}

func worst(sts []automate.Status) string {
	for _, st := range sts {
		if st.Problem != "" {
			return st.Namespace + "/" + st.Name + ": " + st.Problem
		}
	}
	return ""
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func statusTable(w io.Writer, sts []automate.Status, now time.Time) error {
	fmt.Fprintln(w, "NAMESPACE\tNAME\tAUTOMATION\tSCHEDULE\tLAST RUN\tRESULT\tNEWEST SNAPSHOT / SOONEST EXPIRY\tNEXT RUN\tSTATE")
	for _, st := range sts {
		last, result := "never", "-"
		if st.LastRun != nil {
			last = ago(now, st.LastRun.Finished)
			result = "failed"
			if st.LastRun.Succeeded {
				result = "ok"
			}
			if st.LastRun.NothingDue {
				result = "nothing due"
			}
		}
		detail := "-"
		if st.NewestSnapshot != nil {
			detail = fmt.Sprintf("%s (%s)", st.NewestSnapshot.Location, ago(now, st.NewestSnapshot.Time))
		}
		if st.SoonestExpiry != nil {
			detail = fmt.Sprintf("%s in %s", st.SoonestExpiry.Name, st.SoonestExpiry.NotAfter.Sub(now).Round(time.Hour))
		}
		next := "-"
		if st.NextRun != nil {
			next = "in " + st.NextRun.Sub(now).Round(time.Second).String()
		}
		if st.Suspended {
			next = "suspended"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Namespace, st.Name, st.Automation, st.Schedule, last, result, detail, next, st.State)
	}
	var notes []string
	for _, st := range sts {
		for _, n := range st.Nodes {
			if r := st.NodeRuns[n]; r != nil {
				notes = append(notes, fmt.Sprintf("  %s/%s node %s (%s): %s", st.Namespace, st.Name, n, ago(now, r.Finished), r.Message))
			} else {
				notes = append(notes, fmt.Sprintf("  %s/%s node %s: no run yet", st.Namespace, st.Name, n))
			}
		}
		if len(st.Nodes) == 0 && st.LastRun != nil {
			notes = append(notes, fmt.Sprintf("  %s/%s: %s", st.Namespace, st.Name, st.LastRun.Message))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nLast runs:")
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	return nil
}
