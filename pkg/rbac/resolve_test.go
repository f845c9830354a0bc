package rbac

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/clusterops/kubectl-clusterops/internal/namehash"
)

func fakeResolver(t *testing.T) *Resolver {
	t.Helper()
	d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	rw := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	d.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: rw, ShortNames: []string{"po"}},
			{Name: "pods/log", Kind: "Pod", Namespaced: true, Verbs: []string{"get"}},
			{Name: "nodes", Kind: "Node", Verbs: rw},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: rw},
			{Name: "endpoints", Kind: "Endpoints", Namespaced: true, Verbs: rw},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: rw, ShortNames: []string{"deploy"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: rw},
		}},
	}
	return NewResolver(d)
}

func TestResolve(t *testing.T) {
	r := fakeResolver(t)
	res, err := r.Resolve([]RuleSpec{{Verbs: []string{"get", "watch"}, Resources: []string{"deployments", "po", "pods/log", "nodes"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rules) != 2 || res.Rules[0].APIGroups[0] != "apps" || res.Rules[1].APIGroups[0] != "" ||
		strings.Join(res.Rules[1].Resources, ",") != "pods,pods/log,nodes" {
		t.Errorf("rules: %+v", res.Rules)
	}
	if len(res.ClusterScoped) != 1 || res.ClusterScoped[0] != "nodes" {
		t.Errorf("cluster-scoped: %v", res.ClusterScoped)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `pods/log does not support the verb "watch"`) {
		t.Errorf("warnings: %v", res.Warnings)
	}
	if _, err := r.Lookup("events", "events.k8s.io"); err != nil {
		t.Errorf("explicit group: %v", err)
	}
	if got, err := r.Lookup("deployments.apps", "-"); err != nil || got.Group != "apps" {
		t.Errorf("deployments.apps: %+v %v", got, err)
	}
	for _, c := range []struct{ name, group, want string }{
		{"deployments", "extensions", `API group "extensions" is not served`},
		{"deployments", "", `it is served by "apps"`},
		{"frobs", "-", `unknown resource "frobs"`},
		{"pods/exec", "-", `unknown subresource "exec"`},
	} {
		_, err := r.Lookup(c.name, c.group)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Lookup(%s, %s) = %v, want %q", c.name, c.group, err, c.want)
		}
	}
	if _, err := r.Resolve([]RuleSpec{{Verbs: []string{"get"}, Resources: []string{"*"}}}); err == nil {
		t.Error(`"*" without --api-group accepted`)
	}
}

func TestRender(t *testing.T) {
	r := fakeResolver(t)
	g, err := Render(r, GrantSpec{Template: "x", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods", "nodes"}}},
		Subjects: []Subject{ServiceAccount("ns1", "bot")}, Namespace: "ns1"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Role == nil || g.Role.Name != "clusterops-x" || g.RoleBinding.Name != "clusterops-x-sa-ns1-bot" ||
		g.RoleBinding.Subjects[0].Namespace != "ns1" || g.RoleBinding.RoleRef.Kind != "Role" {
		t.Errorf("rendered: %+v %+v", g.Role, g.RoleBinding)
	}
	if len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "cluster-scoped") {
		t.Errorf("warnings: %v", g.Warnings)
	}
	cw, err := Render(r, GrantSpec{RoleName: "c", Rules: []RuleSpec{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}},
		Subjects: []Subject{User("system:admin")}, ClusterWide: true})
	if err != nil || !strings.HasPrefix(cw.ClusterRoleBinding.Name, "c-user-system-admin-") || cw.ClusterRoleBinding.RoleRef.Kind != "ClusterRole" {
		t.Errorf("cluster-wide: %+v %v", cw, err)
	}
	for _, spec := range []GrantSpec{
		{Template: "x", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, Namespace: "ns1"},
		{Template: "x", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, Subjects: []Subject{User("a")}},
		{Template: "x", Rules: []RuleSpec{{Verbs: []string{"get"}, NonResourceURLs: []string{"/x"}}}, Subjects: []Subject{User("a")}, Namespace: "n"},
		{RoleName: "a/b", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, Subjects: []Subject{User("a")}, Namespace: "n"},
		{RoleName: "system:aggregate-to-edit", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, Subjects: []Subject{User("a")}, ClusterWide: true},
		{RoleName: "System:x", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, Subjects: []Subject{User("a")}, Namespace: "n"},
	} {
		if _, err := Render(r, spec); err == nil {
			t.Errorf("Render(%+v) accepted", spec)
		}
	}
}

func TestLookupCoreEventsExplicitly(t *testing.T) {
	r := fakeResolver(t)
	for _, g := range []string{"", "events.k8s.io"} {
		got, err := r.Lookup("events", g)
		if err != nil || got.Group != g {
			t.Errorf("Lookup(events, %q) = %+v, %v", g, got, err)
		}
	}
}

func TestResolveWarnsAboutDeprecatedResources(t *testing.T) {
	res, err := fakeResolver(t).Resolve([]RuleSpec{{Verbs: []string{"get"}, Resources: []string{"endpoints"}}})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "deprecated") {
		t.Errorf("endpoints: %v %v", res.Warnings, err)
	}
}

// Different subjects always get different binding names, even when the readable form of the
// name loses the ':', '/' or '%' that told them apart.
func TestBindingNamesAreInjective(t *testing.T) {
	subjects := []Subject{
		User("a-b"), User("a:b"), User("a/b"), User("a%b"), Group("a-b"), Group("a:b"),
		ServiceAccount("kube-system", "backup"), ServiceAccount("kube", "system-backup"),
		ServiceAccount("kube-system-backup", "x"), User("sa-kube-system-backup"),
		User("a-b-" + namehash.Short(KindUser, "", "a:b")), // a readable name that looks like the hashed a:b
		User("alice"), ServiceAccount("ns1", "bot"),
	}
	seen := map[string]Subject{}
	for _, s := range subjects {
		name := bindingSuffix([]Subject{s})
		if other, ok := seen[name]; ok {
			t.Errorf("%v and %v both get the binding suffix %q", other, s, name)
		}
		seen[name] = s
		if errs := path.IsValidPathSegmentName("r-" + name); len(errs) > 0 {
			t.Errorf("%v: %q is not a valid name: %v", s, name, errs)
		}
	}
	// Readable names stay readable and stable when nothing was lost.
	for s, want := range map[Subject]string{User("alice"): "user-alice", Group("dev"): "group-dev", ServiceAccount("ns1", "bot"): "sa-ns1-bot"} {
		if got := bindingSuffix([]Subject{s}); got != want {
			t.Errorf("bindingSuffix(%v) = %q, want %q", s, got, want)
		}
	}
	if got := bindingSuffix([]Subject{User("a:b")}); !strings.HasPrefix(got, "user-a-b-") {
		t.Errorf("bindingSuffix(a:b) = %q, want the readable user-a-b and a hash", got)
	}
}

// The authorization-only resources resolve, though discovery does not list them.
func TestLookupAuthorizationOnlyResources(t *testing.T) {
	r := fakeResolver(t)
	for name, want := range map[string]string{"signers": "certificates.k8s.io/signers", "users": "/users", "groups": "/groups",
		"uids": "authentication.k8s.io/uids", "userextras/scopes": "authentication.k8s.io/userextras/scopes"} {
		res, err := r.Lookup(name, "-")
		if err != nil || res.Group+"/"+res.Resource != want || res.Namespaced {
			t.Errorf("Lookup(%s) = %+v, %v; want %s", name, res, err, want)
		}
	}
	if _, err := r.Lookup("signers/x", "-"); err == nil {
		t.Error("signers/x resolved")
	}
}
