package automate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// CertRenewalOptions holds the flags of `automate cert-renewal`.
type CertRenewalOptions struct {
	installFlags
	Within                 string
	KeepBackups            int
	Nodes                  []string
	KubeconfigDir, CertDir string

	within time.Duration
	genericiooptions.IOStreams
}

// NewCmdCertRenewal returns `automate cert-renewal`.
func NewCmdCertRenewal(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertRenewalOptions{Within: "30d", KeepBackups: 5, KubeconfigDir: "/etc/kubernetes", CertDir: "/etc/kubernetes/pki", IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "cert-renewal",
		Short: "Install CronJobs that renew expiring kubeadm certificates, one control-plane node at a time",
		Long: `Install certificate renewal: one CronJob per control-plane node, pinned to that node. Each run
takes the Lease NAME-lock (so two nodes never renew at once: the others wait), runs
` + "`certs check`" + ` on its node, and when a kubeadm certificate expires within --within renews just
those (` + "`certs renew`" + `, same key, with a backup of the PKI; the last --keep-backups stay), restarts
the node's static pods one at a time, and waits until the node's kube-apiserver answers /readyz
and every etcd member is healthy before it lets the Lease go. When nothing is due it does
nothing, and says so. Kubelet certificates are reported, never renewed: the kubelet rotates them.

Why a CronJob per node and not one job that rolls through them: that job would have to create
pods with hostPath mounts on every control-plane node, which is as much as cluster-admin. A job
per node reaches only its own node's files, and the Lease gives the one-at-a-time order.

What a run can reach: the node's kubeconfig and certificate dirs read-write (renewal signs with
the CA key there), the kubelet's PKI dir read-only, the host network (to check its own
kube-apiserver and etcd). It runs as uid 0, not privileged. Each run records itself in the
ConfigMap NAME-status (per node) and an Event on its CronJob: see ` + "`automate status`" + `.

Run it now on one node with
  kubectl create job -n kube-system --from=cronjob/NAME-NODE NAME-NODE-manual

Exit codes: 0 installed (or printed); 3 not installed (bad input, a foreign object, no access).`,
		Example: `  # Weekly, renewing what expires within 30 days
  kubectl clusterops automate cert-renewal

  # Daily at 02:30, 60 days ahead, only on two nodes
  kubectl clusterops automate cert-renewal --schedule "30 2 * * *" --within 60d --nodes cp-1,cp-2`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.addFlags(cmd, "cert-renewal", "0 3 * * 1", 30*time.Minute)
	cmd.Flags().StringVar(&o.Within, "within", o.Within, "Renew the certificates that expire within this time (e.g. 30d, 2w, 720h).")
	cmd.Flags().IntVar(&o.KeepBackups, "keep-backups", o.KeepBackups, "How many of its PKI backups each node keeps in /etc/kubernetes/tmp.")
	cmd.Flags().StringSliceVar(&o.Nodes, "nodes", nil, "Only these control-plane nodes (default: every node labelled "+"node-role.kubernetes.io/control-plane).")
	cmd.Flags().StringVar(&o.KubeconfigDir, "kubeconfig-dir", o.KubeconfigDir, "kubeadm's kubeconfig dir on the nodes.")
	cmd.Flags().StringVar(&o.CertDir, "cert-dir", o.CertDir, "kubeadm's certificate dir on the nodes.")
	_ = cmd.RegisterFlagCompletionFunc("nodes", cmdutil.CompleteControlPlaneNodeNames(f))
	return cmd
}

// Complete parses --within and resolves the image, the namespace and the client.
func (o *CertRenewalOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.within, err = cmdutil.ParseLongDuration("within", o.Within); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	return o.complete(f)
}

// Validate checks the flags; it does no I/O.
func (o *CertRenewalOptions) Validate() error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.within <= 0 {
		return errors.New("--within must be positive, e.g. 30d")
	}
	if o.KeepBackups < 1 {
		return errors.New("--keep-backups must be at least 1: a renewal without a backup is not undoable")
	}
	if !path.IsAbs(o.KubeconfigDir) || !path.IsAbs(o.CertDir) {
		return errors.New("--kubeconfig-dir and --cert-dir must be absolute paths on the nodes")
	}
	if o.DryRun == "client" && len(o.Nodes) == 0 {
		return errors.New("--dry-run=client does not ask the cluster for its control-plane nodes: name them with --nodes")
	}
	return nil
}

// Run finds the control-plane nodes and installs (or prints) the objects.
func (o *CertRenewalOptions) Run(ctx context.Context) error {
	nodes := o.Nodes
	if o.DryRun != "client" {
		cps, err := controlPlaneNodes(ctx, o.client)
		if err != nil {
			return cmdutil.FriendlyError(err, o.server)
		}
		if len(nodes) == 0 {
			nodes = cps
		}
		for _, n := range nodes {
			found := false
			for _, c := range cps {
				found = found || c == n
			}
			if !found {
				return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%s is not a control-plane node (no %s label): name control-plane nodes with --nodes", n, "node-role.kubernetes.io/control-plane")}
			}
		}
		if len(nodes) == 0 {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: errors.New("no node has the node-role.kubernetes.io/control-plane label: name the nodes with --nodes")}
		}
	}
	c := automate.CertRenewal{Name: o.Name, Namespace: o.namespace, Schedule: o.Schedule, Image: o.Image, Nodes: nodes,
		Within: o.within, KeepBackups: o.KeepBackups, Deadline: o.Deadline, KubeconfigDir: o.KubeconfigDir, CertDir: o.CertDir, APIServerPort: o.apiserverPort(ctx)}
	hint := ""
	if len(nodes) > 0 {
		hint = fmt.Sprintf("Run one now: kubectl create job -n %s --from=cronjob/%s %s-manual", o.namespace, c.CronJobName(nodes[0]), c.CronJobName(nodes[0]))
	}
	return o.install(ctx, o.Out, automate.KindCertRenewal, c.Objects(), hint)
}
