package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
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
	// ForceWhileAPIServerRunning lets --update-manifest switch etcd while kube-apiserver's
	// manifest is still in the manifests dir.
	ForceWhileAPIServerRunning bool
	// StopAPIServer makes --update-manifest stop kube-apiserver itself: park its manifest, wait
	// until it stopped, switch etcd, wait until etcd serves the restored data, put it back.
	StopAPIServer bool
	DryRun        bool
	BumpRevision  uint64

	File string
	// From is the snapshot file on this machine, for --node/--control-plane (or FILE).
	From string

	agents  *cmdutil.AgentFlags
	runner  *agent.Runner
	root    *string
	now     func() time.Time
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotRestore returns `etcd snapshot restore`.
func NewCmdSnapshotRestore(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &SnapshotRestoreOptions{root: root, now: time.Now, output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(30 * time.Minute), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "restore FILE|s3://BUCKET/PREFIX/FILE --data-dir DIR | --node NAME --from FILE --data-dir DIR",
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

An s3:// URL is first downloaded (with its sidecar, hash-checked) into a hidden temp dir
next to DIR, removed afterwards; credentials and endpoint from the AWS_* variables (see
snapshot save).

The exact steps left to point the etcd static pod at DIR are printed. --update-manifest
makes that edit (the --data-dir flag and the etcd-data hostPath) itself, after copying the
manifest to <root>/etc/kubernetes/tmp/clusterops-etcd-manifest-<time>/etcd.yaml. The kubelet
then restarts etcd on the restored data at once, so --update-manifest refuses (one line, exit 3,
nothing restored or changed) while <root>/etc/kubernetes/manifests/kube-apiserver.yaml is in
place: stop kube-apiserver first (move its manifest out), or pass
--force-while-apiserver-running.

--stop-apiserver (with --update-manifest) does the kube-apiserver part itself: after the
restore it moves kube-apiserver's manifest to <root>/etc/kubernetes/tmp/clusterops-restart/,
waits until nothing listens on its port, points etcd at DIR, waits until etcd serves the restored
data (the snapshot's revision plus --bump-revision), and moves the manifest back -- also when a
step fails or the command is stopped (SIGTERM).

From a laptop, --node NAME --from FILE restores on that node through an agent pod: FILE (on this
machine) is checked, then uploaded over an exec stream (as kubectl cp does; its sha256 is
compared at both ends), and the restore runs on the node with --root /host, from the node's
etcd manifest. The pod mounts read-write only what the restore writes: DIR's parent, and
/etc/kubernetes with --update-manifest (else /etc/kubernetes/manifests and
/etc/kubernetes/pki/etcd read-only); it uses the host network to reach etcd. Once the upload is
checked the pod runs on its own, so a restore that stops kube-apiserver (--stop-apiserver)
finishes even while the API is down; the CLI waits for the API and reads the pod's typed result.
The pod, and with it the uploaded file, is deleted when the command ends.

On a cluster of several etcd members, a restore of one member is refused: etcd's recovery
procedure (https://etcd.io/docs/v3.5/op-guide/recovery/#restoring-a-cluster) restores every
member from the same snapshot with the same --initial-cluster. --control-plane does that: one
agent pod per member's node (kubeadm names members after their nodes), every upload checked
before any node starts, each member restored with its own --name and
--initial-advertise-peer-urls and the one --initial-cluster built from the member list.

Exit codes: 0 restored; 2 the snapshot is corrupt; 3 could not run (DIR not empty,
kube-apiserver still in place with --update-manifest, bad flags).`,
		Example: `  # On a kubeadm control-plane node (stop kube-apiserver first, see the printed steps)
  kubectl clusterops etcd snapshot restore /var/backups/etcd/snap.db --data-dir /var/lib/etcd-restored

  # ... and point the etcd static pod at it (kube-apiserver stopped first)
  mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/
  kubectl clusterops etcd snapshot restore /var/backups/etcd/snap.db --data-dir /var/lib/etcd-restored --update-manifest

  # From a laptop: upload and restore on node cp-1, stopping its kube-apiserver for the switch
  kubectl clusterops etcd snapshot restore --node cp-1 --from snap.db --data-dir /var/lib/etcd-restored \
    --update-manifest --stop-apiserver

  # One member of three
  kubectl clusterops etcd snapshot restore snap.db --data-dir /var/lib/etcd-new --name cp-1 \
    --initial-cluster cp-1=https://10.0.0.11:2380,cp-2=https://10.0.0.12:2380,cp-3=https://10.0.0.13:2380 \
    --initial-advertise-peer-urls https://10.0.0.11:2380`,
		Args: cmdutil.UsageArgs(cobra.MaximumNArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.From, "from", "", "With --node/--control-plane: the snapshot file on this machine, uploaded to the node(s).")
	o.agents.AddFlags(cmd, true, false)
	cmd.Flags().BoolVar(&o.agents.ControlPlane, "control-plane", false, "Restore every etcd member, each on its control-plane node, through agent pods (etcd's recovery procedure).")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "The new etcd data directory (must not exist or be empty).")
	cmd.Flags().StringVar(&o.Name, "name", "", "Member name. Default: the etcd manifest's --name, or \"default\".")
	cmd.Flags().StringVar(&o.InitialCluster, "initial-cluster", "", "NAME=PEER-URL,... of every member. Default: the etcd manifest's.")
	cmd.Flags().StringSliceVar(&o.PeerURLs, "initial-advertise-peer-urls", nil, "This member's peer URLs. Default: the etcd manifest's.")
	cmd.Flags().StringVar(&o.Token, "initial-cluster-token", "", "Initial cluster token. Default: the manifest's, or etcd's default \"etcd-cluster\".")
	cmd.Flags().BoolVar(&o.UpdateManifest, "update-manifest", false, "Point <root>/etc/kubernetes/manifests/etcd.yaml at the new data dir (keeps a backup).")
	cmd.Flags().BoolVar(&o.ForceWhileAPIServerRunning, "force-while-apiserver-running", false, "With --update-manifest: switch etcd even though kube-apiserver's manifest is still in the manifests dir.")
	cmd.Flags().BoolVar(&o.StopAPIServer, "stop-apiserver", false, "With --update-manifest: stop kube-apiserver on this node for the switch (park its manifest), and start it again once etcd serves the restored data.")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Check the snapshot and the target; write nothing.")
	cmd.Flags().Uint64Var(&o.BumpRevision, "bump-revision", 1000000000, "Raise the restored revision by this much and mark it compacted, so API server caches and watchers see the restore (as the Kubernetes docs advise); 0 keeps the snapshot's revision.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes FILE, builds the printer, and fills the member defaults from the node's etcd
// manifest.
func (o *SnapshotRestoreOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.File = args[0]
	}
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.agents.Enabled() {
		return o.completeAgent(f, cmd)
	}
	if o.File == "" {
		return errors.New("FILE is required: the snapshot to restore (--from is for --node and --control-plane)")
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
		if !o.ForceWhileAPIServerRunning && !o.StopAPIServer {
			if err := backup.CheckAPIServerStopped(*o.root); err != nil {
				return fmt.Errorf("--update-manifest: %w", err)
			}
		}
	}
	return backup.CheckDataDir(o.DataDir)
}

// Validate checks the flags.
func (o *SnapshotRestoreOptions) Validate() error {
	if o.agents.Enabled() {
		if err := o.validateAgent(); err != nil {
			return err
		}
	}
	if o.DataDir == "" {
		return errors.New("--data-dir is required: the new etcd data directory to restore into")
	}
	if o.ForceWhileAPIServerRunning && !o.UpdateManifest {
		return errors.New("--force-while-apiserver-running only applies to --update-manifest")
	}
	if o.StopAPIServer && (!o.UpdateManifest || o.ForceWhileAPIServerRunning) {
		return errors.New("--stop-apiserver only applies to --update-manifest, without --force-while-apiserver-running")
	}
	return nil
}

// Run restores the snapshot.
func (o *SnapshotRestoreOptions) Run(ctx context.Context) error {
	if o.agents.Enabled() {
		return o.runAgent(ctx)
	}
	file := o.File
	local, cleanup, err := fetchSource(ctx, file, filepath.Dir(o.DataDir))
	defer cleanup()
	if err != nil {
		return err
	}
	var res *backup.Restored
	if o.DryRun {
		st, err := backup.SnapshotStatus(local, false)
		if err != nil {
			return snapshotError(err)
		}
		res = &backup.Restored{Snapshot: file, DataDir: o.DataDir, Name: o.Name, InitialCluster: o.InitialCluster,
			PeerURLs: o.PeerURLs, Revision: st.Revision, TotalKey: st.TotalKey}
	} else {
		var err error
		res, err = backup.Restore(backup.RestoreOptions{Snapshot: local, DataDir: o.DataDir, Name: o.Name,
			InitialCluster: o.InitialCluster, PeerURLs: o.PeerURLs, InitialClusterToken: o.Token,
			RevisionBump: o.BumpRevision})
		if err != nil {
			return snapshotError(err)
		}
		res.Snapshot = file
	}
	nodeDir, err := backup.NodePathOf(*o.root, res.DataDir)
	if err != nil {
		nodeDir = res.DataDir
	}
	switch {
	case o.UpdateManifest && !o.DryRun && o.StopAPIServer:
		if err := o.switchWithAPIServerStopped(ctx, res); err != nil {
			return err
		}
		res.NextSteps = []string{
			"Check etcd: kubectl clusterops etcd members",
			"Restart kube-controller-manager, kube-scheduler and the kubelets so that they drop cached state"}
	case o.UpdateManifest && !o.DryRun:
		res.Manifest, err = backup.PointManifestAt(*o.root, res.DataDir, o.now())
		if err != nil {
			return fmt.Errorf("restored into %s, but the manifest was not changed: %w", res.DataDir, err)
		}
	}
	if res.NextSteps == nil {
		res.NextSteps = backup.RestoreSteps(nodeDir, o.UpdateManifest, backup.CheckAPIServerStopped(*o.root) == nil)
	}
	return o.printer.Print(o.Out, "EtcdSnapshotRestore", res, func(w io.Writer) error { return o.restoredTable(w, res) })
}

// restoredTable is a restore's result as text.
func (o *SnapshotRestoreOptions) restoredTable(w io.Writer, res *backup.Restored) error {
	verb := "Restored"
	if o.DryRun {
		verb = "Would restore (dry run)"
	}
	fmt.Fprintf(w, "%s %s (revision %d, %d keys) into %s as member %s.\n", verb, res.Snapshot, res.Revision, res.TotalKey, res.DataDir, res.Name)
	if res.Manifest != nil {
		fmt.Fprintf(w, "Updated %s: --data-dir %s -> %s (backup: %s)\n", res.Manifest.Path, res.Manifest.OldDataDir,
			res.Manifest.NewDataDir, res.Manifest.Backup)
	}
	if res.APIServer != "" {
		fmt.Fprintf(w, "kube-apiserver: %s\n", res.APIServer)
	}
	if res.EtcdRevision != 0 {
		fmt.Fprintf(w, "etcd serves the restored data (revision %d).\n", res.EtcdRevision)
	}
	fmt.Fprintln(w, "Next steps:")
	for i, s := range res.NextSteps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	return nil
}

// snapshotError is err on one line; a snapshot that failed an integrity check exits 2.
func snapshotError(err error) error {
	err = cmdutil.Rewrite(err.Error(), err)
	if errors.Is(err, backup.ErrIntegrity) {
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems, Err: err}
	}
	return err
}

// Bounds of the --stop-apiserver procedure on the node.
const (
	apiserverStopTimeout = 2 * time.Minute
	etcdRestartTimeout   = 4 * time.Minute
)

// switchWithAPIServerStopped is --update-manifest --stop-apiserver, after the restore: park
// kube-apiserver's manifest and wait until it stopped; point etcd's manifest at the restored
// data and wait until etcd serves it (its revision is the snapshot's plus the bump); put
// kube-apiserver's manifest back -- always, on an error and on SIGTERM too. When the manifest
// could not be switched, the restored data dir (made by this run) is removed.
func (o *SnapshotRestoreOptions) switchWithAPIServerStopped(ctx context.Context, res *backup.Restored) (err error) {
	pointed := false
	defer func() {
		if err != nil && !pointed {
			os.RemoveAll(res.DataDir)
		}
	}()
	parked, err := backup.ParkAPIServer(*o.root)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := parked.Unpark(); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	res.APIServer = "already stopped (no manifest in the manifests dir): not started by this restore"
	if parked != nil {
		fmt.Fprintf(o.ErrOut, "Stopping kube-apiserver: moved its manifest to %s\n", parked.Parked)
		if err := parked.WaitStopped(ctx, apiserverStopTimeout, time.Second); err != nil {
			return fmt.Errorf("nothing switched, kube-apiserver started again: %w", err)
		}
	}
	conn, cerr := (&etcdConnFlags{root: o.root, dialTimeout: 5 * time.Second}).conn()
	if res.Manifest, err = backup.PointManifestAt(*o.root, res.DataDir, o.now()); err != nil {
		return fmt.Errorf("restored into %s, but the manifest was not changed (removed it): %w", res.DataDir, err)
	}
	pointed = true
	want := res.Revision + int64(o.BumpRevision)
	fmt.Fprintf(o.ErrOut, "Waiting for etcd to serve the restored data (revision %d)\n", want)
	if cerr != nil {
		return fmt.Errorf("etcd points at %s, but cannot be checked: %w", res.DataDir, cerr)
	}
	rev, err := waitRestoredRevision(ctx, conn, res.Revision, int64(o.BumpRevision), etcdRestartTimeout)
	if err != nil {
		return fmt.Errorf("etcd points at %s, but %w", res.DataDir, err)
	}
	res.EtcdRevision = rev
	if parked != nil {
		res.APIServer = "stopped for the switch, started again (its manifest is back in the manifests dir)"
	}
	return nil
}

// waitRestoredRevision polls the node's etcd until it serves the restored data: a revision of
// at least snapshot+bump with a bump (the old data's is far below), exactly the snapshot's
// without one (nothing writes while kube-apiserver is stopped).
func waitRestoredRevision(ctx context.Context, conn backup.Conn, snapshot, bump int64, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last int64 = -1
	var lastErr error
	for {
		if rev, err := etcdRevision(ctx, conn); err == nil {
			last = rev
			if (bump > 0 && rev >= snapshot+bump) || (bump == 0 && rev == snapshot) {
				return rev, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if last < 0 {
				return 0, fmt.Errorf("etcd did not answer within %s: %v", timeout, lastErr)
			}
			return 0, fmt.Errorf("etcd still serves revision %d after %s, not the restored %d", last, timeout, snapshot+bump)
		case <-time.After(time.Second):
		}
	}
}

func etcdRevision(ctx context.Context, conn backup.Conn) (int64, error) {
	cli, err := conn.New()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, conn.DialTimeout+2*time.Second)
	defer cancel()
	st, err := cli.Status(sctx, conn.Endpoints[0])
	if err != nil {
		return 0, err
	}
	return st.Header.Revision, nil
}
