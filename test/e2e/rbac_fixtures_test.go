//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// rbacFixture is a generated set of Roles, ClusterRoles (aggregated ones included) and bindings.
type rbacFixture struct {
	namespaces []string
	subjects   []rbac.Subject // every subject the fixture binds
	objects    int
}

var fixtureVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}

// fixtureResources: group, resource (with subresources), for the generated rules.
var fixtureResources = [][2]string{
	{"", "pods"}, {"", "pods/log"}, {"", "pods/exec"}, {"", "secrets"}, {"", "configmaps"}, {"", "services"},
	{"", "events"}, {"events.k8s.io", "events"}, {"apps", "deployments"}, {"apps", "deployments/scale"},
	{"apps", "statefulsets"}, {"batch", "jobs"}, {"batch", "cronjobs"}, {"", "nodes"}, {"", "namespaces"},
	{"", "persistentvolumes"}, {"rbac.authorization.k8s.io", "roles"}, {"networking.k8s.io", "ingresses"},
}

func rule(group string, resources []string, verbs []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs, ResourceNames: names}
}

// createRBACFixture creates two namespaces and, with a fixed seed, hand-written and random
// roles and bindings: aggregated ClusterRoles, RoleBindings to ClusterRoles, wildcards,
// */scale, resourceNames, a binding to a missing role, and the tutorial's "readonly" Role.
func createRBACFixture(t *testing.T, c kubernetes.Interface) rbacFixture {
	t.Helper()
	ctx := context.Background()
	fx := rbacFixture{namespaces: []string{"rbac-a", "rbac-b"}}
	for _, ns := range fx.namespaces {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	aggLabel := map[string]string{"rbac-e2e/aggregate-to-team": "true"}
	crs := []rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-team"}, AggregationRule: &rbacv1.AggregationRule{
			ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: aggLabel}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-team-pods", Labels: aggLabel},
			Rules: []rbacv1.PolicyRule{rule("", []string{"pods", "pods/log"}, []string{"get", "list"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-team-deploy", Labels: aggLabel},
			Rules: []rbacv1.PolicyRule{rule("apps", []string{"deployments"}, []string{"create", "patch"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-nodes-read"}, Rules: []rbacv1.PolicyRule{rule("", []string{"nodes"}, []string{"get", "list", "watch"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-batch-all"}, Rules: []rbacv1.PolicyRule{rule("batch", []string{"*"}, []string{"*"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-scaler"}, Rules: []rbacv1.PolicyRule{rule("apps", []string{"*/scale"}, []string{"get", "update"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-named-cm"}, Rules: []rbacv1.PolicyRule{rule("", []string{"configmaps"}, []string{"get", "update"}, "app-config")}},
	}
	roles := []rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Name: "readonly", Namespace: "rbac-a"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"", "extensions", "apps"}, Resources: []string{"deployments", "replicasets", "pods"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader", Namespace: "rbac-a"}, Rules: []rbacv1.PolicyRule{rule("", []string{"secrets"}, []string{"get"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "svc-admin", Namespace: "rbac-b"}, Rules: []rbacv1.PolicyRule{rule("", []string{"services"}, []string{"*"})}},
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
	crbs := []rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-nodes-u0"}, Subjects: []rbacv1.Subject{user("u0")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-nodes-read"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-team-g0"}, Subjects: []rbacv1.Subject{group("g0")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-team"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-batch-robot"}, Subjects: []rbacv1.Subject{sa("rbac-b", "robot")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-batch-all"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-named-cm-u5"}, Subjects: []rbacv1.Subject{user("u5")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-named-cm"}},
	}
	rbs := []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "team-u1", Namespace: "rbac-a"}, Subjects: []rbacv1.Subject{user("u1")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-team"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "readonly-tutorial", Namespace: "rbac-a"}, Subjects: []rbacv1.Subject{user("tutorial-user")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "readonly"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "secrets-bot", Namespace: "rbac-a"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot"}}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "secret-reader"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "svc-g1", Namespace: "rbac-b"}, Subjects: []rbacv1.Subject{group("g1"), user("u2")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "svc-admin"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "scaler-u3", Namespace: "rbac-b"}, Subjects: []rbacv1.Subject{user("u3")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-scaler"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dangling-u4", Namespace: "rbac-a"}, Subjects: []rbacv1.Subject{user("u4")}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "does-not-exist"}},
	}
	// Random Roles and bindings, reproducible.
	rnd := rand.New(rand.NewSource(37))
	pick := func(from []string, n int) []string {
		out := []string{}
		for _, i := range rnd.Perm(len(from))[:n] {
			out = append(out, from[i])
		}
		return out
	}
	randomSubjects := []rbacv1.Subject{user("u0"), user("u1"), user("u2"), user("r0"), user("r1"), group("g2"), group("g3"), sa("rbac-a", "bot"), sa("rbac-b", "robot")}
	for i := 0; i < 10; i++ {
		ns := fx.namespaces[i%2]
		var rules []rbacv1.PolicyRule
		for j := 0; j <= rnd.Intn(3); j++ {
			res := fixtureResources[rnd.Intn(len(fixtureResources))]
			rules = append(rules, rule(res[0], []string{res[1]}, pick(fixtureVerbs, 1+rnd.Intn(3))))
		}
		name := fmt.Sprintf("gen-%d", i)
		roles = append(roles, rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules})
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
		if i%4 == 3 { // some bind a random ClusterRole in the namespace instead
			ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: crs[1+rnd.Intn(len(crs)-1)].Name}
		}
		rbs = append(rbs, rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Subjects: []rbacv1.Subject{randomSubjects[rnd.Intn(len(randomSubjects))]}, RoleRef: ref})
	}
	createRBAC(ctx, t, c, crs, roles, crbs, rbs)
	fx.objects = len(crs) + len(roles) + len(crbs) + len(rbs)
	seen := map[rbac.Subject]bool{}
	add := func(subjects []rbacv1.Subject, ns string) {
		for _, s := range subjects {
			subj := rbac.Subject{Kind: s.Kind, Name: s.Name}
			if s.Kind == "ServiceAccount" {
				subj.Namespace = s.Namespace
				if subj.Namespace == "" {
					subj.Namespace = ns
				}
			}
			if !seen[subj] {
				seen[subj] = true
				fx.subjects = append(fx.subjects, subj)
			}
		}
	}
	for _, b := range crbs {
		add(b.Subjects, "")
	}
	for _, b := range rbs {
		add(b.Subjects, b.Namespace)
	}
	waitForAggregation(t, c, "e2e-team", 2)
	return fx
}

// waitForAggregation waits until the real clusterrole-aggregation controller has written the
// rules of the selected ClusterRoles into the aggregated one.
func waitForAggregation(t *testing.T, c kubernetes.Interface, name string, rules int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cr, err := c.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && len(cr.Rules) >= rules {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aggregation controller did not fill ClusterRole %s: %v %+v", name, err, cr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sarAllowed is the ground truth: the API server's authorizer, asked through a SubjectAccessReview.
func sarAllowed(t *testing.T, c kubernetes.Interface, user string, groups []string, req rbac.Request) bool {
	t.Helper()
	spec := authzv1.SubjectAccessReviewSpec{User: user, Groups: groups}
	if req.NonResourceURL != "" {
		spec.NonResourceAttributes = &authzv1.NonResourceAttributes{Path: req.NonResourceURL, Verb: req.Verb}
	} else {
		spec.ResourceAttributes = &authzv1.ResourceAttributes{Namespace: req.Namespace, Verb: req.Verb, Group: req.Group,
			Resource: req.Resource, Subresource: req.Subresource, Name: req.Name}
	}
	out, err := c.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("SubjectAccessReview %+v: %v", spec, err) // Errorf: called from several goroutines
		return false
	}
	return out.Status.Allowed
}

// parallelDo runs fn(i) for i in [0,n) with at most p at a time.
func parallelDo(n, p int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func containsSubject(list []rbac.Subject, s rbac.Subject) bool { return slices.Contains(list, s) }

// createRBAC creates the ClusterRoles, Roles, ClusterRoleBindings and RoleBindings, in that order.
func createRBAC(ctx context.Context, t *testing.T, c kubernetes.Interface, crs []rbacv1.ClusterRole, roles []rbacv1.Role,
	crbs []rbacv1.ClusterRoleBinding, rbs []rbacv1.RoleBinding) {
	t.Helper()
	for i := range crs {
		if _, err := c.RbacV1().ClusterRoles().Create(ctx, &crs[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range roles {
		if _, err := c.RbacV1().Roles(roles[i].Namespace).Create(ctx, &roles[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range crbs {
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &crbs[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range rbs {
		if _, err := c.RbacV1().RoleBindings(rbs[i].Namespace).Create(ctx, &rbs[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
