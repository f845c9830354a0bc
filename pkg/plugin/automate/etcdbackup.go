package automate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// EtcdBackupOptions holds the flags of `automate etcd-backup`.
type EtcdBackupOptions struct {
	installFlags
	To, S3Secret                string
	Keep                        int
	KeepWithin                  time.Duration
	Endpoint, CACert, Cert, Key string
	// alias: run as `etcd snapshot schedule` (renders unless --apply; --backup-dir is --to).
	alias bool
	Apply bool
	genericiooptions.IOStreams
}

// NewCmdEtcdBackup returns `automate etcd-backup`; with alias, the old `etcd snapshot schedule`,
// which renders unless --apply and says once that it moved.
func NewCmdEtcdBackup(f cmdutil.Factory, streams genericiooptions.IOStreams, alias bool) *cobra.Command {
	o := &EtcdBackupOptions{To: "/var/backups/etcd", Keep: 7, Endpoint: "https://127.0.0.1:2379",
		CACert: "/etc/kubernetes/pki/etcd/ca.crt", Cert: "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		Key: "/etc/kubernetes/pki/etcd/healthcheck-client.key", alias: alias, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "etcd-backup",
		Short: "Install a CronJob that saves, verifies and keeps etcd snapshots (on the node or in S3)",
		Long: `Install scheduled etcd snapshots that run this plugin's own image on a control-plane node:
each run is ` + "`etcd snapshot save`" + ` (from a healthy follower when there is one; the sha256 etcd
appends is checked while streaming, the file is fsynced and hashed again, a sidecar records
sha256, size, revision, member and versions), then ` + "`etcd snapshot verify`" + ` of what was saved.
--keep and --keep-within then prune, in the same place, only the snapshots this automation made
(<name>-<UTC time>.db with a sidecar), never a snapshot saved by hand.

--to DIR keeps the snapshots in a directory on the node that ran the job (a hostPath): it is
on the node, so a lost node loses them; use it for small clusters. --to s3://BUCKET/PREFIX
uploads each snapshot and its sidecar to S3-compatible storage (AWS, MinIO, Ceph RGW, SeaweedFS,
Garage); the job reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for other stores,
AWS_ENDPOINT_URL_S3 and AWS_REGION from the Secret --s3-secret names (never from the CronJob).

What a run can reach: the etcd CA certificate and the client certificate and key (node paths,
each mounted read-only on its own; never the CA key), the --to directory, the host network
(to reach etcd). It runs as uid 0 (the key is root's), not privileged, every capability dropped
but those a writer of the directory needs, a read-only root filesystem, concurrencyPolicy
Forbid and --deadline. Each run records itself in the ConfigMap NAME-status and an Event on the
CronJob: see ` + "`automate status`" + `. Run one now with
  kubectl create job -n kube-system --from=cronjob/NAME NAME-manual

Exit codes: 0 installed (or printed); 3 not installed (bad input, a foreign object, no access).`,
		Example: `  # Every 6 hours, keep 7 on the node
  kubectl clusterops automate etcd-backup --to /var/backups/etcd --keep 7

  # Hourly into a MinIO bucket, keep everything from the last 3 days
  kubectl -n kube-system create secret generic etcd-backup-s3 \
    --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=... \
    --from-literal=AWS_ENDPOINT_URL_S3=https://minio.example:9000
  kubectl clusterops automate etcd-backup --schedule "0 * * * *" --to s3://backups/etcd --s3-secret etcd-backup-s3 --keep-within 72h

  # Review the objects first
  kubectl clusterops automate etcd-backup --dry-run=client -o yaml`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	name := "etcd-backup"
	if alias {
		name = "etcd-snapshot"
		cmd.Use, cmd.Short = "schedule", "Renamed: automate etcd-backup (scheduled snapshots with this plugin's image)"
		cmd.Long = "Renamed: `kubectl clusterops automate etcd-backup`. This alias renders the objects (install them with\n--apply); --backup-dir is --to.\n\n" + cmd.Long
		cmd.Example = "  # Old form: prints the objects (now: kubectl clusterops automate etcd-backup --to /var/backups/etcd --keep 7)\n  kubectl clusterops etcd snapshot schedule --keep 7 | kubectl apply -f -"
	}
	o.addFlags(cmd, name, "0 */6 * * *", 30*time.Minute)
	cmd.Flags().StringVar(&o.To, "to", o.To, "Where snapshots go: a directory on the node, or s3://BUCKET/PREFIX.")
	cmd.Flags().StringVar(&o.S3Secret, "s3-secret", "", "With an s3:// --to: the Secret (in the automation's namespace) holding AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_S3, AWS_REGION.")
	cmd.Flags().IntVar(&o.Keep, "keep", o.Keep, "Keep the newest N snapshots this automation made (0: no count rule).")
	cmd.Flags().DurationVar(&o.KeepWithin, "keep-within", 0, "Also keep every snapshot it made within this duration (e.g. 72h).")
	cmd.Flags().StringVar(&o.Endpoint, "endpoint", o.Endpoint, "etcd client URL as seen from the node (the job has the host network); the snapshot comes from a healthy follower when there is one.")
	cmd.Flags().StringVar(&o.CACert, "cacert", o.CACert, "Node path of the etcd CA certificate.")
	cmd.Flags().StringVar(&o.Cert, "cert", o.Cert, "Node path of the etcd client certificate.")
	cmd.Flags().StringVar(&o.Key, "key", o.Key, "Node path of the etcd client key.")
	if alias {
		cmd.Flags().StringVar(&o.To, "backup-dir", o.To, "Old name of --to.")
		cmd.Flags().BoolVar(&o.Apply, "apply", false, "Install the objects instead of printing them.")
		_ = cmd.Flags().MarkHidden("backup-dir")
	}
	return cmd
}

// Complete resolves the image, the namespace and the client.
func (o *EtcdBackupOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	if o.alias {
		fmt.Fprintln(o.ErrOut, "Note: `etcd snapshot schedule` is now `kubectl clusterops automate etcd-backup` (runs this plugin's image: hash-checked, verified, pruned by its own rules, optionally to S3).")
		if !o.Apply && !cmd.Flags().Changed("dry-run") {
			o.DryRun = "client"
		}
	}
	return o.complete(f)
}

// Validate checks the flags; it does no I/O.
func (o *EtcdBackupOptions) Validate() error {
	if err := o.validate(); err != nil {
		return err
	}
	if automate.IsS3(o.To) {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(o.To, automate.S3Prefix), "/")
		if bucket == "" {
			return fmt.Errorf("invalid --to %q: use s3://BUCKET/PREFIX", o.To)
		}
		if o.S3Secret == "" {
			return errors.New("--to s3://... needs --s3-secret: the Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (credentials never go into the CronJob)")
		}
	} else {
		if !path.IsAbs(o.To) || path.Clean(o.To) == "/" {
			return fmt.Errorf("invalid --to %q: use an absolute directory on the node (not /), or s3://BUCKET/PREFIX", o.To)
		}
		if o.S3Secret != "" {
			return errors.New("--s3-secret is for an s3:// --to")
		}
	}
	if o.Keep < 0 || o.KeepWithin < 0 {
		return errors.New("--keep and --keep-within must not be negative")
	}
	for flag, v := range map[string]string{"--cacert": o.CACert, "--cert": o.Cert, "--key": o.Key} {
		if !path.IsAbs(v) {
			return fmt.Errorf("%s %q must be an absolute path on the node", flag, v)
		}
	}
	if !strings.HasPrefix(o.Endpoint, "https://") && !strings.HasPrefix(o.Endpoint, "http://") {
		return fmt.Errorf("invalid --endpoint %q: use a URL such as https://127.0.0.1:2379", o.Endpoint)
	}
	return nil
}

// Run installs (or prints) the objects.
func (o *EtcdBackupOptions) Run(ctx context.Context) error {
	b := automate.EtcdBackup{Name: o.Name, Namespace: o.namespace, Schedule: o.Schedule, Image: o.Image, To: o.To, S3Secret: o.S3Secret,
		Keep: o.Keep, KeepWithin: o.KeepWithin, Endpoint: o.Endpoint, CACert: o.CACert, Cert: o.Cert, Key: o.Key, Deadline: o.Deadline, APIServerPort: o.apiserverPort(ctx)}
	if o.DryRun != "client" && automate.IsS3(o.To) {
		if err := checkS3Secret(ctx, o.client, o.namespace, o.S3Secret); err != nil {
			return err
		}
	}
	if !automate.IsS3(o.To) && o.DryRun == "none" {
		fmt.Fprintf(o.ErrOut, "Warning: --to %s is a directory on the node that runs each job: a lost node loses its snapshots; prefer --to s3://...\n", o.To)
	}
	return o.install(ctx, o.Out, automate.KindEtcdBackup, b.Objects(),
		fmt.Sprintf("Run one now: kubectl create job -n %s --from=cronjob/%s %s-manual; then: kubectl clusterops automate status", o.namespace, o.Name, o.Name))
}
