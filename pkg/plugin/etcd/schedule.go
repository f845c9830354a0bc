package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// SnapshotScheduleOptions holds the flags of `etcd snapshot schedule`.
type SnapshotScheduleOptions struct {
	Schedule backup.ScheduleOptions
	Apply    bool

	root    *string
	cronJob *batchv1.CronJob
	client  kubernetes.Interface
	server  string
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotSchedule returns `etcd snapshot schedule`.
func NewCmdSnapshotSchedule(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &SnapshotScheduleOptions{
		Schedule: backup.ScheduleOptions{Name: "etcd-snapshot", Schedule: "0 */6 * * *", BackupDir: "/var/backups/etcd", Keep: 7, ShellImage: "busybox:1.37"},
		root:     root, output: cmdutil.NewOutputFlags(), IOStreams: streams,
	}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "schedule",
		Short: "Render (or apply) a CronJob that snapshots etcd on a control-plane node",
		Long: `Render a CronJob that takes etcd snapshots on a schedule, to apply with kubectl apply -f -
or directly with --apply. It runs on a control-plane node (nodeSelector and toleration),
with hostNetwork, the etcd certificates and the backup dir from hostPath, and
concurrencyPolicy Forbid. The snapshot is taken by etcdctl from the etcd image of the
node's static pod manifest (--image to override) and saved as <backup-dir>/<job name>.db.
With --keep N a second container (--shell-image; the etcd image has no shell) deletes all
but the newest N, after the snapshot succeeded.

The namespace is kube-system unless -n is given.

Exit codes: 0 rendered or applied; 3 could not run.`,
		Example: `  # Review, then apply
  kubectl clusterops etcd snapshot schedule --schedule "0 */4 * * *" --keep 12 | kubectl apply -f -

  # Apply directly
  kubectl clusterops etcd snapshot schedule --apply`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	s := &o.Schedule
	cmd.Flags().StringVar(&s.Name, "name", s.Name, "Name of the CronJob; also the snapshot file name prefix.")
	cmd.Flags().StringVar(&s.Schedule, "schedule", s.Schedule, "Cron schedule.")
	cmd.Flags().StringVar(&s.BackupDir, "backup-dir", s.BackupDir, "Directory on the control-plane node to save snapshots in.")
	cmd.Flags().IntVar(&s.Keep, "keep", s.Keep, "Keep the newest N snapshots of this CronJob (0: keep all, no prune container).")
	cmd.Flags().StringVar(&s.Image, "image", "", "Image with etcdctl. Default: the etcd image of the node's static pod manifest.")
	cmd.Flags().StringVar(&s.ShellImage, "shell-image", s.ShellImage, "Image with sh, ls, xargs for pruning.")
	cmd.Flags().StringVar(&s.Endpoint, "endpoint", "", "etcd client URL as seen from the node. Default: the manifest's loopback client URL.")
	cmd.Flags().BoolVar(&o.Apply, "apply", false, "Create or update the CronJob in the cluster instead of printing it.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer, takes the namespace (-n, else kube-system), fills the image,
// endpoint and certificate paths from the node's etcd manifest, and, with --apply, the client.
func (o *SnapshotScheduleOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	ns, explicit, err := f.Namespace()
	if err != nil || !explicit {
		ns = "kube-system"
	}
	o.Schedule.Namespace = ns
	if err := scheduleDefaults(&o.Schedule, *o.root); err != nil {
		return err
	}
	if o.Apply {
		if o.client, err = f.ClientSet(); err != nil {
			return err
		}
		o.server = f.Server()
	}
	return nil
}

// Validate checks the schedule and the retention; it does no I/O.
func (o *SnapshotScheduleOptions) Validate() error {
	s := o.Schedule
	if len(strings.Fields(s.Schedule)) != 5 && !strings.HasPrefix(s.Schedule, "@") {
		return fmt.Errorf("invalid --schedule %q: use a cron expression of five fields, e.g. \"0 */6 * * *\"", s.Schedule)
	}
	if s.Keep < 0 || !strings.HasPrefix(s.BackupDir, "/") {
		return errors.New("--keep must not be negative and --backup-dir must be an absolute path on the node")
	}
	return nil
}

// Run prints the CronJob, or applies it with --apply.
func (o *SnapshotScheduleOptions) Run(ctx context.Context) error {
	cj := backup.CronJob(o.Schedule)
	if !o.Apply {
		return o.printer.PrintObject(o.Out, cj)
	}
	action, err := backup.ApplyCronJob(ctx, o.client.BatchV1(), cj)
	if err != nil {
		return cmdutil.FriendlyError(err, o.server)
	}
	fmt.Fprintf(o.Out, "cronjob.batch/%s %s in namespace %s\n", cj.Name, action, cj.Namespace)
	return nil
}

// scheduleDefaults fills the image, endpoint and certificate paths from the node's etcd manifest.
func scheduleDefaults(o *backup.ScheduleOptions, root string) error {
	pod, err := backup.ReadEtcdManifest(root)
	if err != nil && (o.Image == "" || o.Endpoint == "") {
		return fmt.Errorf("cannot read the node's etcd manifest (%v): give --image and --endpoint, or --root", err)
	}
	if o.Image == "" {
		o.Image = pod.Spec.Containers[0].Image
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://127.0.0.1:2379"
		if v, ok := backup.ManifestFlag(pod, "listen-client-urls"); ok {
			o.Endpoint = strings.Split(v, ",")[0]
		}
	}
	o.CACert = "/etc/kubernetes/pki/etcd/ca.crt"
	if pod != nil {
		if v, ok := backup.ManifestFlag(pod, "trusted-ca-file"); ok {
			o.CACert = v
		}
	}
	o.Cert = "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
	o.Key = "/etc/kubernetes/pki/etcd/healthcheck-client.key"
	return nil
}
