package rbac

import (
	"slices"
	"strings"
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

// auditFixture has one object per risk the audit knows, the false positives it must not
// report, and bindings to built-in roles.
func auditFixture() *Snapshot {
	role := func(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	r := func(group, resource string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
	}
	named := func(rule rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
		rule.ResourceNames = names
		return rule
	}
	boot := map[string]string{LabelBootstrapping: BootstrapRBAC}
	crs := []rbacv1.ClusterRole{
		role("wild", r("*", "*", "*")),
		role("secret-lister", r("", "secrets", "list")),
		role("secret-getter", r("", "secrets", "get")),
		role("secret-writer", r("", "secrets", "create", "patch")),
		role("exec", r("", "pods/exec", "create")),
		role("any-exec", r("", "*/exec", "create")),
		role("ephemeral", r("", "pods/ephemeralcontainers", "patch")),
		role("port-forward", r("", "pods/portforward", "create")),
		role("escalator", r("rbac.authorization.k8s.io", "clusterroles", "escalate")),
		role("impersonator", r("", "users", "impersonate")),
		role("delegator", named(r("rbac.authorization.k8s.io", "clusterroles", "bind"), "view")),
		role("bind-edit-only", named(r("rbac.authorization.k8s.io", "clusterroles", "bind"), "edit")),
		role("impersonate-masters", named(r("", "groups", "impersonate"), "system:masters")),
		role("proxy", r("", "nodes/proxy", "get")),
		role("csr", r("certificates.k8s.io", "certificatesigningrequests/approval", "update"),
			r("certificates.k8s.io", "signers", "approve")),
		role("tokens", r("", "serviceaccounts/token", "create")),
		role("webhooks", r("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch")),
		role("pv-maker", r("", "persistentvolumes", "create")),
		role("status", r("", "nodes/status", "patch")),
		role("ns-labeller", r("", "namespaces", "patch")),
		role("rbac-writer", r("rbac.authorization.k8s.io", "rolebindings", "create")),
		role("pod-maker", r("", "pods", "create")),
		role("rc-updater", r("", "replicationcontrollers", "update")),
		role("all-urls", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/*"}}),
		role("cluster-viewer", r("", "pods", "get"), r("", "configmaps", "delete")),
		role("reviewer", r("", "configmaps", "delete")),
		role("fine", r("", "pods", "get")),
		role("view", r("", "pods", "get", "list")),
		role("edit", r("", "pods/exec", "create"), r("", "secrets", "get", "list")),
		role("cluster-admin", r("*", "*", "*"), rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}),
		role("system:skipped", r("*", "*", "*")),
		role("system:basic-user", r("authorization.k8s.io", "selfsubjectrulesreviews", "create")),
	}
	for i := range crs {
		switch crs[i].Name {
		case "view", "edit", "cluster-admin", "system:skipped", "system:basic-user":
			crs[i].Labels = boot
		}
	}
	crb := func(name, role string, subj ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
		return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role}, Subjects: subj}
	}
	user := rbacv1.Subject{Kind: "User", Name: "x"}
	crbs := []rbacv1.ClusterRoleBinding{
		crb("masters", "fine", rbacv1.Subject{Kind: "Group", Name: "system:masters"}),
		crb("dangling", "nope", user),
		crb("system:anything", "wild", user),
		crb("ops-admin", "cluster-admin", user),
		crb("everyone-views", "view", rbacv1.Subject{Kind: "Group", Name: "system:authenticated"}),
		crb("basic", "system:basic-user", rbacv1.Subject{Kind: "Group", Name: "system:unauthenticated"}),
	}
	crbs[4].Labels = nil
	rbs := []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "ks", Namespace: "kube-system"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pod-maker"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "y"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "apps"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pod-maker"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "y"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bob-edit", Namespace: "apps"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}},
	}
	roles := []rbacv1.Role{tutorialRole(),
		{ObjectMeta: metav1.ObjectMeta{Name: "ns-proxy", Namespace: "apps"}, Rules: []rbacv1.PolicyRule{r("", "nodes/proxy", "get"),
			r("certificates.k8s.io", "signers", "approve")}},
	}
	return NewSnapshot(roles, crs, rbs, crbs)
}

// findingsByObject is "object": "check:severity ..." (sorted), as the e2e test writes it.
func findingsByObject(res AuditResult) map[string]string {
	m := map[string][]string{}
	for _, f := range res.Findings {
		m[f.Object.String()] = append(m[f.Object.String()], f.Check+":"+string(f.Severity))
	}
	out := map[string]string{}
	for k, v := range m {
		slices.Sort(v)
		out[k] = strings.Join(slices.Compact(v), " ")
	}
	return out
}

func TestAuditFindsEachRisk(t *testing.T) {
	res := Audit(auditFixture(), AuditOptions{ServedGroups: map[string]bool{"": true, "apps": true, "certificates.k8s.io": true,
		"rbac.authorization.k8s.io": true, "admissionregistration.k8s.io": true, "authorization.k8s.io": true}})
	got := findingsByObject(res)
	want := map[string]string{
		"ClusterRole/wild": "csr-approval:high escalate-bind-impersonate:high namespace-write:medium nodes-proxy:high " +
			"persistentvolume-create:high pod-create:medium pods-ephemeral-containers:high pods-exec-attach:high " +
			"pods-portforward:medium rbac-write:medium secrets-read:high secrets-write:medium serviceaccount-token:medium " +
			"status-write:medium webhook-config-write:high wildcard:high workload-write:medium",
		"ClusterRole/secret-lister":          "secrets-read:high",
		"ClusterRole/secret-getter":          "secrets-read:medium",
		"ClusterRole/secret-writer":          "secrets-write:medium",
		"ClusterRole/exec":                   "pods-exec-attach:high",
		"ClusterRole/any-exec":               "pods-exec-attach:high",
		"ClusterRole/ephemeral":              "pods-ephemeral-containers:high",
		"ClusterRole/port-forward":           "pods-portforward:medium",
		"ClusterRole/escalator":              "escalate-bind-impersonate:high",
		"ClusterRole/impersonator":           "escalate-bind-impersonate:high",
		"ClusterRole/delegator":              "escalate-bind-impersonate:low",
		"ClusterRole/bind-edit-only":         "escalate-bind-impersonate:high",
		"ClusterRole/impersonate-masters":    "escalate-bind-impersonate:high",
		"ClusterRole/proxy":                  "nodes-proxy:high",
		"ClusterRole/csr":                    "csr-approval:high",
		"ClusterRole/tokens":                 "serviceaccount-token:medium",
		"ClusterRole/webhooks":               "webhook-config-write:high",
		"ClusterRole/pv-maker":               "persistentvolume-create:high",
		"ClusterRole/status":                 "status-write:medium",
		"ClusterRole/ns-labeller":            "namespace-write:medium",
		"ClusterRole/rbac-writer":            "rbac-write:medium",
		"ClusterRole/pod-maker":              "pod-create:medium",
		"ClusterRole/rc-updater":             "workload-write:medium",
		"ClusterRole/all-urls":               "wildcard:high",
		"ClusterRole/cluster-viewer":         "readonly-name-grants-writes:high",
		"RoleBinding/kube-system/ks":         "kube-system-pod-create:high",
		"ClusterRoleBinding/masters":         "system-masters-binding:high",
		"ClusterRoleBinding/dangling":        "missing-role:medium",
		"ClusterRoleBinding/system:anything": "kube-system-pod-create:high reserved-system-name:medium",
		"ClusterRoleBinding/ops-admin": "cluster-admin-binding:high csr-approval:high escalate-bind-impersonate:high " +
			"kube-system-pod-create:high namespace-write:medium nodes-proxy:high persistentvolume-create:high pod-create:medium " +
			"pods-ephemeral-containers:high pods-exec-attach:high pods-portforward:medium rbac-write:medium secrets-read:high " +
			"secrets-write:medium serviceaccount-token:medium status-write:medium webhook-config-write:high wildcard:high workload-write:medium",
		"ClusterRoleBinding/everyone-views": "unauthenticated-or-all-users-binding:high",
		"RoleBinding/apps/bob-edit":         "pods-exec-attach:high secrets-read:high",
		"Role/default/readonly":             "pod-create:medium readonly-name-grants-writes:high unserved-api-group:low workload-write:medium",
		"Role/apps/ns-proxy":                "cluster-scoped-in-namespace:low",
	}
	for obj, checks := range want {
		if got[obj] != checks {
			t.Errorf("%s:\n got  %s\n want %s", obj, got[obj], checks)
		}
		delete(got, obj)
	}
	for obj, checks := range got {
		t.Errorf("unexpected findings for %s: %s", obj, checks)
	}
	if res.Summary["high"] == 0 || res.Findings[0].Severity != SeverityHigh {
		t.Errorf("findings not sorted by severity, or summary empty: %+v", res.Summary)
	}
}

func TestAuditIncludeSystem(t *testing.T) {
	s := NewSnapshot(nil, []rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "system:x",
		Labels: map[string]string{LabelBootstrapping: BootstrapRBAC}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}}, nil, nil)
	if n := len(Audit(s, AuditOptions{}).Findings); n != 0 {
		t.Errorf("system role audited by default: %d findings", n)
	}
	if got := findingsByObject(Audit(s, AuditOptions{IncludeSystem: true}))["ClusterRole/system:x"]; !strings.Contains(got, "wildcard:high") {
		t.Errorf("--include-system: %s, want the wildcard among them", got)
	}
	// Without the bootstrapping label, a system: name is someone's, and audited.
	s.ClusterRoles[0].Labels = nil
	if got := findingsByObject(Audit(NewSnapshot(nil, s.ClusterRoles, nil, nil), AuditOptions{}))["ClusterRole/system:x"]; !strings.Contains(got, "reserved-system-name:medium") ||
		!strings.Contains(got, "wildcard:high") {
		t.Errorf("unlabelled system:x: %s", got)
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

func TestReadOnlyNameIsWholeWords(t *testing.T) {
	for name, want := range map[string]bool{"viewer": true, "pod-viewer": true, "ro": true, "read-only-x": true, "team:reader": true,
		"reviewer": false, "preview": false, "robot": false, "overview-editor": false, "bind-view-delegate": true} {
		if got := readOnlyName.MatchString(name); got != want {
			t.Errorf("readOnlyName(%q) = %v, want %v", name, got, want)
		}
	}
}
