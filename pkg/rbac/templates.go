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
				"ingresses, configmaps and PVCs, pod port-forward, and scaling. No secrets, no exec, no RBAC.",
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
				"no escalate or bind). Quotas and limit ranges are read-only.",
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
			Description: "Run etcd backup Jobs in one namespace (bind it in kube-system): manage jobs and " +
				"cronjobs, read their pods and logs, read the kubeadm-config ConfigMap, manage PVCs " +
				"for snapshots. No secrets, no exec.",
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

// dangerousVerbs are never granted by a template; custom rules may name them.
var dangerousVerbs = []string{"escalate", "bind", "impersonate", "*"}

// CheckSafe returns an error when a rule grants escalate, bind, impersonate
// or a "*" wildcard (verb, resource or API group).
func CheckSafe(rules []RuleSpec) error {
	for _, r := range rules {
		for _, v := range r.Verbs {
			if slices.Contains(dangerousVerbs, v) {
				return fmt.Errorf("rule grants the verb %q", v)
			}
		}
		if slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			return fmt.Errorf("rule grants a \"*\" wildcard")
		}
	}
	return nil
}
