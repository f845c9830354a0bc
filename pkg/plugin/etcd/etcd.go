package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

const etcdLong = `Take, inspect, verify and restore etcd snapshots, schedule them, and report the
health of the etcd members.

Connection (like etcdctl): --endpoints --cacert --cert --key. On a kubeadm control-plane
node nothing needs to be given: the endpoint and the CA come from
<root>/etc/kubernetes/manifests/etcd.yaml and the client certificate from
<root>/etc/kubernetes/pki/etcd/healthcheck-client.{crt,key} (or apiserver-etcd-client).

Status and restore use etcd's own code (go.etcd.io/etcd/etcdutl/v3).

Exit codes:
  0  success; the snapshot or the cluster is fine
  1  warnings (for example a snapshot without its metadata sidecar)
  2  a problem was found: a corrupt snapshot, an unhealthy member, an alarm
  3  the command could not run: bad input, etcd unreachable, certificates rejected,
     disk full, target exists`

// etcdConnFlags are the connection flags shared by the etcd commands that talk to etcd. root
// points at the group's persistent --root flag.
type etcdConnFlags struct {
	root                    *string
	endpoints               []string
	cacert, cert, key       string
	dialTimeout, cmdTimeout time.Duration
}

func (f *etcdConnFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.endpoints, "endpoints", nil, "etcd client URLs (comma-separated). Default: from the node's etcd manifest.")
	cmd.Flags().StringVar(&f.cacert, "cacert", "", "CA bundle that signed the etcd server certificates. Default: the manifest's --trusted-ca-file.")
	cmd.Flags().StringVar(&f.cert, "cert", "", "Client certificate for etcd. Default: <root>/etc/kubernetes/pki/etcd/healthcheck-client.crt.")
	cmd.Flags().StringVar(&f.key, "key", "", "Client key for etcd. Default: <root>/etc/kubernetes/pki/etcd/healthcheck-client.key.")
	cmd.Flags().DurationVar(&f.dialTimeout, "dial-timeout", 5*time.Second, "How long to wait for a connection to an etcd member.")
	cmd.Flags().DurationVar(&f.cmdTimeout, "command-timeout", 0, "Give up after this long (0: no limit; each status request still gives up after --dial-timeout).")
}

// conn resolves the connection: given flags win; what is missing comes from the node's etcd
// manifest under --root. It reads files, so commands call it in Complete.
func (f *etcdConnFlags) conn() (backup.Conn, error) {
	root := *f.root
	given := backup.Conn{Endpoints: f.endpoints, CACert: f.cacert, Cert: f.cert, Key: f.key, DialTimeout: f.dialTimeout}
	c := given
	if len(given.Endpoints) == 0 {
		var err error
		if c, err = backup.DiscoverConn(root, given); err != nil {
			return c, err
		}
	} else if given.CACert == "" && given.Cert == "" {
		if d, err := backup.DiscoverConn(root, given); err == nil {
			c = d
			c.Discovered = false
		}
	}
	return c, c.Validate()
}

func (f *etcdConnFlags) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.cmdTimeout > 0 {
		return context.WithTimeout(ctx, f.cmdTimeout)
	}
	return context.WithCancel(ctx)
}

// etcdError turns etcd client, gRPC, network and TLS errors into one plain line, by their
// types and codes: an x509 verification error (the server certificate is not trusted), a TLS
// alert from the server (it rejected our client certificate), a refused connection, and gRPC
// Unavailable or DeadlineExceeded.
func etcdError(err error, endpoints []string) error {
	if err == nil {
		return nil
	}
	at := strings.Join(endpoints, ",")
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	msg := ""
	switch {
	case errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid):
		msg = fmt.Sprintf("the etcd server certificate at %s is not trusted (%s): give the etcd CA with --cacert (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)", at, x509Reason(err))
	case errors.As(err, &op) && op.Op == "remote error":
		msg = fmt.Sprintf("etcd at %s rejected the client certificate: give --cert/--key signed by the etcd CA (kubeadm: /etc/kubernetes/pki/etcd/healthcheck-client.crt)", at)
	case utilnet.IsConnectionRefused(err):
		msg = fmt.Sprintf("cannot reach etcd at %s: connection refused; check --endpoints and that etcd runs", at)
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.Unavailable || status.Code(err) == codes.DeadlineExceeded:
		msg = fmt.Sprintf("cannot reach etcd at %s: %s; check --endpoints, the certificates, and that etcd runs", at, cmdutil.OneLine(err.Error()))
	}
	if msg == "" {
		return cmdutil.Rewrite(err.Error(), err)
	}
	return cmdutil.Rewrite(msg, err)
}

// x509Reason is the x509 error's own text ("x509: certificate signed by unknown authority").
func x509Reason(err error) string {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) && verify.Err != nil {
		return verify.Err.Error()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), "x509:") {
			return e.Error()
		}
	}
	return "TLS verification failed"
}

// NewCmdEtcd returns the `etcd` command group.
func NewCmdEtcd(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("etcd", "etcd snapshots (save, status, verify, restore, schedule) and member health", etcdLong)
	cmd.Example = `  # On a control-plane node: a verified snapshot, connection details from the etcd manifest
  sudo kubectl clusterops etcd snapshot save --dir /var/backups/etcd --keep 7

  # Members, leader, db size and alarms
  sudo kubectl clusterops etcd members`
	root := new(string)
	cmd.PersistentFlags().StringVar(root, "root", "/", "Root of the control-plane node's filesystem (its /etc/kubernetes); for a node mounted elsewhere.")
	_ = cmd.MarkPersistentFlagDirname("root")
	snapshot := cmdutil.NewGroupCommand("snapshot", "Save, list, inspect, verify, restore and schedule etcd snapshots", etcdLong)
	snapshot.Example = `  # Save, then check that the snapshot really restores
  sudo kubectl clusterops etcd snapshot save /var/backups/etcd/before-upgrade.db
  kubectl clusterops etcd snapshot verify /var/backups/etcd/before-upgrade.db`
	snapshot.AddCommand(
		NewCmdSnapshotSave(f, streams, root),
		NewCmdSnapshotList(f, streams),
		NewCmdSnapshotStatus(f, streams),
		NewCmdSnapshotVerify(f, streams),
		NewCmdSnapshotRestore(f, streams, root),
		NewCmdSnapshotStream(streams, root),
		NewCmdSnapshotReceive(streams),
	)
	cmd.AddCommand(snapshot, NewCmdEtcdMembers(f, streams, root), NewCmdEtcdMoveLeader(f, streams, root))
	return cmd
}

// EtcdMembersOptions holds the flags of `etcd members`.
type EtcdMembersOptions struct {
	flags   etcdConnFlags
	conn    backup.Conn
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdEtcdMembers returns `etcd members`.
func NewCmdEtcdMembers(f cmdutil.Factory, streams genericiooptions.IOStreams, root *string) *cobra.Command {
	o := &EtcdMembersOptions{flags: etcdConnFlags{root: root}, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "members",
		Short: "List the etcd members: leader, version, db size, raft index, alarms and health",
		Long: `List the etcd members with what each reports at its own client URL: leader, version,
database size (and in use), raft term and index, errors, and the cluster's alarms.

Exit codes: 0 every member healthy; 2 a member is unreachable or reports errors, no
leader, or an alarm is raised; 3 could not run (no endpoint, certificates rejected).`,
		Example: `  # On a kubeadm control-plane node
  kubectl clusterops etcd members

  # Anywhere, as with etcdctl
  kubectl clusterops etcd members --endpoints https://10.0.0.10:2379 --cacert ca.crt --cert client.crt --key client.key -o json`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.flags.addFlags(cmd)
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer and resolves the connection (flags, then the node's manifest).
func (o *EtcdMembersOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.conn, err = o.flags.conn()
	return err
}

// Validate has nothing left to check: Complete checked the connection (which looks at files).
func (o *EtcdMembersOptions) Validate() error { return nil }

// Run lists the members.
func (o *EtcdMembersOptions) Run(ctx context.Context) error {
	ctx, cancel := o.flags.context(ctx)
	defer cancel()
	ms, err := listMembers(ctx, o.conn)
	if err != nil {
		return err
	}
	if err := o.printer.Print(o.Out, "EtcdMembers", ms, func(w io.Writer) error { return membersTable(w, ms) }); err != nil {
		return err
	}
	if !ms.Healthy {
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	}
	return nil
}

func listMembers(ctx context.Context, c backup.Conn) (*backup.Members, error) {
	cli, err := c.New()
	if err != nil {
		return nil, etcdError(err, c.Endpoints)
	}
	defer cli.Close()
	lctx, cancel := context.WithTimeout(ctx, c.DialTimeout+5*time.Second)
	defer cancel()
	ms, err := backup.ListMembers(lctx, cli, c.Endpoints, c.DialTimeout)
	if err != nil {
		// The client only says "deadline exceeded": find the real cause with a direct handshake.
		for _, ep := range c.Endpoints {
			if perr := c.Probe(ctx, ep); perr != nil {
				return nil, etcdError(perr, []string{ep})
			}
		}
		return nil, etcdError(err, c.Endpoints)
	}
	return ms, nil
}

func membersTable(w io.Writer, ms *backup.Members) error {
	fmt.Fprintln(w, "NAME\tID\tENDPOINT\tLEADER\tVERSION\tDB SIZE\tIN USE\tRAFT TERM\tRAFT INDEX\tHEALTH\tERRORS")
	for _, m := range ms.Members {
		health := "healthy"
		if !m.Healthy {
			health = "UNHEALTHY"
		}
		role := ""
		if m.IsLeader {
			role = "*"
		} else if m.IsLearner {
			role = "learner"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", m.Name, m.ID, m.Endpoint, role, m.Version,
			humanBytes(m.DBSize), humanBytes(m.DBSizeInUse), m.RaftTerm, m.RaftIndex, health, strings.Join(m.Errors, "; "))
	}
	for _, a := range ms.Alarms {
		fmt.Fprintf(w, "ALARM %s on member %s\n", a.Alarm, a.MemberID)
	}
	if ms.AlarmsError != "" {
		fmt.Fprintf(w, "UNHEALTHY: %s (an active NOSPACE or CORRUPT alarm would not show)\n", ms.AlarmsError)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
