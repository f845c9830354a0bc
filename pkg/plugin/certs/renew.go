package certs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// CertsRenewOptions holds the flags of `certs renew`.
type CertsRenewOptions struct {
	node              nodeFlags
	Names             []string
	NewKey            bool
	Validity          string
	DryRun            bool
	CSROnly           bool
	CSRDir            string
	RestartStaticPods bool
	RestartWait       time.Duration
	RestartTimeout    time.Duration
	NodeName          string
	KeepBackups       int

	agents    *cmdutil.AgentFlags
	runner    *agent.Runner
	client    kubernetes.Interface
	config    *rest.Config
	output    *cmdutil.OutputFlags
	printer   *cmdutil.Printer
	validity  time.Duration
	mirror    certs.MirrorPods
	rootGiven bool
	now       func() time.Time

	genericiooptions.IOStreams
}

const certsRenewLong = `Renew leaf certificates of a kubeadm control-plane node with the same CA: the subject, SANs, key
usages and extensions stay; the serial and lifetime are new; the private key is reused unless
--new-key. This differs from kubeadm, whose renewal always makes a new key: with the same key each
certificate is one file replaced atomically, so kube-apiserver and etcd, which reload their files
while they run, never load a certificate with another key. Pass --new-key when a key may have
leaked or your policy rotates keys. The client certificates embedded in admin.conf, super-admin.conf,
controller-manager.conf and scheduler.conf are renewed in place; every other kubeconfig entry stays.

NAME is all, or any of: ` + "admin.conf, apiserver, apiserver-etcd-client, apiserver-kubelet-client,\ncontroller-manager.conf, etcd-healthcheck-client, etcd-peer, etcd-server, front-proxy-client,\nscheduler.conf, super-admin.conf" + `.

Safety:
  - --root is required (/ on the node itself): renew never guesses which node's PKI to change.
  - Everything is read, checked and signed in memory first; any bad input (a missing certificate,
    an unreadable key, a key that does not match its certificate, a CA whose key is absent)
    stops the command before anything is written.
  - Then the cert dir and the kubeconfigs are copied to
    <root>/etc/kubernetes/tmp/clusterops-backup-<timestamp>/ (with a SHA256SUMS file); the backup
    folder only appears once it is complete. 'cp -a <backup>/etc <root>/' restores it.
  - One renewal at a time: a run that writes holds <root>/etc/kubernetes/tmp/clusterops-certs.lock
    (through --restart-static-pods too); a second run gets one line and exit 3.
  - First, it finishes what an interrupted run left (a --new-key pair written beside the old
    files is put in place, or removed if it does not match), so it signs for the key in place.
  - Every file is replaced atomically (temp file in the same dir, fsync, rename), so a crash or a
    full disk leaves each certificate and key either old or new, never mixed.
  - A certificate whose CA key is absent (an externally managed CA) is refused; --csr-only writes
    certificate requests for your external CA instead and changes nothing else.
  - After writing, every renewed pair is read back and checked.
  - Only the last --keep-backups (default 5) of its backups stay, since each holds every CA key;
    the removed ones are printed. Nothing else in <root>/etc/kubernetes/tmp is touched.

Afterwards the command prints exactly which static pods must restart to load the new files.
--restart-static-pods restarts them one at a time: each manifest is moved out of the manifests
dir, kept away until the kubelet has stopped the pod (its mirror pod is gone, or --restart-wait
without API access), and moved back; with a mirror pod it then waits (up to --restart-timeout)
for the new mirror pod.

Exit codes:
  0  renewed (or, with --dry-run, would renew)
  3  nothing was renewed: bad input, no kubeadm layout, an externally managed CA, a write error`

const certsRenewExample = `  # See what would be renewed and restarted; writes nothing
  kubectl clusterops certs renew all --root / --dry-run

  # Renew everything on this control-plane node and restart the static pods one by one
  kubectl clusterops certs renew all --root / --restart-static-pods

  # From a laptop, no SSH: every control-plane node, one at a time (agent pods); each node's
  # static pods restart, and its kube-apiserver /readyz and etcd must be healthy before the next
  kubectl clusterops certs renew all --control-plane

  # Renew two certificates with new keys, valid for two years
  kubectl clusterops certs renew apiserver front-proxy-client --root / --new-key --validity 730d

  # etcd-ca is managed outside the cluster: write CSRs for it instead
  kubectl clusterops certs renew etcd-server etcd-peer --root / --csr-only --csr-dir /root/csrs`

// NewCmdCertsRenew returns `certs renew`.
func NewCmdCertsRenew(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsRenewOptions{output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(15 * time.Minute), Validity: "365d", RestartWait: 20 * time.Second,
		RestartTimeout: 2 * time.Minute, KeepBackups: 5, now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:       "renew all|NAME...",
		Short:     "Renew control-plane certificates with the same CA, after a backup",
		Long:      certsRenewLong,
		Example:   certsRenewExample,
		Args:      cmdutil.UsageArgs(cobra.MinimumNArgs(1)),
		ValidArgs: append([]string{"all"}, certs.RenewableNames()...),
	}, f, o)
	o.node.add(cmd, "", "The node's filesystem root that holds kubeadm's layout (required; / on the node itself).")
	o.agents.AddFlags(cmd, true, true)
	cmd.Flags().BoolVar(&o.NewKey, "new-key", false, "Make a new private key of the same type instead of reusing the old one (kubeadm's renewal always does).")
	cmd.Flags().StringVar(&o.Validity, "validity", o.Validity, "Lifetime of the renewed certificates (e.g. 365d, 8760h), never past the CA's own expiry.")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Check everything and print what would be renewed; write nothing.")
	cmd.Flags().BoolVar(&o.CSROnly, "csr-only", false, "Write certificate requests for an external CA instead of renewing.")
	cmd.Flags().StringVar(&o.CSRDir, "csr-dir", "", "Where --csr-only writes (default <root>/etc/kubernetes/tmp/clusterops-csr-<timestamp>).")
	cmd.Flags().BoolVar(&o.RestartStaticPods, "restart-static-pods", false, "Restart the affected static pods one at a time after renewing.")
	cmd.Flags().DurationVar(&o.RestartWait, "restart-wait", o.RestartWait, "How long a manifest stays out of the manifests dir when no mirror pod can be watched.")
	cmd.Flags().DurationVar(&o.RestartTimeout, "restart-timeout", o.RestartTimeout, "How long to wait for a mirror pod to go and to come back.")
	cmd.Flags().StringVar(&o.NodeName, "node-name", "", "This node's name, to find its mirror pods (default: the host name).")
	cmd.Flags().IntVar(&o.KeepBackups, "keep-backups", o.KeepBackups, "How many of its backup folders (each holds every CA key) to keep in <root>/etc/kubernetes/tmp, the new one included; older ones are removed and listed. 0 keeps all.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete parses durations, resolves the printer and, for --restart-static-pods, the mirror pod client.
func (o *CertsRenewOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Names = args
	var err error
	if o.validity, err = cmdutil.ParseLongDuration("validity", o.Validity); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.agents.Enabled() {
		return o.completeNodes(f, cmd)
	}
	if !o.RestartStaticPods || o.DryRun {
		return nil
	}
	if o.NodeName == "" {
		o.NodeName = cmdutil.DefaultNodeName()
	}
	// Mirror pods are watched when the API server answers; otherwise a fixed wait is used.
	if client, err := f.ClientSet(); err == nil {
		o.mirror = &mirrorPods{client: client, node: o.NodeName}
	}
	return nil
}

// Validate checks flag combinations; it does no I/O.
func (o *CertsRenewOptions) Validate() error {
	if o.agents.Enabled() {
		return o.validateNodes()
	}
	switch {
	case o.node.root == "":
		return errors.New("--root is required: the node's filesystem root that holds " +
			"kubeadm's layout (pass --root / on the control-plane node itself)")
	case o.CSROnly && o.RestartStaticPods:
		return errors.New("--csr-only changes no certificate: drop --restart-static-pods")
	case o.validity < time.Hour:
		return fmt.Errorf("--validity %s is too short: use at least 1h", o.Validity)
	case o.KeepBackups < 0:
		return fmt.Errorf("--keep-backups %d: use 0 (keep all) or more", o.KeepBackups)
	}
	_, err := certs.RenewNames(o.Names)
	return err
}

// renewOutput is printed with kind CertificateRenewal.
type renewOutput struct {
	*certs.RenewResult
	Restarted []certs.RestartedPod `json:"restarted,omitempty"`
}

// Run renews, prints the result, and restarts static pods when asked.
func (o *CertsRenewOptions) Run(ctx context.Context) error {
	if o.agents.Enabled() {
		return o.runNodes(ctx)
	}
	l := o.node.layout()
	opts := certs.RenewOptions{Names: o.Names, NewKey: o.NewKey, Validity: o.validity,
		DryRun: o.DryRun, CSROnly: o.CSROnly, CSRDir: o.CSRDir, KeepBackups: o.KeepBackups}
	if err := l.Validate(); err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	if !o.DryRun && !o.CSROnly {
		// One lock for the renewal and the restarts after it: a second run would take this one's
		// parked manifests and half-written pairs for an interrupted run's.
		lock, err := certs.LockRenewal(l)
		if err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
		}
		defer lock.Release()
		opts.Lock = lock
	}
	res, err := certs.Renew(l, opts, o.now())
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	out := renewOutput{RenewResult: res}
	if o.RestartStaticPods && !o.DryRun && len(res.RestartStaticPods) > 0 {
		progress := func(format string, args ...any) { fmt.Fprintf(o.ErrOut, format+"\n", args...) }
		out.Restarted, err = certs.RestartStaticPods(ctx, l, res.RestartStaticPods, certs.RestartOptions{
			Away: o.RestartWait, Timeout: o.RestartTimeout, Poll: time.Second, Sleep: sleepCtx,
			Mirror: o.mirror, Progress: progress, BeforeStop: etcdLeaderAway(o.node.root)})
		if err != nil {
			_ = o.printer.Print(o.Out, "CertificateRenewal", out, func(w io.Writer) error { return renewTable(w, out) })
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("certificates renewed, but restarting static pods failed: %w", err)}
		}
	}
	return o.printer.Print(o.Out, "CertificateRenewal", out, func(w io.Writer) error { return renewTable(w, out) })
}

// etcdLeaderAway is the BeforeStop of a renewal's restarts: before this node's etcd stops, when
// its member (the etcd manifest's --name) leads, the leadership goes to the healthy voting
// follower that has applied the most entries (etcd move-leader --away-from), so that the restart
// costs no leader election -- during one no member takes writes and every kube-apiserver's
// /readyz fails. A node whose etcd cannot be asked (no manifest, unreachable) restarts as before,
// with a note.
func etcdLeaderAway(root string) func(ctx context.Context, component string) string {
	return func(ctx context.Context, component string) string {
		if component != "etcd" {
			return ""
		}
		fail := func(err error) string {
			return "could not hand the etcd leadership over first (" + cmdutil.OneLine(err.Error()) + "); restarting anyway"
		}
		pod, err := backup.ReadEtcdManifest(root)
		if err != nil {
			return fail(err)
		}
		name, ok := backup.ManifestFlag(pod, "name")
		if !ok {
			return fail(errors.New("the etcd manifest has no --name"))
		}
		conn, err := backup.DiscoverConn(root, backup.Conn{DialTimeout: 5 * time.Second})
		if err != nil {
			return fail(err)
		}
		cli, err := conn.New()
		if err != nil {
			return fail(err)
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		ms, err := backup.ListMembers(ctx, cli, conn.Endpoints, conn.DialTimeout)
		if err != nil {
			return fail(err)
		}
		mv, err := backup.MoveLeader(ctx, ms, name, "", backup.ConnTransferer(conn))
		switch {
		case err != nil:
			return fail(err)
		case mv.Moved:
			return fmt.Sprintf("this member (%s) led: handed the etcd leadership to %s first", mv.From, mv.To)
		}
		return mv.Note
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func renewTable(w io.Writer, out renewOutput) error {
	verb := "RENEWED"
	switch {
	case out.CSROnly:
		verb = "CSR"
	case out.DryRun:
		verb = "WOULD RENEW"
	}
	fmt.Fprintf(w, "CERTIFICATE\tCA\tOLD EXPIRY\tNEW EXPIRY\tNEW KEY\t%s\n", verb)
	for _, c := range out.Certificates {
		last := c.Path
		if c.CSRPath != "" {
			last = c.CSRPath
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.CAName, expires(c.OldNotAfter), expires(c.NewNotAfter), yesNo(c.NewKey), last)
	}
	w, flush := cmdutil.NewSection(w)
	defer flush()
	if out.BackupDir != "" {
		fmt.Fprintf(w, "\nBackup of the previous files: %s (restore: cp -a %s/etc <root>/)\n", out.BackupDir, out.BackupDir)
	}
	for _, p := range out.PrunedBackups {
		fmt.Fprintf(w, "Removed the older backup %s (--keep-backups)\n", p)
	}
	if out.CSROnly {
		fmt.Fprintln(w, "\nNothing was renewed: have your external CA sign the requests, then install the certificates.")
		return nil
	}
	if len(out.RestartStaticPods) > 0 {
		if out.Restarted == nil {
			prefix := "Restart"
			if out.DryRun {
				prefix = "Afterwards, restart"
			}
			fmt.Fprintf(w, "\n%s these static pods, one at a time, to load the new certificates: %s\n", prefix, strings.Join(out.RestartStaticPods, ", "))
			fmt.Fprintln(w, "(kubectl clusterops certs renew ... --restart-static-pods does it; or move each manifest out of "+
				"/etc/kubernetes/manifests for 20s and back)")
		} else {
			fmt.Fprintln(w, "\nSTATIC POD\tRESTARTED\tNOTE")
			for _, r := range out.Restarted {
				how := "manifest moved out and back"
				if r.Confirmed {
					how = "new mirror pod " + r.NewUID
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.Component, how, r.Note)
			}
		}
	} else if !out.DryRun {
		fmt.Fprintln(w, "\nNo static pod loads these certificates: nothing to restart.")
	}
	if out.RestartKubelet {
		fmt.Fprintln(w, "Restart the kubelet to load kubelet.conf.")
	}
	for _, n := range out.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	return nil
}

// mirrorPods finds the mirror pods of this node's static pods.
type mirrorPods struct {
	client kubernetes.Interface
	node   string
}

func (m *mirrorPods) MirrorPod(ctx context.Context, component string) (certs.MirrorPodState, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pod, err := m.client.CoreV1().Pods(metav1.NamespaceSystem).Get(rctx, component+"-"+m.node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return certs.MirrorPodState{}, false, nil
	}
	if err != nil {
		return certs.MirrorPodState{}, false, err
	}
	if _, ok := pod.Annotations["kubernetes.io/config.mirror"]; !ok {
		return certs.MirrorPodState{}, false, nil
	}
	st := certs.MirrorPodState{UID: string(pod.UID), Hash: pod.Annotations["kubernetes.io/config.hash"]}
	if cs := pod.Status.ContainerStatuses; len(cs) > 0 && cs[0].State.Running != nil {
		st.ContainerID = cs[0].ContainerID
	}
	return st, true, nil
}
