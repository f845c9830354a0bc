package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
)

// SnapshotRestoreOptions holds the flags of `etcd snapshot restore`.
type SnapshotRestoreOptions struct {
	DataDir        string
	Name           string
	InitialCluster string
	PeerURLs       []string
	Token          string
	UpdateManifest bool
	DryRun         bool
	BumpRevision   uint64

	File string

	root    *string
	now     func() time.Time
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotRestore returns `etcd snapshot restore`.
func NewCmdSnapshotRestore(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &SnapshotRestoreOptions{root: root, now: time.Now, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Restore a snapshot into a new etcd data dir with etcd's own restore code",
		Long: `Restore a snapshot into a new etcd data directory, with etcd's own restore code
(go.etcd.io/etcd/etcdutl/v3, as etcdutl snapshot restore).

The snapshot is checked first (etcd's integrity hash, the sidecar, the database); a
corrupt snapshot is refused. DIR must not exist or be empty: etcd data is never
overwritten. The restore is written to a hidden directory next to DIR and renamed to
DIR only when it succeeded.

On a kubeadm node --name, --initial-cluster and --initial-advertise-peer-urls default
to the etcd manifest's. For a multi-member cluster, restore the same snapshot on every
member with its own --name and --initial-advertise-peer-urls and the same
--initial-cluster.

The exact steps left to point the etcd static pod at DIR are printed. --update-manifest
makes that edit (the --data-dir flag and the etcd-data hostPath) itself, after copying the
manifest to <root>/etc/kubernetes/tmp/clusterops-etcd-manifest-<time>/etcd.yaml.

Exit codes: 0 restored; 2 the snapshot is corrupt; 3 could not run (DIR not empty,
bad flags).`,
		Example: `  # On a kubeadm control-plane node (stop kube-apiserver first, see the printed steps)
  kubectl clusterops etcd snapshot restore /var/backups/etcd/snap.db --data-dir /var/lib/etcd-restored

  # ... and point the etcd static pod at it
  kubectl clusterops etcd snapshot restore /var/backups/etcd/snap.db --data-dir /var/lib/etcd-restored --update-manifest

  # One member of three
  kubectl clusterops etcd snapshot restore snap.db --data-dir /var/lib/etcd-new --name cp-1 \
    --initial-cluster cp-1=https://10.0.0.11:2380,cp-2=https://10.0.0.12:2380,cp-3=https://10.0.0.13:2380 \
    --initial-advertise-peer-urls https://10.0.0.11:2380`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "The new etcd data directory (must not exist or be empty).")
	cmd.Flags().StringVar(&o.Name, "name", "", "Member name. Default: the etcd manifest's --name, or \"default\".")
	cmd.Flags().StringVar(&o.InitialCluster, "initial-cluster", "", "NAME=PEER-URL,... of every member. Default: the etcd manifest's.")
	cmd.Flags().StringSliceVar(&o.PeerURLs, "initial-advertise-peer-urls", nil, "This member's peer URLs. Default: the etcd manifest's.")
	cmd.Flags().StringVar(&o.Token, "initial-cluster-token", "", "Initial cluster token. Default: the manifest's, or etcd's default \"etcd-cluster\".")
	cmd.Flags().BoolVar(&o.UpdateManifest, "update-manifest", false, "Point <root>/etc/kubernetes/manifests/etcd.yaml at the new data dir (keeps a backup).")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Check the snapshot and the target; write nothing.")
	cmd.Flags().Uint64Var(&o.BumpRevision, "bump-revision", 1000000000, "Raise the restored revision by this much and mark it compacted, so API server caches and watchers see the restore (as the Kubernetes docs advise); 0 keeps the snapshot's revision.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes FILE, builds the printer, and fills the member defaults from the node's etcd
// manifest.
func (o *SnapshotRestoreOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.File = args[0]
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.DataDir == "" {
		return nil // Validate says what is missing
	}
	if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
		return err
	}
	pod, merr := backup.ReadEtcdManifest(*o.root)
	if merr == nil {
		if v, ok := backup.ManifestFlag(pod, "name"); ok && o.Name == "" {
			o.Name = v
		}
		if v, ok := backup.ManifestFlag(pod, "initial-cluster"); ok && o.InitialCluster == "" {
			o.InitialCluster = v
		}
		if v, ok := backup.ManifestFlag(pod, "initial-advertise-peer-urls"); ok && len(o.PeerURLs) == 0 {
			o.PeerURLs = strings.Split(v, ",")
		}
		if v, ok := backup.ManifestFlag(pod, "initial-cluster-token"); ok && o.Token == "" {
			o.Token = v
		}
	} else if o.UpdateManifest {
		return fmt.Errorf("--update-manifest: %v", merr)
	}
	if o.UpdateManifest {
		if _, err := backup.NodePathOf(*o.root, o.DataDir); err != nil {
			return fmt.Errorf("--update-manifest: %w", err)
		}
	}
	return backup.CheckDataDir(o.DataDir)
}

// Validate checks the flags.
func (o *SnapshotRestoreOptions) Validate() error {
	if o.DataDir == "" {
		return errors.New("--data-dir is required: the new etcd data directory to restore into")
	}
	return nil
}

// Run restores the snapshot.
func (o *SnapshotRestoreOptions) Run(_ context.Context) error {
	file := o.File
	var res *backup.Restored
	if o.DryRun {
		st, err := backup.SnapshotStatus(file, false)
		if err != nil {
			return snapshotError(err)
		}
		res = &backup.Restored{Snapshot: file, DataDir: o.DataDir, Name: o.Name, InitialCluster: o.InitialCluster,
			PeerURLs: o.PeerURLs, Revision: st.Revision, TotalKey: st.TotalKey}
	} else {
		var err error
		res, err = backup.Restore(backup.RestoreOptions{Snapshot: file, DataDir: o.DataDir, Name: o.Name,
			InitialCluster: o.InitialCluster, PeerURLs: o.PeerURLs, InitialClusterToken: o.Token,
			RevisionBump: o.BumpRevision})
		if err != nil {
			return snapshotError(err)
		}
	}
	nodeDir, err := backup.NodePathOf(*o.root, res.DataDir)
	if err != nil {
		nodeDir = res.DataDir
	}
	if o.UpdateManifest && !o.DryRun {
		res.Manifest, err = backup.PointManifestAt(*o.root, res.DataDir, o.now())
		if err != nil {
			return fmt.Errorf("restored into %s, but the manifest was not changed: %w", res.DataDir, err)
		}
	}
	res.NextSteps = backup.RestoreSteps(nodeDir, o.UpdateManifest)
	return o.printer.Print(o.Out, "EtcdSnapshotRestore", res, func(w io.Writer) error {
		verb := "Restored"
		if o.DryRun {
			verb = "Would restore (dry run)"
		}
		fmt.Fprintf(w, "%s %s (revision %d, %d keys) into %s as member %s.\n", verb, file, res.Revision, res.TotalKey, res.DataDir, res.Name)
		if res.Manifest != nil {
			fmt.Fprintf(w, "Updated %s: --data-dir %s -> %s (backup: %s)\n", res.Manifest.Path, res.Manifest.OldDataDir,
				res.Manifest.NewDataDir, res.Manifest.Backup)
		}
		fmt.Fprintln(w, "Next steps:")
		for i, s := range res.NextSteps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		return nil
	})
}

// snapshotError is err on one line; a snapshot that failed an integrity check exits 2.
func snapshotError(err error) error {
	err = cmdutil.Rewrite(err.Error(), err)
	if errors.Is(err, backup.ErrIntegrity) {
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems, Err: err}
	}
	return err
}
