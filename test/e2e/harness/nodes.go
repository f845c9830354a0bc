package harness

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// NodeSpec describes a Node the harness registers as a kubelet would.
type NodeSpec struct {
	Name             string
	KubeletVersion   string // e.g. v1.36.4; default KubernetesVersion
	KubeProxyVersion string // default KubeletVersion
	ControlPlane     bool
	Labels           map[string]string
	Taints           []corev1.Taint
	PodCIDRs         []string
	// Lost nodes get no heartbeat: the real node lifecycle controller marks them NotReady.
	Lost bool
}

// AddNode creates a Node with status.nodeInfo and a Ready condition set through the status
// subresource, and keeps its Lease and Ready condition fresh unless spec.Lost.
func (cp *ControlPlane) AddNode(ctx context.Context, spec NodeSpec) (*corev1.Node, error) {
	if spec.KubeletVersion == "" {
		spec.KubeletVersion = KubernetesVersion
	}
	if spec.KubeProxyVersion == "" {
		spec.KubeProxyVersion = spec.KubeletVersion
	}
	labels := map[string]string{
		"kubernetes.io/hostname": spec.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
	}
	if spec.ControlPlane { // what `kubeadm init phase mark-control-plane` sets
		labels["node-role.kubernetes.io/control-plane"] = ""
		labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		spec.Taints = append(spec.Taints, corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule})
	}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Labels: labels, Annotations: map[string]string{
			"node.alpha.kubernetes.io/ttl":                           "0",
			"volumes.kubernetes.io/controller-managed-attach-detach": "true",
		}},
		Spec: corev1.NodeSpec{Taints: spec.Taints, PodCIDRs: spec.PodCIDRs},
	}
	if len(spec.PodCIDRs) > 0 {
		node.Spec.PodCIDR = spec.PodCIDRs[0]
	}
	created, err := cp.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating node %s: %w", spec.Name, err)
	}
	now := metav1.Now()
	status := corev1.NodeStatus{
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"),
			corev1.ResourcePods: resource.MustParse("110"),
		},
		Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("7Gi"),
			corev1.ResourcePods: resource.MustParse("110"),
		},
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: spec.Name}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: spec.KubeletVersion, KubeProxyVersion: spec.KubeProxyVersion,
			ContainerRuntimeVersion: "containerd://1.6.20", OperatingSystem: "linux", Architecture: "amd64",
			OSImage: "Debian GNU/Linux 12 (bookworm)", KernelVersion: "6.1.0",
		},
	}
	// Controllers (node IPAM, lifecycle) may touch the new Node first: on a conflict, read it again.
	var updated *corev1.Node
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		created.Status = status
		var err error
		if updated, err = cp.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); apierrors.IsConflict(err) {
			if fresh, gerr := cp.Client.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{}); gerr == nil {
				created = fresh
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setting status of node %s: %w", spec.Name, err)
	}
	if err := cp.renewLease(ctx, updated); err != nil {
		return nil, err
	}
	cp.mu.Lock()
	cp.nodes[spec.Name] = !spec.Lost
	cp.mu.Unlock()
	if !spec.Lost {
		cp.heartbeats.Add(1)
		go cp.heartbeat(spec.Name)
	}
	return updated, nil
}

// renewLease creates or renews the node's Lease in kube-node-lease, as the kubelet does.
func (cp *ControlPlane) renewLease(ctx context.Context, node *corev1.Node) error {
	leases := cp.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: node.Name, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
			}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node.Name), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

func (cp *ControlPlane) heartbeat(name string) {
	defer cp.heartbeats.Done()
	ctx := cp.heartbeatCtx
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		node, err := cp.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		_ = cp.renewLease(ctx, node)
		now := metav1.Now()
		for i := range node.Status.Conditions {
			node.Status.Conditions[i].LastHeartbeatTime = now
		}
		_, _ = cp.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	}
}

// MirrorHash is what the harness puts in kubernetes.io/config.hash for a manifest: the md5 of its
// bytes. (The kubelet hashes the decoded pod; any change to the file changes both.)
func MirrorHash(manifest []byte) string {
	sum := md5.Sum(manifest)
	return hex.EncodeToString(sum[:])
}

// AddMirrorPods creates, for every manifest in the node's manifests dir, the mirror pod a kubelet
// would report: named <pod>-<node>, with the kubelet's annotations, an ownerReference to the Node,
// and a Running, Ready status.
func (cp *ControlPlane) AddMirrorPods(ctx context.Context, nodeName string) ([]*corev1.Pod, error) {
	node, err := cp.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cp.Root, "etc", "kubernetes", "manifests")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var pods []*corev1.Pod
	for _, f := range files {
		pod, err := cp.MirrorPod(ctx, node, f)
		if err != nil {
			return nil, err
		}
		pods = append(pods, pod)
	}
	return pods, nil
}

// MirrorPod creates the mirror pod of one manifest file on a node.
func (cp *ControlPlane) MirrorPod(ctx context.Context, node *corev1.Node, manifest string) (*corev1.Pod, error) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	pod, err := ReadManifest(manifest)
	if err != nil {
		return nil, err
	}
	hash := MirrorHash(data)
	pod.Name = pod.Name + "-" + node.Name
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceSystem
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["kubernetes.io/config.mirror"] = hash
	pod.Annotations["kubernetes.io/config.hash"] = hash
	pod.Annotations["kubernetes.io/config.source"] = "file"
	pod.Annotations["kubernetes.io/config.seen"] = time.Now().UTC().Format(time.RFC3339Nano)
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: ptr.To(true)}}
	pod.Spec.NodeName = node.Name
	pod.Status = corev1.PodStatus{}
	created, err := cp.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating mirror pod %s: %w", pod.Name, err)
	}
	now := metav1.Now()
	created.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: "127.0.0.1", StartTime: &now, QOSClass: corev1.PodQOSBurstable,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr.To(true),
			ContainerID: "containerd://" + strings.Repeat("0", 64),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return cp.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
}
