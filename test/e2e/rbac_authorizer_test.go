//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// authzFixture builds the objects of issue #15: each case where who-can, explain or audit used
// to answer differently from the authorizer or the scanners. It returns the number of objects.
func authzFixture(t *testing.T, c kubernetes.Interface) int {
	t.Helper()
	ctx := context.Background()
	for _, ns := range []string{"az1", "az2"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := func(group, resource string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
	}
	named := func(rule rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
		rule.ResourceNames = names
		return rule
	}
	urls := func(verb string, u ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: []string{verb}, NonResourceURLs: u}
	}
	cr := func(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	aggLabel := map[string]string{"az/aggregate": "true"}
	crs := []rbacv1.ClusterRole{
		cr("az-metrics", urls("get", "/metrics", "/logs/*")),
		cr("az-all-urls", urls("get", "/*")),
		cr("az-ns-patch", r("", "namespaces", "get", "patch")),
		cr("az-nodes", r("", "nodes", "get"), r("", "nodes/proxy", "get")),
		cr("az-bind-view", named(r("rbac.authorization.k8s.io", "clusterroles", "bind"), "view")),
		cr("az-signer", named(r("certificates.k8s.io", "signers", "approve"), "kubernetes.io/kube-apiserver-client"),
			r("certificates.k8s.io", "certificatesigningrequests/approval", "update")),
		cr("az-imp", named(r("", "users", "impersonate"), "alice"), r("authentication.k8s.io", "userextras/scopes", "impersonate"),
			r("authentication.k8s.io", "uids", "impersonate")),
		cr("az-imp-masters", named(r("", "groups", "impersonate"), "system:masters")),
		cr("az-secrets", r("", "secrets", "get", "list")),
		cr("az-exec", r("", "*/exec", "create")),
		cr("az-wild", r("*", "*", "*")),
		cr("az-webhooks", r("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch")),
		cr("az-pv", r("", "persistentvolumes", "create")),
		cr("az-ephemeral", r("", "pods/ephemeralcontainers", "patch")),
		cr("az-portforward", r("", "pods/portforward", "create")),
		cr("az-status", r("", "nodes/status", "patch"), r("", "pods/status", "patch")),
		cr("az-workloads", r("", "replicationcontrollers", "update"), r("apps", "deployments", "patch")),
		cr("az-cm-read", r("", "configmaps", "get")),
		cr("az-reviewer", r("", "configmaps", "delete")),
		cr("system:az-evil", r("*", "*", "*")),
		{ObjectMeta: metav1.ObjectMeta{Name: "az-agg"}, AggregationRule: &rbacv1.AggregationRule{
			ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: aggLabel}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "az-agg-svc", Labels: aggLabel}, Rules: []rbacv1.PolicyRule{r("", "services", "list")}},
	}
	roles := []rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Name: "az-r-cluster-bits", Namespace: "az1"}, Rules: []rbacv1.PolicyRule{
			r("", "nodes/proxy", "get"), r("certificates.k8s.io", "signers", "approve")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "az-r-ns", Namespace: "az1"}, Rules: []rbacv1.PolicyRule{r("", "namespaces", "patch", "delete")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "az-r-named-secret", Namespace: "az1"}, Rules: []rbacv1.PolicyRule{named(r("", "secrets", "get"), "s1")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "az-r-imp-sa", Namespace: "az2"}, Rules: []rbacv1.PolicyRule{r("", "serviceaccounts", "impersonate")}},
	}
	user := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: n}
	}
	group := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: n}
	}
	sa := func(ns, n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
	}
	crb := func(name, role string, s ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
		return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: s,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	}
	rb := func(ns, name, kind, role string, s ...rbacv1.Subject) rbacv1.RoleBinding {
		return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Subjects: s,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}}
	}
	crbs := []rbacv1.ClusterRoleBinding{
		crb("az-metrics-m1", "az-metrics", user("m1")),
		crb("az-all-urls-u", "az-all-urls", user("urls")),
		crb("az-signer-approvers", "az-signer", group("approvers")),
		crb("az-imp-sa", "az-imp", sa("az2", "imp")),
		crb("az-imp-masters-x", "az-imp-masters", user("mimic")),
		crb("az-exec-x1", "az-exec", user("x1")),
		crb("az-webhooks-h", "az-webhooks", user("hooker")),
		crb("az-pv-p", "az-pv", user("pvmaker")),
		crb("az-status-s", "az-status", user("statusy")),
		crb("az-anon-cm", "az-cm-read", user("system:anonymous")),
		crb("system:az-evil", "system:az-evil", user("evil")),
		crb("az-boss-admin", "cluster-admin", user("boss")),
		crb("az-agg-g", "az-agg", group("agg")),
		crb("az-nodes-reader", "az-nodes", user("nodey")),
	}
	rbs := []rbacv1.RoleBinding{
		rb("az1", "az-metrics-m2", "ClusterRole", "az-metrics", user("m2")),
		rb("az1", "az-ns-p1", "ClusterRole", "az-ns-patch", user("p1")),
		rb("az1", "az-nodes-nd1", "ClusterRole", "az-nodes", user("nd1")),
		rb("az1", "az-bind-d1", "ClusterRole", "az-bind-view", user("d1")),
		rb("az1", "az-unauth-cm", "ClusterRole", "az-cm-read", group("system:unauthenticated")),
		rb("az1", "az-cluster-bits-rp", "Role", "az-r-cluster-bits", user("rp")),
		rb("az1", "az-ns-admins", "Role", "az-r-ns", group("nsadmins")),
		rb("az1", "az-named-secret", "Role", "az-r-named-secret", sa("az1", "default")),
		rb("az1", "az-eph", "ClusterRole", "az-ephemeral", user("ephy")),
		rb("az1", "az-pf", "ClusterRole", "az-portforward", user("forwarder")),
		rb("az2", "az-secrets-reader", "ClusterRole", "az-secrets", sa("az2", "reader")),
		rb("az2", "az-wild-w1", "ClusterRole", "az-wild", user("w1")),
		rb("az2", "az-edit-bob", "ClusterRole", "edit", user("bob")),
		rb("az2", "az-view-viewer", "ClusterRole", "view", sa("az2", "viewer")),
		rb("az2", "az-workloads-wk", "ClusterRole", "az-workloads", user("worker")),
		rb("az2", "az-imp-sa-rb", "Role", "az-r-imp-sa", user("sa-mimic")),
		rb("az2", "az-reviewer-rv", "ClusterRole", "az-reviewer", user("rv")),
	}
	createRBAC(ctx, t, c, crs, roles, crbs, rbs)
	waitForAggregation(t, c, "az-agg", 1)
	// The authorizer reads through informers: wait until it sees the last binding (a sync
	// point, not an assertion).
	deadline := time.Now().Add(60 * time.Second)
	for !sarAllowed(t, c, "rv", []string{"system:authenticated"}, rbac.Request{Verb: "delete", Resource: "configmaps", Namespace: "az2"}) ||
		!sarAllowed(t, c, "u", []string{"agg"}, rbac.Request{Verb: "list", Resource: "services", Namespace: "az1"}) {
		if time.Now().After(deadline) {
			t.Fatal("the authorizer did not see the fixture's bindings")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return len(crs) + len(roles) + len(crbs) + len(rbs)
}

// identity is who makes a request: a user name and the groups the API server gives it.
type identity struct {
	name   string
	user   string
	groups []string
}

func authzIdentities() []identity {
	var out []identity
	add := func(s rbac.Subject, extra ...string) {
		u, g := s.UserInfo(extra, true)
		out = append(out, identity{name: s.String() + strings.Join(extra, "+"), user: u, groups: g})
	}
	for _, u := range []string{"m1", "m2", "urls", "p1", "nd1", "nodey", "d1", "x1", "w1", "evil", "bob", "boss", "rp", "alice",
		"nobody", "mimic", "hooker", "pvmaker", "statusy", "ephy", "forwarder", "worker", "sa-mimic", "rv", "system:anonymous"} {
		add(rbac.User(u))
	}
	add(rbac.User("ann"), "approvers")
	add(rbac.User("nsa"), "nsadmins")
	add(rbac.User("ag"), "agg")
	add(rbac.User("guest"), "system:unauthenticated")
	for _, s := range []rbac.Subject{rbac.ServiceAccount("az2", "imp"), rbac.ServiceAccount("az2", "reader"),
		rbac.ServiceAccount("az2", "viewer"), rbac.ServiceAccount("az1", "default"), rbac.ServiceAccount("az2", "default")} {
		add(s)
	}
	return out
}

// covered: does who-can's list name this identity (its user, one of its groups, or its
// service account)?
func covered(res rbac.WhoCanResult, id identity) bool {
	for _, a := range res.Subjects {
		switch a.Subject.Kind {
		case rbac.KindUser:
			if id.user != "" && a.Subject.Name == id.user {
				return true
			}
		case rbac.KindGroup:
			if slices.Contains(id.groups, a.Subject.Name) {
				return true
			}
		case rbac.KindServiceAccount:
			if id.user == "system:serviceaccount:"+a.Subject.Namespace+":"+a.Subject.Name {
				return true
			}
		}
	}
	return slices.ContainsFunc(res.AlwaysAllowed, func(g string) bool { return slices.Contains(id.groups, g) })
}

// TestRBACAuthorizerTruth: who-can equals SubjectAccessReview for every question x identity
// over the #15 fixture, the audit reports exactly the expected checks per object, the matrix
// asks the authorization-only verbs, and grant refuses risky custom rules without --allow-risky.
func TestRBACAuthorizerTruth(t *testing.T) {
	e := rbacEnv{cp: harness.StartT(t, harness.Options{Name: "rbacaz", NoMirrorPods: true})}
	objects := authzFixture(t, e.cp.Client)
	ids := authzIdentities()
	t.Logf("fixture: %d roles and bindings, %d identities", objects, len(ids))
	if objects < 30 || len(ids) < 20 {
		t.Fatalf("%d objects, %d identities: want at least 30 and 20", objects, len(ids))
	}
	t.Run("WhoCanEqualsSubjectAccessReview", func(t *testing.T) { testAuthzWhoCan(t, e, ids) })
	t.Run("AuditReportsExactChecks", func(t *testing.T) { testAuthzAudit(t, e) })
	t.Run("MatrixAsksAuthorizationOnlyVerbs", func(t *testing.T) { testAuthzMatrix(t, e) })
	t.Run("ExplainDropsWhatRoleBindingsCannotGrant", func(t *testing.T) { testAuthzExplain(t, e) })
	t.Run("GrantRefusesRiskyWithoutAllowRisky", func(t *testing.T) { testGrantRefusesRisky(t, e) })
}

func testAuthzWhoCan(t *testing.T, e rbacEnv, ids []identity) {
	type question struct {
		args []string
		req  rbac.Request // what the API server asks for it
	}
	cert, authn, rbacG := "certificates.k8s.io", "authentication.k8s.io", "rbac.authorization.k8s.io"
	qs := []question{
		{[]string{"get", "/metrics", "-A"}, rbac.Request{Verb: "get", NonResourceURL: "/metrics"}},
		{[]string{"get", "/logs/kube-apiserver.log"}, rbac.Request{Verb: "get", NonResourceURL: "/logs/kube-apiserver.log"}},
		{[]string{"get", "/healthz"}, rbac.Request{Verb: "get", NonResourceURL: "/healthz"}},
		{[]string{"get", "/debug/pprof/"}, rbac.Request{Verb: "get", NonResourceURL: "/debug/pprof/"}},
		{[]string{"get", "nodes", "-A"}, rbac.Request{Verb: "get", Resource: "nodes"}},
		{[]string{"get", "nodes/proxy", "-n", "az1"}, rbac.Request{Verb: "get", Resource: "nodes", Subresource: "proxy"}},
		{[]string{"patch", "namespaces", "az1"}, rbac.Request{Verb: "patch", Resource: "namespaces", Name: "az1", Namespace: "az1"}},
		{[]string{"patch", "namespaces", "-n", "az1"}, rbac.Request{Verb: "patch", Resource: "namespaces", Name: "az1", Namespace: "az1"}},
		{[]string{"delete", "namespaces", "az1", "-A"}, rbac.Request{Verb: "delete", Resource: "namespaces", Name: "az1", Namespace: "az1"}},
		{[]string{"get", "namespaces", "az2"}, rbac.Request{Verb: "get", Resource: "namespaces", Name: "az2", Namespace: "az2"}},
		{[]string{"bind", "clusterroles", "view", "-n", "az1"}, rbac.Request{Verb: "bind", Group: rbacG, Resource: "clusterroles", Name: "view", Namespace: "az1"}},
		{[]string{"bind", "clusterroles", "edit", "-n", "az1"}, rbac.Request{Verb: "bind", Group: rbacG, Resource: "clusterroles", Name: "edit", Namespace: "az1"}},
		{[]string{"bind", "clusterroles", "view"}, rbac.Request{Verb: "bind", Group: rbacG, Resource: "clusterroles", Name: "view"}},
		{[]string{"approve", "signers", "kubernetes.io/kube-apiserver-client"}, rbac.Request{Verb: "approve", Group: cert, Resource: "signers", Name: "kubernetes.io/kube-apiserver-client"}},
		{[]string{"approve", "signers", "kubernetes.io/kubelet-serving"}, rbac.Request{Verb: "approve", Group: cert, Resource: "signers", Name: "kubernetes.io/kubelet-serving"}},
		{[]string{"update", "certificatesigningrequests/approval"}, rbac.Request{Verb: "update", Group: cert, Resource: "certificatesigningrequests", Subresource: "approval"}},
		{[]string{"impersonate", "users", "alice"}, rbac.Request{Verb: "impersonate", Resource: "users", Name: "alice"}},
		{[]string{"impersonate", "users", "mallory"}, rbac.Request{Verb: "impersonate", Resource: "users", Name: "mallory"}},
		{[]string{"impersonate", "groups", "system:masters"}, rbac.Request{Verb: "impersonate", Resource: "groups", Name: "system:masters"}},
		{[]string{"impersonate", "userextras/scopes"}, rbac.Request{Verb: "impersonate", Group: authn, Resource: "userextras", Subresource: "scopes"}},
		{[]string{"impersonate", "uids"}, rbac.Request{Verb: "impersonate", Group: authn, Resource: "uids"}},
		{[]string{"impersonate", "serviceaccounts", "-n", "az2"}, rbac.Request{Verb: "impersonate", Resource: "serviceaccounts", Namespace: "az2"}},
		{[]string{"get", "secrets", "-n", "az2"}, rbac.Request{Verb: "get", Resource: "secrets", Namespace: "az2"}},
		{[]string{"list", "secrets", "-n", "az1"}, rbac.Request{Verb: "list", Resource: "secrets", Namespace: "az1"}},
		{[]string{"get", "secrets", "s1", "-n", "az1"}, rbac.Request{Verb: "get", Resource: "secrets", Name: "s1", Namespace: "az1"}},
		{[]string{"create", "pods/exec", "-n", "az2"}, rbac.Request{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "az2"}},
		{[]string{"patch", "pods/ephemeralcontainers", "-n", "az1"}, rbac.Request{Verb: "patch", Resource: "pods", Subresource: "ephemeralcontainers", Namespace: "az1"}},
		{[]string{"create", "pods/portforward", "-n", "az1"}, rbac.Request{Verb: "create", Resource: "pods", Subresource: "portforward", Namespace: "az1"}},
		{[]string{"patch", "mutatingwebhookconfigurations"}, rbac.Request{Verb: "patch", Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}},
		{[]string{"create", "persistentvolumes"}, rbac.Request{Verb: "create", Resource: "persistentvolumes"}},
		{[]string{"patch", "nodes/status"}, rbac.Request{Verb: "patch", Resource: "nodes", Subresource: "status"}},
		{[]string{"get", "configmaps", "-n", "az1"}, rbac.Request{Verb: "get", Resource: "configmaps", Namespace: "az1"}},
		{[]string{"get", "configmaps", "-n", "az2"}, rbac.Request{Verb: "get", Resource: "configmaps", Namespace: "az2"}},
		{[]string{"list", "services", "-n", "az1"}, rbac.Request{Verb: "list", Resource: "services", Namespace: "az1"}},
		{[]string{"update", "replicationcontrollers", "-n", "az2"}, rbac.Request{Verb: "update", Resource: "replicationcontrollers", Namespace: "az2"}},
		{[]string{"create", "deployments", "-n", "az2"}, rbac.Request{Verb: "create", Group: "apps", Resource: "deployments", Namespace: "az2"}},
		{[]string{"delete", "configmaps", "-n", "az2"}, rbac.Request{Verb: "delete", Resource: "configmaps", Namespace: "az2"}},
	}
	var answers, allowed, disagreements atomic.Int64
	for _, q := range qs {
		r := e.plugin(t, append(append([]string{"who-can"}, q.args...), "-o", "json")...)
		var res rbac.WhoCanResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
			t.Fatalf("who-can %v: exit %d, %v: %s", q.args, r.code, err, r.stderr)
		}
		if res.Request != q.req {
			t.Errorf("who-can %v asked %+v, but the API server asks %+v", q.args, res.Request, q.req)
		}
		parallelDo(len(ids), 8, func(i int) {
			id := ids[i]
			truth := sarAllowed(t, e.cp.Client, id.user, id.groups, q.req)
			answers.Add(1)
			if truth {
				allowed.Add(1)
			}
			if truth != covered(res, id) {
				disagreements.Add(1)
				t.Errorf("who-can %v: %s: listed %v, SubjectAccessReview allowed %v", q.args, id.name, !truth, truth)
			}
		})
	}
	t.Logf("who-can vs SubjectAccessReview: %d questions x %d identities = %d answers, %d allowed, %d disagreements",
		len(qs), len(ids), answers.Load(), allowed.Load(), disagreements.Load())
	if len(qs) < 25 || allowed.Load() < 60 || answers.Load()-allowed.Load() < 60 {
		t.Errorf("too few questions or a one-sided comparison: %d questions, %d of %d allowed", len(qs), allowed.Load(), answers.Load())
	}
}

func testAuthzAudit(t *testing.T, e rbacEnv) {
	r := e.plugin(t, "audit", "-o", "json", "--fail-on", "none")
	var res rbac.AuditResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
		t.Fatalf("audit: exit %d, %v", r.code, err)
	}
	got := map[string][]string{}
	for _, f := range res.Findings {
		if !strings.Contains(f.Object.Name, "az-") {
			continue
		}
		key := f.Object.String()
		if v := f.Check + ":" + string(f.Severity); !slices.Contains(got[key], v) {
			got[key] = append(got[key], v)
		}
	}
	all := "csr-approval:high escalate-bind-impersonate:high namespace-write:medium nodes-proxy:high persistentvolume-create:high " +
		"pod-create:medium pods-ephemeral-containers:high pods-exec-attach:high pods-portforward:medium rbac-write:medium " +
		"secrets-read:high secrets-write:medium serviceaccount-token:medium status-write:medium webhook-config-write:high " +
		"wildcard:high workload-write:medium"
	want := map[string]string{
		"ClusterRole/az-all-urls":           "wildcard:high",
		"ClusterRole/az-ns-patch":           "namespace-write:medium",
		"ClusterRole/az-nodes":              "nodes-proxy:high",
		"ClusterRole/az-bind-view":          "escalate-bind-impersonate:low",
		"ClusterRole/az-signer":             "csr-approval:high",
		"ClusterRole/az-imp":                "escalate-bind-impersonate:high escalate-bind-impersonate:low",
		"ClusterRole/az-imp-masters":        "escalate-bind-impersonate:high",
		"ClusterRole/az-secrets":            "secrets-read:high",
		"ClusterRole/az-exec":               "pods-exec-attach:high",
		"ClusterRole/az-wild":               all,
		"ClusterRole/az-webhooks":           "webhook-config-write:high",
		"ClusterRole/az-pv":                 "persistentvolume-create:high",
		"ClusterRole/az-ephemeral":          "pods-ephemeral-containers:high",
		"ClusterRole/az-portforward":        "pods-portforward:medium",
		"ClusterRole/az-status":             "status-write:medium",
		"ClusterRole/az-workloads":          "workload-write:medium",
		"ClusterRole/system:az-evil":        all + " reserved-system-name:medium",
		"Role/az1/az-r-cluster-bits":        "cluster-scoped-in-namespace:low",
		"Role/az1/az-r-ns":                  "namespace-write:medium",
		"Role/az1/az-r-named-secret":        "secrets-read:low",
		"Role/az2/az-r-imp-sa":              "escalate-bind-impersonate:high",
		"ClusterRoleBinding/az-anon-cm":     "unauthenticated-or-all-users-binding:high",
		"RoleBinding/az1/az-unauth-cm":      "unauthenticated-or-all-users-binding:high",
		"ClusterRoleBinding/system:az-evil": "kube-system-pod-create:high reserved-system-name:medium",
		"ClusterRoleBinding/az-boss-admin":  all + " cluster-admin-binding:high kube-system-pod-create:high",
		"RoleBinding/az1/az-metrics-m2":     "",
		"RoleBinding/az1/az-nodes-nd1":      "",
		// edit, a built-in role, judged through the binding in az2 (upstream bootstrappolicy aggregate-to-edit).
		"RoleBinding/az2/az-edit-bob": "escalate-bind-impersonate:high pod-create:medium pods-exec-attach:high pods-portforward:medium " +
			"secrets-read:high secrets-write:medium serviceaccount-token:medium workload-write:medium",
		"RoleBinding/az2/az-wild-w1": "",
	}
	sorted := func(s string) string {
		f := strings.Fields(s)
		slices.Sort(f)
		return strings.Join(f, " ")
	}
	for obj, checks := range want {
		g := got[obj]
		slices.Sort(g)
		if strings.Join(g, " ") != sorted(checks) {
			t.Errorf("audit %s:\n got  %s\n want %s", obj, strings.Join(g, " "), sorted(checks))
		}
		delete(got, obj)
	}
	for obj, checks := range got {
		t.Errorf("audit: unexpected findings for %s: %v", obj, checks)
	}
}

// The matrix asks bind, escalate, impersonate and approve where the authorizer uses them, the
// namespace object and bind on clusterroles in the namespace, and every cell equals a
// SubjectAccessReview; system:anonymous is asked with system:unauthenticated.
func testAuthzMatrix(t *testing.T, e rbacEnv) {
	special := 0
	for _, c := range []struct {
		flags []string
		ns    string
	}{
		{[]string{"--as", "d1"}, "az1"},
		{[]string{"--as", "nsa", "--as-group", "nsadmins"}, "az1"},
		{[]string{"--as", "system:anonymous"}, "az1"},
		{[]string{"--as", "ann", "--as-group", "approvers"}, ""},
		{[]string{"--serviceaccount", "az2:imp"}, ""},
		{[]string{"--as", "mimic"}, ""},
		{[]string{"--as", "sa-mimic"}, "az2"},
	} {
		args := append([]string{"matrix", "-o", "json"}, c.flags...)
		if c.ns != "" {
			args = append(args, "-n", c.ns, "--resource", "roles,clusterroles,serviceaccounts,namespaces,configmaps,secrets")
		} else {
			args = append(args, "--resource", "roles,clusterroles,serviceaccounts,users,groups,uids,userextras/scopes,signers,nodes")
		}
		m := parseMatrix(t, e.plugin(t, args...))
		if c.flags[1] == "system:anonymous" && strings.Join(m.Groups, ",") != "system:unauthenticated" {
			t.Errorf("matrix --as system:anonymous asked with groups %v, want system:unauthenticated only", m.Groups)
		}
		for _, row := range m.Rows {
			base, sub, _ := strings.Cut(row.Resource, "/")
			for _, v := range m.Verbs {
				cell := row.Access[v]
				if cell == rbac.CellUnsupported {
					continue
				}
				req := rbac.Request{Verb: v, Group: row.Group, Resource: base, Subresource: sub}
				switch {
				case c.ns == "":
				case base == "namespaces":
					req.Namespace, req.Name = c.ns, c.ns
				default:
					req.Namespace = c.ns
				}
				if slices.Contains([]string{"bind", "escalate", "impersonate", "approve"}, v) {
					special++
				}
				truth := sarAllowed(t, e.cp.Client, m.User, m.Groups, req)
				if (cell == rbac.CellAllowed) != truth {
					t.Errorf("matrix %v -n %q: %s %s: %s, authorizer %v", c.flags, c.ns, v, row.Resource, cell, truth)
				}
			}
			if c.ns != "" && base == "clusterroles" && (row.Access["bind"] == rbac.CellUnsupported || row.Access["get"] != rbac.CellUnsupported) {
				t.Errorf("-n %s: clusterroles must be asked bind/escalate in the namespace, nothing else: %v", c.ns, row.Access)
			}
			if c.ns != "" && base == "namespaces" && (row.Access["patch"] == rbac.CellUnsupported || row.Access["list"] != rbac.CellUnsupported) {
				t.Errorf("-n %s: the namespace object is asked get/update/patch/delete in itself: %v", c.ns, row.Access)
			}
		}
	}
	if special < 20 {
		t.Errorf("only %d bind/escalate/impersonate/approve cells were asked", special)
	}
	// d1 may bind view in az1 (a RoleBinding there), and the matrix says so.
	m := parseMatrix(t, e.plugin(t, "matrix", "-o", "json", "--as", "d1", "-n", "az1", "--resource", "clusterroles"))
	if m.Rows[0].Access["bind"] != rbac.CellDenied {
		// bind without a name asks about every ClusterRole: d1 holds bind on view only.
		t.Errorf("d1 bind clusterroles (any name) in az1: %v", m.Rows[0].Access)
	}
	// nsa may patch its own namespace through a RoleBinding.
	m = parseMatrix(t, e.plugin(t, "matrix", "-o", "json", "--as", "nsa", "--as-group", "nsadmins", "-n", "az1", "--resource", "namespaces"))
	if m.Rows[0].Access["patch"] != rbac.CellAllowed {
		t.Errorf("nsadmins patch namespace az1: %v, want yes (RoleBinding in az1)", m.Rows[0].Access)
	}
}

// explain leaves out what a RoleBinding cannot grant, and says so.
func testAuthzExplain(t *testing.T, e rbacEnv) {
	for _, c := range []struct {
		user         string
		permissions  int
		ignoredMatch string
	}{
		{"m2", 0, "/metrics"},
		{"nd1", 0, "nodes"},
		{"rp", 0, "signers"},
		{"p1", 1, ""},
	} {
		r := e.plugin(t, "explain", c.user, "-o", "json", "--authenticated=false")
		var res rbac.ExplainResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
			t.Fatalf("explain %s: exit %d %v", c.user, r.code, err)
		}
		ign, _ := json.Marshal(res.Ignored)
		if len(res.Permissions) != c.permissions || c.ignoredMatch != "" && !strings.Contains(string(ign), c.ignoredMatch) {
			t.Errorf("explain %s: %d permissions (want %d), ignored %s (want %q)", c.user, len(res.Permissions), c.permissions, ign, c.ignoredMatch)
		}
		for _, p := range res.Permissions {
			for _, resource := range p.Resources {
				req := rbac.Request{Verb: p.Verbs[0], Group: p.APIGroups[0], Resource: resource, Namespace: p.Namespace}
				if !sarAllowed(t, e.cp.Client, c.user, nil, req) {
					t.Errorf("explain %s reports %+v, the authorizer denies it", c.user, req)
				}
			}
		}
	}
	if sarAllowed(t, e.cp.Client, "m2", nil, rbac.Request{Verb: "get", NonResourceURL: "/metrics"}) {
		t.Error("m2 may get /metrics: the RoleBinding grants it after all")
	}
	table := e.plugin(t, "explain", "m2")
	if !strings.Contains(table.stdout, "grants nothing") {
		t.Errorf("explain m2 does not say the RoleBinding's /metrics grants nothing:\n%s", table.stdout)
	}
}

// `rbac grant` refuses each risk #14 names, with one line and exit 3, and creates nothing, unless
// --allow-risky names the check; then it grants, with a warning.
func testGrantRefusesRisky(t *testing.T, e rbacEnv) {
	for i, c := range []struct {
		args  []string
		check string
	}{
		{[]string{"--verb", "create", "--resource", "*/exec", "--api-group", "*", "-n", "az1"}, "pods-exec-attach"},
		{[]string{"--verb", "create", "--resource", "pods/exec", "-n", "az1"}, "pods-exec-attach"},
		{[]string{"--verb", "get", "--non-resource-url", "*", "--cluster-wide"}, "wildcard"},
		{[]string{"--verb", "approve", "--resource", "signers", "--cluster-wide"}, "csr-approval"},
		{[]string{"--verb", "update", "--resource", "certificatesigningrequests/approval", "--cluster-wide"}, "csr-approval"},
		{[]string{"--verb", "create", "--resource", "serviceaccounts/token", "-n", "az1"}, "serviceaccount-token"},
		{[]string{"--verb", "get", "--resource", "nodes/proxy", "--cluster-wide"}, "nodes-proxy"},
		{[]string{"--verb", "get,list", "--resource", "secrets", "-n", "az1"}, "secrets-read"},
		{[]string{"--verb", "impersonate", "--resource", "users", "--cluster-wide"}, "escalate-bind-impersonate"},
		{[]string{"--verb", "create", "--resource", "pods", "-n", "kube-system"}, "kube-system-pod-create"},
	} {
		name := "risky-" + string(rune('a'+i))
		base := append([]string{"grant", "--role-name", name, "--user", "riskuser"}, c.args...)
		r := e.plugin(t, base...)
		oneLineError(t, r, c.check)
		if !strings.Contains(r.stderr, "--allow-risky") {
			t.Errorf("grant %v: the refusal does not say how to proceed: %s", c.args, r.stderr)
		}
		ns := "az1"
		for j, a := range c.args {
			if a == "-n" {
				ns = c.args[j+1]
			}
		}
		if g := e.kubectl(t, "get", "role,clusterrole", name, "-n", ns, "--ignore-not-found", "-o", "name"); strings.TrimSpace(g.stdout) != "" {
			t.Errorf("grant %v refused, but %s exists", c.args, g.stdout)
		}
		// Name every refused check, as the message says.
		allow := strings.TrimSpace(r.stderr[strings.LastIndex(r.stderr, "--allow-risky ")+len("--allow-risky "):])
		ok := e.plugin(t, append(base, "--allow-risky", allow)...)
		if ok.code != 0 || !strings.Contains(ok.stderr, c.check) {
			t.Errorf("grant %v --allow-risky %s: exit %d: %s", c.args, allow, ok.code, ok.stderr)
		}
	}
	oneLineError(t, e.plugin(t, "grant", "--role-name", "x", "--verb", "get", "--resource", "pods", "--user", "u", "-n", "az1",
		"--allow-risky", "everything"), `unknown check "everything"`)
	if r := e.plugin(t, "grant", "--role-name", "plain", "--verb", "get,delete", "--resource", "pods", "--user", "u", "-n", "az1"); r.code != 0 {
		t.Errorf("a plain grant was refused: %s", r.stderr)
	}
}
