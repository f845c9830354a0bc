package agent

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"
)

// LabelControlPlane marks control-plane nodes (kubeadm sets it).
const LabelControlPlane = "node-role.kubernetes.io/control-plane"

// Target is one node a command was asked to run on.
type Target struct {
	Name       string `json:"name"`
	InternalIP string `json:"internalIP,omitempty"`
	Ready      bool   `json:"ready"`
	// NotReady says why the node is skipped (NotReady, Unknown, unschedulable is fine).
	NotReady string `json:"notReady,omitempty"`
}

// Selection is what --node, --nodes and --control-plane asked for.
type Selection struct {
	Names        []string
	ControlPlane bool
}

// Empty reports whether no node was asked for: the command runs locally.
func (s Selection) Empty() bool { return len(s.Names) == 0 && !s.ControlPlane }

// Resolve looks the nodes up. A named node that does not exist is an error (bad input); a
// node that is not Ready is returned with NotReady set, so its row can say so.
func Resolve(ctx context.Context, client kubernetes.Interface, sel Selection) ([]Target, error) {
	var nodes []corev1.Node
	if sel.ControlPlane {
		p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.CoreV1().Nodes().List(ctx, opts)
		})
		err := p.EachListItem(ctx, metav1.ListOptions{LabelSelector: LabelControlPlane}, func(obj runtime.Object) error {
			nodes = append(nodes, *obj.(*corev1.Node))
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(nodes) == 0 {
			return nil, fmt.Errorf("no node has the label %s: name the nodes with --node or --nodes", LabelControlPlane)
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.Name] = true
	}
	for _, name := range sel.Names {
		if seen[name] {
			continue
		}
		seen[name] = true
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &NoSuchNodeError{Name: name}
		}
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, *n)
	}
	targets := make([]Target, 0, len(nodes))
	for _, n := range nodes {
		targets = append(targets, target(&n))
	}
	return targets, nil
}

// NoSuchNodeError is a --node that names no node.
type NoSuchNodeError struct{ Name string }

func (e *NoSuchNodeError) Error() string {
	return fmt.Sprintf("node %q does not exist: see kubectl get nodes", e.Name)
}

func target(n *corev1.Node) Target {
	t := Target{Name: n.Name, NotReady: "no Ready condition"}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && t.InternalIP == "" {
			t.InternalIP = a.Address
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			t.Ready, t.NotReady = true, ""
		case corev1.ConditionUnknown:
			t.NotReady = "unreachable (Ready=Unknown: the kubelet stopped posting status)"
		default:
			t.NotReady = "NotReady"
		}
		if c.Reason != "" && !t.Ready {
			t.NotReady += " (" + c.Reason + ")"
		}
	}
	return t
}

// GCResult is one agent pod GC removed.
type GCResult struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
	Command   string `json:"command,omitempty"`
	Phase     string `json:"phase"`
	Why       string `json:"why"`
}

// GC deletes agent pods (both labels of Selector) in namespace ("" for all) that are finished
// or past their expiry annotation, and with all, running ones too. A pod of a run still going
// on elsewhere is left alone unless all is set.
func GC(ctx context.Context, client kubernetes.Interface, namespace string, now time.Time, all bool) ([]GCResult, error) {
	return GCWhere(ctx, client, namespace, func(pod *corev1.Pod) string {
		switch {
		case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
			return "finished"
		case expired(pod, now):
			return "expired"
		case all:
			return "--all"
		}
		return ""
	})
}

// GCWhere deletes the agent pods in namespace ("" for all) for which why returns a reason (each
// with a UID precondition), and returns them.
func GCWhere(ctx context.Context, client kubernetes.Interface, namespace string, why func(*corev1.Pod) string) ([]GCResult, error) {
	var out []GCResult
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return client.CoreV1().Pods(namespace).List(ctx, opts)
	})
	var victims []corev1.Pod
	err := p.EachListItem(ctx, metav1.ListOptions{LabelSelector: Selector()}, func(obj runtime.Object) error {
		pod := obj.(*corev1.Pod)
		if IsAgentPod(pod) && pod.DeletionTimestamp == nil {
			victims = append(victims, *pod)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, pod := range victims {
		why := why(&pod)
		if why == "" {
			continue
		}
		err := client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return out, fmt.Errorf("deleting agent pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		out = append(out, GCResult{Namespace: pod.Namespace, Name: pod.Name, Node: pod.Annotations[AnnotationNode],
			Command: pod.Annotations[AnnotationCommand], Phase: string(pod.Status.Phase), Why: why})
	}
	return out, nil
}

func expired(pod *corev1.Pod, now time.Time) bool {
	t, err := time.Parse(time.RFC3339, pod.Annotations[AnnotationExpires])
	if err != nil {
		// No readable expiry: an hour after creation.
		return now.Sub(pod.CreationTimestamp.Time) > time.Hour
	}
	return now.After(t)
}
