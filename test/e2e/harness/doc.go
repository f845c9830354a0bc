// Package harness runs a real kubeadm-style control plane for end-to-end tests: the node is laid
// out by the real `kubeadm init phase ... --rootfs DIR`, and etcd, kube-apiserver and
// kube-controller-manager run as processes built from the pinned upstream modules
// (hack/build-upstream), all bound to free ports on 127.0.0.1.
//
// There is no kubelet in this tier: Nodes and mirror pods are API objects the harness creates, with
// the annotations, owner references and status a real kubelet would set. The real node tier
// (hack/node-up) has a kubelet and containerd.
package harness
