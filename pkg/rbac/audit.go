package rbac

import (
	"fmt"
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

// Audit check identifiers (stable: scripts filter on them).
const (
	CheckWildcard         = "wildcard"
	CheckSecretsRead      = "secrets-read"
	CheckPodExec          = "pods-exec-attach"
	CheckEscalation       = "escalate-bind-impersonate"
	CheckNodesProxy       = "nodes-proxy"
	CheckCSRApproval      = "csr-approval"
	CheckSAToken          = "serviceaccount-token"
	CheckKubeSystemPods   = "kube-system-pod-create"
	CheckSystemMasters    = "system-masters-binding"
	CheckMissingRole      = "missing-role"
	CheckReadOnlyWrites   = "readonly-name-grants-writes"
	CheckUnservedAPIGroup = "unserved-api-group"
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
	// IncludeSystem also audits the built-in roles and bindings (names
	// starting with "system:" or "kubeadm:", or labelled
	// kubernetes.io/bootstrapping=rbac-defaults).
	IncludeSystem bool
	// ServedGroups, when set, enables the check for rules naming API groups
	// the cluster does not serve.
	ServedGroups map[string]bool
}

// AuditResult is the audit report.
type AuditResult struct {
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"` // count per severity
	Checked  map[string]int `json:"checked"` // objects looked at, per kind
	Checks   []string       `json:"checks"`
}

// AllChecks lists the checks Audit runs.
var AllChecks = []string{CheckWildcard, CheckSecretsRead, CheckPodExec, CheckEscalation, CheckNodesProxy,
	CheckCSRApproval, CheckSAToken, CheckKubeSystemPods, CheckSystemMasters, CheckMissingRole,
	CheckReadOnlyWrites, CheckUnservedAPIGroup}

// isSystem: the API server's bootstrap roles and bindings, and kubeadm's own.
func isSystem(name string, lbls map[string]string) bool {
	return strings.HasPrefix(name, "system:") || strings.HasPrefix(name, "kubeadm:") ||
		lbls["kubernetes.io/bootstrapping"] == "rbac-defaults"
}

// Audit checks every Role and ClusterRole and every binding of s.
func Audit(s *Snapshot, opts AuditOptions) AuditResult {
	res := AuditResult{Findings: []Finding{}, Summary: map[string]int{}, Checked: map[string]int{}, Checks: AllChecks}
	bound := boundSubjects(s)
	for _, r := range s.Roles {
		if !opts.IncludeSystem && isSystem(r.Name, r.Labels) {
			continue
		}
		res.Checked["Role"]++
		ref := ObjectRef{Kind: "Role", Namespace: r.Namespace, Name: r.Name}
		res.Findings = append(res.Findings, auditRules(ref, r.Rules, bound[ref], opts)...)
	}
	for _, r := range s.ClusterRoles {
		if !opts.IncludeSystem && isSystem(r.Name, r.Labels) {
			continue
		}
		res.Checked["ClusterRole"]++
		ref := ObjectRef{Kind: "ClusterRole", Name: r.Name}
		res.Findings = append(res.Findings, auditRules(ref, r.Rules, bound[ref], opts)...)
	}
	for _, b := range s.bindings("*") {
		if !opts.IncludeSystem && isSystem(b.ref.Name, b.labels) {
			continue
		}
		res.Checked[b.ref.Kind]++
		res.Findings = append(res.Findings, auditBinding(s, b)...)
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

func auditBinding(s *Snapshot, b binding) []Finding {
	var out []Finding
	var subjects []Subject
	for _, subj := range b.subjects {
		subjects = append(subjects, fromRBAC(subj, b.ref.Namespace))
		if subj.Kind == rbacv1.GroupKind && subj.Name == PrivilegedGroup {
			out = append(out, Finding{Severity: SeverityHigh, Check: CheckSystemMasters, Object: b.ref,
				Message: "binds the group system:masters, which the API server already allows everything " +
					"without RBAC; whoever is in it cannot be restricted, and this binding hides that"})
		}
	}
	role, rules, ok := s.roleFor(b.ref.Namespace, b.roleRef)
	if !ok {
		out = append(out, Finding{Severity: SeverityMedium, Check: CheckMissingRole, Object: b.ref,
			Message: fmt.Sprintf("points to %s, which does not exist: whoever creates a role with that name "+
				"grants it to these subjects", role), Subjects: subjects})
		return out
	}
	if b.ref.Kind == "ClusterRoleBinding" || b.ref.Namespace == "kube-system" {
		for _, res := range []string{"pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"} {
			group := map[string]string{"pods": "", "jobs": "batch", "cronjobs": "batch"}[res]
			if _, ok := map[string]bool{"deployments": true, "daemonsets": true, "statefulsets": true, "replicasets": true}[res]; ok {
				group = "apps"
			}
			req := Request{Verb: "create", Group: group, Resource: res, Namespace: "kube-system"}
			for _, r := range rules {
				if RuleAllows(req, r) {
					out = append(out, Finding{Severity: SeverityHigh, Check: CheckKubeSystemPods, Object: b.ref,
						Message: fmt.Sprintf("lets its subjects create %s in kube-system (through %s): "+
							"pods there can mount control-plane secrets and host paths", groupResource(group, res), role),
						Subjects: subjects})
					return out
				}
			}
		}
	}
	return out
}
