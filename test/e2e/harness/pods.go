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
