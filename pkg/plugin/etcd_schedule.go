package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
)

func newCmdSnapshotSchedule(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := backup.ScheduleOptions{Name: "etcd-snapshot", Schedule: "0 */6 * * *", BackupDir: "/var/backups/etcd", Keep: 7, ShellImage: "busybox:1.37"}
	output := newOutputFlags()
	apply := false
	cmd := &cobra.Command{
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
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			if len(strings.Fields(o.Schedule)) != 5 && !strings.HasPrefix(o.Schedule, "@") {
				return usageError(cmd.CommandPath(), fmt.Errorf("invalid --schedule %q: use a cron expression of five fields, e.g. \"0 */6 * * *\"", o.Schedule))
			}
			if o.Keep < 0 || !strings.HasPrefix(o.BackupDir, "/") {
				return usageError(cmd.CommandPath(), errors.New("--keep must not be negative and --backup-dir must be an absolute path on the node"))
			}
			ns, overridden, err := getter.ToRawKubeConfigLoader().Namespace()
			if err != nil || !overridden {
				ns = "kube-system"
			}
			o.Namespace = ns
			if err := scheduleDefaults(&o, *root); err != nil {
				return err
			}
			cj := backup.CronJob(o)
			if !apply {
				if output.format() == "" && !output.templateGiven() {
					return (&printers.YAMLPrinter{}).PrintObj(cj, streams.Out)
				}
				p, err := output.toPrinter()
				if err != nil {
					return err
				}
				return p.PrintObj(cj, streams.Out)
			}
			cfg, err := getter.ToRESTConfig()
			if err != nil {
				return friendlyError(err, "")
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return friendlyError(err, cfg.Host)
			}
			action, err := backup.ApplyCronJob(cmd.Context(), client.BatchV1(), cj)
			if err != nil {
				return friendlyError(err, cfg.Host)
			}
			fmt.Fprintf(streams.Out, "cronjob.batch/%s %s in namespace %s\n", cj.Name, action, cj.Namespace)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Name, "name", o.Name, "Name of the CronJob; also the snapshot file name prefix.")
	cmd.Flags().StringVar(&o.Schedule, "schedule", o.Schedule, "Cron schedule.")
	cmd.Flags().StringVar(&o.BackupDir, "backup-dir", o.BackupDir, "Directory on the control-plane node to save snapshots in.")
	cmd.Flags().IntVar(&o.Keep, "keep", o.Keep, "Keep the newest N snapshots of this CronJob (0: keep all, no prune container).")
	cmd.Flags().StringVar(&o.Image, "image", "", "Image with etcdctl. Default: the etcd image of the node's static pod manifest.")
	cmd.Flags().StringVar(&o.ShellImage, "shell-image", o.ShellImage, "Image with sh, ls, xargs for pruning.")
	cmd.Flags().StringVar(&o.Endpoint, "endpoint", "", "etcd client URL as seen from the node. Default: the manifest's loopback client URL.")
	cmd.Flags().BoolVar(&apply, "apply", false, "Create or update the CronJob in the cluster instead of printing it.")
	output.addFlags(cmd)
	return cmd
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
