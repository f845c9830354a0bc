package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRuleAllows(t *testing.T) {
	rule := func(groups, resources, verbs, names []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
	}
	s := func(v ...string) []string { return v }
	for i, c := range []struct {
		req  Request
		rule rbacv1.PolicyRule
		want bool
	}{
		{Request{Verb: "get", Group: "apps", Resource: "deployments"}, rule(s("apps"), s("deployments"), s("get"), nil), true},
		{Request{Verb: "get", Group: "apps", Resource: "deployments"}, rule(s("extensions"), s("deployments"), s("get"), nil), false},
		{Request{Verb: "delete", Group: "apps", Resource: "deployments"}, rule(s("*"), s("*"), s("get"), nil), false},
		{Request{Verb: "delete", Group: "apps", Resource: "deployments"}, rule(s("*"), s("*"), s("*"), nil), true},
		{Request{Verb: "get", Resource: "pods", Subresource: "log"}, rule(s(""), s("pods"), s("get"), nil), false},
		{Request{Verb: "get", Resource: "pods", Subresource: "log"}, rule(s(""), s("pods/log"), s("get"), nil), true},
		{Request{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"}, rule(s("apps"), s("*/scale"), s("update"), nil), true},
		{Request{Verb: "get", Resource: "pods"}, rule(s(""), s("*/scale"), s("get"), nil), false},
		{Request{Verb: "get", Resource: "configmaps", Name: "a"}, rule(s(""), s("configmaps"), s("get"), s("a")), true},
		{Request{Verb: "get", Resource: "configmaps", Name: "b"}, rule(s(""), s("configmaps"), s("get"), s("a")), false},
		{Request{Verb: "list", Resource: "configmaps"}, rule(s(""), s("configmaps"), s("list"), s("a")), false},
		{Request{Verb: "get", NonResourceURL: "/healthz"}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, true},
		{Request{Verb: "get", NonResourceURL: "/apis/apps"}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis/*")}, true},
		{Request{Verb: "get", NonResourceURL: "/metrics"}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis/*")}, false},
		{Request{Verb: "get", NonResourceURL: "/metrics"}, rule(s("*"), s("*"), s("*"), nil), false},
	} {
		if got := RuleAllows(c.req, c.rule); got != c.want {
			t.Errorf("%d: RuleAllows(%+v, %+v) = %v, want %v", i, c.req, c.rule, got, c.want)
		}
	}
}

// testSnapshot: an aggregated ClusterRole, a RoleBinding to a ClusterRole, a
// service account subject without namespace, and a binding to a missing role.
func testSnapshot() *Snapshot {
	podReader := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}
	crs := []rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, Rules: []rbacv1.PolicyRule{podReader},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"agg": "true"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Labels: map[string]string{"agg": "true"}}, Rules: []rbacv1.PolicyRule{podReader}},
	}
	roles := []rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns1"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}}
	rbs := []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "rb-agg", Namespace: "ns1"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "agg"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "ServiceAccount", Name: "bot"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "rb-cm", Namespace: "ns1"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "cm"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "dev"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "rb-missing", Namespace: "ns2"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "gone"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}},
	}
	crbs := []rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "crb"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "system:masters"}, {Kind: "User", Name: "carol"}}},
	}
	return NewSnapshot(roles, crs, rbs, crbs)
}

func TestWhoCan(t *testing.T) {
	s := testSnapshot()
	names := func(r WhoCanResult) []string {
		var out []string
		for _, a := range r.Subjects {
			out = append(out, a.Subject.String()+"@"+a.Binding.String())
		}
		return out
	}
	got := names(WhoCan(s, Request{Verb: "get", Resource: "pods", Namespace: "ns1"}, false))
	want := []string{"User alice@RoleBinding/ns1/rb-agg", "User carol@ClusterRoleBinding/crb",
		"ServiceAccount ns1/bot@RoleBinding/ns1/rb-agg", "Group system:masters@ClusterRoleBinding/crb"}
	if len(got) != len(want) {
		t.Fatalf("who-can get pods -n ns1 = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("who-can get pods -n ns1 = %v, want %v", got, want)
		}
	}
	// Cluster scope: only the ClusterRoleBinding grants.
	if got := names(WhoCan(s, Request{Verb: "get", Resource: "pods"}, false)); len(got) != 2 {
		t.Errorf("who-can get pods (cluster scope) = %v, want carol and system:masters", got)
	}
	// Aggregation source is reported.
	res := WhoCan(s, Request{Verb: "list", Resource: "pods", Namespace: "ns1"}, false)
	if res.Subjects[0].Role.Name != "agg" || len(res.Subjects[0].AggregatedFrom) != 1 || res.Subjects[0].AggregatedFrom[0] != "pod-reader" {
		t.Errorf("aggregated role: %+v", res.Subjects[0])
	}
	if got := names(WhoCan(s, Request{Verb: "delete", Resource: "configmaps", Namespace: "ns2"}, false)); len(got) != 0 {
		t.Errorf("who-can delete configmaps -n ns2 = %v, want none", got)
	}
	if got := names(WhoCan(s, Request{Verb: "delete", Resource: "configmaps"}, true)); len(got) != 1 || got[0] != "Group dev@RoleBinding/ns1/rb-cm" {
		t.Errorf("who-can delete configmaps -A = %v", got)
	}
}

func TestExplain(t *testing.T) {
	res := Explain(testSnapshot(), User("alice"), ExplainOptions{})
	if len(res.Permissions) != 1 || res.Permissions[0].Binding.Name != "rb-agg" || res.Permissions[0].Namespace != "ns1" {
		t.Errorf("explain alice: %+v", res.Permissions)
	}
	if len(res.MissingRoles) != 1 || res.MissingRoles[0].Name != "gone" {
		t.Errorf("missing roles: %+v", res.MissingRoles)
	}
	bot := Explain(testSnapshot(), ServiceAccount("ns1", "bot"), ExplainOptions{})
	if len(bot.Permissions) != 1 || bot.Permissions[0].Via.Kind != KindServiceAccount {
		t.Errorf("explain bot: %+v", bot.Permissions)
	}
	dev := Explain(testSnapshot(), User("eve"), ExplainOptions{ExtraGroups: []string{"dev", "system:masters"}, Namespace: "ns1"})
	if len(dev.Permissions) != 2 || !dev.Privileged {
		t.Errorf("explain eve in dev and system:masters: %+v", dev)
	}
}

// RoleBindings grant only requests with a namespace; the namespace object and bind on
// clusterroles carry one; anonymous is not authenticated.
func TestWhoCanFollowsTheAuthorizersNamespaces(t *testing.T) {
	cr := func(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	rb := func(ns, name, role string, subj ...rbacv1.Subject) rbacv1.RoleBinding {
		return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role}, Subjects: subj}
	}
	user := func(n string) rbacv1.Subject { return rbacv1.Subject{Kind: "User", Name: n} }
	snap := NewSnapshot(nil, []rbacv1.ClusterRole{
		cr("metrics", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}),
		cr("ns-patch", rbacv1.PolicyRule{Verbs: []string{"patch"}, APIGroups: []string{""}, Resources: []string{"namespaces"}}),
		cr("nodes", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}),
		cr("bind-view", rbacv1.PolicyRule{Verbs: []string{"bind"}, APIGroups: []string{"rbac.authorization.k8s.io"},
			Resources: []string{"clusterroles"}, ResourceNames: []string{"view"}}),
	}, []rbacv1.RoleBinding{
		rb("a", "m", "metrics", user("m")), rb("a", "p", "ns-patch", user("p")), rb("a", "n", "nodes", user("n")),
		rb("a", "b", "bind-view", user("b")),
	}, nil)
	names := func(r WhoCanResult) (out []string) {
		for _, a := range r.Subjects {
			out = append(out, a.Subject.Name)
		}
		return out
	}
	ns := APIResource{Resource: "namespaces"}
	crs := APIResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	nodes := APIResource{Resource: "nodes"}
	for _, c := range []struct {
		req  Request
		all  bool
		want string
	}{
		{Request{Verb: "get", NonResourceURL: "/metrics"}, true, ""},
		{RequestFor(nodes, "get", "", ""), NamespaceApplies(nodes, "get"), ""},
		{RequestFor(ns, "patch", "a", ""), false, "p"},
		{RequestFor(ns, "patch", "", "a"), false, "p"},
		{RequestFor(ns, "patch", "b", ""), false, ""},
		{RequestFor(crs, "bind", "view", "a"), false, "b"},
		{RequestFor(crs, "bind", "edit", "a"), false, ""},
		{RequestFor(crs, "bind", "view", ""), NamespaceApplies(crs, "bind"), "b"},
	} {
		if got := strings.Join(names(WhoCan(snap, c.req, c.all)), ","); got != c.want {
			t.Errorf("who-can %+v (all namespaces %v) = %q, want %q", c.req, c.all, got, c.want)
		}
	}
	// explain: the RoleBinding's non-resource URL and nodes grant nothing.
	res := Explain(snap, User("m"), ExplainOptions{})
	if len(res.Permissions) != 0 || len(res.Ignored) != 1 {
		t.Errorf("explain m: %+v ignored %+v", res.Permissions, res.Ignored)
	}
	res = Explain(snap, User("n"), ExplainOptions{})
	if len(res.Permissions) != 0 || len(res.Ignored) != 1 || res.Ignored[0].Resources[0] != "nodes" {
		t.Errorf("explain n: %+v ignored %+v", res.Permissions, res.Ignored)
	}
	if res := Explain(snap, User("p"), ExplainOptions{}); len(res.Permissions) != 1 {
		t.Errorf("explain p: the namespace object is granted by a RoleBinding: %+v", res.Permissions)
	}
	for _, c := range []struct {
		s     Subject
		extra []string
		want  string
	}{
		{User("system:anonymous"), nil, "system:unauthenticated"},
		{User("x"), []string{"system:unauthenticated"}, "system:unauthenticated"},
		{Group("system:unauthenticated"), nil, "system:unauthenticated"},
		{User("x"), nil, "system:authenticated"},
	} {
		_, g := c.s.UserInfo(c.extra, true)
		if strings.Join(g, ",") != c.want {
			t.Errorf("UserInfo(%v, %v) groups %v, want %s", c.s, c.extra, g, c.want)
		}
	}
}
