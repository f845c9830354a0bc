package etcd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// EtcdMoveLeaderOptions holds the flags of `etcd move-leader`.
type EtcdMoveLeaderOptions struct {
	flags    etcdConnFlags
	conn     backup.Conn
	To       string
	AwayFrom string
	output   *cmdutil.OutputFlags
	printer  *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdEtcdMoveLeader returns `etcd move-leader`.
func NewCmdEtcdMoveLeader(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &EtcdMoveLeaderOptions{flags: etcdConnFlags{root: root}, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "move-leader [MEMBER]",
		Short: "Hand the etcd leadership to another member before a planned restart",
		Long: `Hand the etcd leadership to another member (etcdctl move-leader), so that restarting the
leader's node costs no leader election: while a new leader is elected no member takes writes,
and every kube-apiserver's readiness check fails with it.

MEMBER (a name or a hex ID) is the member to lead. Without it, the healthy voting follower that
has applied the most entries leads. --away-from NAME moves the leadership only when NAME leads
(nothing to do otherwise): the step before restarting NAME's etcd. The request goes to the
leader at its own client URL; the command returns once the new member leads.

certs renew --restart-static-pods does this by itself before it restarts a leading etcd.

Exit codes: 0 moved, or nothing to move (a note says why: NAME does not lead, or no other
healthy voting member); 3 could not run (unknown member, a learner or unhealthy target, no
leader, etcd unreachable).`,
		Example: `  # On the control-plane node about to be restarted: lead from elsewhere, if this one leads
  sudo kubectl clusterops etcd move-leader --away-from "$(hostname)"

  # A named member leads
  sudo kubectl clusterops etcd move-leader cp2 -o json`,
		Args: cmdutil.UsageArgs(cobra.MaximumNArgs(1)),
	}, f, o)
	o.flags.addFlags(cmd)
	o.output.AddFlags(cmd)
	cmd.Flags().StringVar(&o.AwayFrom, "away-from", "", "Move the leadership only when this member (name or ID) leads.")
	return cmd
}

// Complete builds the printer and resolves the connection (flags, then the node's manifest).
func (o *EtcdMoveLeaderOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.To = args[0]
	}
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.conn, err = o.flags.conn()
	return err
}

// Validate checks the flag combination.
func (o *EtcdMoveLeaderOptions) Validate() error {
	if o.To != "" && o.To == o.AwayFrom {
		return fmt.Errorf("%s is both the member to lead and --away-from: give one or the other", o.To)
	}
	return nil
}

// Run lists the members and moves the leadership.
func (o *EtcdMoveLeaderOptions) Run(ctx context.Context) error {
	ctx, cancel := o.flags.context(ctx)
	defer cancel()
	ms, err := listMembers(ctx, o.conn)
	if err != nil {
		return err
	}
	mctx, mcancel := context.WithTimeout(ctx, o.conn.DialTimeout+30*time.Second)
	defer mcancel()
	mv, err := backup.MoveLeader(mctx, ms, o.AwayFrom, o.To, backup.ConnTransferer(o.conn))
	if err != nil {
		return etcdError(err, o.conn.Endpoints)
	}
	return o.printer.Print(o.Out, "EtcdLeaderMove", mv, func(w io.Writer) error { return leaderMoveTable(w, mv) })
}

func leaderMoveTable(w io.Writer, mv backup.LeaderMove) error {
	if mv.Moved {
		_, err := fmt.Fprintf(w, "etcd leadership moved from %s (%s) to %s (%s)\n", mv.From, mv.FromID, mv.To, mv.ToID)
		return err
	}
	_, err := fmt.Fprintln(w, mv.Note)
	return err
}
