package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ControlPlane is the control-plane section of the overview.
type ControlPlane struct {
	Readyz     *Endpoint   `json:"readyz,omitempty"`
	Livez      *Endpoint   `json:"livez,omitempty"`
	Components []Component `json:"components"`
	Etcd       EtcdStatus  `json:"etcd"`
}

// Endpoint is one health endpoint of the API server with its individual checks.
type Endpoint struct {
	Path   string  `json:"path"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Checks []Check `json:"checks"`
}

// Check is one line of a verbose health endpoint: "[+]etcd ok" or "[-]etcd failed: ...".
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// EtcdChecks returns the checks about etcd (etcd, etcd-readiness, ...).
func (e *Endpoint) EtcdChecks() []Check {
	var out []Check
	if e == nil {
		return nil
	}
	for _, c := range e.Checks {
		if strings.Contains(c.Name, "etcd") {
			out = append(out, c)
		}
	}
	return out
}

// Component is one control-plane component: its static pods and, for the controller-manager and
// the scheduler, the leader-election Lease.
type Component struct {
	Name  string      `json:"name"`
	Pods  []PodHealth `json:"pods"`
	Lease *LeaseInfo  `json:"lease,omitempty"`
}

// PodHealth is a mirror pod of a component.
type PodHealth struct {
	Pod      string `json:"pod"`
	Node     string `json:"node"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	Image    string `json:"image"`
}

// LeaseInfo is a leader-election Lease in kube-system.
type LeaseInfo struct {
	Name                 string       `json:"name"`
	Found                bool         `json:"found"`
	Holder               string       `json:"holder,omitempty"`
	RenewTime            *metav1.Time `json:"renewTime,omitempty"`
	LeaseDurationSeconds int32        `json:"leaseDurationSeconds,omitempty"`
	SecondsSinceRenew    int64        `json:"secondsSinceRenew,omitempty"`
	Stale                bool         `json:"stale"`
}

var controlPlaneComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// leaderElected are the components that elect a leader through a Lease of their own name.
var leaderElected = map[string]bool{"kube-controller-manager": true, "kube-scheduler": true}

// ParseHealth parses the body of /readyz?verbose or /livez?verbose.
func ParseHealth(body string) []Check {
	var checks []Check
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		var ok bool
		switch {
		case strings.HasPrefix(line, "[+]"):
			ok = true
		case strings.HasPrefix(line, "[-]"):
		default:
			continue
		}
		name, msg, _ := strings.Cut(line[3:], " ")
		checks = append(checks, Check{Name: name, OK: ok, Message: strings.TrimSpace(msg)})
	}
	return checks
}

func (c *collector) endpoint(ctx context.Context, path string) (*Endpoint, error) {
	body, err := c.in.Health.Check(ctx, path+"?verbose")
	e := &Endpoint{Path: path, OK: err == nil, Checks: ParseHealth(body)}
	if e.Checks == nil {
		e.Checks = []Check{}
	}
	if err != nil {
		var status apierrors.APIStatus
		if len(e.Checks) == 0 && !errors.As(err, &status) {
			return nil, &ErrUnreachable{Err: err}
		}
		e.Error = strings.Join(strings.Fields(err.Error()), " ")
		if apierrors.IsForbidden(err) {
			c.readErr(path, err)
			return e, nil
		}
		var failed []string
		for _, ch := range e.Checks {
			if !ch.OK {
				failed = append(failed, ch.Name)
			}
		}
		c.problem(SeverityProblem, "controlPlane", "the API server's %s fails: %s", path, orText(strings.Join(failed, ", "), e.Error))
	}
	return e, nil
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *collector) controlPlane(ctx context.Context) error {
	cp := &c.s.ControlPlane
	cp.Components = []Component{}
	if c.in.Health != nil {
		var err error
		if cp.Readyz, err = c.endpoint(ctx, "/readyz"); err != nil {
			return err
		}
		if cp.Livez, err = c.endpoint(ctx, "/livez"); err != nil {
			return err
		}
	}
	pods, err := c.in.Client.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	podsRead := err == nil
	if err != nil {
		var status apierrors.APIStatus
		if c.in.Health == nil && !errors.As(err, &status) {
			return &ErrUnreachable{Err: err}
		}
		c.readErr("pods in kube-system", err)
		pods = &corev1.PodList{}
	}
	byComponent := map[string][]PodHealth{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if _, mirror := p.Annotations["kubernetes.io/config.mirror"]; !mirror {
			continue
		}
		name := p.Labels["component"]
		if name == "" {
			name = strings.TrimSuffix(p.Name, "-"+p.Spec.NodeName)
		}
		byComponent[name] = append(byComponent[name], podHealth(p))
		if name == "kube-controller-manager" && c.kcmFlags == nil {
			c.kcmFlags = podFlags(p)
		}
		if name == "kube-apiserver" && c.apiserverFlags == nil {
			c.apiserverFlags = podFlags(p)
		}
	}
	for _, name := range controlPlaneComponents {
		comp := Component{Name: name, Pods: byComponent[name]}
		if comp.Pods == nil {
			comp.Pods = []PodHealth{}
		}
		sort.Slice(comp.Pods, func(i, j int) bool { return comp.Pods[i].Node < comp.Pods[j].Node })
		if len(comp.Pods) == 0 && podsRead {
			c.problem(SeverityWarning, "controlPlane", "%s: no mirror pod (not run as a static pod, or its kubelet does not report it)", name)
		}
		for _, p := range comp.Pods {
			if !p.Ready {
				c.problem(SeverityProblem, "controlPlane", "%s: pod %s on %s is %s and not ready", name, p.Pod, p.Node, p.Phase)
			}
		}
		if leaderElected[name] {
			comp.Lease = c.lease(ctx, name)
		}
		cp.Components = append(cp.Components, comp)
	}
	return nil
}

// podFlags are the "--name=value" flags of a pod's first container.
func podFlags(p *corev1.Pod) map[string]string {
	flags := map[string]string{}
	if len(p.Spec.Containers) == 0 {
		return flags
	}
	c := p.Spec.Containers[0]
	for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
		if k, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(k, "--") {
			flags[k] = v
		}
	}
	return flags
}

func podHealth(p *corev1.Pod) PodHealth {
	h := PodHealth{Pod: p.Namespace + "/" + p.Name, Node: p.Spec.NodeName, Phase: string(p.Status.Phase)}
	if len(p.Spec.Containers) > 0 {
		h.Image = p.Spec.Containers[0].Image
	}
	for _, cs := range p.Status.ContainerStatuses {
		h.Restarts += cs.RestartCount
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			h.Ready = cond.Status == corev1.ConditionTrue
		}
	}
	return h
}

func (c *collector) lease(ctx context.Context, name string) *LeaseInfo {
	li := &LeaseInfo{Name: metav1.NamespaceSystem + "/" + name}
	l, err := c.in.Client.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	if !c.readErr("Lease "+li.Name, err) {
		if err == nil || apierrors.IsNotFound(err) {
			c.problem(SeverityProblem, "controlPlane", "%s: no leader-election Lease %s: no instance has ever led (is it running?)", name, li.Name)
		}
		return li
	}
	fillLease(li, l, c.now)
	if li.Stale {
		c.problem(SeverityProblem, "controlPlane", "%s: leader %q last renewed Lease %s %ds ago (lease duration %ds): no active leader",
			name, li.Holder, li.Name, li.SecondsSinceRenew, li.LeaseDurationSeconds)
	}
	return li
}

// fillLease reads holder, renew time and staleness: a Lease is stale when it was not renewed
// within its leaseDurationSeconds (15s when unset, the components' default).
func fillLease(li *LeaseInfo, l *coordinationv1.Lease, now time.Time) {
	li.Found = true
	if l.Spec.HolderIdentity != nil {
		li.Holder = *l.Spec.HolderIdentity
	}
	li.LeaseDurationSeconds = 15
	if l.Spec.LeaseDurationSeconds != nil {
		li.LeaseDurationSeconds = *l.Spec.LeaseDurationSeconds
	}
	renew := l.Spec.RenewTime
	if renew == nil {
		renew = l.Spec.AcquireTime
	}
	if renew == nil {
		li.Stale = true
		return
	}
	t := metav1.NewTime(renew.Time)
	li.RenewTime = &t
	since := now.Sub(renew.Time)
	li.SecondsSinceRenew = int64(since / time.Second)
	li.Stale = li.Holder == "" || since > time.Duration(li.LeaseDurationSeconds)*time.Second
}

// String renders a lease for a table.
func (li *LeaseInfo) String() string {
	switch {
	case li == nil:
		return "-"
	case !li.Found:
		return "no Lease"
	case li.RenewTime == nil:
		return fmt.Sprintf("%s (never renewed)", orText(li.Holder, "no holder"))
	}
	stale := ""
	if li.Stale {
		stale = ", STALE"
	}
	return fmt.Sprintf("%s (renewed %ds ago, duration %ds%s)", orText(li.Holder, "no holder"), li.SecondsSinceRenew, li.LeaseDurationSeconds, stale)
}
