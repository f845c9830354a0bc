package upgrade

// Plan is the result of planning an upgrade. Its JSON field names are a stable interface.
type Plan struct {
	// ClusterVersion is the version of the oldest kube-apiserver (the /version answer when no
	// mirror pod says otherwise).
	ClusterVersion string `json:"clusterVersion"`
	// Target is the version the hops lead to ("" when there is nothing to upgrade to).
	Target string `json:"target,omitempty"`
	// AvailableTargets are the newest patch of the current minor and of the next minor.
	AvailableTargets []AvailableTarget `json:"availableTargets"`
	// Releases says which release table was used.
	Releases string `json:"releases"`
	// Kubeadm is kubeadm's ClusterConfiguration; nil when the cluster is not kubeadm's.
	Kubeadm *KubeadmConfig `json:"kubeadm,omitempty"`
	// Components are the versions found, grouped by component and version.
	Components []ComponentVersions `json:"components"`
	// ControlPlane are the versions of each control-plane node's static pods.
	ControlPlane []ControlPlaneNode `json:"controlPlane"`
	// Violations are version-skew policy violations that exist before any hop.
	Violations []Finding `json:"violations"`
	// Warnings are findings that do not violate the policy but need attention.
	Warnings []Finding `json:"warnings"`
	// Hops are the upgrade steps, one minor (or one patch) at a time.
	Hops []Hop `json:"hops"`
	// RemovedAPIs are API versions in use that a hop (or an earlier release) removes.
	RemovedAPIs []APIFinding `json:"removedAPIs"`
	// DrainBlockers are the nodes whose drain would stop or lose data.
	DrainBlockers []NodeDrain `json:"drainBlockers"`
	// DaemonSets are the DaemonSets whose pods stay on the nodes during a drain.
	DaemonSets []DaemonSetPods `json:"daemonSets"`
	// MissingFacts are facts that could not be read; the plan is made from the rest.
	MissingFacts []MissingFact `json:"missingFacts"`
	// Notes are plain remarks (a non-kubeadm cluster, unknown addon versions, ...).
	Notes []string `json:"notes"`
	// Status is "clean", "warnings" or "violated".
	Status string `json:"status"`
}

// Plan statuses.
const (
	StatusClean    = "clean"
	StatusWarnings = "warnings"
	StatusViolated = "violated"
)

// AvailableTarget is an upgrade target the release table offers.
type AvailableTarget struct {
	Kind    string `json:"kind"` // "patch" or "minor"
	Version string `json:"version"`
}

// ComponentVersions is one version of one component and where it runs.
type ComponentVersions struct {
	Component string   `json:"component"`
	Version   string   `json:"version"`
	Count     int      `json:"count"`
	Nodes     []string `json:"nodes,omitempty"`
	Source    string   `json:"source"`
}

// Finding is one version-skew check result, grouped over the nodes it concerns.
type Finding struct {
	Rule      string   `json:"rule"`
	Component string   `json:"component"`
	Version   string   `json:"version,omitempty"`
	Nodes     []string `json:"nodes,omitempty"`
	Message   string   `json:"message"`
}

// Hop is one upgrade step of the control plane, to the newest patch of one minor.
type Hop struct {
	From   string        `json:"from"`
	To     string        `json:"to"`
	Addons AddonVersions `json:"addons"`
	Steps  []Step        `json:"steps"`
}

// Step is one ordered action of a hop.
type Step struct {
	Kind     string   `json:"kind"` // snapshot, workers-first, control-plane, addons, workers, apis
	Title    string   `json:"title"`
	Nodes    []string `json:"nodes,omitempty"`
	Commands []string `json:"commands,omitempty"`
}

// APIFinding is a use of an API version that is removed by a hop or was removed already.
type APIFinding struct {
	// Source is "apiserver-metric" (apiserver_requested_deprecated_apis: requests were made),
	// "managedFields" or "last-applied-annotation" (a stored object was written with it), or
	// "helm release NAME (NAMESPACE, revision N)" (the manifest of that Helm release has it).
	Source      string `json:"source"`
	APIVersion  string `json:"apiVersion"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	RemovedIn   string `json:"removedIn"`
	// Hop is the hop's target version that removes it, or "removed" when the cluster already
	// does not serve it (a manifest that still uses it fails to apply).
	Hop         string `json:"hop"`
	Replacement string `json:"replacement,omitempty"`
	// Note qualifies the replacement (a replacement that is itself going, or none yet).
	Note    string `json:"note,omitempty"`
	Object  string `json:"object,omitempty"` // namespace/name or name (stored objects, Helm manifests)
	Manager string `json:"manager,omitempty"`
	// HelmRelease is the Helm release whose latest deployed revision's manifest holds Object.
	HelmRelease *HelmReleaseRef `json:"helmRelease,omitempty"`
}

// HelmReleaseRef names one revision of a Helm release.
type HelmReleaseRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
}

// NodeDrain says what would stop or lose data when a node is drained with
// `kubectl drain --ignore-daemonsets --delete-emptydir-data`.
type NodeDrain struct {
	Node string `json:"node"`
	// PDBs are the PodDisruptionBudgets whose status makes the eviction subresource refuse pods
	// on the node (0 allowed disruptions, or a budget the disruption controller has not yet
	// processed). Pending pods, pods being deleted, and not-Ready pods the budget lets go are not
	// listed: eviction lets them go.
	PDBs []PDBBlock `json:"pdbs,omitempty"`
	// MultiplePDBs are pods selected by more than one PodDisruptionBudget: the eviction
	// subresource refuses them whatever each budget allows.
	MultiplePDBs []MultiPDBBlock `json:"multiplePDBs,omitempty"`
	// OrphanedDaemonSetPods are pods whose apps/v1 DaemonSet no longer exists: kubectl drain
	// stops on them without --force, even with --ignore-daemonsets.
	OrphanedDaemonSetPods []string `json:"orphanedDaemonSetPods,omitempty"`
	// BarePods have no controller: a drain refuses them without --force, and they are lost.
	BarePods []string `json:"barePods,omitempty"`
	// EmptyDirPods have emptyDir volumes: their data is deleted (--delete-emptydir-data).
	EmptyDirPods []string `json:"emptyDirPods,omitempty"`
	// DaemonSets keep their pods on the node (--ignore-daemonsets).
	DaemonSets []string `json:"daemonSets,omitempty"`
}

// PDBBlock is a PodDisruptionBudget that blocks the eviction of pods on a node.
type PDBBlock struct {
	PDB  string   `json:"pdb"`
	Pods []string `json:"pods"`
	// Reason is why the eviction subresource refuses, in its words.
	Reason string `json:"reason,omitempty"`
}

// MultiPDBBlock is a pod selected by several PodDisruptionBudgets.
type MultiPDBBlock struct {
	Pod  string   `json:"pod"`
	PDBs []string `json:"pdbs"`
}

// DaemonSetPods counts the nodes a DaemonSet has pods on.
type DaemonSetPods struct {
	DaemonSet string `json:"daemonSet"`
	Nodes     int    `json:"nodes"`
}
