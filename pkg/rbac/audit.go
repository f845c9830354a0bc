package rbac

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Severity of an audit finding.
type Severity string

const (
	SeverityHigh   Severity = "high"
	SeverityMedium Severity = "medium"
	SeverityLow    Severity = "low"
)

// Rank orders severities: high 3, medium 2, low 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}

// ParseSeverity accepts high, medium or low.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(s))
	if v.Rank() == 0 {
		return "", fmt.Errorf("invalid severity %q: use high, medium or low", s)
	}
	return v, nil
}

// Audit check identifiers (stable: scripts filter on them). docs/guide/rbac.md maps each one
// to the matching rules of kubescape, rbac-police, KubiScan and rbac-tool.
const (
	CheckWildcard            = "wildcard"
	CheckSecretsRead         = "secrets-read"
	CheckSecretsWrite        = "secrets-write"
	CheckPodExec             = "pods-exec-attach"
	CheckEphemeralContainers = "pods-ephemeral-containers"
	CheckPortForward         = "pods-portforward"
	CheckEscalation          = "escalate-bind-impersonate"
	CheckNodesProxy          = "nodes-proxy"
	CheckCSRApproval         = "csr-approval"
	CheckSAToken             = "serviceaccount-token"
	CheckWebhookWrite        = "webhook-config-write"
	CheckPVCreate            = "persistentvolume-create"
	CheckStatusWrite         = "status-write"
	CheckNamespaceWrite      = "namespace-write"
	CheckRBACWrite           = "rbac-write"
	CheckPodCreate           = "pod-create"
	CheckWorkloadWrite       = "workload-write"
	CheckKubeSystemPods      = "kube-system-pod-create"
	CheckSystemMasters       = "system-masters-binding"
	CheckClusterAdmin        = "cluster-admin-binding"
	CheckPublicBinding       = "unauthenticated-or-all-users-binding"
	CheckReservedName        = "reserved-system-name"
	CheckMissingRole         = "missing-role"
	CheckReadOnlyWrites      = "readonly-name-grants-writes"
	CheckGrantsNothing       = "cluster-scoped-in-namespace"
	CheckUnservedAPIGroup    = "unserved-api-group"
)

// Finding is one risky permission or broken binding.
type Finding struct {
	Severity Severity  `json:"severity"`
	Check    string    `json:"check"`
	Object   ObjectRef `json:"object"`
	Message  string    `json:"message"`
	// Subjects bound to the role (for a role finding) or in the binding.
	Subjects []Subject `json:"subjects,omitempty"`
}

// AuditOptions tunes Audit.
type AuditOptions struct {
	// IncludeSystem also audits the built-in roles and bindings: the API server's bootstrap
	// objects and kubeadm's own (see IsBuiltin).
	IncludeSystem bool
	// ServedGroups, when set, enables the check for rules naming API groups
	// the cluster does not serve.
	ServedGroups map[string]bool
	// ClusterScoped tells which resources are cluster-scoped; nil uses KnownClusterScoped.
	ClusterScoped ScopeFunc
}

// AuditResult is the audit report.
type AuditResult struct {
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"` // count per severity
	Checked  map[string]int `json:"checked"` // objects looked at, per kind
	Checks   []string       `json:"checks"`
}

// AllChecks lists the checks Audit runs.
var AllChecks = []string{CheckWildcard, CheckSecretsRead, CheckSecretsWrite, CheckPodExec, CheckEphemeralContainers,
	CheckPortForward, CheckEscalation, CheckNodesProxy, CheckCSRApproval, CheckSAToken, CheckWebhookWrite, CheckPVCreate,
	CheckStatusWrite, CheckNamespaceWrite, CheckRBACWrite, CheckPodCreate, CheckWorkloadWrite, CheckKubeSystemPods,
	CheckSystemMasters, CheckClusterAdmin, CheckPublicBinding, CheckReservedName, CheckMissingRole, CheckReadOnlyWrites,
	CheckGrantsNothing, CheckUnservedAPIGroup}

// Audit checks every Role and ClusterRole and every binding of s. Built-in objects are skipped
// unless opts.IncludeSystem, but a binding someone made to a built-in role (edit, admin,
// cluster-admin, ...) is judged by what that role grants.
func Audit(s *Snapshot, opts AuditOptions) AuditResult {
	res := AuditResult{Findings: []Finding{}, Summary: map[string]int{}, Checked: map[string]int{}, Checks: AllChecks}
	a := &auditor{s: s, opts: opts, scope: opts.ClusterScoped}
	if a.scope == nil {
		a.scope = KnownClusterScoped
	}
	bound := boundSubjects(s)
	object := func(ref ObjectRef, lbls map[string]string) bool {
		if IsBuiltin(ref.Kind, ref.Namespace, ref.Name, lbls) {
			return opts.IncludeSystem
		}
		res.Checked[ref.Kind]++
		if IsSystemName(ref.Name) || strings.HasPrefix(ref.Name, "kubeadm:") {
			res.Findings = append(res.Findings, Finding{Severity: SeverityMedium, Check: CheckReservedName, Object: ref,
				Message: "has a name reserved for Kubernetes (" + strings.SplitN(ref.Name, ":", 2)[0] + ":) but is not one of its " +
					"built-in objects: someone made it to look like part of the cluster"})
		}
		return true
	}
	for _, r := range s.Roles {
		ref := ObjectRef{Kind: "Role", Namespace: r.Namespace, Name: r.Name}
		if object(ref, r.Labels) {
			res.Findings = append(res.Findings, a.auditRules(ref, r.Namespace, r.Rules, bound[ref])...)
		}
	}
	for _, r := range s.ClusterRoles {
		ref := ObjectRef{Kind: "ClusterRole", Name: r.Name}
		if object(ref, r.Labels) {
			res.Findings = append(res.Findings, a.auditRules(ref, "", r.Rules, bound[ref])...)
		}
	}
	for _, b := range s.bindings("*") {
		if object(b.ref, b.labels) {
			res.Findings = append(res.Findings, a.auditBinding(b)...)
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.Object.String() != b.Object.String() {
			return a.Object.String() < b.Object.String()
		}
		return a.Check < b.Check
	})
	for _, f := range res.Findings {
		res.Summary[string(f.Severity)]++
	}
	return res
}

// boundSubjects maps each role to the subjects of the bindings that name it.
func boundSubjects(s *Snapshot) map[ObjectRef][]Subject {
	out := map[ObjectRef][]Subject{}
	for _, b := range s.bindings("*") {
		ref := ObjectRef{Kind: b.roleRef.Kind, Name: b.roleRef.Name}
		if b.roleRef.Kind == "Role" {
			ref.Namespace = b.ref.Namespace
		}
		for _, subj := range b.subjects {
			out[ref] = append(out[ref], fromRBAC(subj, b.ref.Namespace))
		}
	}
	return out
}

// publicSubjects are the identities every request, or every unauthenticated one, has
// (k8s.io/apiserver pkg/authentication/user/user.go:74-77).
var publicSubjects = map[string]string{KindUser + "/" + AnonymousUser: "", KindGroup + "/" + AllUnauthenticated: "",
	KindGroup + "/" + AllAuthenticated: ""}

// discoveryRule reports whether r grants no more than the bootstrap discovery roles do
// (system:discovery, system:basic-user, system:public-info-viewer: plugin/pkg/auth/authorizer/
// rbac/bootstrappolicy/policy.go): get on discovery and health paths, and self reviews.
func discoveryRule(r rbacv1.PolicyRule) bool {
	if slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" }) {
		return false
	}
	for _, u := range r.NonResourceURLs {
		if !slices.Contains([]string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/",
			"/openapi", "/openapi/*", "/.well-known/openid-configuration", "/openid/v1/jwks"}, u) {
			return false
		}
	}
	return len(r.Resources) == 0
}

func selfReviewRule(r rbacv1.PolicyRule) bool {
	if len(r.NonResourceURLs) > 0 || !slices.Equal(r.Verbs, []string{"create"}) {
		return false
	}
	for _, res := range r.Resources {
		if !slices.Contains([]string{"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}, res) {
			return false
		}
	}
	return !slices.Contains(r.APIGroups, "*")
}

func (a *auditor) auditBinding(b binding) []Finding {
	s := a.s
	var out []Finding
	var subjects []Subject
	var public []string
	for _, subj := range b.subjects {
		subjects = append(subjects, fromRBAC(subj, b.ref.Namespace))
		if subj.Kind == rbacv1.GroupKind && subj.Name == PrivilegedGroup {
			out = append(out, Finding{Severity: SeverityHigh, Check: CheckSystemMasters, Object: b.ref,
				Message: "binds the group system:masters, which the API server already allows everything " +
					"without RBAC; whoever is in it cannot be restricted, and this binding hides that"})
		}
		if _, ok := publicSubjects[subj.Kind+"/"+subj.Name]; ok {
			public = append(public, subj.Name)
		}
	}
	role, rules, ok := s.roleFor(b.ref.Namespace, b.roleRef)
	if !ok {
		out = append(out, Finding{Severity: SeverityMedium, Check: CheckMissingRole, Object: b.ref,
			Message: fmt.Sprintf("points to %s, which does not exist: whoever creates a role with that name "+
				"grants it to these subjects", role), Subjects: subjects})
		return out
	}
	if b.roleRef.Kind == "ClusterRole" && b.roleRef.Name == "cluster-admin" {
		scope := "in every namespace, and every cluster-scoped resource"
		if b.ref.Namespace != "" {
			scope = "in the namespace " + b.ref.Namespace
		}
		out = append(out, Finding{Severity: SeverityHigh, Check: CheckClusterAdmin, Object: b.ref, Subjects: subjects,
			Message: "binds cluster-admin: its subjects may do everything " + scope})
	}
	if len(public) > 0 {
		var extra []string
		for _, r := range rules {
			if !discoveryRule(r) && !selfReviewRule(r) {
				extra = append(extra, ruleString(r))
			}
		}
		if len(extra) > 0 {
			out = append(out, Finding{Severity: SeverityHigh, Check: CheckPublicBinding, Object: b.ref, Subjects: subjects,
				Message: fmt.Sprintf("grants %s to %s: every caller (anonymous ones included, where anonymous "+
					"auth is on) gets more than discovery (%s)", role, strings.Join(public, ", "), strings.Join(extra, "; "))})
		}
	}
	// A built-in role is not audited on its own: judge what this binding makes it grant.
	if role.Kind == "ClusterRole" && IsBuiltin("ClusterRole", "", role.Name, s.clusterRoles[role.Name].Labels) && !a.opts.IncludeSystem {
		for _, f := range a.auditRules(b.ref, b.ref.Namespace, rules, subjects) {
			if f.Check == CheckUnservedAPIGroup || f.Check == CheckReadOnlyWrites {
				continue // the built-in role's own business (edit still names "extensions"), not the binding's
			}
			f.Message = "through " + role.String() + ": " + f.Message
			out = append(out, f)
		}
	}
	if b.ref.Kind == "ClusterRoleBinding" || b.ref.Namespace == "kube-system" {
		targets := append([]gr{{"", "pods", ""}}, workloadControllers...)
		for _, t := range targets {
			verbs := writeVerbsCUP
			if t.resource == "pods" {
				verbs = []string{"create"}
			}
			var hit []string
			for _, v := range verbs {
				req := Request{Verb: v, Group: t.group, Resource: t.resource, Namespace: "kube-system"}
				for _, r := range rules {
					if RuleAllows(req, r) && !slices.Contains(hit, v) {
						hit = append(hit, v)
					}
				}
			}
			if len(hit) > 0 {
				out = append(out, Finding{Severity: SeverityHigh, Check: CheckKubeSystemPods, Object: b.ref,
					Message: fmt.Sprintf("lets its subjects %s %s in kube-system (through %s): pods there run as "+
						"any kube-system service account and can mount control-plane secrets and host paths",
						strings.Join(hit, ","), t, role), Subjects: subjects})
				return out
			}
		}
	}
	return out
}
