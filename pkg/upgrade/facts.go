// Package upgrade plans a Kubernetes upgrade from a snapshot of cluster facts: the versions of every
// component, kubeadm's ClusterConfiguration, the deprecated APIs in use and the pods that would
// block a drain. Plan is pure logic over Facts (see plan.go); Gather reads Facts from a cluster,
// read-only (see gather.go).
package upgrade

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Facts is everything the planner needs, as read from a cluster at one moment.
type Facts struct {
	// APIServerVersion is the gitVersion of the apiserver's /version ("" if it could not be read).
	APIServerVersion string
	// ControlPlane has one entry per control-plane node that runs mirror pods of kubeadm's
	// static pods; versions come from the image tags ("" when a component is absent).
	ControlPlane []ControlPlaneNode
	// Nodes are every Node with its kubelet version from status.nodeInfo, and the version of the
	// kube-proxy that runs on it (from its pod's image).
	Nodes []NodeFacts
	// KubeProxies are the kube-proxy pods bound to nodes: pods of a kube-system DaemonSet, or
	// static pods.
	KubeProxies []KubeProxyFacts
	// CloudControllerManagers are the running cloud-controller-manager pods (see ccm.go).
	CloudControllerManagers []CloudControllerManager
	// CoreDNSImage is the image of the kube-system/coredns Deployment ("" when absent).
	CoreDNSImage string
	// Kubeadm is kubeadm's ClusterConfiguration from kube-system/kubeadm-config; nil when the
	// cluster was not set up by kubeadm (or the ConfigMap could not be read: see Missing).
	Kubeadm *KubeadmConfig
	// KubectlVersion is the gitVersion of the kubectl client ("" if unknown).
	KubectlVersion string
	// DeprecatedRequests are the series of the apiserver metric apiserver_requested_deprecated_apis.
	DeprecatedRequests []DeprecatedRequest
	// StoredObjects are objects whose managedFields or last-applied annotation name an API
	// version that the removed-API table knows.
	StoredObjects []StoredObject
	// HelmObjects are the objects of the latest deployed revision of each Helm 3 release whose
	// apiVersion the removed-API table knows (see helm.go).
	HelmObjects []HelmObject
	// Pods and PDBs feed the drain-blocker check.
	Pods []PodFacts
	PDBs []PDBFacts
	// DaemonSets are the apps/v1 DaemonSets; DaemonSetsRead says they could be listed (without
	// them no pod is reported as orphaned).
	DaemonSets     []DaemonSetFacts
	DaemonSetsRead bool
	// Missing lists the facts that could not be read, and why; the plan is made from the rest.
	Missing []MissingFact
}

// ControlPlaneNode is what the mirror pods on one control-plane node say.
type ControlPlaneNode struct {
	Node              string `json:"node"`
	APIServer         string `json:"kubeAPIServer,omitempty"`
	ControllerManager string `json:"kubeControllerManager,omitempty"`
	Scheduler         string `json:"kubeScheduler,omitempty"`
	Etcd              string `json:"etcd,omitempty"`
}

// NodeFacts is one Node's versions.
type NodeFacts struct {
	Name    string
	Kubelet string
	// KubeProxy is the image tag of the kube-proxy pod on the node ("" when none runs there),
	// and KubeProxySource where it was read.
	KubeProxy, KubeProxySource string
	ControlPlane               bool
}

// KubeProxyFacts is one kube-proxy pod on a node.
type KubeProxyFacts struct {
	Node, Pod string
	Version   string // the image tag
	Source    string // "DaemonSet kube-system/kube-proxy" or "static pod"
}

// KubeadmConfig is the part of kubeadm's ClusterConfiguration the planner uses.
type KubeadmConfig struct {
	KubernetesVersion string `json:"kubernetesVersion"`
	ClusterName       string `json:"clusterName,omitempty"`
	ExternalEtcd      bool   `json:"externalEtcd"`
	DNSDisabled       bool   `json:"dnsDisabled,omitempty"`
}

// DeprecatedRequest is one series of apiserver_requested_deprecated_apis: requests have been
// made (since the apiserver started) to a deprecated API version.
type DeprecatedRequest struct {
	Group, Version, Resource, Subresource string
	// RemovedRelease is the metric's removed_release label ("1.38"), "" when not planned.
	RemovedRelease string
}

// StoredObject is an object whose metadata says it was written with an API version.
type StoredObject struct {
	Group, Resource string // the resource the object was listed from (its current version)
	Namespace, Name string
	APIVersion      string // the old API version, e.g. "extensions/v1beta1"
	// Source is "managedFields" (with Manager set) or "last-applied".
	Source  string
	Manager string
}

// PodFacts is the part of a Pod the drain check needs.
type PodFacts struct {
	Namespace, Name, Node string
	Labels                map[string]string
	// ControllerKind is the kind of the controller ownerReference ("" for a bare pod), and
	// ControllerAPIVersion its apiVersion ("apps/v1" for a DaemonSet that drain leaves alone).
	ControllerKind, ControllerName, ControllerAPIVersion string
	Mirror                                               bool
	EmptyDir                                             bool
	Terminal                                             bool // Succeeded or Failed: a drain deletes it without eviction
	Pending                                              bool // phase Pending: eviction ignores PDBs
	Deleting                                             bool // has a deletionTimestamp: eviction ignores PDBs
	NotReady                                             bool // no Ready=True condition (what eviction calls unhealthy)
}

// PDBFacts is a PodDisruptionBudget and its status.
type PDBFacts struct {
	Namespace, Name    string
	Selector           *metav1.LabelSelector
	DisruptionsAllowed int32
	// The status the eviction subresource reads, as the disruption controller wrote it.
	Generation, ObservedGeneration int64
	CurrentHealthy, DesiredHealthy int32
	// AlwaysAllow is spec.unhealthyPodEvictionPolicy: AlwaysAllow.
	AlwaysAllow bool
}

// DaemonSetFacts is an apps/v1 DaemonSet and the images of its pod template, by container name.
type DaemonSetFacts struct {
	Namespace, Name string
	Images          map[string]string
}

// MissingFact is a fact that could not be read.
type MissingFact struct {
	Fact   string `json:"fact"`
	Reason string `json:"reason"`
}
