package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	corev1 "k8s.io/api/core/v1"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// In the restore agent pod: where the snapshot is uploaded (the pod's emptyDir /tmp, gone with
// the pod), and the file whose creation starts the restore.
const (
	uploadPath = "/tmp/snapshot.db"
	startPath  = "/tmp/start"
)

func (o *SnapshotRestoreOptions) completeAgent(f cmdutil.Factory, cmd *cobra.Command) error {
	if o.From != "" && o.File != "" {
		return errors.New("pass the snapshot as FILE or with --from, not both")
	}
	if o.From != "" {
		o.File = o.From
	}
	if cmd.Flags().Changed("root") {
		return errors.New("--root restores on this machine; --node and --control-plane restore on nodes through agent pods: pass one or the other")
	}
	var err error
	o.runner, err = o.agents.Runner(f, o.ErrOut)
	return err
}

func (o *SnapshotRestoreOptions) validateAgent() error {
	sel := o.agents.Selection()
	switch {
	case o.File == "":
		return errors.New("--from FILE is required: the snapshot on this machine to upload")
	case len(sel.Names) > 1 || (len(sel.Names) == 1 && sel.ControlPlane):
		return errors.New("restore on one --node, or every member with --control-plane")
	case o.DataDir != "" && (!path.IsAbs(o.DataDir) || path.Clean(o.DataDir) != o.DataDir || path.Dir(o.DataDir) == "/"):
		return fmt.Errorf("--data-dir %s: with --node give a clean absolute path on the node, below a directory other than / (e.g. /var/lib/etcd-restored)", o.DataDir)
	case sel.ControlPlane && (o.Name != "" || o.InitialCluster != "" || len(o.PeerURLs) > 0):
		return errors.New("--control-plane builds --name, --initial-advertise-peer-urls and --initial-cluster from the etcd member list: do not pass them")
	}
	return o.agents.Validate()
}

// restoreJob is the agent pod of a restore: it waits for the upload, then runs the restore with
// --root /host. Read-write: the data dir's parent, and /etc/kubernetes with --update-manifest
// (the etcd manifest, its backup in /etc/kubernetes/tmp, kube-apiserver's parked manifest);
// read-only otherwise. The host network: etcd listens on the node's addresses.
func (o *SnapshotRestoreOptions) restoreJob(extra []string) agent.Job {
	args := []string{"etcd", "snapshot", "restore", uploadPath, "--root", agent.HostRoot, "--data-dir", agent.HostRoot + o.DataDir,
		"-o", "json", fmt.Sprintf("--bump-revision=%d", o.BumpRevision)}
	if o.Token != "" {
		args = append(args, "--initial-cluster-token", o.Token)
	}
	for flag, on := range map[string]bool{"--update-manifest": o.UpdateManifest, "--stop-apiserver": o.StopAPIServer,
		"--force-while-apiserver-running": o.ForceWhileAPIServerRunning, "--dry-run": o.DryRun} {
		if on {
			args = append(args, flag)
		}
	}
	mounts := []agent.Mount{{Path: path.Dir(o.DataDir), Write: !o.DryRun}}
	if o.UpdateManifest {
		mounts = append(mounts, agent.Mount{Path: "/etc/kubernetes", Write: !o.DryRun})
	} else {
		mounts = append(mounts, agent.Mount{Path: "/etc/kubernetes/manifests"}, agent.Mount{Path: "/etc/kubernetes/pki/etcd"})
	}
	job := agent.Job{Command: "etcd snapshot restore", Args: append(args, extra...), Mounts: mounts, HostNetwork: true,
		Trigger: startPath, Deadline: o.agents.Timeout}
	if o.UpdateManifest && !o.DryRun {
		job.ResultFile = agent.HostRoot + o.resultFile()
	}
	return job
}

// resultFile is where, on the node, the restore pod also writes its result: switching etcd to
// the snapshot's state removes the pod itself from the API (the snapshot predates it), so its
// log can no longer be read through the API; a second pod reads and removes this file.
func (o *SnapshotRestoreOptions) resultFile() string {
	return "/etc/kubernetes/tmp/clusterops-restore-" + o.runner.RunID + ".json"
}

// fetchResult reads the result a restore pod left on its node, in a second pod, and removes it.
func (o *SnapshotRestoreOptions) fetchResult(ctx context.Context, node string) agent.NodeResult {
	fmt.Fprintf(o.ErrOut, "node %s: the restored state no longer has the agent pod (the snapshot predates it): reading its result from the node\n", node)
	job := agent.Job{Command: "etcd snapshot restore", Args: []string{"agent", "result", "--file", agent.HostRoot + o.resultFile()},
		Mounts: []agent.Mount{{Path: "/etc/kubernetes/tmp", Write: true}}, Deadline: 5 * time.Minute}
	res, err := o.runner.RunOn(ctx, node, job)
	switch {
	case err != nil:
		res.Err = err
	case res.Err == nil && res.Envelope.ExitCode != 0:
		res.Err = errors.New(agentReason(errors.New("no result"), res.Envelope.Stderr))
	case res.Err == nil:
		env, perr := agent.ParseEnvelope(res.Envelope.Stdout)
		if perr != nil {
			res.Err = perr
		} else {
			res.Envelope = env
		}
	}
	return res
}

// restoreUnit is one node's restore: its extra flags (--control-plane: the member's).
type restoreUnit struct {
	node  string
	extra []string
}

// upload is the checked local snapshot.
type upload struct {
	file   string
	sha256 string
	size   int64
}

// runAgent restores through agent pods: the snapshot checked here, the nodes resolved, the
// member list read on a node (a single-node restore of a multi-member cluster is refused), the
// file uploaded to every node and checked there, and only then every restore started.
func (o *SnapshotRestoreOptions) runAgent(ctx context.Context) error {
	server := o.runner.Config.Host
	up, err := checkUpload(o.File)
	if err != nil {
		return err
	}
	probe := o.restoreJob(nil)
	if err := o.runner.Prepare(ctx, probe); err != nil {
		return cmdutil.AgentError(err, server)
	}
	defer func() { _ = o.runner.Cleanup() }()
	targets, err := agent.Resolve(ctx, o.runner.Client, o.agents.Selection())
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	var nodes []string
	for _, t := range targets {
		if !t.Ready {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("node %s is %s: a restore needs every node it restores on", t.Name, t.NotReady)}
		}
		nodes = append(nodes, t.Name)
	}
	if err := o.checkAPIServers(ctx, nodes); err != nil {
		return err
	}
	units := []restoreUnit{{node: nodes[0]}}
	if o.agents.ControlPlane {
		if units, err = o.planControlPlane(ctx, nodes); err != nil {
			return err
		}
	}
	started := o.now()
	results, err := o.restoreOn(ctx, units, up)
	if err != nil {
		return err
	}
	// The restored state holds the agent pods that existed when the snapshot was taken (the
	// save's own, typically): no kubelet runs them. Remove those, and only those.
	removed, err := agent.GCWhere(ctx, o.runner.Client, o.agents.Namespace, func(p *corev1.Pod) string {
		if p.CreationTimestamp.Time.Before(started) {
			return "restored from the snapshot"
		}
		return ""
	})
	for _, r := range removed {
		fmt.Fprintf(o.ErrOut, "removed agent pod %s/%s that the restored snapshot brought back\n", r.Namespace, r.Name)
	}
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: agent pods the snapshot brought back were not all removed (%s): run kubectl clusterops agent gc\n", cmdutil.OneLine(err.Error()))
	}
	return o.printRestored(results)
}

// checkUpload checks the snapshot before anything is sent (etcd's hash, the sidecar) and sums it.
func checkUpload(file string) (*upload, error) {
	st, err := backup.SnapshotStatus(file, false)
	if err != nil {
		return nil, snapshotError(err)
	}
	if st.Sidecar != "ok" && st.Sidecar != "missing" {
		return nil, snapshotError(fmt.Errorf("%w: %s: sidecar %s", backup.ErrIntegrity, file, st.Sidecar))
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	return &upload{file: file, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// checkAPIServers keeps today's rule from a laptop: --update-manifest is refused while
// kube-apiserver runs on a node being restored (its mirror pod is there), unless
// --stop-apiserver or --force-while-apiserver-running. Nothing is made before.
func (o *SnapshotRestoreOptions) checkAPIServers(ctx context.Context, nodes []string) error {
	if !o.UpdateManifest || o.StopAPIServer || o.ForceWhileAPIServerRunning || o.DryRun {
		return nil
	}
	for _, n := range nodes {
		_, err := o.runner.Client.CoreV1().Pods("kube-system").Get(ctx, "kube-apiserver-"+n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return cmdutil.AgentError(err, o.runner.Config.Host)
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf(
			"--update-manifest: %w (node %s, mirror pod kube-system/kube-apiserver-%s): pass --stop-apiserver to stop it for the switch and start it again, or --force-while-apiserver-running",
			backup.ErrAPIServerRunning, n, n)}
	}
	return nil
}

// memberList reads the etcd member list in a session on a node.
func memberList(ctx context.Context, sess *agent.Session) (*backup.Members, error) {
	var out, errOut bytes.Buffer
	if err := sess.Exec(ctx, []string{"etcd", "snapshot", "stream", "--root", agent.HostRoot, "--members"}, nil, &out, &errOut); err != nil {
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("cannot read the etcd member list on node %s: %s", sess.Node, agentReason(err, errOut.String()))}
	}
	var ms backup.Members
	if err := json.Unmarshal(out.Bytes(), &ms); err != nil {
		return nil, fmt.Errorf("the agent's member list is not valid JSON: %w", err)
	}
	return &ms, nil
}

// haRefusal is a single-node restore of a cluster of several members.
func haRefusal(ms *backup.Members) error {
	var names []string
	for _, m := range ms.Members {
		names = append(names, m.Name)
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf(
		"etcd has %d members (%s): restoring one alone is refused; %s: run it with --control-plane",
		len(ms.Members), strings.Join(names, ", "), backup.RecoveryProcedure)}
}

// planControlPlane reads the member list in an idle pod on the first node and plans one
// restore per member, on the node of its name, with one --initial-cluster.
func (o *SnapshotRestoreOptions) planControlPlane(ctx context.Context, nodes []string) ([]restoreUnit, error) {
	sess, err := o.runner.Start(ctx, nodes[0], agent.Job{Command: "etcd snapshot restore", HostNetwork: true, Deadline: o.agents.Timeout,
		Mounts: []agent.Mount{{Path: "/etc/kubernetes/manifests"}, {Path: "/etc/kubernetes/pki/etcd"}}})
	if err != nil {
		return nil, cmdutil.AgentError(err, o.runner.Config.Host)
	}
	ms, err := memberList(ctx, sess)
	_ = sess.Close()
	if err != nil {
		return nil, err
	}
	plan, err := backup.PlanClusterRestore(ms.Members, nodes)
	if err != nil {
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	fmt.Fprintf(o.ErrOut, "%s: %d member(s), --initial-cluster %s\n", backup.RecoveryProcedure, len(plan.Members), plan.InitialCluster)
	var units []restoreUnit
	for _, m := range plan.Members {
		fmt.Fprintf(o.ErrOut, "  node %s: --name %s --initial-advertise-peer-urls %s\n", m.Node, m.Name, strings.Join(m.PeerURLs, ","))
		units = append(units, restoreUnit{node: m.Node, extra: []string{"--name", m.Name,
			"--initial-advertise-peer-urls", strings.Join(m.PeerURLs, ","), "--initial-cluster", plan.InitialCluster}})
	}
	return units, nil
}

// errAborted: another node's upload failed, so no node starts.
var errAborted = errors.New("not started: the upload to another node failed")

// restoreOn runs one agent pod per unit: each receives the file and checks its sha256; only
// when every node has it does any restore start. A failed upload anywhere starts none, and
// every pod (with its copy of the file) is deleted.
func (o *SnapshotRestoreOptions) restoreOn(ctx context.Context, units []restoreUnit, up *upload) ([]agent.NodeResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var uploaded sync.WaitGroup
	uploaded.Add(len(units))
	abort, allUp := make(chan struct{}), make(chan struct{})
	var abortOnce sync.Once
	go func() { uploaded.Wait(); close(allUp) }()
	results := make([]agent.NodeResult, len(units))
	errs := make([]error, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		var once sync.Once
		done := func(failed bool) {
			once.Do(func() {
				if failed {
					abortOnce.Do(func() { close(abort) })
				}
				uploaded.Done()
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := func(sess *agent.Session) error {
				err := o.uploadTo(ctx, sess, up, len(units) == 1)
				done(err != nil)
				if err != nil {
					return err
				}
				select {
				case <-allUp:
				case <-abort:
					return errAborted
				case <-ctx.Done():
					return ctx.Err()
				}
				return o.start(ctx, sess, up)
			}
			results[i], errs[i] = o.runner.RunWith(ctx, u.node, o.restoreJob(u.extra), before)
			done(true)
			if errs[i] == nil && errors.Is(results[i].Err, agent.ErrPodGone) && o.UpdateManifest && !o.DryRun {
				results[i] = o.fetchResult(ctx, u.node)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errAborted) && !errors.Is(err, context.Canceled) {
			var exit *cmdutil.ExitError
			if errors.As(err, &exit) {
				return nil, err
			}
			return nil, cmdutil.AgentError(err, o.runner.Config.Host)
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, cmdutil.AgentError(err, o.runner.Config.Host)
		}
	}
	return results, nil
}

// uploadTo checks the member list (single: a multi-member cluster is refused) and sends the
// file; the agent keeps it only when its sha256 and size are ours.
func (o *SnapshotRestoreOptions) uploadTo(ctx context.Context, sess *agent.Session, up *upload, single bool) error {
	if single {
		ms, err := memberList(ctx, sess)
		if err != nil {
			return err
		}
		if len(ms.Members) > 1 {
			return haRefusal(ms)
		}
	}
	f, err := os.Open(up.file)
	if err != nil {
		return err
	}
	defer f.Close()
	var out, errOut bytes.Buffer
	err = sess.Exec(ctx, []string{"etcd", "snapshot", "receive", "--out", uploadPath, "--sha256", up.sha256, "--size", fmt.Sprint(up.size)}, f, &out, &errOut)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("uploading %s to node %s failed, nothing restored: %s", up.file, sess.Node, agentReason(err, errOut.String()))}
	}
	src := execSource{}
	src.stderr.Write(errOut.Bytes())
	sum, size, ok := src.sent()
	if !ok || sum != up.sha256 || size != up.size {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("node %s received sha256 %s (%d bytes), this machine sent %s (%d bytes): nothing restored", sess.Node, sum, size, up.sha256, up.size)}
	}
	fmt.Fprintf(o.ErrOut, "node %s: uploaded %s, sha256 %s at both ends (%d bytes)\n", sess.Node, up.file, sum, size)
	return nil
}

// start checks the uploaded file once more and writes the trigger: the restore runs on its own
// from here on, API server or not.
func (o *SnapshotRestoreOptions) start(ctx context.Context, sess *agent.Session, up *upload) error {
	var errOut bytes.Buffer
	err := sess.Exec(ctx, []string{"etcd", "snapshot", "receive", "--check", "--out", uploadPath, "--sha256", up.sha256,
		"--size", fmt.Sprint(up.size), "--start", startPath}, nil, io.Discard, &errOut)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("starting the restore on node %s failed, nothing restored there: %s", sess.Node, agentReason(err, errOut.String()))}
	}
	fmt.Fprintf(o.ErrOut, "node %s: restore started; it runs on its own now (the API server may be away for a while)\n", sess.Node)
	return nil
}

// restoredList is printed with kind EtcdSnapshotRestoreList for --control-plane.
type restoredList struct {
	Items []*backup.Restored `json:"items"`
	// Failed maps a node whose restore failed to the reason.
	Failed map[string]string `json:"failed,omitempty"`
}

// printRestored turns each node's result into the local command's output, with the node's name
// and its paths as on the node.
func (o *SnapshotRestoreOptions) printRestored(results []agent.NodeResult) error {
	var items []*backup.Restored
	failed := map[string]string{}
	code := cmdutil.ExitOK
	for _, r := range results {
		if r.Envelope != nil {
			for _, l := range strings.Split(strings.TrimSpace(r.Envelope.Stderr), "\n") {
				if l != "" {
					fmt.Fprintf(o.ErrOut, "node %s: %s\n", r.Node, l)
				}
			}
		}
		switch {
		case r.Err != nil:
			failed[r.Node], code = cmdutil.OneLine(r.Err.Error()), max(code, cmdutil.ExitCannotRun)
		case r.Envelope.ExitCode != 0:
			failed[r.Node], code = agentReason(errors.New("failed"), r.Envelope.Stderr), max(code, r.Envelope.ExitCode)
		default:
			var res backup.Restored
			if err := json.Unmarshal(r.Envelope.Stdout, &res); err != nil {
				failed[r.Node], code = "the agent's result is not valid JSON: "+err.Error(), max(code, cmdutil.ExitCannotRun)
				continue
			}
			res.Node, res.Snapshot = r.Node, o.File
			res.DataDir = strings.TrimPrefix(res.DataDir, agent.HostRoot)
			if m := res.Manifest; m != nil {
				m.Path, m.Backup = strings.TrimPrefix(m.Path, agent.HostRoot), strings.TrimPrefix(m.Backup, agent.HostRoot)
			}
			items = append(items, &res)
		}
	}
	if len(results) == 1 && len(items) == 0 {
		return &cmdutil.ExitError{Code: code, Err: fmt.Errorf("node %s: %s", results[0].Node, failed[results[0].Node])}
	}
	var err error
	if len(results) == 1 {
		err = o.printer.Print(o.Out, "EtcdSnapshotRestore", items[0], func(w io.Writer) error { return o.restoredTable(w, items[0]) })
	} else {
		if len(failed) == 0 {
			failed = nil
		}
		list := restoredList{Items: items, Failed: failed}
		err = o.printer.Print(o.Out, "EtcdSnapshotRestoreList", list, func(w io.Writer) error {
			for _, res := range items {
				fmt.Fprintf(w, "NODE %s\n", res.Node)
				if err := o.restoredTable(w, res); err != nil {
					return err
				}
				fmt.Fprintln(w)
			}
			for n, why := range failed {
				fmt.Fprintf(w, "NODE %s: FAILED: %s\n", n, why)
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	if code != cmdutil.ExitOK {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}
