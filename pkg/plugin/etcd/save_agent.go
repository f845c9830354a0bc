package etcd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// snapshotJob is the agent pod of `snapshot save --node`: idle (the CLI execs into it), on the
// host network (etcd listens on the node's loopback), with the etcd manifest and the etcd PKI
// mounted read-only.
func snapshotJob(timeout time.Duration) agent.Job {
	return agent.Job{
		Command: "etcd snapshot save", Idle: true, HostNetwork: true, Deadline: timeout,
		Mounts: []agent.Mount{{Path: "/etc/kubernetes/manifests"}, {Path: "/etc/kubernetes/pki/etcd"}},
	}
}

// runAgent saves the snapshot through an agent pod: it asks the agent which member it will
// stream from, streams the snapshot over exec into backup.Save (the same checks as a direct
// save), and compares the agent's sha256 of what it sent with the saved file's.
func (o *SnapshotSaveOptions) runAgent(ctx context.Context) error {
	server := o.runner.Config.Host
	sel := o.agents.Selection()
	job := snapshotJob(o.agents.Timeout)
	if err := o.runner.Prepare(ctx, job); err != nil {
		return cmdutil.AgentError(err, server)
	}
	defer func() { _ = o.runner.Cleanup() }()
	targets, err := agent.Resolve(ctx, o.runner.Client, sel)
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	node := ""
	var why []string
	for _, t := range targets {
		if t.Ready {
			node = t.Name
			break
		}
		why = append(why, t.Name+": "+t.NotReady)
	}
	if node == "" {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("no Ready node to take the snapshot on (%s)", strings.Join(why, "; "))}
	}
	sess, err := o.runner.Start(ctx, node, job)
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	defer func() { _ = sess.Close() }()

	args := []string{"etcd", "snapshot", "stream", "--root", agent.HostRoot}
	if len(sel.Names) > 0 {
		args = append(args, "--local") // --node N: N's own member
	}
	var out, errOut bytes.Buffer
	if err := sess.Exec(ctx, append(args, "--member-only"), nil, &out, &errOut); err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("the agent on node %s cannot reach etcd: %s", node, agentReason(err, errOut.String()))}
	}
	var sm snapshotMember
	if err := json.Unmarshal(out.Bytes(), &sm); err != nil {
		return fmt.Errorf("the agent's member answer is not valid JSON: %w", err)
	}
	m := sm.Member
	role := "follower"
	if m.IsLeader {
		role = "leader"
	}
	fmt.Fprintf(o.ErrOut, "Taking the snapshot from member %s (%s, %s) at %s, through the agent pod on node %s\n", m.Name, m.ID, role, m.Endpoint, node)
	src := &execSource{sess: sess, args: []string{"etcd", "snapshot", "stream", "--root", agent.HostRoot, "--endpoint", m.Endpoint}}
	kv := o.askKubeVersion(ctx)
	bar := newProgress(o.ErrOut, m.DBSize, o.now)
	meta, err := backup.Save(ctx, src, backup.SaveOptions{
		Path: o.target, Overwrite: o.Overwrite, MaxRate: o.maxRate, Progress: bar.callback(), Clock: o.now, KubernetesVersion: kv,
		Meta: backup.Metadata{
			EtcdVersion: m.Version, MemberName: m.Name, MemberID: m.ID, ClusterID: sm.ClusterID,
			Endpoint: m.Endpoint,
		},
	})
	bar.done(meta, err == nil)
	execErr := src.wait()
	if err != nil {
		if errors.Is(err, backup.ErrIntegrity) || errors.Is(err, atomicfile.ErrDiskFull) {
			return err
		}
		cause := cmdutil.OneLine(err.Error())
		if execErr != nil {
			cause = agentReason(execErr, src.stderr.String())
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("snapshot not saved, nothing written at %s: %s", o.target, cause)}
	}
	sent, size, ok := src.sent()
	if execErr != nil || !ok || sent != meta.SHA256 || size != meta.Size {
		os.Remove(o.target)
		os.Remove(backup.SidecarPath(o.target))
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf(
			"snapshot not saved, removed %s: the agent sent sha256 %s (%d bytes) but the file has %s (%d bytes)", o.target, sent, size, meta.SHA256, meta.Size)}
	}
	fmt.Fprintf(o.ErrOut, "The agent's sha256 of the stream equals the saved file's: %s\n", sent)
	return o.finish(ctx, o.target, meta)
}

// agentReason is the agent command's last stderr line, or the exec error.
func agentReason(err error, stderr string) string {
	if line := strings.TrimSpace(stderr); line != "" {
		lines := strings.Split(line, "\n")
		return strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "error: ")
	}
	return cmdutil.OneLine(err.Error())
}

// execSource is a backup.SnapshotSource whose stream is an exec into the agent pod.
type execSource struct {
	sess   *agent.Session
	args   []string
	stderr bytes.Buffer
	mu     sync.Mutex
	done   chan error
}

func (e *execSource) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	pr, pw := io.Pipe()
	e.done = make(chan error, 1)
	go func() {
		err := e.sess.Exec(ctx, e.args, nil, pw, &lockedWriter{mu: &e.mu, w: &e.stderr})
		if err != nil {
			pw.CloseWithError(fmt.Errorf("%w: %s", err, agentReason(err, e.stderrText())))
		} else {
			pw.Close()
		}
		e.done <- err
	}()
	return &clientv3.SnapshotResponse{Snapshot: pr}, nil
}

func (e *execSource) stderrText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stderr.String()
}

// wait returns the exec's error once it ended (nil when it never started).
func (e *execSource) wait() error {
	if e.done == nil {
		return nil
	}
	return <-e.done
}

// sent is the sha256 and size the agent reported on its last stderr line.
func (e *execSource) sent() (sum string, size int64, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(e.stderrText()))
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), streamSHA256Prefix); found {
			if _, err := fmt.Sscanf(rest, "%s %d", &sum, &size); err == nil {
				ok = true
			}
		}
	}
	return sum, size, ok
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
