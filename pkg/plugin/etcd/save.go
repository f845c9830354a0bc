package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/backup/objstore"
)

// SnapshotSaveOptions holds the flags of `etcd snapshot save`.
type SnapshotSaveOptions struct {
	File       string
	Dir        string
	To         string
	TmpDir     string
	PartSize   string
	Threads    int
	Prefix     string
	Overwrite  bool
	Keep       int
	KeepWithin time.Duration
	MaxRate    string

	flags   etcdConnFlags
	agents  *cmdutil.AgentFlags
	runner  *agent.Runner
	conn    backup.Conn
	target  string
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	maxRate int64
	// kubeVersion asks the cluster for its version, for the sidecar ("" when none answers).
	kubeVersion func(context.Context) string
	now         func() time.Time
	start       time.Time // names the --dir file and is the "now" of pruning
	// bucket is the --to s3:// location; the snapshot is saved under a temp dir first.
	bucket   *objstore.Store
	tmp      string
	partSize int64
	genericiooptions.IOStreams
}

// snapshotSaved is the result of `snapshot save`.
type snapshotSaved struct {
	Path     string          `json:"path"`
	Sidecar  string          `json:"sidecar"`
	Metadata backup.Metadata `json:"metadata"`
	Pruned   []string        `json:"pruned,omitempty"`
	// Upload says how the snapshot went to a bucket (--to s3://...).
	Upload *backup.Upload `json:"upload,omitempty"`
}

// NewCmdSnapshotSave returns `etcd snapshot save`.
func NewCmdSnapshotSave(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &SnapshotSaveOptions{flags: etcdConnFlags{root: root}, agents: cmdutil.NewAgentFlags(30 * time.Minute), output: cmdutil.NewOutputFlags(), now: time.Now,
		IOStreams: streams, Prefix: "etcd-snapshot"}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "save [FILE | --to DIR | --to s3://BUCKET/PREFIX]",
		Short: "Save a verified etcd snapshot with a metadata sidecar",
		Long: `Save a snapshot of etcd from exactly one healthy member (a follower when there is one;
the member is named on stderr).

The stream goes to a new file FILE.part-RANDOM (created exclusively, mode 0600, never
through a symlink, so a shared directory is safe) and is never held in memory; the
sha256 etcd appends to the stream is checked against the data as it arrives; the file
is fsynced, read back and hashed again, and only then named FILE (never over a FILE
that appeared meanwhile, unless --overwrite). FILE.json records sha256, size, revision, etcd version, member and
cluster IDs, the Kubernetes version (when a kubeconfig answers) and the time.
On any failure (member unreachable or gone mid-stream, disk full, certificates
rejected, FILE exists) nothing is left at FILE.

--to DIR (or --dir DIR) names the file <prefix>-<UTC time>.db. --keep N and --keep-within
DURATION then delete older snapshots of that prefix in DIR (a snapshot is kept when either
rule keeps it), only after the new one was saved and verified.

--to s3://BUCKET/PREFIX saves the snapshot as above into a temp dir under --tmp-dir, then
uploads it to any S3-compatible store (AWS, MinIO, Ceph RGW, SeaweedFS, Garage) as
PREFIX/<prefix>-<UTC time>.db with a multipart upload streamed from the file (memory does
not grow with the snapshot): every part carries its SHA256 (signed payload hash and
x-amz-checksum-sha256) and MD5, the object appears only when the upload completes, and a
HEAD then compares size, ETag and checksum. The sidecar follows once the snapshot is
verified; the temp files are removed. --keep and --keep-within prune the bucket the same
way, touching only objects named <prefix>-<UTC time>.db that have a sidecar.
Credentials and endpoint come from the environment only: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_REGION (default us-east-1),
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (http:// or https://; default AWS), AWS_CA_BUNDLE.

A progress bar is shown on a terminal; otherwise one line when done.

From a laptop (no SSH): --node NAME takes the snapshot from that node's member through a
short-lived agent pod (hostNetwork, the etcd manifest and etcd client certificate mounted
read-only); --control-plane lets the agent pick a healthy follower. The snapshot streams over an
exec stream (as kubectl cp) into FILE on this machine; the agent's sha256 of what it sent must
equal the sha256 of the saved file. Needs create pods and pods/exec in --agent-namespace.

Exit codes: 0 saved; 3 not saved (see the message).`,
		Example: `  # On a kubeadm control-plane node
  kubectl clusterops etcd snapshot save /var/backups/etcd/before-upgrade.db

  # Timestamped, keep the last 7 and anything from the last 24h
  kubectl clusterops etcd snapshot save --dir /var/backups/etcd --keep 7 --keep-within 24h

  # To a bucket (MinIO, SeaweedFS, AWS ...), keeping the last 14 there
  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_ENDPOINT_URL_S3=https://minio.example:9000
  kubectl clusterops etcd snapshot save --to s3://backups/etcd/prod --keep 14

  # From a laptop: node cp-1's member, through an agent pod, into a file on this machine
  kubectl clusterops etcd snapshot save --node cp-1 --dir ./backups --keep 7

  # As with etcdctl
  kubectl clusterops etcd snapshot save snap.db --endpoints https://10.0.0.10:2379 \
    --cacert ca.crt --cert client.crt --key client.key`,
		Args: cmdutil.UsageArgs(cobra.MaximumNArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.Dir, "dir", "", "Save into this directory under a timestamped name (as --to DIR).")
	cmd.Flags().StringVar(&o.To, "to", "", "Save under a timestamped name into this directory, or upload to s3://BUCKET/PREFIX (credentials from AWS_* variables).")
	cmd.Flags().StringVar(&o.TmpDir, "tmp-dir", os.TempDir(), "With --to s3://: where the snapshot is saved before the upload (needs its size free).")
	cmd.Flags().StringVar(&o.PartSize, "part-size", "16Mi", "With --to s3://: the multipart upload's part size (at least 5Mi).")
	cmd.Flags().IntVar(&o.Threads, "upload-threads", objstore.DefaultThreads, "With --to s3://: parts uploaded at once.")
	cmd.Flags().StringVar(&o.Prefix, "prefix", o.Prefix, "File name prefix with --dir; --keep and --keep-within prune only files with it.")
	cmd.Flags().BoolVar(&o.Overwrite, "overwrite", false, "Replace FILE if it exists.")
	cmd.Flags().IntVar(&o.Keep, "keep", 0, "With --to/--dir: keep the newest N snapshots, delete older ones (0: no count rule).")
	cmd.Flags().DurationVar(&o.KeepWithin, "keep-within", 0, "With --to/--dir: keep snapshots newer than this (e.g. 72h), delete older ones (0: no age rule).")
	cmd.Flags().StringVar(&o.MaxRate, "max-rate", "", "Limit the snapshot stream to this many bytes per second (e.g. 50Mi), to spare a busy member's disk.")
	o.flags.addFlags(cmd)
	o.agents.AddFlags(cmd, true, false)
	cmd.Flags().BoolVar(&o.agents.ControlPlane, "control-plane", false, "Through an agent pod on a control-plane node, from a healthy follower.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes FILE, builds the printer, and resolves the target file and the connection (the
// node's etcd manifest fills what the flags leave out).
func (o *SnapshotSaveOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.File = args[0]
	}
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.kubeVersion = func(ctx context.Context) string { return kubernetesVersion(ctx, f, *o.flags.root) }
	o.target, o.start = o.File, o.now()
	if objstore.IsURL(o.To) {
		if err := o.completeBucket(); err != nil {
			return err
		}
	} else if o.To != "" && o.Dir == "" {
		o.Dir = o.To
	}
	if o.Dir != "" {
		if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
			return fmt.Errorf("--dir %s does not exist: create it first", o.Dir)
		}
		o.target = filepath.Join(o.Dir, backup.SnapshotName(o.Prefix, o.start))
	}
	if o.bucket == nil {
		if err := backup.CheckTarget(o.target, o.Overwrite); err != nil {
			return err
		}
	}
	if o.agents.Enabled() {
		o.runner, err = o.agents.Runner(f, o.ErrOut)
		return err
	}
	o.conn, err = o.flags.conn()
	return err
}

// Validate checks the flags; it does no I/O.
func (o *SnapshotSaveOptions) Validate() error {
	if o.agents.Enabled() {
		if len(o.agents.Selection().Names) > 1 {
			return errors.New("--node takes one node: a snapshot comes from one member")
		}
		if len(o.flags.endpoints) > 0 || o.flags.cert != "" || o.flags.key != "" || o.flags.cacert != "" {
			return errors.New("--endpoints, --cacert, --cert and --key are for a direct connection; with --node the agent reads them from the node's etcd manifest")
		}
		if err := o.agents.Validate(); err != nil {
			return err
		}
	}
	pruned := o.Dir != "" || objstore.IsURL(o.To)
	switch {
	case o.File == "" && !pruned:
		return errors.New("give a FILE to save to, or --to DIR|s3://BUCKET/PREFIX")
	case o.File != "" && pruned:
		return errors.New("give either FILE or --to/--dir, not both")
	case o.To != "" && o.Dir != "" && o.Dir != o.To:
		return errors.New("give either --to or --dir, not both")
	case (o.Keep != 0 || o.KeepWithin != 0) && !pruned:
		return errors.New("--keep and --keep-within prune a --to/--dir: use them with --to or --dir")
	case o.Keep < 0 || o.KeepWithin < 0:
		return errors.New("--keep and --keep-within must not be negative")
	case pruned && (o.Prefix == "" || strings.ContainsAny(o.Prefix, "/*?[")):
		return fmt.Errorf("invalid --prefix %q: use a plain file name prefix", o.Prefix)
	}
	if o.MaxRate != "" {
		q, err := resource.ParseQuantity(o.MaxRate)
		if err != nil || q.Value() <= 0 {
			return fmt.Errorf("invalid --max-rate %q: use bytes per second such as 50Mi", o.MaxRate)
		}
		o.maxRate = q.Value()
	}
	return nil
}

// Run saves the snapshot from one healthy member, then prunes --dir.
func (o *SnapshotSaveOptions) Run(ctx context.Context) error {
	if o.bucket != nil {
		err := o.startBucket(ctx)
		defer os.RemoveAll(o.tmp) // the local copy, whatever happens
		if err != nil {
			return err
		}
	}
	if o.agents.Enabled() {
		return o.runAgent(ctx)
	}
	// The stream allocates next to nothing (fixed buffers, gRPC's pooled frames): the heap is the
	// start-up data, so a lower GC target costs no CPU here and keeps about 1.5 MiB less resident.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	target, c := o.target, o.conn
	ctx, cancel := o.flags.context(ctx)
	defer cancel()
	ms, err := listMembers(ctx, c)
	if err != nil {
		return err
	}
	m, err := backup.PickSnapshotMember(ms)
	if err != nil {
		return err
	}
	role := "follower"
	if m.IsLeader {
		role = "leader"
	}
	fmt.Fprintf(o.ErrOut, "Taking the snapshot from member %s (%s, %s) at %s\n", m.Name, m.ID, role, m.Endpoint)
	cli, err := c.New(m.Endpoint)
	if err != nil {
		return etcdError(err, []string{m.Endpoint})
	}
	defer cli.Close()

	kv := o.askKubeVersion(ctx)
	bar := newProgress(o.ErrOut, m.DBSize, o.now)
	meta, err := backup.Save(ctx, backup.DirectSource(cli), backup.SaveOptions{
		Path: target, Overwrite: o.Overwrite, MaxRate: o.maxRate, Progress: bar.callback(), Clock: o.now, KubernetesVersion: kv,
		Meta: backup.Metadata{
			EtcdVersion: m.Version, MemberName: m.Name, MemberID: m.ID, ClusterID: ms.ClusterID,
			Endpoint: m.Endpoint,
		},
	})
	bar.done(meta, err == nil)
	if err != nil {
		if errors.Is(err, backup.ErrIntegrity) || errors.Is(err, atomicfile.ErrDiskFull) {
			return err
		}
		cause := etcdError(err, []string{m.Endpoint}).Error()
		if errors.Is(err, backup.ErrStreamBroken) {
			cause = "member " + m.Name + " died or became unreachable mid-stream (" + cmdutil.OneLine(err.Error()) + ")"
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: cmdutil.Rewrite(
			fmt.Sprintf("snapshot not saved, nothing written at %s: %s", target, cause), err)}
	}
	return o.finish(ctx, target, meta)
}

// finish uploads to the bucket (--to s3://), prunes --to/--dir and prints the result.
func (o *SnapshotSaveOptions) finish(ctx context.Context, target string, meta *backup.Metadata) error {
	var err error
	res := snapshotSaved{Path: target, Sidecar: backup.SidecarPath(target), Metadata: *meta}
	if o.bucket != nil {
		if res.Upload, err = o.upload(ctx, target, meta); err != nil {
			return err
		}
		res.Path, res.Sidecar = res.Upload.Snapshot.URL, res.Upload.Sidecar
		res.Pruned, err = backup.PruneBucket(ctx, o.bucket, o.Prefix, backup.Retention{Keep: o.Keep, KeepWithin: o.KeepWithin}, o.start, filepath.Base(target))
		if err != nil {
			return fmt.Errorf("the snapshot was uploaded to %s, but pruning old ones failed: %w", res.Path, err)
		}
	} else if o.Dir != "" {
		res.Pruned, err = backup.Prune(o.Dir, o.Prefix, backup.Retention{Keep: o.Keep, KeepWithin: o.KeepWithin}, o.start, target)
		if err != nil {
			return fmt.Errorf("the snapshot was saved at %s, but pruning old ones failed: %w", target, err)
		}
	}
	return o.printer.Print(o.Out, "EtcdSnapshot", res, func(w io.Writer) error {
		fmt.Fprintf(w, "Snapshot saved:\t%s\n", res.Path)
		fmt.Fprintf(w, "Sidecar:\t%s\n", res.Sidecar)
		fmt.Fprintf(w, "Size:\t%s (%d bytes)\n", humanBytes(meta.Size), meta.Size)
		fmt.Fprintf(w, "SHA256:\t%s\n", meta.SHA256)
		fmt.Fprintf(w, "Revision:\t%d\n", meta.Revision)
		fmt.Fprintf(w, "Member:\t%s (%s), cluster %s, etcd %s\n", meta.MemberName, meta.MemberID, meta.ClusterID, meta.EtcdVersion)
		if meta.KubernetesVersion != "" {
			fmt.Fprintf(w, "Kubernetes:\t%s\n", meta.KubernetesVersion)
		}
		for _, p := range res.Pruned {
			fmt.Fprintf(w, "Pruned:\t%s\n", p)
		}
		return nil
	})
}

// askKubeVersion asks the cluster for its version while the snapshot streams (it may take up to
// 5 s when no API server answers); the function it returns waits for the answer.
func (o *SnapshotSaveOptions) askKubeVersion(ctx context.Context) func() string {
	ch := make(chan string, 1)
	go func() { ch <- o.kubeVersion(ctx) }()
	return func() string { return <-ch }
}

// kubernetesVersion asks the API server of the current kubeconfig (or, without one, the
// node's admin.conf) for its version, for the sidecar. "" when none answers within 5s.
func kubernetesVersion(ctx context.Context, f cmdutil.Factory, root string) string {
	dc, err := f.Discovery()
	if err != nil {
		admin := backup.NodePath(root, "/etc/kubernetes/admin.conf")
		if dc, err = f.ForKubeconfig(admin).Discovery(); err != nil {
			return ""
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := discovery.ToDiscoveryInterfaceWithContext(dc).ServerVersionWithContext(ctx)
	if err != nil {
		return ""
	}
	return info.GitVersion
}

// progress draws a progress bar on a terminal, and one line at the end otherwise.
type progress struct {
	w           io.Writer
	tty         bool
	total       int64
	clock       func() time.Time
	start, last time.Time
	written     int64
}

func newProgress(w io.Writer, total int64, clock func() time.Time) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, total: total, clock: clock, start: clock()}
}

// callback is what Save calls with the bytes written so far: nil (nothing on the hot path)
// when there is no terminal to draw on.
func (p *progress) callback() func(int64) {
	if !p.tty {
		return nil
	}
	return p.update
}

func (p *progress) update(written int64) {
	p.written = written
	if !p.tty {
		return
	}
	now := p.clock()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s", p.line(now))
}

func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.written) / elapsed
	}
	if p.total <= 0 {
		return fmt.Sprintf("%s  %s/s   ", humanBytes(p.written), humanBytes(int64(rate)))
	}
	frac := min(float64(p.written)/float64(p.total), 1)
	const width = 30
	filled := int(frac * width)
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(max(p.total-p.written, 0))/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %3.0f%%  %s / %s  %s/s  ETA %s   ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanBytes(p.written), humanBytes(p.total), humanBytes(int64(rate)), eta)
}

func (p *progress) done(meta *backup.Metadata, ok bool) {
	now := p.clock()
	if meta != nil {
		p.written = meta.Size
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	if ok {
		d := now.Sub(p.start)
		rate := float64(p.written) / max(d.Seconds(), 1e-9)
		fmt.Fprintf(p.w, "Streamed %s in %s (%s/s)\n", humanBytes(p.written), d.Round(time.Millisecond), humanBytes(int64(rate)))
	}
}
