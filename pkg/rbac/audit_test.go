package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The tutorial's "readonly" Role: write verbs, and the API group "extensions".
func tutorialRole() rbacv1.Role {
	return rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "readonly", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"", "extensions", "apps"},
			Resources: []string{"deployments", "replicasets", "pods"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}}
}

func findingSet(res AuditResult) map[string]Severity {
	out := map[string]Severity{}
	for _, f := range res.Findings {
		out[f.Check+" "+f.Object.String()] = f.Severity
	}
	return out
}

func TestAuditFindsEachRisk(t *testing.T) {
	role := func(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	r := func(group, resource string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
	}
	crs := []rbacv1.ClusterRole{
		role("wild", r("*", "*", "*")),
		role("secret-lister", r("", "secrets", "list")),
		role("secret-getter", r("", "secrets", "get")),
		role("exec", r("", "pods/exec", "create")),
		role("escalator", r("rbac.authorization.k8s.io", "clusterroles", "escalate")),
		role("impersonator", r("", "users", "impersonate")),
		role("proxy", r("", "nodes/proxy", "get")),
		role("csr", r("certificates.k8s.io", "certificatesigningrequests/approval", "update"),
			r("certificates.k8s.io", "signers", "approve")),
		role("tokens", r("", "serviceaccounts/token", "create")),
		role("pod-maker", r("", "pods", "create")),
		role("cluster-viewer", r("", "pods", "get"), r("", "configmaps", "patch")),
		role("fine", r("", "pods", "get")),
		role("system:skipped", r("*", "*", "*")),
	}
	crbs := []rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "masters"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "fine"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "system:masters"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dangling"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "nope"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "x"}}},
	}
	rbs := []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "ks", Namespace: "kube-system"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pod-maker"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "y"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "apps"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pod-maker"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "y"}}},
	}
	res := Audit(NewSnapshot([]rbacv1.Role{tutorialRole()}, crs, rbs, crbs),
		AuditOptions{ServedGroups: map[string]bool{"": true, "apps": true, "certificates.k8s.io": true, "rbac.authorization.k8s.io": true}})
	got := findingSet(res)
	for key, sev := range map[string]Severity{
		"wildcard ClusterRole/wild":                              SeverityHigh,
		"secrets-read ClusterRole/secret-lister":                 SeverityHigh,
		"secrets-read ClusterRole/secret-getter":                 SeverityMedium,
		"pods-exec-attach ClusterRole/exec":                      SeverityHigh,
		"escalate-bind-impersonate ClusterRole/escalator":        SeverityHigh,
		"escalate-bind-impersonate ClusterRole/impersonator":     SeverityHigh,
		"nodes-proxy ClusterRole/proxy":                          SeverityHigh,
		"csr-approval ClusterRole/csr":                           SeverityHigh,
		"serviceaccount-token ClusterRole/tokens":                SeverityMedium,
		"kube-system-pod-create RoleBinding/kube-system/ks":      SeverityHigh,
		"system-masters-binding ClusterRoleBinding/masters":      SeverityHigh,
		"missing-role ClusterRoleBinding/dangling":               SeverityMedium,
		"readonly-name-grants-writes Role/default/readonly":      SeverityHigh,
		"readonly-name-grants-writes ClusterRole/cluster-viewer": SeverityHigh,
		"unserved-api-group Role/default/readonly":               SeverityLow,
	} {
		if got[key] != sev {
			t.Errorf("finding %q: severity %q, want %q", key, got[key], sev)
		}
		delete(got, key)
	}
	for key := range got {
		t.Errorf("unexpected finding %q", key)
	}
	if res.Summary["high"] == 0 || res.Findings[0].Severity != SeverityHigh {
		t.Errorf("findings not sorted by severity, or summary empty: %+v", res.Summary)
	}
}

func TestAuditIncludeSystem(t *testing.T) {
	s := NewSnapshot(nil, []rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "system:x"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}}, nil, nil)
	if n := len(Audit(s, AuditOptions{}).Findings); n != 0 {
		t.Errorf("system role audited by default: %d findings", n)
	}
	if n := len(Audit(s, AuditOptions{IncludeSystem: true}).Findings); n != 1 {
		t.Errorf("--include-system: %d findings, want 1", n)
	}
}

func TestParseSeverity(t *testing.T) {
	if s, err := ParseSeverity("HIGH"); err != nil || s != SeverityHigh {
		t.Errorf("HIGH: %v %v", s, err)
	}
	if _, err := ParseSeverity("critical"); err == nil {
		t.Error("critical accepted")
	}
}
