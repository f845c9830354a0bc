package upgrade

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CloudControllerManager is one running cloud-controller-manager pod: a static pod, or the pod
// of a DaemonSet or a Deployment (its ReplicaSet).
type CloudControllerManager struct {
	Node, Pod string // Pod is namespace/name
	Version   string // the image tag
	Source    string // "static pod", "DaemonSet NS/NAME", "ReplicaSet NS/NAME"
}

// ccmPod says whether a running, bound pod is a cloud-controller-manager: a container named
// cloud-controller-manager or *-cloud-controller-manager, or whose image is (ending in)
// cloud-controller-manager (registry.k8s.io/cloud-controller-manager,
// registry.k8s.io/provider-aws/cloud-controller-manager, .../openstack-cloud-controller-manager).
func ccmPod(p *corev1.Pod, mirror bool) (CloudControllerManager, bool) {
	if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return CloudControllerManager{}, false
	}
	for _, c := range p.Spec.Containers {
		repo := c.Image
		if i := strings.LastIndexByte(repo, '/'); i >= 0 {
			repo = repo[i+1:]
		}
		repo, _, _ = strings.Cut(repo, ":")
		repo, _, _ = strings.Cut(repo, "@")
		if !strings.HasSuffix(c.Name, "cloud-controller-manager") && !strings.HasSuffix(repo, "cloud-controller-manager") {
			continue
		}
		ccm := CloudControllerManager{Node: p.Spec.NodeName, Pod: p.Namespace + "/" + p.Name, Version: imageTag(c.Image)}
		switch ref := metav1.GetControllerOf(p); {
		case mirror:
			ccm.Source = "static pod"
		case ref != nil:
			ccm.Source = ref.Kind + " " + p.Namespace + "/" + ref.Name
		default:
			ccm.Source = "bare pod"
		}
		return ccm, true
	}
	return CloudControllerManager{}, false
}

// checkCCM applies the rule of kube-controller-manager to each cloud-controller-manager
// version: not newer than the oldest kube-apiserver (it talks to any of them, through the
// service or a load balancer), at most one minor older than the newest. Some providers number
// their cloud-controller-manager on their own (hcloud 1.2x on Kubernetes 1.3x): a tag more than
// 3 minors behind is reported as a warning that the version cannot be judged, not as skew.
func checkCCM(f *Facts, bad, warn *group, lo, hi int, los, his string) {
	ccms := append([]CloudControllerManager(nil), f.CloudControllerManagers...)
	sort.Slice(ccms, func(i, j int) bool { return ccms[i].Node < ccms[j].Node })
	for _, c := range ccms {
		v := parseVersion(c.Version)
		switch {
		case v == nil:
			warn.add("unparsable-version", "cloud-controller-manager", c.Version, c.Node,
				fmt.Sprintf("cloud-controller-manager %s (%s) has no version in its image tag %q", c.Pod, c.Source, c.Version))
		case hi-minorOf(v) > 3:
			warn.add("cloud-controller-manager-version-unknown", "cloud-controller-manager", c.Version, c.Node,
				fmt.Sprintf("cloud-controller-manager %s is %d minors behind the kube-apiserver (%s): if its provider numbers it like Kubernetes it is out of policy (at most 1 older), else check the provider's compatibility table",
					c.Version, hi-minorOf(v), his))
		case minorOf(v) > lo:
			bad.add("cloud-controller-manager-too-new", "cloud-controller-manager", c.Version, c.Node,
				fmt.Sprintf("cloud-controller-manager %s (%s) is newer than the kube-apiserver (%s)", c.Version, c.Source, los))
		case hi-minorOf(v) > 1:
			bad.add("cloud-controller-manager-too-old", "cloud-controller-manager", c.Version, c.Node,
				fmt.Sprintf("cloud-controller-manager %s (%s) is %d minors older than the kube-apiserver (%s); at most 1 allowed", c.Version, c.Source, hi-minorOf(v), his))
		}
	}
}
