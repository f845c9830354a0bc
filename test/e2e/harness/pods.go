package harness

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// AddRunningPod creates a pod bound to a node (spec.nodeName set, as the scheduler would) and
// reports it Running and Ready through the status subresource, as its kubelet would.
func (cp *ControlPlane) AddRunningPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	return cp.AddPod(ctx, pod, true)
}

// AddPod creates a pod bound to a node and reports it Running through the status subresource,
// Ready or not (a container that fails its readiness probe), as its kubelet would.
func (cp *ControlPlane) AddPod(ctx context.Context, pod *corev1.Pod, ready bool) (*corev1.Pod, error) {
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s has no spec.nodeName", pod.Name)
	}
	created, err := cp.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return cp.SetPodStatus(ctx, created.Namespace, created.Name, func(p *corev1.Pod) { p.Status = RunningStatus(p, ready) })
}

// SetPodStatus reads a pod, lets edit change it, and writes its status subresource, again on a
// conflict (a controller may touch the pod in between).
func (cp *ControlPlane) SetPodStatus(ctx context.Context, namespace, name string, edit func(*corev1.Pod)) (*corev1.Pod, error) {
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := cp.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(pod)
		out, err = cp.Client.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setting the status of pod %s/%s: %w", namespace, name, err)
	}
	return out, nil
}

// RunningStatus is the status a kubelet reports for a pod whose containers run, with the Ready
// and ContainersReady conditions set to ready.
func RunningStatus(pod *corev1.Pod, ready bool) corev1.PodStatus {
	now := metav1.Now()
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: "127.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return st
}

// ScheduleDaemonSetPods does for the pods of a DaemonSet what kube-scheduler and the kubelet
// would: each pod the DaemonSet controller created for a node (its node affinity names the
// node: matchFields metadata.name) is bound to that node through the binding subresource and
// reported Running and Ready. It returns, per node, the bound pods that are not being deleted.
func (cp *ControlPlane) ScheduleDaemonSetPods(ctx context.Context, namespace, name string) (map[string][]corev1.Pod, error) {
	pods, err := cp.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "DaemonSet" || ref.Name != name || p.DeletionTimestamp != nil {
			continue
		}
		if p.Spec.NodeName == "" {
			node := affinityNode(&p)
			if node == "" {
				continue
			}
			if err := cp.Client.CoreV1().Pods(namespace).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: namespace},
				Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{}); err != nil {
				return nil, fmt.Errorf("binding %s/%s to %s: %w", namespace, p.Name, node, err)
			}
			bound, err := cp.SetPodStatus(ctx, namespace, p.Name, func(pod *corev1.Pod) { pod.Status = RunningStatus(pod, true) })
			if err != nil {
				return nil, err
			}
			p = *bound
		}
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
	}
	return out, nil
}

// affinityNode is the node the DaemonSet controller meant a pod for.
func affinityNode(p *corev1.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}
