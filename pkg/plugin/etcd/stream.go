package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// snapshotMember is what `etcd snapshot stream --member-only` prints: the member the stream
// will come from, and the cluster ID.
type snapshotMember struct {
	Member    backup.Member `json:"member"`
	ClusterID string        `json:"clusterID"`
}

// streamSHA256Prefix starts the last stderr line of `etcd snapshot stream`: the sha256 and size
// of every byte it wrote, for the CLI to compare with the file it saved.
const streamSHA256Prefix = "clusterops-stream-sha256: "

// SnapshotStreamOptions is the hidden `etcd snapshot stream`, run by an agent pod over an exec
// stream: the raw snapshot on stdout, as etcd sends it (with its trailing checksum).
type SnapshotStreamOptions struct {
	MemberOnly bool
	Members    bool
	Local      bool
	Endpoint   string

	flags etcdConnFlags
	conn  backup.Conn
	genericiooptions.IOStreams
}

// NewCmdSnapshotStream returns the hidden `etcd snapshot stream`.
func NewCmdSnapshotStream(streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &SnapshotStreamOptions{flags: etcdConnFlags{root: root}, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "stream [--member-only] [--local | --endpoint URL]",
		Short:  "Write an etcd snapshot to stdout (what an agent pod runs for snapshot save --node)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().BoolVar(&o.MemberOnly, "member-only", false, "Print the member the snapshot would come from, as JSON, and stop.")
	cmd.Flags().BoolVar(&o.Members, "members", false, "Print the member list, as JSON, and stop (what restore --node checks first).")
	cmd.Flags().BoolVar(&o.Local, "local", false, "Take it from this node's own member (the endpoint of its etcd manifest), not from a follower.")
	cmd.Flags().StringVar(&o.Endpoint, "endpoint", "", "Take it from the member at this client URL.")
	o.flags.addFlags(cmd)
	return cmd
}

// Complete resolves the connection from the node's etcd manifest.
func (o *SnapshotStreamOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error {
	var err error
	o.conn, err = o.flags.conn()
	return err
}

// Validate checks the flags.
func (o *SnapshotStreamOptions) Validate() error {
	if o.Local && o.Endpoint != "" {
		return errors.New("--local and --endpoint are exclusive")
	}
	return nil
}

// pick chooses the member: --endpoint's, this node's (--local), or a healthy follower.
func (o *SnapshotStreamOptions) pick(ctx context.Context) (*snapshotMember, error) {
	ms, err := listMembers(ctx, o.conn)
	if err != nil {
		return nil, err
	}
	want := o.Endpoint
	if o.Local && len(o.conn.Endpoints) > 0 {
		want = o.conn.Endpoints[0]
	}
	if want == "" {
		m, err := backup.PickSnapshotMember(ms)
		if err != nil {
			return nil, err
		}
		return &snapshotMember{Member: *m, ClusterID: ms.ClusterID}, nil
	}
	for _, m := range ms.Members {
		if m.Endpoint == want || slices.Contains(m.ClientURLs, want) {
			if !m.Healthy {
				return nil, fmt.Errorf("member %s at %s is not healthy: %v", m.Name, want, m.Errors)
			}
			if m.Endpoint == "" {
				m.Endpoint = want
			}
			return &snapshotMember{Member: m, ClusterID: ms.ClusterID}, nil
		}
	}
	return nil, fmt.Errorf("no etcd member has the client URL %s", want)
}

// Run prints the member, or streams the snapshot and then its sha256 on stderr.
func (o *SnapshotStreamOptions) Run(ctx context.Context) error {
	ctx, cancel := o.flags.context(ctx)
	defer cancel()
	if o.Members {
		ms, err := listMembers(ctx, o.conn)
		if err != nil {
			return err
		}
		return json.NewEncoder(o.Out).Encode(ms)
	}
	m, err := o.pick(ctx)
	if err != nil {
		return err
	}
	if o.MemberOnly {
		return json.NewEncoder(o.Out).Encode(m)
	}
	cli, err := o.conn.New(m.Member.Endpoint)
	if err != nil {
		return etcdError(err, []string{m.Member.Endpoint})
	}
	defer cli.Close()
	resp, err := backup.DirectSource(cli).SnapshotWithVersion(ctx)
	if err != nil {
		return etcdError(err, []string{m.Member.Endpoint})
	}
	defer resp.Snapshot.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(o.Out, h), resp.Snapshot, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("%w after %d bytes: %w", backup.ErrStreamBroken, n, err)
	}
	fmt.Fprintf(o.ErrOut, "%s%s %d\n", streamSHA256Prefix, hex.EncodeToString(h.Sum(nil)), n)
	return nil
}

// SnapshotReceiveOptions is the hidden `etcd snapshot receive`, run by an agent pod over an exec
// stream for `snapshot restore --node`: it writes stdin to --out, and keeps it only when its
// sha256 and size are the CLI's; then it writes the --start file, on which the pod's restore
// begins.
type SnapshotReceiveOptions struct {
	Out    string
	SHA256 string
	Size   int64
	Start  string
	// Check verifies a file received earlier instead of reading stdin (--control-plane: every
	// node receives first, then all start).
	Check bool
	genericiooptions.IOStreams
}

// NewCmdSnapshotReceive returns the hidden `etcd snapshot receive`.
func NewCmdSnapshotReceive(streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotReceiveOptions{IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "receive --out FILE --sha256 HEX --size N [--start FILE] [--check]",
		Short:  "Write stdin to a file if its sha256 is the given one (what an agent pod runs for snapshot restore --node)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.NoArgs),
	}, nil, o)
	cmd.Flags().StringVar(&o.Out, "out", "", "The file to write.")
	cmd.Flags().StringVar(&o.SHA256, "sha256", "", "The sha256 the CLI computed of the file it sends.")
	cmd.Flags().Int64Var(&o.Size, "size", -1, "The size of the file the CLI sends.")
	cmd.Flags().StringVar(&o.Start, "start", "", "Write this file once the snapshot is received and checked.")
	cmd.Flags().BoolVar(&o.Check, "check", false, "Check the file received earlier instead of reading stdin.")
	return cmd
}

// Complete does nothing.
func (o *SnapshotReceiveOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error {
	return nil
}

// Validate checks the flags.
func (o *SnapshotReceiveOptions) Validate() error {
	if o.Out == "" || len(o.SHA256) != 64 || o.Size < 0 {
		return errors.New("--out, --sha256 and --size are required")
	}
	return nil
}

// Run receives, checks and starts.
func (o *SnapshotReceiveOptions) Run(context.Context) error {
	sum, n, err := o.receive()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "%s%s %d\n", streamSHA256Prefix, sum, n)
	if sum != o.SHA256 || n != o.Size {
		os.Remove(o.Out)
		return fmt.Errorf("%w: received sha256 %s (%d bytes), the CLI sent %s (%d bytes): removed", backup.ErrIntegrity, sum, n, o.SHA256, o.Size)
	}
	if o.Start != "" {
		return os.WriteFile(o.Start, nil, 0o600)
	}
	return nil
}

func (o *SnapshotReceiveOptions) receive() (string, int64, error) {
	h := sha256.New()
	if o.Check {
		f, err := os.Open(o.Out)
		if err != nil {
			return "", 0, err
		}
		defer f.Close()
		n, err := io.Copy(h, f)
		return hex.EncodeToString(h.Sum(nil)), n, err
	}
	partial := o.Out + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(io.MultiWriter(f, h), o.In)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(partial, o.Out)
	}
	if err != nil {
		os.Remove(partial)
		return "", n, fmt.Errorf("%w after %d bytes: %w", backup.ErrStreamBroken, n, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
