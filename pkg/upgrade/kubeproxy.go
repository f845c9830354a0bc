package upgrade

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kube-proxy's version is its image's tag. status.nodeInfo.kubeProxyVersion is no source: the
// kubelet filled it with its own version, leaves it empty by default since v1.33, and v1.36
// locks that in. kubeadm runs kube-proxy as the kube-system/kube-proxy DaemonSet; other
// installers run it as a static pod (a mirror pod in kube-system).

// kubeProxyPod says whether a pod is a running kube-proxy bound to a node: in kube-system, with
// a container named kube-proxy, and either a mirror pod or the pod of an apps/v1 DaemonSet.
func kubeProxyPod(p *corev1.Pod, mirror bool) (KubeProxyFacts, bool) {
	if p.Namespace != metav1.NamespaceSystem || p.Spec.NodeName == "" || p.DeletionTimestamp != nil ||
		p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return KubeProxyFacts{}, false
	}
	kp := KubeProxyFacts{Node: p.Spec.NodeName, Pod: p.Name}
	switch ref := metav1.GetControllerOf(p); {
	case mirror:
		kp.Source = "static pod"
	case ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1":
		kp.Source = "DaemonSet kube-system/" + ref.Name
	default:
		return KubeProxyFacts{}, false
	}
	for _, c := range p.Spec.Containers {
		if c.Name == "kube-proxy" {
			kp.Version = imageTag(c.Image)
			return kp, true
		}
	}
	return KubeProxyFacts{}, false
}

// assignKubeProxies gives each node the version of its kube-proxy. When a node has two (a
// rollout under way), the older counts. A kube-proxy on a node the node list lacks (it could not
// be read) gets a node entry of its own, so its skew against the apiserver is still checked.
func assignKubeProxies(f *Facts) {
	byNode := map[string]KubeProxyFacts{}
	for _, kp := range f.KubeProxies {
		old, ok := byNode[kp.Node]
		if !ok || olderVersion(kp.Version, old.Version) {
			byNode[kp.Node] = kp
		}
	}
	for i := range f.Nodes {
		if kp, ok := byNode[f.Nodes[i].Name]; ok {
			f.Nodes[i].KubeProxy, f.Nodes[i].KubeProxySource = kp.Version, "pod image ("+kp.Source+")"
			delete(byNode, f.Nodes[i].Name)
		}
	}
	rest := make([]string, 0, len(byNode))
	for n := range byNode {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range rest {
		f.Nodes = append(f.Nodes, NodeFacts{Name: n, KubeProxy: byNode[n].Version, KubeProxySource: "pod image (" + byNode[n].Source + ")"})
	}
}

func olderVersion(a, b string) bool {
	va, vb := parseVersion(a), parseVersion(b)
	return va != nil && (vb == nil || va.LessThan(vb))
}

// kubeProxyTemplate is the image tag of the kube-system/kube-proxy DaemonSet's kube-proxy
// container: what the next kube-proxy pod of any node runs ("" without that DaemonSet).
func kubeProxyTemplate(f *Facts) string {
	for _, ds := range f.DaemonSets {
		if ds.Namespace == metav1.NamespaceSystem && ds.Name == "kube-proxy" {
			return imageTag(ds.Images["kube-proxy"])
		}
	}
	return ""
}
