package staticpods

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// StaticPodsListOptions holds the flags and clients of `staticpods list`.
type StaticPodsListOptions struct {
	Node string

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  *apiClient
	now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdStaticPodsList returns `staticpods list`.
func NewCmdStaticPodsList(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsListOptions{output: cmdutil.NewOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "list [--node NODE]",
		Short: "List the mirror pods of every node: component, version, readiness, restarts, hash",
		Long: `List the mirror pods that kubelets report for their static pods, on every node or on one.
Per pod: node, component, image version, phase and readiness, container restarts, age and
kubernetes.io/config.hash.

Exit codes: 0 listed (also when there are none); 3 could not run (unknown node, unreachable or
forbidden cluster).`,
		Example: `  # Every control-plane component on every node
  kubectl clusterops staticpods list

  # One node, as JSON
  kubectl clusterops staticpods list --node cp-1 -o json`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().StringVar(&o.Node, "node", "", "Only the mirror pods of this node.")
	o.output.AddFlags(cmd)
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdStaticPodsList)
	return cmd
}

// Complete builds the printer and the client.
func (o *StaticPodsListOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	o.printer, o.client, err = complete(f, o.output)
	return err
}

// Validate checks the options; there is nothing to check.
func (o *StaticPodsListOptions) Validate() error { return nil }

// Run lists the mirror pods and prints them.
func (o *StaticPodsListOptions) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.client.timeout)
	defer cancel()
	res, err := staticpods.List(ctx, o.client.kube, o.Node)
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	now := o.now()
	return o.printer.Print(o.Out, "StaticPodList", res, func(w io.Writer) error {
		if len(res.Items) == 0 {
			_, err := fmt.Fprintln(w, "No mirror pods found: no kubelet reports static pods to this cluster.")
			return err
		}
		fmt.Fprintln(w, "NODE\tCOMPONENT\tVERSION\tPHASE\tREADY\tRESTARTS\tAGE\tHASH")
		for _, p := range res.Items {
			restarts := fmt.Sprint(p.Restarts)
			if p.LastState != "" {
				restarts += " (last: " + p.LastState + ")"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", p.Node, p.Component, cmdutil.OrDash(p.Version), p.Phase,
				p.ReadyCount, p.Containers, restarts, duration.HumanDuration(now.Sub(p.Created.Time)), shortHash(p.Hash))
		}
		return nil
	})
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return cmdutil.OrDash(h)
}
