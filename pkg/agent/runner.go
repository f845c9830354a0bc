package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// ErrPodGone is an agent pod that vanished from the API while the CLI waited for it: deleted by
// someone else, or -- after an etcd restore -- not in the restored state at all.
var ErrPodGone = errors.New("agent pod gone")

// Runner makes agent pods, reads their results and deletes them.
type Runner struct {
	Client kubernetes.Interface
	// Config is needed for exec sessions only.
	Config    *rest.Config
	Namespace string
	Image     string
	// Version is the CLI's version: the agent must be the same.
	Version string
	RunID   string
	Now     func() time.Time
	// Poll is the interval between pod status reads (default 1s).
	Poll time.Duration
	// StartTimeout bounds the wait for the kubelet to start the pod's container (default 2m).
	StartTimeout time.Duration
	// Progress receives one line per step; may be nil.
	Progress func(format string, args ...any)

	mu   sync.Mutex
	pods map[string]bool // created, not yet deleted
}

// NodeResult is one node's outcome. Err is set when the node could not report (NotReady, the
// pod failed, no result); the other nodes still report.
type NodeResult struct {
	Node     string
	Envelope *Envelope
	Err      error
}

// Permission is one thing the agent needs the caller to be allowed to do.
type Permission struct{ Verb, Resource, Subresource string }

func (p Permission) String() string {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	return p.Verb + " " + r
}

// Permissions are what a job needs in the agent namespace: create, get, delete pods and read
// their logs; exec for an idle (streaming) job, and both for a job that waits for an upload. (Nodes are read cluster-wide: see Preflight.)
func Permissions(job Job) []Permission {
	ps := []Permission{{"create", "pods", ""}, {"get", "pods", ""}, {"delete", "pods", ""}, {"get", "pods", "log"}}
	if job.Idle {
		ps = []Permission{{"create", "pods", ""}, {"get", "pods", ""}, {"delete", "pods", ""}, {"create", "pods", "exec"}}
	}
	if job.Trigger != "" {
		ps = append(ps, Permission{"create", "pods", "exec"})
	}
	return ps
}

// nodePermissions are what resolving --node/--control-plane needs, cluster-wide.
var nodePermissions = []Permission{{"get", "nodes", ""}, {"list", "nodes", ""}}

// ForbiddenError names the permissions the caller lacks in the agent namespace.
type ForbiddenError struct {
	Namespace string
	Missing   []Permission
	Job       string
}

func (e *ForbiddenError) Error() string {
	var inNS, cluster []string
	for _, p := range e.Missing {
		if p.Resource == "nodes" {
			cluster = append(cluster, p.String())
		} else {
			inNS = append(inNS, p.String())
		}
	}
	var parts []string
	if len(inNS) > 0 {
		parts = append(parts, strings.Join(inNS, ", ")+" in namespace "+e.Namespace)
	}
	if len(cluster) > 0 {
		parts = append(parts, strings.Join(cluster, ", ")+" cluster-wide")
	}
	hint := "pass --agent-namespace with a namespace where you have them"
	if len(inNS) == 0 {
		hint = "or name the nodes you may read"
	}
	return fmt.Sprintf("%s on nodes needs %s, which you are not allowed: ask for them, or %s (or run it on the node with --root)",
		e.Job, strings.Join(parts, " and "), hint)
}

// PodSecurityError is Pod Security admission rejecting the agent pod's hostPath mounts.
type PodSecurityError struct {
	Namespace, Level, Detail string
}

func (e *PodSecurityError) Error() string {
	level := e.Level
	if level == "" {
		level = "a level below privileged"
	}
	return fmt.Sprintf("namespace %s enforces Pod Security %q (label pod-security.kubernetes.io/enforce), which rejects the agent's "+
		"hostPath mounts: pass --agent-namespace with a namespace labelled pod-security.kubernetes.io/enforce=privileged (kube-system is, by default) (%s)",
		e.Namespace, level, e.Detail)
}

// ImagePullError is the kubelet failing to pull the agent image.
type ImagePullError struct{ Image, Node, Reason, Message string }

func (e *ImagePullError) Error() string {
	return fmt.Sprintf("node %s cannot pull the agent image %s (%s: %s): pass --image with an image the nodes can pull "+
		"(a mirror, or one imported into containerd), or set CLUSTEROPS_IMAGE", e.Node, e.Image, e.Reason, OneLine(e.Message))
}

// OneLine folds s into one line.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Preflight asks the API server (SelfSubjectAccessReview) whether the caller may do what job
// needs in the agent namespace, and returns a *ForbiddenError naming what is missing. When the
// review itself cannot be made, it returns nil: creating the pod will tell.
func (r *Runner) Preflight(ctx context.Context, job Job) error {
	var missing []Permission
	for _, p := range append(Permissions(job), nodePermissions...) {
		ns := r.Namespace
		if p.Resource == "nodes" {
			ns = ""
		}
		review, err := r.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: p.Verb, Resource: p.Resource, Subresource: p.Subresource}}}, metav1.CreateOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		}
		if !review.Status.Allowed {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &ForbiddenError{Namespace: r.Namespace, Missing: missing, Job: job.Command}
	}
	return nil
}

func (r *Runner) progress(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(format, args...)
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// create makes the agent pod for job on node.
func (r *Runner) create(ctx context.Context, node string, job Job) (*corev1.Pod, error) {
	pod := Pod(job, PodSpec{Node: node, Namespace: r.Namespace, Image: r.Image, Version: r.Version, RunID: r.RunID, Now: r.now()})
	created, err := r.Client.CoreV1().Pods(r.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, r.createError(ctx, job, err)
	}
	r.mu.Lock()
	if r.pods == nil {
		r.pods = map[string]bool{}
	}
	r.pods[created.Name] = true
	r.mu.Unlock()
	r.progress("node %s: agent pod %s/%s created", node, r.Namespace, created.Name)
	return created, nil
}

func (r *Runner) createError(ctx context.Context, job Job, err error) error {
	if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "violates PodSecurity") {
		e := &PodSecurityError{Namespace: r.Namespace, Detail: podSecurityDetail(err.Error())}
		if ns, nerr := r.Client.CoreV1().Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{}); nerr == nil {
			e.Level = ns.Labels["pod-security.kubernetes.io/enforce"]
		}
		return e
	}
	if apierrors.IsForbidden(err) {
		return &ForbiddenError{Namespace: r.Namespace, Missing: []Permission{{"create", "pods", ""}}, Job: job.Command}
	}
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the agent namespace %s does not exist: pass --agent-namespace with an existing namespace", r.Namespace)
	}
	return err
}

// podSecurityDetail keeps the admission message's reasons: `pods "x" is forbidden: violates
// PodSecurity "restricted:latest": hostPath volumes (...), ...`.
func podSecurityDetail(msg string) string {
	if i := strings.Index(msg, "violates PodSecurity"); i >= 0 {
		msg = msg[i:]
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return OneLine(msg)
}

// deleteBudget is how long Delete keeps retrying while the API server does not answer.
const deleteBudget = 5 * time.Minute

// Delete removes a pod this runner made; it is safe to call twice. It runs on a context of its
// own so that a cancelled command (Ctrl-C, SIGTERM) still cleans up.
func (r *Runner) Delete(name string) error {
	r.mu.Lock()
	if !r.pods[name] {
		r.mu.Unlock()
		return nil
	}
	delete(r.pods, name)
	r.mu.Unlock()
	// The API server may be restarting (a renewal on its own node parks its manifest, then
	// restarts etcd): retry until it answers, for at most 5 minutes. A starting API server also
	// answers 401/403 until its authorizer is ready, so those are retried too. 3 minutes was
	// not enough: in 1 of 20 interrupted rolling renewals on the real node tier, etcd stayed
	// down for longer while the agent, not yet told to stop, finished its restarts.
	ctx, cancel := context.WithTimeout(context.Background(), deleteBudget)
	defer cancel()
	var last error
	said := false
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		last = r.Client.CoreV1().Pods(r.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if last == nil || apierrors.IsNotFound(last) {
			return true, nil
		}
		if !said {
			r.progress("waiting for the API server to delete agent pod %s/%s (%s)", r.Namespace, name, OneLine(last.Error()))
			said = true
		}
		return false, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// Cleanup deletes every pod this runner made and has not deleted yet.
func (r *Runner) Cleanup() error {
	r.mu.Lock()
	var names []string
	for n := range r.pods {
		names = append(names, n)
	}
	r.mu.Unlock()
	var errs []error
	for _, n := range names {
		if err := r.Delete(n); err != nil {
			errs = append(errs, fmt.Errorf("deleting agent pod %s/%s: %w (remove it with: kubectl clusterops agent gc)", r.Namespace, n, err))
		}
	}
	return errors.Join(errs...)
}

// waitFor polls the pod until done says so, failing fast on an image pull error.
func (r *Runner) waitFor(ctx context.Context, name, node string, timeout time.Duration, done func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	poll := r.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		pod, err := r.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("%w: agent pod %s/%s was deleted by someone else", ErrPodGone, r.Namespace, name)
			}
			return false, nil // a blip of the API server: poll again
		}
		last = pod
		if perr := pullError(pod, r.Image, node); perr != nil {
			return false, perr
		}
		return done(pod)
	})
	if err != nil && ctx.Err() == nil && wait.Interrupted(err) {
		state := "Pending"
		if last != nil {
			state = string(last.Status.Phase) + describeWaiting(last)
		}
		return last, fmt.Errorf("the agent pod %s/%s on node %s is still %s after %s (is the node's kubelet up?)", r.Namespace, name, node, state, timeout)
	}
	return last, err
}

func describeWaiting(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return " (" + w.Reason + ")"
		}
	}
	return ""
}

// pullError reports the kubelet's image pull failures.
func pullError(pod *corev1.Pod, image, node string) error {
	for _, cs := range pod.Status.ContainerStatuses {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable":
			return &ImagePullError{Image: image, Node: node, Reason: w.Reason, Message: w.Message}
		case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
			return fmt.Errorf("node %s cannot start the agent container: %s: %s", node, w.Reason, OneLine(w.Message))
		}
	}
	return nil
}

// RunOn runs job on one node and returns its result. A global problem (forbidden, Pod
// Security, image pull, version mismatch) is returned as the error; a problem of this node only
// goes into the NodeResult.
func (r *Runner) RunOn(ctx context.Context, node string, job Job) (NodeResult, error) {
	return r.RunWith(ctx, node, job, nil)
}

// RunWith is RunOn with a step between the start of the pod and its end: when before is not nil
// (the job has a Trigger), it is called with a session on the running pod (to upload what the
// command needs, then write the trigger) and the command starts only then. An error of before
// ends the run: the pod is deleted (the command never started) and the error returned. After
// before, the pod runs on its own: the CLI only reads its status and log, and keeps asking
// while the API server does not answer (a restore stops it), up to the pod's deadline.
func (r *Runner) RunWith(ctx context.Context, node string, job Job, before func(*Session) error) (NodeResult, error) {
	res := NodeResult{Node: node}
	pod, err := r.create(ctx, node, job)
	if err != nil {
		return res, err
	}
	defer func() { _ = r.Delete(pod.Name) }()
	start := r.StartTimeout
	if start <= 0 {
		start = 2 * time.Minute
	}
	if before != nil {
		if _, err := r.waitFor(ctx, pod.Name, node, start, running(r.Namespace, node)); err != nil {
			return res, err
		}
		if err := before(&Session{r: r, Node: node, Pod: pod.Name}); err != nil {
			return res, err
		}
	}
	// The pod must finish within its own deadline; give the kubelet start-up time on top.
	final, err := r.waitFor(ctx, pod.Name, node, start+job.Deadline, func(p *corev1.Pod) (bool, error) {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	})
	if err != nil {
		var pe *ImagePullError
		if errors.As(err, &pe) || ctx.Err() != nil {
			return res, err
		}
		res.Err = err
		return res, nil
	}
	raw, lerr := r.Client.CoreV1().Pods(r.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: ContainerName}).DoRaw(ctx)
	if lerr != nil {
		res.Err = fmt.Errorf("reading the agent pod's log: %w", lerr)
		return res, nil
	}
	env, perr := ParseEnvelope(raw)
	if perr != nil {
		why := final.Status.Reason
		if final.Status.Message != "" {
			why += ": " + final.Status.Message
		}
		if why != "" {
			perr = fmt.Errorf("%w (pod %s)", perr, OneLine(why))
		}
		res.Err = perr
		return res, nil
	}
	if env.AgentVersion != r.Version {
		return res, &VersionMismatch{Agent: env.AgentVersion, CLI: r.Version, Image: r.Image}
	}
	if env.Error != "" {
		res.Err = errors.New(env.Error)
	}
	res.Envelope = env
	r.progress("node %s: agent finished (exit %d)", node, env.ExitCode)
	return res, nil
}

// running is done when the agent container runs; a pod that ended first is an error.
func running(namespace, node string) func(*corev1.Pod) (bool, error) {
	return func(p *corev1.Pod) (bool, error) {
		switch p.Status.Phase {
		case corev1.PodRunning:
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == ContainerName && cs.State.Running != nil {
					return true, nil
				}
			}
		case corev1.PodSucceeded, corev1.PodFailed:
			return false, fmt.Errorf("the agent pod %s/%s on node %s ended before it was used (%s %s)", namespace, p.Name, node, p.Status.Phase, p.Status.Reason)
		}
		return false, nil
	}
}

// RunAll runs job on every node at once and returns the results in the nodes' order. The first
// global error cancels the others and is returned after every pod is deleted.
func (r *Runner) RunAll(ctx context.Context, nodes []string, job Job) ([]NodeResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]NodeResult, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.RunOn(ctx, n, job)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return results, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// Session is an idle agent pod to exec into.
type Session struct {
	r    *Runner
	Node string
	Pod  string
}

// Start makes an idle agent pod for job on node and waits until it runs.
func (r *Runner) Start(ctx context.Context, node string, job Job) (*Session, error) {
	job.Idle = true
	pod, err := r.create(ctx, node, job)
	if err != nil {
		return nil, err
	}
	start := r.StartTimeout
	if start <= 0 {
		start = 2 * time.Minute
	}
	_, err = r.waitFor(ctx, pod.Name, node, start, running(r.Namespace, node))
	if err != nil {
		_ = r.Delete(pod.Name)
		return nil, err
	}
	return &Session{r: r, Node: node, Pod: pod.Name}, nil
}

// Exec runs the plugin in the session's pod with args, streaming stdin, stdout and stderr, as
// kubectl exec does (WebSocket, falling back to SPDY).
func (s *Session) Exec(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if s.r.Config == nil {
		return errors.New("internal error: agent runner has no REST config for exec")
	}
	req := s.r.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(s.r.Namespace).Name(s.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: ContainerName, Command: append([]string{Entrypoint}, args...),
			Stdin: stdin != nil, Stdout: stdout != nil, Stderr: stderr != nil,
		}, scheme.ParameterCodec)
	exec, err := newExecutor(req.URL(), s.r.Config)
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// newExecutor is kubectl exec's: WebSocket first, SPDY when the server does not upgrade
// (k8s.io/kubectl/pkg/cmd/exec/exec.go createExecutor).
func newExecutor(u *url.URL, config *rest.Config) (remotecommand.Executor, error) {
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return nil, err
	}
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// Close deletes the session's pod.
func (s *Session) Close() error { return s.r.Delete(s.Pod) }

// Prepare removes the agent pods earlier runs left behind (finished or past their deadline; a
// CLI killed with SIGKILL cannot delete its own) and checks the caller's permissions for job.
func (r *Runner) Prepare(ctx context.Context, job Job) error {
	if removed, err := GC(ctx, r.Client, r.Namespace, r.now(), false); err == nil {
		for _, g := range removed {
			r.progress("removed agent pod %s/%s left behind by an earlier run (%s)", g.Namespace, g.Name, g.Why)
		}
	}
	return r.Preflight(ctx, job)
}
