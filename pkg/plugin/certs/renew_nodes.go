package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// nodeRenewal is one node's part of a rolling renewal.
type nodeRenewal struct {
	Node string `json:"node"`
	// Renewal is the agent's `certs renew -o json` result on the node.
	Renewal *renewOutput `json:"renewal,omitempty"`
	// APIServerReady: the node's own kube-apiserver answered /readyz after the restart.
	APIServerReady bool `json:"apiserverReady"`
	// EtcdReady: the node's etcd mirror pod is Ready with a container started after the renewal.
	EtcdReady bool   `json:"etcdReady"`
	Problem   string `json:"problem,omitempty"`
}

// rollingRenewal is printed with kind CertificateRenewal when renewing through agents.
type rollingRenewal struct {
	Nodes []nodeRenewal `json:"nodes"`
	// Done lists the nodes renewed and healthy again, in order.
	Done []string `json:"done"`
	// NotStarted lists the nodes left untouched after a failure.
	NotStarted []string `json:"notStarted,omitempty"`
}

func (o *CertsRenewOptions) completeNodes(f cmdutil.Factory, cmd *cobra.Command) error {
	var err error
	o.rootGiven = cmd.Flags().Changed("root")
	if o.runner, err = o.agents.Runner(f, o.ErrOut); err != nil {
		return err
	}
	o.client = o.runner.Client
	o.config = o.runner.Config
	return nil
}

func (o *CertsRenewOptions) validateNodes() error {
	switch {
	case o.rootGiven:
		return errors.New("--root renews a local filesystem; --node, --nodes and --control-plane renew the nodes through agent pods: pass one or the other")
	case o.CSROnly:
		return errors.New("--csr-only writes files on the node: run it there with --root")
	case o.validity < time.Hour:
		return fmt.Errorf("--validity %s is too short: use at least 1h", o.Validity)
	}
	return o.agents.Validate()
}

// renewJob is the agent's command: the same renewal with --root /host, restarting the node's
// static pods (the agent has no API access, so each manifest stays away --restart-wait). It runs
// on the host network: before a leading etcd member restarts, the agent hands its leadership to
// another member, which it reaches at that member's own client URL.
func (o *CertsRenewOptions) renewJob() agent.Job {
	args := append([]string{"certs", "renew"}, o.Names...)
	args = append(args, o.node.nodeArgs()...)
	args = append(args, "-o", "json", "--validity", o.Validity, "--restart-wait", o.RestartWait.String())
	if o.NewKey {
		args = append(args, "--new-key")
	}
	if o.DryRun {
		args = append(args, "--dry-run")
	} else {
		args = append(args, "--restart-static-pods")
	}
	return agent.Job{Command: "certs renew", Args: args, Mounts: o.node.nodeMounts(!o.DryRun), HostNetwork: !o.DryRun, Deadline: o.agents.Timeout}
}

// runNodes renews one node at a time: the agent renews and restarts the static pods, then the
// node's kube-apiserver must answer /readyz and its etcd must be Ready before the next node. It
// stops at the first failure and names the nodes already done.
func (o *CertsRenewOptions) runNodes(ctx context.Context) error {
	server := o.config.Host
	job := o.renewJob()
	if err := o.runner.Prepare(ctx, job); err != nil {
		return cmdutil.AgentError(err, server)
	}
	targets, err := agent.Resolve(ctx, o.client, o.agents.Selection())
	if err != nil {
		return cmdutil.AgentError(err, server)
	}
	defer func() { _ = o.runner.Cleanup() }()
	out := rollingRenewal{Nodes: []nodeRenewal{}, Done: []string{}}
	var failure error
	for i, t := range targets {
		nr := nodeRenewal{Node: t.Name}
		failure = o.renewNode(ctx, t, job, &nr)
		out.Nodes = append(out.Nodes, nr)
		if failure != nil {
			for _, rest := range targets[i+1:] {
				out.NotStarted = append(out.NotStarted, rest.Name)
			}
			break
		}
		out.Done = append(out.Done, t.Name)
	}
	if err := o.printer.Print(o.Out, "CertificateRenewal", out, func(w io.Writer) error { return rollingTable(w, out) }); err != nil {
		return err
	}
	if failure != nil {
		var exit *cmdutil.ExitError
		if errors.As(failure, &exit) {
			return failure
		}
		done := "none"
		if len(out.Done) > 0 {
			done = strings.Join(out.Done, ", ")
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("stopped at node %s: %s (nodes already renewed: %s)",
			out.Nodes[len(out.Nodes)-1].Node, cmdutil.OneLine(failure.Error()), done)}
	}
	return nil
}

func (o *CertsRenewOptions) renewNode(ctx context.Context, t agent.Target, job agent.Job, nr *nodeRenewal) error {
	if !t.Ready {
		nr.Problem = "node " + t.NotReady
		return errors.New(nr.Problem)
	}
	started := time.Now()
	fmt.Fprintf(o.ErrOut, "node %s: renewing through an agent pod\n", t.Name)
	res, err := o.runner.RunOn(ctx, t.Name, job)
	if err != nil {
		nr.Problem = cmdutil.OneLine(err.Error())
		return cmdutil.AgentError(err, o.config.Host)
	}
	if res.Err != nil {
		nr.Problem = cmdutil.OneLine(res.Err.Error())
		return res.Err
	}
	var ro renewOutput
	if err := json.Unmarshal(res.Envelope.Stdout, &ro); err != nil || res.Envelope.ExitCode != 0 {
		nr.Problem = "the agent's renewal failed: " + lastLine(res.Envelope.Stderr)
		return errors.New(nr.Problem)
	}
	nr.Renewal = &ro
	if o.DryRun {
		return nil
	}
	timeout := o.RestartTimeout + time.Minute
	fmt.Fprintf(o.ErrOut, "node %s: renewed; waiting for its kube-apiserver /readyz and its etcd\n", t.Name)
	if err := o.waitHealthy(ctx, t, started, timeout, nr); err != nil {
		nr.Problem = cmdutil.OneLine(err.Error())
		return err
	}
	fmt.Fprintf(o.ErrOut, "node %s: kube-apiserver ready, etcd ready\n", t.Name)
	return nil
}

// waitHealthy waits until the node's own kube-apiserver (its mirror pod's address and port, not
// the kubeconfig's load balancer) answers /readyz with the kubeconfig's credentials, and its etcd
// mirror pod is Ready with a container started after since.
func (o *CertsRenewOptions) waitHealthy(ctx context.Context, t agent.Target, since time.Time, timeout time.Duration, nr *nodeRenewal) error {
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		if !nr.APIServerReady {
			if lastErr = o.readyz(ctx, t); lastErr == nil {
				nr.APIServerReady = true
			}
		}
		if !nr.EtcdReady {
			pod, err := o.client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, "etcd-"+t.Name, metav1.GetOptions{})
			switch {
			case err != nil:
				lastErr = fmt.Errorf("etcd mirror pod: %w", err)
			case !startedSinceAndReady(pod, since):
				lastErr = errors.New("etcd is not Ready again yet")
			default:
				nr.EtcdReady = true
			}
		}
		return nr.APIServerReady && nr.EtcdReady, nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("node %s is not healthy %s after the renewal: %v", t.Name, timeout, lastErr)
	}
	return err
}

func startedSinceAndReady(pod *corev1.Pod, since time.Time) bool {
	ready := false
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if r := cs.State.Running; r != nil && !r.StartedAt.Time.Before(since.Add(-time.Second)) {
			return ready
		}
	}
	return false
}

// readyz asks the node's kube-apiserver itself: the address and port of its mirror pod's
// readiness probe (kubeadm's manifest has one), or the node's InternalIP and 6443.
func (o *CertsRenewOptions) readyz(ctx context.Context, t agent.Target) error {
	host, port := t.InternalIP, "6443"
	if pod, err := o.client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, "kube-apiserver-"+t.Name, metav1.GetOptions{}); err == nil {
		for _, c := range pod.Spec.Containers {
			if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
				if p.HTTPGet.Host != "" {
					host = p.HTTPGet.Host
				}
				if p.HTTPGet.Port.IntValue() > 0 {
					port = strconv.Itoa(p.HTTPGet.Port.IntValue())
				}
			}
		}
	}
	if host == "" {
		return fmt.Errorf("node %s has no InternalIP", t.Name)
	}
	cfg := rest.CopyConfig(o.config)
	cfg.Host = "https://" + net.JoinHostPort(host, port)
	cfg.Timeout = 5 * time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("kube-apiserver on %s: %w", cfg.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kube-apiserver on %s: /readyz %d %s", cfg.Host, resp.StatusCode, cmdutil.OneLine(string(body)))
	}
	return nil
}

func rollingTable(w io.Writer, out rollingRenewal) error {
	fmt.Fprintln(w, "NODE\tRENEWED\tSTATIC PODS RESTARTED\tAPISERVER READYZ\tETCD READY\tPROBLEM")
	for _, n := range out.Nodes {
		renewed, restarted := 0, []string{}
		if n.Renewal != nil && n.Renewal.RenewResult != nil {
			renewed = len(n.Renewal.Certificates)
			for _, r := range n.Renewal.Restarted {
				restarted = append(restarted, r.Component)
			}
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", n.Node, renewed, strings.Join(restarted, ","), yesNo(n.APIServerReady), yesNo(n.EtcdReady), n.Problem)
	}
	if len(out.NotStarted) > 0 {
		fmt.Fprintf(w, "\nNot started: %s\n", strings.Join(out.NotStarted, ", "))
	}
	return nil
}
