package upgrade

import "strings"

// RemovedAPI is one API version of one resource that a Kubernetes minor release stops serving.
type RemovedAPI struct {
	Group, Version, Resource string
	// RemovedIn is the minor release that no longer serves it, e.g. "1.25".
	RemovedIn string
	// Replacement is the group/version to migrate to ("" when there is none).
	Replacement string
	// Origin says where the entry comes from: "deprecation-guide" (the upstream Deprecated API
	// Migration Guide) or "api-lifecycle" (the prerelease-lifecycle removal release compiled into
	// k8s.io/api v0.37.2, which the apiserver itself uses to stop serving an API).
	Origin string
}

// GroupVersion is "group/version", or "version" for the core group.
func (r RemovedAPI) GroupVersion() string { return groupVersion(r.Group, r.Version) }

func groupVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

func removed(in, gv, replacement, origin string, resources ...string) []RemovedAPI {
	group, version, ok := strings.Cut(gv, "/")
	if !ok {
		group, version = "", gv
	}
	out := make([]RemovedAPI, 0, len(resources))
	for _, r := range resources {
		out = append(out, RemovedAPI{Group: group, Version: version, Resource: r, RemovedIn: in, Replacement: replacement, Origin: origin})
	}
	return out
}

const (
	guide     = "deprecation-guide"
	lifecycle = "api-lifecycle"
)

// removedAPIs is the built-in table of removed API versions. Up to v1.32 it follows the upstream
// Deprecated API Migration Guide (kubernetes.io/docs/reference/using-api/deprecation-guide/);
// from v1.33 on it is the APILifecycleRemoved release of k8s.io/api v0.37.2
// (zz_generated.prerelease-lifecycle.go), which is what the apiserver uses to stop serving.
func removedAPIs() []RemovedAPI {
	var t []RemovedAPI
	add := func(rs []RemovedAPI) { t = append(t, rs...) }
	// v1.16
	add(removed("1.16", "extensions/v1beta1", "apps/v1", guide, "daemonsets", "deployments", "replicasets"))
	add(removed("1.16", "apps/v1beta1", "apps/v1", guide, "deployments", "statefulsets"))
	add(removed("1.16", "apps/v1beta2", "apps/v1", guide, "daemonsets", "deployments", "replicasets", "statefulsets"))
	add(removed("1.16", "extensions/v1beta1", "networking.k8s.io/v1", guide, "networkpolicies"))
	add(removed("1.16", "extensions/v1beta1", "policy/v1beta1", guide, "podsecuritypolicies"))
	// v1.22
	add(removed("1.22", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", guide,
		"mutatingwebhookconfigurations", "validatingwebhookconfigurations"))
	add(removed("1.22", "apiextensions.k8s.io/v1beta1", "apiextensions.k8s.io/v1", guide, "customresourcedefinitions"))
	add(removed("1.22", "apiregistration.k8s.io/v1beta1", "apiregistration.k8s.io/v1", guide, "apiservices"))
	add(removed("1.22", "authentication.k8s.io/v1beta1", "authentication.k8s.io/v1", guide, "tokenreviews"))
	add(removed("1.22", "authorization.k8s.io/v1beta1", "authorization.k8s.io/v1", guide,
		"localsubjectaccessreviews", "selfsubjectaccessreviews", "subjectaccessreviews"))
	add(removed("1.22", "certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", guide, "certificatesigningrequests"))
	add(removed("1.22", "coordination.k8s.io/v1beta1", "coordination.k8s.io/v1", guide, "leases"))
	add(removed("1.22", "extensions/v1beta1", "networking.k8s.io/v1", guide, "ingresses"))
	add(removed("1.22", "networking.k8s.io/v1beta1", "networking.k8s.io/v1", guide, "ingresses", "ingressclasses"))
	add(removed("1.22", "rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1", guide,
		"clusterrolebindings", "clusterroles", "rolebindings", "roles"))
	add(removed("1.22", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1", guide, "priorityclasses"))
	add(removed("1.22", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", guide,
		"csidrivers", "csinodes", "storageclasses", "volumeattachments"))
	// v1.25
	add(removed("1.25", "batch/v1beta1", "batch/v1", guide, "cronjobs"))
	add(removed("1.25", "discovery.k8s.io/v1beta1", "discovery.k8s.io/v1", guide, "endpointslices"))
	add(removed("1.25", "events.k8s.io/v1beta1", "events.k8s.io/v1", guide, "events"))
	add(removed("1.25", "autoscaling/v2beta1", "autoscaling/v2", guide, "horizontalpodautoscalers"))
	add(removed("1.25", "policy/v1beta1", "policy/v1", guide, "poddisruptionbudgets"))
	add(removed("1.25", "policy/v1beta1", "", guide, "podsecuritypolicies"))
	add(removed("1.25", "node.k8s.io/v1beta1", "node.k8s.io/v1", guide, "runtimeclasses"))
	// v1.26
	add(removed("1.26", "flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1", guide,
		"flowschemas", "prioritylevelconfigurations"))
	add(removed("1.26", "autoscaling/v2beta2", "autoscaling/v2", guide, "horizontalpodautoscalers"))
	// v1.27
	add(removed("1.27", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", guide, "csistoragecapacities"))
	// v1.29
	add(removed("1.29", "flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1", guide,
		"flowschemas", "prioritylevelconfigurations"))
	// v1.32
	add(removed("1.32", "flowcontrol.apiserver.k8s.io/v1beta3", "flowcontrol.apiserver.k8s.io/v1", guide,
		"flowschemas", "prioritylevelconfigurations"))
	// v1.33 and later: k8s.io/api v0.37.2 prerelease lifecycle
	add(removed("1.33", "authentication.k8s.io/v1beta1", "authentication.k8s.io/v1", lifecycle, "selfsubjectreviews"))
	add(removed("1.34", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", lifecycle,
		"validatingadmissionpolicies", "validatingadmissionpolicybindings"))
	add(removed("1.35", "storage.k8s.io/v1alpha1", "storage.k8s.io/v1", lifecycle, "volumeattributesclasses"))
	add(removed("1.37", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", lifecycle, "volumeattributesclasses"))
	add(removed("1.37", "networking.k8s.io/v1beta1", "networking.k8s.io/v1", lifecycle, "ipaddresses", "servicecidrs"))
	add(removed("1.37", "certificates.k8s.io/v1alpha1", "certificates.k8s.io/v1", lifecycle, "clustertrustbundles"))
	add(removed("1.38", "admissionregistration.k8s.io/v1alpha1", "admissionregistration.k8s.io/v1", lifecycle,
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"))
	add(removed("1.38", "coordination.k8s.io/v1alpha2", "coordination.k8s.io/v1beta1", lifecycle, "leasecandidates"))
	add(removed("1.38", "resource.k8s.io/v1beta1", "resource.k8s.io/v1", lifecycle,
		"deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"))
	add(removed("1.39", "resource.k8s.io/v1beta2", "resource.k8s.io/v1", lifecycle,
		"deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"))
	add(removed("1.39", "coordination.k8s.io/v1beta1", "", lifecycle, "leasecandidates"))
	add(removed("1.39", "resource.k8s.io/v1alpha3", "resource.k8s.io/v1", lifecycle, "devicetaintrules"))
	add(removed("1.40", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", lifecycle,
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"))
	add(removed("1.40", "certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", lifecycle,
		"clustertrustbundles", "podcertificaterequests"))
	add(removed("1.40", "storagemigration.k8s.io/v1beta1", "storagemigration.k8s.io/v1", lifecycle, "storageversionmigrations"))
	return t
}

// RemovedAPIs returns a copy of the built-in removed-API table.
func RemovedAPIs() []RemovedAPI { return removedAPIs() }

// AddonVersions are kubeadm's etcd and CoreDNS versions for a Kubernetes minor.
type AddonVersions struct {
	Etcd    string `json:"etcd,omitempty"`
	CoreDNS string `json:"coreDNS,omitempty"`
	// Source names the kubeadm table the values come from.
	Source string `json:"source,omitempty"`
}

// kubeadmSource is the table the addon versions come from.
const kubeadmSource = "kubeadm v1.37.2 cmd/kubeadm/app/constants"

// addonVersions is kubeadm v1.37.2's table (cmd/kubeadm/app/constants: SupportedEtcdVersion
// 34..36 -> 3.7.0-0; EtcdSupportedVersion falls back to the newest entry for 1.37; CoreDNSVersion
// v1.14.6 is what kubeadm v1.37 deploys). Older kubeadm releases carried their own CoreDNS version,
// which this table does not know.
var addonVersions = map[uint]AddonVersions{
	34: {Etcd: "3.7.0-0", Source: kubeadmSource},
	35: {Etcd: "3.7.0-0", Source: kubeadmSource},
	36: {Etcd: "3.7.0-0", Source: kubeadmSource},
	37: {Etcd: "3.7.0-0", CoreDNS: "v1.14.6", Source: kubeadmSource},
}

// KubeadmAddonVersions returns kubeadm's etcd/CoreDNS versions for a minor, and whether the
// built-in table knows that minor.
func KubeadmAddonVersions(minor uint) (AddonVersions, bool) {
	v, ok := addonVersions[minor]
	return v, ok
}
