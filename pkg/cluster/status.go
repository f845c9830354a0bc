// Package cluster builds the architecture overview of a kubeadm-style cluster that
// `kubectl clusterops cluster status` prints: control-plane health (the API server's /readyz and
// /livez checks, leader-election Leases, the static pods), nodes, the CoreDNS and kube-proxy
// add-ons, and networking (the CNI, pod and service CIDRs, IPAM overlaps and exhaustion,
// NetworkPolicy support). Every finding is a typed value; Problems lists what needs attention.
package cluster

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
)

// Severity of a Problem.
const (
	SeverityWarning = "warning"
	SeverityProblem = "problem"
)

// Problem is one finding that needs attention.
type Problem struct {
	Severity string `json:"severity"`
	Section  string `json:"section"` // controlPlane, nodes, addons, networking, access
	Message  string `json:"message"`
}

// Unreadable is something the status could not read (Forbidden, or another API error).
type Unreadable struct {
	What  string `json:"what"`
	Error string `json:"error"`
}

// Status is the result of Collect.
type Status struct {
	ControlPlane ControlPlane `json:"controlPlane"`
	Nodes        []Node       `json:"nodes"`
	Addons       Addons       `json:"addons"`
	Networking   Networking   `json:"networking"`
	Unreadable   []Unreadable `json:"unreadable"`
	Problems     []Problem    `json:"problems"`
	// Healthy is true when there is no problem (warnings allowed).
	Healthy bool `json:"healthy"`
}

// Worst returns the highest severity among the problems: "", SeverityWarning or SeverityProblem.
func (s *Status) Worst() string {
	worst := ""
	for _, p := range s.Problems {
		if p.Severity == SeverityProblem {
			return SeverityProblem
		}
		worst = SeverityWarning
	}
	return worst
}

// HealthChecker fetches a health endpoint of the API server (/readyz?verbose, /livez?verbose):
// the body, and an error when the endpoint did not answer 200 (the body may still be set).
type HealthChecker interface {
	Check(ctx context.Context, path string) (body string, err error)
}

// Inputs is what Collect reads.
type Inputs struct {
	Client kubernetes.Interface
	// Health may be nil: the health endpoints are then not checked.
	Health HealthChecker
	// Root is a node root: its /etc/cni/net.d is read for CNI configs, and the API server's etcd
	// client certificate under it is used to list the etcd members. "" reads no files.
	Root string
	// NodeCNI, when not nil, is a node's /etc/cni/net.d as an agent pod read it (cluster
	// status --node): used like Root's.
	NodeCNI *NodeCNI
	// NodeEtcd, when not nil, is the etcd member list an agent pod on a control-plane node read
	// (cluster status --control-plane): every member asked at its own client URLs.
	NodeEtcd *NodeEtcd
}

// NodeEtcd is the etcd members as an agent pod on a control-plane node saw them, or why it could
// not see them.
type NodeEtcd struct {
	Node    string
	Members []EtcdMember
	Err     string
}

// NodeCNI is the CNI configs an agent pod read on a node, or why it could not.
type NodeCNI struct {
	Node     string
	Detected []CNIDetection
	Err      string
}

// ErrUnreachable wraps the error of the first request when the API server cannot be reached at
// all: nothing else can be read then.
type ErrUnreachable struct{ Err error }

func (e *ErrUnreachable) Error() string { return e.Err.Error() }
func (e *ErrUnreachable) Unwrap() error { return e.Err }

// collector carries the state of one Collect call.
type collector struct {
	in  Inputs
	now time.Time
	s   *Status
	// kcmFlags are the flags of a kube-controller-manager mirror pod ("--name" -> value).
	kcmFlags map[string]string
	// apiserverFlags are the flags of a kube-apiserver mirror pod.
	apiserverFlags map[string]string
}

func (c *collector) problem(severity, section, format string, args ...any) {
	c.s.Problems = append(c.s.Problems, Problem{Severity: severity, Section: section, Message: fmt.Sprintf(format, args...)})
}

// readErr records an error of a read. NotFound is not an error (ok=false, nothing recorded):
// the caller reports the absence. Anything else is recorded as unreadable.
func (c *collector) readErr(what string, err error) (found bool) {
	if err == nil {
		return true
	}
	if apierrors.IsNotFound(err) {
		return false
	}
	msg := err.Error()
	if apierrors.IsForbidden(err) {
		msg = "forbidden: " + msg
	}
	c.s.Unreadable = append(c.s.Unreadable, Unreadable{What: what, Error: msg})
	c.problem(SeverityWarning, "access", "could not read %s: %s", what, msg)
	return false
}

// Collect reads everything the overview shows. It fails only when the API server cannot be
// reached at all; Forbidden and other errors of single reads are reported in Unreadable.
func Collect(ctx context.Context, in Inputs, now time.Time) (*Status, error) {
	c := &collector{in: in, now: now, s: &Status{Nodes: []Node{}, Unreadable: []Unreadable{}, Problems: []Problem{}}}
	if err := c.controlPlane(ctx); err != nil {
		return nil, err
	}
	c.etcd(ctx)
	c.nodes(ctx)
	c.addons(ctx)
	c.networking(ctx)
	c.s.Healthy = c.s.Worst() != SeverityProblem
	return c.s, nil
}
