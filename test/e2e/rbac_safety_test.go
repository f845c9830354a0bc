//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// Issue 14, defect 1: `rbac grant` never rewrites a role or binding it did not make. Each refusal
// is one line and exit 3, and every object involved keeps its resourceVersion: nothing was written,
// not even the role of a grant whose binding is refused.
func TestRBACGrantRefusesRolesItDoesNotOwn(t *testing.T) {
	e := rbacEnv{cp: harness.StartT(t, harness.Options{Name: "rbac-own", NoMirrorPods: true, NoControllerManager: true})}
	ctx := context.Background()
	crs, crbs := e.cp.Client.RbacV1().ClusterRoles(), e.cp.Client.RbacV1().ClusterRoleBindings()
	rvOf := func(get func() (metav1.Object, error)) string {
		t.Helper()
		o, err := get()
		if err != nil {
			t.Fatal(err)
		}
		return o.GetResourceVersion()
	}
	clusterRoleRV := func(name string) func() (metav1.Object, error) {
		return func() (metav1.Object, error) { return crs.Get(ctx, name, metav1.GetOptions{}) }
	}
	bindingRV := func(name string) func() (metav1.Object, error) {
		return func() (metav1.Object, error) { return crbs.Get(ctx, name, metav1.GetOptions{}) }
	}
	mustNotExistCRB := func(prefix string) {
		t.Helper()
		list, err := crbs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range list.Items {
			if strings.HasPrefix(b.Name, prefix) {
				t.Errorf("ClusterRoleBinding %s was created by a refused grant", b.Name)
			}
		}
	}
	// refused runs a grant that must be refused and checks that the objects keep their versions.
	refused := func(want string, objects map[string]func() (metav1.Object, error), args ...string) {
		t.Helper()
		before := map[string]string{}
		for name, get := range objects {
			before[name] = rvOf(get)
		}
		oneLineError(t, e.plugin(t, append([]string{"grant"}, args...)...), want)
		for name, get := range objects {
			if rv := rvOf(get); rv != before[name] {
				t.Errorf("%v: %s changed (resourceVersion %s -> %s)", args, name, before[name], rv)
			}
		}
	}

	// cluster-admin: a bootstrap role, even with --take-over. (Without --allow-risky the grant is
	// refused earlier, as a binding to cluster-admin: #14 defect 8; allowed here, so that the
	// bootstrap refusal is what is tested.)
	oneLineError(t, e.plugin(t, "grant", "--role-name", "cluster-admin", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob"),
		"--allow-risky cluster-admin-binding")
	for _, extra := range [][]string{{"--allow-risky", "cluster-admin-binding"}, {"--allow-risky", "cluster-admin-binding", "--take-over"}} {
		refused("bootstrap", map[string]func() (metav1.Object, error){"cluster-admin": clusterRoleRV("cluster-admin")},
			append([]string{"--role-name", "cluster-admin", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob"}, extra...)...)
	}
	admin, _ := crs.Get(ctx, "cluster-admin", metav1.GetOptions{})
	if len(admin.Rules) == 0 || admin.Rules[0].Verbs[0] != "*" {
		t.Errorf("cluster-admin's rules changed: %+v", admin.Rules)
	}
	mustNotExistCRB("cluster-admin-user-bob")

	// system:aggregate-to-edit (whose rules flow into edit and admin): a system: name, always.
	for _, extra := range [][]string{nil, {"--take-over"}} {
		refused("reserved system:", map[string]func() (metav1.Object, error){
			"system:aggregate-to-edit": clusterRoleRV("system:aggregate-to-edit"), "edit": clusterRoleRV("edit"), "admin": clusterRoleRV("admin")},
			append([]string{"--role-name", "system:aggregate-to-edit", "--cluster-wide", "--verb", "get", "--resource", "secrets", "--user", "bob"}, extra...)...)
	}
	mustNotExistCRB("system:aggregate-to-edit-")

	// An aggregated ClusterRole, even one with our label, even with --take-over.
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-aggregate", Labels: map[string]string{rbac.LabelManagedBy: rbac.FieldManager}},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"team": "x"}}}}}
	if _, err := crs.Create(ctx, agg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refused("aggregated", map[string]func() (metav1.Object, error){"team-aggregate": clusterRoleRV("team-aggregate")},
		"--role-name", "team-aggregate", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob", "--take-over")

	// A hand-made ClusterRole: refused, then taken over with --take-over.
	hand := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "handmade"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}}
	if _, err := crs.Create(ctx, hand, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refused("--take-over", map[string]func() (metav1.Object, error){"handmade": clusterRoleRV("handmade")},
		"--role-name", "handmade", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob")
	mustNotExistCRB("handmade-")
	if r := e.kubectl(t, "auth", "can-i", "get", "pods", "--as", "bob"); strings.TrimSpace(r.stdout) != "no" {
		t.Errorf("bob can get pods after a refused grant: %q", r.stdout)
	}
	taken := e.plugin(t, "grant", "--role-name", "handmade", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob", "--take-over")
	if taken.code != 0 || !strings.Contains(taken.stdout, "clusterrole.rbac.authorization.k8s.io/handmade configured") {
		t.Errorf("--take-over: exit %d %s %s", taken.code, taken.stdout, taken.stderr)
	}
	if got, _ := crs.Get(ctx, "handmade", metav1.GetOptions{}); got == nil || got.Labels[rbac.LabelManagedBy] != rbac.FieldManager {
		t.Errorf("the taken-over role is not labelled as ours: %+v", got)
	}
	if r := e.kubectl(t, "auth", "can-i", "get", "pods", "--as", "bob"); strings.TrimSpace(r.stdout) != "yes" {
		t.Errorf("after --take-over, can-i get pods --as bob = %q", r.stdout)
	}
	// Ours now: a second grant needs no --take-over.
	if r := e.plugin(t, "grant", "--role-name", "handmade", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "bob"); r.code != 0 ||
		strings.Count(r.stdout, "unchanged") != 2 {
		t.Errorf("a grant of our own role again: exit %d %s", r.code, r.stdout)
	}

	// A foreign binding at the name our grant would use: refused before the role is touched.
	if r := e.plugin(t, "grant", "--role-name", "ours", "--cluster-wide", "--verb", "get", "--resource", "pods", "--user", "dave"); r.code != 0 {
		t.Fatalf("grant ours to dave: %s", r.stderr)
	}
	foreign := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ours-user-carol"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "carol"}}}
	if _, err := crbs.Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refused("ClusterRoleBinding ours-user-carol", map[string]func() (metav1.Object, error){"ours": clusterRoleRV("ours"), "ours-user-carol": bindingRV("ours-user-carol")},
		"--role-name", "ours", "--cluster-wide", "--verb", "get,list", "--resource", "pods", "--user", "carol")

	// The same in a namespace: a hand-made Role is refused.
	if r := e.kubectl(t, "create", "namespace", "own"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := e.kubectl(t, "create", "role", "clusterops-readonly", "-n", "own", "--verb", "get", "--resource", "configmaps"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	before, _ := e.cp.Client.RbacV1().Roles("own").Get(ctx, "clusterops-readonly", metav1.GetOptions{})
	oneLineError(t, e.plugin(t, "grant", "readonly", "--user", "erin", "-n", "own"), "Role own/clusterops-readonly")
	after, _ := e.cp.Client.RbacV1().Roles("own").Get(ctx, "clusterops-readonly", metav1.GetOptions{})
	if before == nil || after == nil || before.ResourceVersion != after.ResourceVersion {
		t.Errorf("the hand-made Role changed: %v -> %v", before, after)
	}
}

// Issue 14, defect 2: binding names are injective. Granting --user a-b does not replace the binding
// of a:b, and the service accounts kube-system:backup and kube:system-backup get bindings of their own.
func TestRBACGrantBindingNamesDoNotCollide(t *testing.T) {
	e := rbacEnv{cp: harness.StartT(t, harness.Options{Name: "rbac-names", NoMirrorPods: true, NoControllerManager: true})}
	if r := e.kubectl(t, "create", "namespace", "names"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	pairs := []struct {
		flag     string
		a, b     string
		asA, asB string
	}{
		{"--user", "a:b", "a-b", "a:b", "a-b"},
		{"--serviceaccount", "kube-system:backup", "kube:system-backup", "system:serviceaccount:kube-system:backup", "system:serviceaccount:kube:system-backup"},
	}
	for _, p := range pairs {
		names := map[string]bool{}
		for _, s := range []string{p.a, p.b} {
			r := e.plugin(t, "grant", "readonly", p.flag, s, "-n", "names", "-o", "name")
			if r.code != 0 {
				t.Fatalf("grant %s %s: exit %d %s", p.flag, s, r.code, r.stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				if strings.HasPrefix(line, "rolebinding") {
					names[line] = true
				}
			}
		}
		if len(names) != 2 {
			t.Errorf("%s %s and %s got the bindings %v, want two", p.flag, p.a, p.b, names)
		}
		// Both bindings exist, and each still grants its own subject.
		for _, as := range []string{p.asA, p.asB} {
			if r := e.kubectl(t, "auth", "can-i", "list", "pods", "-n", "names", "--as", as); strings.TrimSpace(r.stdout) != "yes" {
				t.Errorf("after both grants, can-i list pods --as %s = %q: a binding was replaced", as, r.stdout)
			}
		}
	}
	list, err := e.cp.Client.RbacV1().RoleBindings("names").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 4 {
		t.Errorf("RoleBindings in names: %v %d, want 4", err, len(list.Items))
	}
	for _, b := range list.Items {
		if len(b.Subjects) != 1 {
			t.Errorf("binding %s has subjects %+v, want one", b.Name, b.Subjects)
		}
	}
}

// Issue 14, defect 6: `user delete` refuses system: users, as `user create` does. The built-in
// ClusterRoleBinding system:kube-controller-manager, whose only subject is that user, stays.
func TestUserDeleteRefusesSystemUsers(t *testing.T) {
	cp := env.cp
	ctx := context.Background()
	before, err := cp.Client.RbacV1().ClusterRoleBindings().Get(ctx, "system:kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--dry-run"}, {"-o", "json"}} {
		r := run(t, "kubectl", append([]string{"clusterops", "user", "delete", "system:kube-controller-manager", "--kubeconfig", cp.AdminKubeconfig}, extra...)...)
		oneLineError(t, r, "reserved system:")
	}
	after, err := cp.Client.RbacV1().ClusterRoleBindings().Get(ctx, "system:kube-controller-manager", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion || len(after.Subjects) != 1 {
		t.Errorf("the ClusterRoleBinding system:kube-controller-manager changed: %v %+v", err, after)
	}
}
