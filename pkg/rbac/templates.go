// Package rbac is the domain logic of `kubectl clusterops rbac`: role
// templates and their rendering into Roles/ClusterRoles plus bindings
// (resolved through discovery and a RESTMapper), server-side apply, an
// evaluator of RBAC objects (who-can, explain, aggregated ClusterRoles
// included), the risky-permission audit, and the access matrix built from
// SelfSubjectAccessReviews / SubjectAccessReviews.
//
// pkg/users uses Render and Apply to bind a template to a new user.
package rbac

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Scope says where a template is meant to be bound.
type Scope string

const (
	// ScopeNamespace: a Role and a RoleBinding in one namespace.
	ScopeNamespace Scope = "Namespace"
	// ScopeCluster: a ClusterRole and a ClusterRoleBinding.
	ScopeCluster Scope = "Cluster"
)

// RuleSpec is one rule as a person writes it: resources by plural name
// (optionally "resource/subresource" or "resource.group"); APIGroups may be
// left empty so that discovery finds the group ("deployments" -> "apps").
type RuleSpec struct {
	Verbs           []string `json:"verbs"`
	Resources       []string `json:"resources,omitempty"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// Template is a named, documented set of rules.
type Template struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Scope       Scope      `json:"scope"`
	Rules       []RuleSpec `json:"rules"`
}

// Verb sets used by the templates.
var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}
	allVerbs   = slices.Concat(readVerbs, writeVerbs)
)

// Resource sets used by the templates (discovery adds the API groups).
var (
	workloads = []string{"deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
		"pods", "replicationcontrollers", "horizontalpodautoscalers"}
	networking  = []string{"services", "endpointslices", "ingresses"}
	configState = []string{"configmaps", "persistentvolumeclaims", "events"}
)

// builtinTemplates returns fresh copies of the built-in templates. They never
// grant escalate, bind, impersonate or "*" (a unit test holds them to it).
func builtinTemplates() []Template {
	ts := []Template{
		{
			Name: "readonly",
			Description: "Read workloads, pods and their logs, services, endpoint slices, ingresses, configmaps, PVCs " +
				"and events in a namespace (get/list/watch). No secrets, no exec, no writes.",
			Scope: ScopeNamespace,
			Rules: []RuleSpec{
				{Verbs: readVerbs, Resources: slices.Concat(workloads, networking, configState)},
				{Verbs: []string{"get"}, Resources: []string{"pods/log"}},
			},
		},
		{
			Name: "developer",
			Description: "Everything in readonly, plus create/update/patch/delete of workloads, services, " +
				"ingresses, configmaps and PVCs, pod port-forward, and scaling. No exec and no RBAC; secrets are not " +
				"readable through the API, but risks (rbac audit): pod-create and workload-write: a pod it creates " +
				"can run as any service account of the namespace and mount any Secret there, so it can read every " +
				"secret of the namespace that way; pods-portforward: it can connect to any pod of the namespace; " +
				"kube-system-pod-create when bound in kube-system: cluster-admin in practice there.",
			Scope: ScopeNamespace,
			Rules: []RuleSpec{
				{Verbs: readVerbs, Resources: slices.Concat(workloads, networking, configState)},
				{Verbs: []string{"get"}, Resources: []string{"pods/log"}},
				{Verbs: writeVerbs, Resources: slices.Concat(workloads,
					[]string{"services", "ingresses", "configmaps", "persistentvolumeclaims"})},
				{Verbs: []string{"get", "update", "patch"}, Resources: []string{"deployments/scale",
					"statefulsets/scale", "replicasets/scale"}},
				{Verbs: []string{"create"}, Resources: []string{"pods/portforward"}},
			},
		},
		{
			Name: "namespace-admin",
			Description: "Full control of the common objects of one namespace, secrets, pod exec/attach and " +
				"Roles/RoleBindings included (RBAC still stops it from granting more than it holds: " +
				"no escalate or bind). Quotas and limit ranges are read-only. Risks (rbac audit): secrets-read and " +
				"secrets-write: every secret of the namespace, service account tokens included; pods-exec-attach and " +
				"pods-portforward: into any pod; pod-create and workload-write: code as any service account of the " +
				"namespace; rbac-write: it may pass all of this on; kube-system-pod-create: bound in kube-system, it is " +
				"cluster-admin in practice.",
			Scope: ScopeNamespace,
			Rules: []RuleSpec{
				{Verbs: allVerbs, Resources: slices.Concat(workloads, networking, configState,
					[]string{"secrets", "serviceaccounts", "networkpolicies", "poddisruptionbudgets",
						"roles", "rolebindings", "leases"})},
				{Verbs: []string{"get"}, Resources: []string{"pods/log"}},
				{Verbs: []string{"create"}, Resources: []string{"pods/exec", "pods/attach", "pods/portforward"}},
				{Verbs: []string{"get", "update", "patch"}, Resources: []string{"deployments/scale",
					"statefulsets/scale", "replicasets/scale"}},
				{Verbs: readVerbs, Resources: []string{"resourcequotas", "limitranges"}},
			},
		},
		{
			Name: "cluster-readonly",
			Description: "Read (get/list/watch) nodes, namespaces, persistent volumes, storage classes, " +
				"CRDs and, in every namespace, what readonly covers. No secrets, no RBAC objects.",
			Scope: ScopeCluster,
			Rules: []RuleSpec{
				{Verbs: readVerbs, Resources: slices.Concat(workloads, networking, configState,
					[]string{"namespaces", "nodes", "persistentvolumes", "storageclasses",
						"customresourcedefinitions", "networkpolicies", "poddisruptionbudgets",
						"resourcequotas", "limitranges", "serviceaccounts"})},
				{Verbs: []string{"get"}, Resources: []string{"pods/log"}},
			},
		},
		{
			Name: "etcd-backup-operator",
			Description: "Run etcd backup Jobs in one namespace: manage jobs and cronjobs, read their pods and " +
				"logs, read the kubeadm-config ConfigMap, manage PVCs for snapshots. No secrets and no exec through " +
				"the API, but risks (rbac audit): workload-write: a Job runs as any service account of its namespace " +
				"and mounts any Secret there; kube-system-pod-create when bound in kube-system: a Job there can run " +
				"as any kube-system service account and mount /etc/kubernetes/pki from the host, so the template is " +
				"cluster-admin in practice. Bind it in a namespace of its own where you can.",
			Scope: ScopeNamespace,
			Rules: []RuleSpec{
				{Verbs: allVerbs, Resources: []string{"jobs", "cronjobs"}},
				{Verbs: readVerbs, Resources: []string{"pods", "events"}},
				{Verbs: []string{"get"}, Resources: []string{"pods/log"}},
				{Verbs: []string{"get"}, Resources: []string{"configmaps"}, ResourceNames: []string{"kubeadm-config"}},
				{Verbs: []string{"get", "list", "watch", "create", "delete"}, Resources: []string{"persistentvolumeclaims"}},
			},
		},
		{
			Name: "cert-viewer",
			Description: "Read certificate signing requests and the cluster CA bundle ConfigMaps " +
				"(kube-root-ca.crt, cluster-info). It cannot approve or sign anything.",
			Scope: ScopeCluster,
			Rules: []RuleSpec{
				{Verbs: readVerbs, Resources: []string{"certificatesigningrequests"}},
				{Verbs: []string{"get"}, Resources: []string{"configmaps"},
					ResourceNames: []string{"kube-root-ca.crt", "cluster-info"}},
			},
		},
	}
	for i := range ts {
		ts[i].Rules = cloneRules(ts[i].Rules)
	}
	return ts
}

// cloneRules deep-copies rules: the templates share the package's verb and
// resource sets, and callers may change what they get.
func cloneRules(rules []RuleSpec) []RuleSpec {
	out := make([]RuleSpec, len(rules))
	for i, r := range rules {
		out[i] = RuleSpec{Verbs: slices.Clone(r.Verbs), Resources: slices.Clone(r.Resources),
			APIGroups: slices.Clone(r.APIGroups), ResourceNames: slices.Clone(r.ResourceNames),
			NonResourceURLs: slices.Clone(r.NonResourceURLs)}
	}
	return out
}

// Templates returns the built-in templates sorted by name.
func Templates() []Template {
	ts := builtinTemplates()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// TemplateNames returns the names of the built-in templates, sorted.
func TemplateNames() []string {
	var names []string
	for _, t := range Templates() {
		names = append(names, t.Name)
	}
	return names
}

// LookupTemplate returns the built-in template called name, or an error that
// lists the known ones.
func LookupTemplate(name string) (Template, error) {
	for _, t := range builtinTemplates() {
		if t.Name == name {
			return t, nil
		}
	}
	return Template{}, fmt.Errorf("unknown template %q: use one of %s (see 'kubectl clusterops rbac template list')",
		name, strings.Join(TemplateNames(), ", "))
}

// RiskyError is why a grant was refused: the risky checks its rules reach that the user did
// not accept with --allow-risky.
type RiskyError struct {
	// Checks are the check IDs, sorted; Findings the findings behind them.
	Checks   []string
	Findings []Finding
}

func (e *RiskyError) Error() string {
	var parts []string
	for _, c := range e.Checks {
		parts = append(parts, c+" ("+CheckInfos[c].Short+")")
	}
	return fmt.Sprintf("refusing to grant risky permissions: %s; if you mean it, name them with --allow-risky %s",
		strings.Join(parts, ", "), strings.Join(e.Checks, ","))
}

// Risks audits a rendered grant alone, with the same rules as `rbac audit`: the findings of
// medium or high severity of its role and binding. Names that bind or impersonate may use are
// judged against an empty cluster, so an unknown name counts as risky.
func Risks(g *Grant) []Finding {
	var s *Snapshot
	if g.ClusterRole != nil {
		s = NewSnapshot(nil, []rbacv1.ClusterRole{*g.ClusterRole}, nil, []rbacv1.ClusterRoleBinding{*g.ClusterRoleBinding})
	} else {
		s = NewSnapshot([]rbacv1.Role{*g.Role}, nil, []rbacv1.RoleBinding{*g.RoleBinding}, nil)
	}
	var out []Finding
	for _, f := range Audit(s, AuditOptions{}).Findings {
		if f.Severity.Rank() >= SeverityMedium.Rank() && f.Check != CheckReservedName {
			out = append(out, f)
		}
	}
	return out
}

// CheckSafe refuses a grant whose rules reach a risky audit check (medium or high: wildcards,
// secrets, pods/exec and */exec, nodes/proxy, signers and CSR approval, serviceaccounts/token,
// escalate, bind, impersonate, ...) unless allow names that check. It returns a *RiskyError.
func CheckSafe(g *Grant, allow []string) error {
	e := &RiskyError{}
	for _, f := range Risks(g) {
		if slices.Contains(allow, f.Check) {
			continue
		}
		e.Findings = append(e.Findings, f)
		if !slices.Contains(e.Checks, f.Check) {
			e.Checks = append(e.Checks, f.Check)
		}
	}
	if len(e.Checks) == 0 {
		return nil
	}
	sort.Strings(e.Checks)
	return e
}

// ValidateCheckIDs returns an error naming the first ID that is not an audit check.
func ValidateCheckIDs(ids []string) error {
	for _, id := range ids {
		if !slices.Contains(AllChecks, id) {
			return fmt.Errorf("unknown check %q: use audit check IDs such as %s (see 'kubectl clusterops rbac audit --help')",
				id, strings.Join(AllChecks[:4], ", "))
		}
	}
	return nil
}
