package staticpods

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
)

// The kubelet's annotations on the pods it runs from files, and on their mirror pods.
const (
	AnnotationMirror = "kubernetes.io/config.mirror"
	AnnotationHash   = "kubernetes.io/config.hash"
	AnnotationSource = "kubernetes.io/config.source"
)

// IsMirrorPod says whether the kubelet created pod as the mirror of a static pod.
func IsMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[AnnotationMirror]
	return ok
}

// Component is the control-plane component a mirror pod runs: its "component" label (kubeadm
// sets it), or the pod name without the "-<node>" suffix the kubelet adds.
func Component(pod *corev1.Pod) string {
	if c := pod.Labels["component"]; c != "" {
		return c
	}
	if n := pod.Spec.NodeName; n != "" {
		if base, ok := strings.CutSuffix(pod.Name, "-"+n); ok {
			return base
		}
	}
	return pod.Name
}

// ImageVersion is the tag of an image reference ("registry.k8s.io/kube-apiserver:v1.37.2" gives
// "v1.37.2"), or "" when it has none.
func ImageVersion(image string) string {
	image, _, _ = strings.Cut(image, "@")
	last := image[strings.LastIndex(image, "/")+1:]
	if _, tag, ok := strings.Cut(last, ":"); ok {
		return tag
	}
	return ""
}

// MirrorPod is one mirror pod as `staticpods list` reports it.
type MirrorPod struct {
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	Node       string      `json:"node"`
	Component  string      `json:"component"`
	Image      string      `json:"image"`
	Version    string      `json:"version,omitempty"`
	Phase      string      `json:"phase"`
	Ready      bool        `json:"ready"`
	Containers int         `json:"containers"`
	ReadyCount int         `json:"readyContainers"`
	Restarts   int32       `json:"restarts"`
	LastState  string      `json:"lastTermination,omitempty"`
	Created    metav1.Time `json:"created"`
	Hash       string      `json:"hash"`
	Source     string      `json:"source,omitempty"`
}

// ListResult is the result of List.
type ListResult struct {
	Node  string      `json:"node,omitempty"`
	Items []MirrorPod `json:"items"`
}

// ErrNodeNotFound is returned when a node given by name does not exist.
type ErrNodeNotFound struct{ Name string }

func (e *ErrNodeNotFound) Error() string { return fmt.Sprintf("node %q not found", e.Name) }

// List returns the mirror pods of every node, or of one node when node is not "".
func List(ctx context.Context, client kubernetes.Interface, node string) (*ListResult, error) {
	if node != "" {
		if err := checkNode(ctx, client, node); err != nil {
			return nil, err
		}
	}
	pods, err := mirrorPods(ctx, client, node)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Node: node, Items: []MirrorPod{}}
	for i := range pods {
		res.Items = append(res.Items, summarize(&pods[i]))
	}
	return res, nil
}

func checkNode(ctx context.Context, client kubernetes.Interface, node string) error {
	_, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil && isNotFound(err) {
		return &ErrNodeNotFound{Name: node}
	}
	return err
}

// mirrorPods lists the mirror pods of all nodes (node == "") or one, sorted by node and name.
func mirrorPods(ctx context.Context, client kubernetes.Interface, node string) ([]corev1.Pod, error) {
	opts := metav1.ListOptions{}
	if node != "" {
		opts.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
	}
	var out []corev1.Pod
	err := paging.Each(ctx, opts, client.CoreV1().Pods(metav1.NamespaceAll).List, func(p *corev1.Pod) error {
		if IsMirrorPod(p) && (node == "" || p.Spec.NodeName == node) {
			out = append(out, *p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Spec.NodeName != out[j].Spec.NodeName {
			return out[i].Spec.NodeName < out[j].Spec.NodeName
		}
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

func summarize(p *corev1.Pod) MirrorPod {
	mp := MirrorPod{
		Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Component: Component(p),
		Phase: string(p.Status.Phase), Containers: len(p.Spec.Containers), Created: p.CreationTimestamp,
		Hash: p.Annotations[AnnotationHash], Source: p.Annotations[AnnotationSource],
	}
	if len(p.Spec.Containers) > 0 {
		mp.Image = p.Spec.Containers[0].Image
		mp.Version = ImageVersion(mp.Image)
	}
	for _, cs := range p.Status.ContainerStatuses {
		mp.Restarts += cs.RestartCount
		if cs.Ready {
			mp.ReadyCount++
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			mp.LastState = fmt.Sprintf("%s (exit %d) at %s", t.Reason, t.ExitCode, t.FinishedAt.UTC().Format(time.RFC3339))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			mp.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return mp
}
