package upgrade

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cloud-controller-manager pods are recognised by container name or image, whatever runs them.
func TestCCMPod(t *testing.T) {
	yes := true
	pod := func(name, container, image string, owner string, phase corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name},
			Spec:   corev1.PodSpec{NodeName: "cp1", Containers: []corev1.Container{{Name: container, Image: image}}},
			Status: corev1.PodStatus{Phase: phase}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: owner, Name: "ccm", Controller: &yes}}
		}
		return p
	}
	tests := []struct {
		p      *corev1.Pod
		mirror bool
		want   string // Source:Version, "" when not a cloud-controller-manager
	}{
		{pod("a", "cloud-controller-manager", "registry.k8s.io/provider-aws/cloud-controller-manager:v1.37.1", "DaemonSet", corev1.PodRunning), false, "DaemonSet kube-system/ccm:v1.37.1"},
		{pod("b", "manager", "registry.k8s.io/provider-os/openstack-cloud-controller-manager:v1.36.0", "ReplicaSet", corev1.PodRunning), false, "ReplicaSet kube-system/ccm:v1.36.0"},
		{pod("c", "hcloud-cloud-controller-manager", "docker.io/hetznercloud/hcloud-cloud-controller-manager:v1.26.0@sha256:abc", "", corev1.PodRunning), true, "static pod:v1.26.0"},
		{pod("d", "kube-controller-manager", "registry.k8s.io/kube-controller-manager:v1.37.2", "", corev1.PodRunning), true, ""},
		{pod("e", "cloud-controller-manager", "registry.k8s.io/cloud-controller-manager:v1.37.2", "ReplicaSet", corev1.PodSucceeded), false, ""},
	}
	for _, tt := range tests {
		c, ok := ccmPod(tt.p, tt.mirror)
		got := ""
		if ok {
			got = c.Source + ":" + c.Version
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.p.Name, got, tt.want)
		}
	}
}
