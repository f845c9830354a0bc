package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

const staticpodsLong = `Static pod manifests (the files the kubelet runs from /etc/kubernetes/manifests on each
control-plane node) against the mirror pods the kubelet reports to the API server.

Mirror pods are found by the kubelet's annotations (kubernetes.io/config.mirror,
kubernetes.io/config.hash, kubernetes.io/config.source). Comparisons are of content (image,
flags, env, volumes, resources, probes), never of config.hash: the kubelet hashes the decoded
pod, so the hash cannot be recomputed from a file.`

// NewCmdStaticPods returns the `staticpods` command group.
func NewCmdStaticPods(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := newGroupCommand("staticpods", "Static pod manifests vs mirror pods: drift and health", staticpodsLong)
	cmd.Example = `  # The mirror pods of every control-plane node
  kubectl clusterops staticpods list

  # On a control-plane node: manifests against their mirror pods
  sudo kubectl clusterops staticpods diff --root /`
	cmd.AddCommand(
		NewCmdStaticPodsList(getter, streams),
		NewCmdStaticPodsDiff(getter, streams),
		NewCmdStaticPodsInspect(getter, streams),
	)
	return cmd
}

// clusteropsClient is a typed client, the API server URL and the request timeout (--request-timeout,
// or defaultProbeTimeout when unset) for one command.
type clusteropsClient struct {
	kube    kubernetes.Interface
	server  string
	timeout time.Duration
}

func newClusteropsClient(getter genericclioptions.RESTClientGetter) (*clusteropsClient, error) {
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, friendlyError(err, "")
	}
	c := &clusteropsClient{server: config.Host, timeout: config.Timeout}
	if c.timeout <= 0 {
		c.timeout = defaultProbeTimeout
	}
	if c.kube, err = kubernetes.NewForConfig(config); err != nil {
		return nil, friendlyError(err, c.server)
	}
	return c, nil
}

// staticpodsError turns a domain error into one line with an exit code.
func staticpodsError(err error, server string) error {
	var nf *staticpods.ErrNodeNotFound
	var amb *staticpods.ErrAmbiguousNode
	var cnf *staticpods.ErrComponentNotFound
	switch {
	case errors.As(err, &nf):
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("%w; list the nodes with 'kubectl get nodes' and pass one with --node", err)}
	case errors.As(err, &amb):
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("%w: pass --node to pick one", err)}
	case errors.As(err, &cnf):
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("%w; see 'kubectl clusterops staticpods list'", err)}
	case errors.Is(err, staticpods.ErrNoManifestsDir):
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("%w: run this on a control-plane node, or pass --root (the node's root) or --manifests-dir", err)}
	}
	return friendlyError(err, server)
}

// StaticPodsListOptions holds the flags and clients of `staticpods list`.
type StaticPodsListOptions struct {
	Node string

	output *outputFlags
	client *clusteropsClient
	now    func() time.Time
	genericiooptions.IOStreams
}

// NewCmdStaticPodsList returns `staticpods list`.
func NewCmdStaticPodsList(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StaticPodsListOptions{output: newOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := &cobra.Command{
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
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	cmd.Flags().StringVar(&o.Node, "node", "", "Only the mirror pods of this node.")
	o.output.addFlags(cmd)
	return cmd
}

// Run lists the mirror pods and prints them.
func (o *StaticPodsListOptions) Run(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, o.client.timeout)
	defer cancel()
	res, err := staticpods.List(ctx, o.client.kube, o.Node)
	if err != nil {
		return staticpodsError(err, o.client.server)
	}
	now := o.now()
	return o.output.print(o.Out, "StaticPodList", res, func(w io.Writer) error {
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
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", p.Node, p.Component, orDash(p.Version), p.Phase,
				p.ReadyCount, p.Containers, restarts, duration.HumanDuration(now.Sub(p.Created.Time)), shortHash(p.Hash))
		}
		return nil
	})
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, d)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return orDash(h)
}

// defaultNodeName is this machine's hostname as kubeadm names the node (lower case).
func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}
