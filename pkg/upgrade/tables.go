package upgrade

import "strings"

// RemovedAPI is one API version of one resource that a Kubernetes minor release stops serving.
type RemovedAPI struct {
	Group, Version, Resource string
	// RemovedIn is the minor release that no longer serves it, e.g. "1.25".
	RemovedIn string
	// Replacement is the group/version to migrate to ("" when there is none that lasts).
	Replacement string
	// Note qualifies the replacement (e.g. "coordination.k8s.io/v1beta1 serves it until 1.39").
	Note string
	// Origin is the source the row follows (see the constants below), Cite the place in it.
	Origin, Cite string
}

// GroupVersion is "group/version", or "version" for the core group.
func (r RemovedAPI) GroupVersion() string { return groupVersion(r.Group, r.Version) }

func groupVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// source is where a group of rows comes from.
type source struct{ origin, cite string }

func removed(in, gv, replacement string, src source, resources ...string) []RemovedAPI {
	group, version, ok := strings.Cut(gv, "/")
	if !ok {
		group, version = "", gv
	}
	out := make([]RemovedAPI, 0, len(resources))
	for _, r := range resources {
		out = append(out, RemovedAPI{Group: group, Version: version, Resource: r, RemovedIn: in, Replacement: replacement,
			Origin: src.origin, Cite: src.cite})
	}
	return out
}

// Origins of the rows. Where the sources disagree, a row follows what the apiserver does: the
// prerelease-lifecycle data (the apiserver stops serving a version at its APILifecycleRemoved
// release) first, then the deprecation guide, then pluto's versions.yaml and kubent's rules
// (which both carry the 1.16 entries the guide lacks).
const (
	// OriginGuide: the Deprecated API Migration Guide, kubernetes/website
	// content/en/docs/reference/using-api/deprecation-guide.md.
	OriginGuide = "deprecation-guide"
	// OriginLifecycle: APILifecycleRemoved in k8s.io/api v0.37.2
	// GROUP/VERSION/zz_generated.prerelease-lifecycle.go.
	OriginLifecycle = "api-lifecycle"
	// OriginAPIHistory: an alpha version has no lifecycle tags; the row is the first k8s.io/api
	// release whose GROUP/VERSION/types.go no longer has the kind (so no apiserver of that
	// minor can serve it).
	OriginAPIHistory = "k8s.io/api-history"
	// OriginPluto: FairwindsOps/pluto versions.yaml (kubent pkg/rules/rego agrees where it has
	// the row).
	OriginPluto = "pluto"
)

func guideAt(minor string) source {
	return source{OriginGuide, "deprecation-guide.md#v1-" + minor}
}

func lifecycleOf(gv string) source {
	g, v, _ := strings.Cut(gv, "/")
	g = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(g, ".k8s.io"), ".authorization"), ".apiserver")
	return source{OriginLifecycle, "k8s.io/api v0.37.2 " + g + "/" + v + "/zz_generated.prerelease-lifecycle.go APILifecycleRemoved"}
}

// removedAPIs is the built-in table of removed API versions; every row names its origin and
// the place it cites (TestRemovedAPITableSources checks that).
func removedAPIs() []RemovedAPI {
	var t []RemovedAPI
	add := func(rs []RemovedAPI) { t = append(t, rs...) }
	// v1.16
	add(removed("1.16", "extensions/v1beta1", "apps/v1", guideAt("16"), "daemonsets", "deployments", "replicasets"))
	add(removed("1.16", "apps/v1beta1", "apps/v1", guideAt("16"), "deployments", "statefulsets"))
	add(removed("1.16", "apps/v1beta2", "apps/v1", guideAt("16"), "daemonsets", "deployments", "replicasets", "statefulsets"))
	add(removed("1.16", "apps/v1beta1", "apps/v1", lifecycleOf("apps/v1beta1"), "controllerrevisions"))
	add(removed("1.16", "apps/v1beta2", "apps/v1", lifecycleOf("apps/v1beta2"), "controllerrevisions"))
	add(removed("1.16", "extensions/v1beta1", "networking.k8s.io/v1", guideAt("16"), "networkpolicies"))
	// The guide has no PodSecurityPolicy entry for 1.16, and k8s.io/api no longer has the
	// extensions/v1beta1 type to tag; pluto (removed-in v1.16.0, replacement policy/v1beta1)
	// and kubent (deprecated-1-16.rego) both have it, as had the 1.16 removal announcement.
	add(removed("1.16", "extensions/v1beta1", "policy/v1beta1",
		source{OriginPluto, "pluto versions.yaml extensions/v1beta1 PodSecurityPolicy removed-in v1.16.0; kubent deprecated-1-16.rego"}, "podsecuritypolicies"))
	// v1.17: pluto only (the guide starts at 1.16 and lists no alpha version).
	add(removed("1.17", "scheduling.k8s.io/v1alpha1", "scheduling.k8s.io/v1",
		source{OriginPluto, "pluto versions.yaml scheduling.k8s.io/v1alpha1 PriorityClass removed-in v1.17.0"}, "priorityclasses"))
	// v1.22
	add(removed("1.22", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", guideAt("22"),
		"mutatingwebhookconfigurations", "validatingwebhookconfigurations"))
	add(removed("1.22", "apiextensions.k8s.io/v1beta1", "apiextensions.k8s.io/v1", guideAt("22"), "customresourcedefinitions"))
	add(removed("1.22", "apiregistration.k8s.io/v1beta1", "apiregistration.k8s.io/v1", guideAt("22"), "apiservices"))
	add(removed("1.22", "authentication.k8s.io/v1beta1", "authentication.k8s.io/v1", guideAt("22"), "tokenreviews"))
	add(removed("1.22", "authorization.k8s.io/v1beta1", "authorization.k8s.io/v1", guideAt("22"),
		"localsubjectaccessreviews", "selfsubjectaccessreviews", "subjectaccessreviews"))
	// The guide omits SelfSubjectRulesReview; the lifecycle data has it.
	add(removed("1.22", "authorization.k8s.io/v1beta1", "authorization.k8s.io/v1", lifecycleOf("authorization.k8s.io/v1beta1"), "selfsubjectrulesreviews"))
	add(removed("1.22", "certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", guideAt("22"), "certificatesigningrequests"))
	add(removed("1.22", "coordination.k8s.io/v1beta1", "coordination.k8s.io/v1", guideAt("22"), "leases"))
	add(removed("1.22", "extensions/v1beta1", "networking.k8s.io/v1", guideAt("22"), "ingresses"))
	add(removed("1.22", "networking.k8s.io/v1beta1", "networking.k8s.io/v1", guideAt("22"), "ingresses", "ingressclasses"))
	add(removed("1.22", "rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1", guideAt("22"),
		"clusterrolebindings", "clusterroles", "rolebindings", "roles"))
	// rbac v1alpha1 is not in the guide (alpha) and has no lifecycle tags; pluto says 1.22, and
	// kube-apiserver v1.37.2 pkg/registry/rbac/rest/storage_rbac.go serves rbac v1 only.
	add(removed("1.22", "rbac.authorization.k8s.io/v1alpha1", "rbac.authorization.k8s.io/v1",
		source{OriginPluto, "pluto versions.yaml rbac.authorization.k8s.io/v1alpha1 removed-in v1.22.0"},
		"clusterrolebindings", "clusterroles", "rolebindings", "roles"))
	add(removed("1.22", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1", guideAt("22"), "priorityclasses"))
	add(removed("1.22", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", guideAt("22"),
		"csidrivers", "csinodes", "storageclasses", "volumeattachments"))
	// v1.25
	add(removed("1.25", "batch/v1beta1", "batch/v1", guideAt("25"), "cronjobs"))
	add(removed("1.25", "discovery.k8s.io/v1beta1", "discovery.k8s.io/v1", guideAt("25"), "endpointslices"))
	add(removed("1.25", "events.k8s.io/v1beta1", "events.k8s.io/v1", guideAt("25"), "events"))
	add(removed("1.25", "autoscaling/v2beta1", "autoscaling/v2", guideAt("25"), "horizontalpodautoscalers"))
	add(removed("1.25", "policy/v1beta1", "policy/v1", guideAt("25"), "poddisruptionbudgets"))
	add(removed("1.25", "policy/v1beta1", "", guideAt("25"), "podsecuritypolicies"))
	add(removed("1.25", "node.k8s.io/v1beta1", "node.k8s.io/v1", guideAt("25"), "runtimeclasses"))
	// v1.26
	add(removed("1.26", "flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1", guideAt("26"),
		"flowschemas", "prioritylevelconfigurations"))
	add(removed("1.26", "autoscaling/v2beta2", "autoscaling/v2", guideAt("26"), "horizontalpodautoscalers"))
	// v1.27
	add(removed("1.27", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", guideAt("27"), "csistoragecapacities"))
	// v1.29
	add(removed("1.29", "flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1", guideAt("29"),
		"flowschemas", "prioritylevelconfigurations"))
	// v1.32
	add(removed("1.32", "flowcontrol.apiserver.k8s.io/v1beta3", "flowcontrol.apiserver.k8s.io/v1", guideAt("32"),
		"flowschemas", "prioritylevelconfigurations"))
	add(removed("1.32", "admissionregistration.k8s.io/v1alpha1", "admissionregistration.k8s.io/v1", lifecycleOf("admissionregistration.k8s.io/v1alpha1"),
		"validatingadmissionpolicies", "validatingadmissionpolicybindings"))
	add(removed("1.32", "authentication.k8s.io/v1alpha1", "authentication.k8s.io/v1", lifecycleOf("authentication.k8s.io/v1alpha1"), "selfsubjectreviews"))
	// v1.33 and later: k8s.io/api v0.37.2 prerelease lifecycle, or its history for alpha kinds
	add(removed("1.33", "authentication.k8s.io/v1beta1", "authentication.k8s.io/v1", lifecycleOf("authentication.k8s.io/v1beta1"), "selfsubjectreviews"))
	add(removed("1.34", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", lifecycleOf("admissionregistration.k8s.io/v1beta1"),
		"validatingadmissionpolicies", "validatingadmissionpolicybindings"))
	add(removed("1.34", "resource.k8s.io/v1alpha3", "resource.k8s.io/v1",
		source{OriginAPIHistory, "k8s.io/api v0.34.0 resource/v1alpha3/types.go keeps only DeviceTaintRule (v0.33.0 had these kinds)"},
		"deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"))
	add(removed("1.35", "storage.k8s.io/v1alpha1", "storage.k8s.io/v1", lifecycleOf("storage.k8s.io/v1alpha1"), "volumeattributesclasses"))
	add(removed("1.35", "storagemigration.k8s.io/v1alpha1", "storagemigration.k8s.io/v1",
		source{OriginAPIHistory, "k8s.io/api v0.35.0 has storagemigration/v1beta1 and no v1alpha1 (v0.34.0 had it)"}, "storageversionmigrations"))
	add(removed("1.36", "scheduling.k8s.io/v1alpha1", "scheduling.k8s.io/v1beta1",
		source{OriginAPIHistory, "k8s.io/api v0.36.0 has scheduling/v1alpha2 and no v1alpha1 (v0.35.0 had Workload there)"}, "workloads"))
	add(removed("1.37", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", lifecycleOf("storage.k8s.io/v1beta1"), "volumeattributesclasses"))
	add(removed("1.37", "networking.k8s.io/v1beta1", "networking.k8s.io/v1", lifecycleOf("networking.k8s.io/v1beta1"), "ipaddresses", "servicecidrs"))
	add(removed("1.37", "certificates.k8s.io/v1alpha1", "certificates.k8s.io/v1", lifecycleOf("certificates.k8s.io/v1alpha1"), "clustertrustbundles"))
	add(removed("1.38", "admissionregistration.k8s.io/v1alpha1", "admissionregistration.k8s.io/v1", lifecycleOf("admissionregistration.k8s.io/v1alpha1"),
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"))
	// The lifecycle data names coordination.k8s.io/v1beta1 as the replacement, but removes that
	// in 1.39 too, and k8s.io/api v0.37.2 has no GA LeaseCandidate: no lasting replacement.
	lc := removed("1.38", "coordination.k8s.io/v1alpha2", "", lifecycleOf("coordination.k8s.io/v1alpha2"), "leasecandidates")
	lc[0].Note = "coordination.k8s.io/v1beta1 serves it until 1.39; no GA version yet (kube-apiserver writes these objects itself)"
	add(lc)
	add(removed("1.38", "resource.k8s.io/v1beta1", "resource.k8s.io/v1", lifecycleOf("resource.k8s.io/v1beta1"),
		"deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"))
	add(removed("1.39", "resource.k8s.io/v1beta2", "resource.k8s.io/v1", lifecycleOf("resource.k8s.io/v1beta2"),
		"deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"))
	add(removed("1.39", "coordination.k8s.io/v1beta1", "", lifecycleOf("coordination.k8s.io/v1beta1"), "leasecandidates"))
	add(removed("1.39", "resource.k8s.io/v1alpha3", "resource.k8s.io/v1", lifecycleOf("resource.k8s.io/v1alpha3"), "devicetaintrules"))
	add(removed("1.40", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1", lifecycleOf("admissionregistration.k8s.io/v1beta1"),
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"))
	add(removed("1.40", "certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", lifecycleOf("certificates.k8s.io/v1beta1"),
		"clustertrustbundles", "podcertificaterequests"))
	add(removed("1.40", "storagemigration.k8s.io/v1beta1", "storagemigration.k8s.io/v1", lifecycleOf("storagemigration.k8s.io/v1beta1"), "storageversionmigrations"))
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
