package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/cluster"
)

const clusterLong = `An overview of the cluster grouped like its architecture: control plane, nodes, add-ons
and networking.`

// NewCmdCluster returns the `cluster` command group.
func NewCmdCluster(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("cluster", "Architecture overview: control plane, nodes, add-ons, networking", clusterLong)
	cmd.Example = `  # The architecture at a glance, with a problem summary; exit non-zero when unhealthy
  kubectl clusterops cluster status`
	cmd.AddCommand(NewCmdClusterStatus(f, streams))
	return cmd
}

// ClusterStatusOptions holds the flags and clients of `cluster status`.
type ClusterStatusOptions struct {
	Root string

	agents *cmdutil.AgentFlags
	runner *agent.Runner

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	kube    kubernetes.Interface
	server  string
	timeout time.Duration
	health  cluster.HealthChecker
	// runnerErr is why no agent runner could be built (a dev build without --image).
	runnerErr error
	now       func() time.Time
	genericiooptions.IOStreams
}

const clusterStatusLong = `Show the cluster the way the architecture diagram draws it, with a problem summary at the end:

  Control plane  the API server's /readyz?verbose and /livez?verbose checks (etcd checks
                 included); each component's static (mirror) pods; the leader-election Leases
                 kube-system/kube-controller-manager and kube-system/kube-scheduler: holder,
                 renew time, stale when not renewed within leaseDurationSeconds
  Nodes          Ready, roles, kubelet version, container runtime, taints, pressure conditions
  Add-ons        CoreDNS (Deployment kube-system/coredns ready, Service kube-dns IP) and
                 kube-proxy (DaemonSet ready, mode from its ConfigMap)
  Networking     the CNI plugin, detected from known DaemonSets (calico, cilium, flannel, weave,
                 antrea, kube-router, canal, kindnet) and, with --root, from the CNI configs in
                 ROOT/etc/cni/net.d (reference plugins such as bridge too) -- or, from a laptop,
                 with --node NAME or --control-plane, from that node's /etc/cni/net.d read by a
                 short-lived agent pod (see below); pod CIDRs per node
                 against the cluster pod subnet (kubeadm-config); service CIDRs (ServiceCIDR
                 API); overlaps and exhaustion; NetworkPolicies and whether the detected CNI
                 enforces them (a built-in table; the source of each answer is shown)

What it cannot read (Forbidden) is listed, and everything else is still shown. etcd members are
shown from their static pods and the API server's etcd checks; with --root, the etcd members are
listed from etcd itself with the API server's etcd client certificate (its --etcd-* flags, read
under ROOT): name, client URLs, reachable, leader, version, DB size. With --control-plane (or a
--node with the control-plane role), a second agent pod on that node runs "etcd members" and asks
every member at its own client URLs: on an HA cluster, all members, the leader, and the ones
that do not answer (a problem).

The agent (--node NAME, or --control-plane: the first Ready control-plane node by name) is
opt-in: without these flags no pod is made and the CNI is detected from the API only, as
before. The CNI pod mounts /etc/cni/net.d read-only and has no host network; the etcd pod mounts
/etc/kubernetes/manifests and /etc/kubernetes/pki/etcd read-only and uses the host network (to
reach the members). Neither has API access, and both are deleted when the command ends
(docs/guide/agent.md). When it cannot run (forbidden, Pod
Security, image, node not Ready), the report still comes back: the CNI configs part says why
(networking.cni.configsError) and counts as a warning.

Exit codes:
  0  healthy: no problem and no warning
  1  warnings only (a pressure condition, no CNI detected, something unreadable, ...)
  2  a problem: a failing health check, a NotReady node or pod, no or a stale leader Lease,
     add-on replicas not ready, an IPAM overlap or exhaustion, NetworkPolicies not enforced
  3  could not run (unreachable cluster, bad flags)`

// NewCmdClusterStatus returns `cluster status`.
func NewCmdClusterStatus(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClusterStatusOptions{output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(2 * time.Minute), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "status [--root ROOT]",
		Short: "Control plane, nodes, add-ons and networking in one view, with a problem summary",
		Long:  clusterStatusLong,
		Example: `  kubectl clusterops cluster status

  # On a node: also detect the CNI from /etc/cni/net.d
  kubectl clusterops cluster status --root /

  # From a laptop: the same, read on a control-plane node by an agent pod
  kubectl clusterops cluster status --control-plane

  # Only the problems
  kubectl clusterops cluster status -o jsonpath='{range .problems[*]}{.severity}: {.message}{"\n"}{end}'`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmdutil.AddRootFlag(cmd, &o.Root, "", "A control-plane node's root (/ on the node): read its etc/cni/net.d for the CNI, and list the etcd members with the API server's etcd client certificate.")
	o.agents.AddFlags(cmd, true, false)
	cmd.Flags().BoolVar(&o.agents.ControlPlane, "control-plane", false, "Read the CNI configs and the etcd members on the first Ready node labelled "+agent.LabelControlPlane+" through agent pods.")
	o.output.AddFlags(cmd)
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdClusterStatus)
	return cmd
}

// Complete resolves the printer and the clients.
func (o *ClusterStatusOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.kube, err = f.ClientSet(); err != nil {
		return err
	}
	o.server, o.timeout = f.Server(), f.Timeout()
	o.health = restHealth{o.kube.Discovery().RESTClient()}
	if o.agents.Enabled() {
		// A dev build without --image cannot run the agent: that part is marked, the rest shown.
		if o.runner, err = o.agents.Runner(f, o.ErrOut); err != nil {
			o.runnerErr = err
		}
	}
	return nil
}

// Validate checks the flags; it does no I/O.
func (o *ClusterStatusOptions) Validate() error {
	if !o.agents.Enabled() {
		return nil
	}
	if o.Root != "" {
		return errors.New("--root reads a local filesystem; --node and --control-plane read a node through an agent pod: pass one or the other")
	}
	if n := len(o.agents.Selection().Names); n > 1 || (n == 1 && o.agents.ControlPlane) {
		return errors.New("the CNI configs are read on one node: pass one --node, or --control-plane")
	}
	return o.agents.Validate()
}

// restHealth reads the API server's health endpoints through the REST client.
type restHealth struct{ rc rest.Interface }

func (h restHealth) Check(ctx context.Context, pathAndQuery string) (string, error) {
	path, query, _ := cutQuery(pathAndQuery)
	req := h.rc.Get().AbsPath(path)
	if query != "" {
		req = req.Param(query, "")
	}
	body, err := req.DoRaw(ctx)
	return string(body), err
}

func cutQuery(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '?' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Run collects the status, prints it, and maps its worst finding to the exit code.
func (o *ClusterStatusOptions) Run(ctx context.Context) error {
	in := cluster.Inputs{Client: o.kube, Health: o.health, Root: o.Root}
	if o.agents.Enabled() {
		// The agent pod has its own deadline (--agent-timeout), not the request timeout.
		nc, err := o.nodeCNI(ctx)
		if err != nil {
			return err
		}
		in.NodeCNI = nc
		if nc.Node != "" && nc.Err == "" {
			if in.NodeEtcd, err = o.nodeEtcd(ctx, nc.Node); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st, err := cluster.Collect(ctx, in, o.now())
	if err != nil {
		var un *cluster.ErrUnreachable
		if errors.As(err, &un) {
			return cmdutil.FriendlyError(un.Err, o.server)
		}
		return cmdutil.FriendlyError(err, o.server)
	}
	if err := o.printer.Print(o.Out, "ClusterStatus", st, clusterStatusTable(st)); err != nil {
		return err
	}
	switch st.Worst() {
	case cluster.SeverityProblem:
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	case cluster.SeverityWarning:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
	return nil
}
