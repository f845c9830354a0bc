package rbac

import (
	"context"
	"errors"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func clusterGrant(t *testing.T, roleName string, subject Subject) *Grant {
	t.Helper()
	g, err := Render(fakeResolver(t), GrantSpec{RoleName: roleName, Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}},
		Subjects: []Subject{subject}, ClusterWide: true})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var (
	bootstrapLabels = map[string]string{LabelBootstrapping: BootstrapRBAC}
	ourLabels       = map[string]string{LabelManagedBy: FieldManager}
)

// Apply refuses, before it writes anything, a role or binding it did not make (unless TakeOver),
// and a bootstrap or aggregated role always.
func TestApplyRefusesWhatIsNotOurs(t *testing.T) {
	ctx := context.Background()
	clusterAdmin := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin", Labels: bootstrapLabels},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}}
	aggregated := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "monitoring", Labels: ourLabels},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}
	handmade := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "handmade"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}}
	ours := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ours", Labels: ourLabels}}
	// A foreign binding with the name our grant of "ours" to bob would get.
	foreignBinding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ours-user-bob"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "ours"}}
	bootstrapBinding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ours-user-carol", Labels: bootstrapLabels},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "ours"}}
	existing := []runtime.Object{clusterAdmin, aggregated, handmade, ours, foreignBinding, bootstrapBinding}

	for _, c := range []struct {
		role          string
		user          string
		takeOver      bool
		refused       string // the name refused, "" when applied
		takeOverHelps bool
	}{
		{role: "cluster-admin", user: "bob", refused: "cluster-admin"},
		{role: "cluster-admin", user: "bob", takeOver: true, refused: "cluster-admin"},
		{role: "monitoring", user: "bob", takeOver: true, refused: "monitoring"},
		{role: "handmade", user: "bob", refused: "handmade", takeOverHelps: true},
		{role: "handmade", user: "bob", takeOver: true},
		{role: "ours", user: "bob", refused: "ours-user-bob", takeOverHelps: true},
		{role: "ours", user: "carol", takeOver: true, refused: "ours-user-carol"},
		{role: "ours", user: "dave"},
		{role: "fresh", user: "bob"},
	} {
		client := fake.NewClientset(existing...)
		g := clusterGrant(t, c.role, User(c.user))
		_, err := Apply(ctx, client.RbacV1(), g, ApplyOptions{TakeOver: c.takeOver})
		var refused *RefusedError
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s for %s (take-over %v): %v", c.role, c.user, c.takeOver, err)
			}
			got, _ := client.RbacV1().ClusterRoles().Get(ctx, c.role, metav1.GetOptions{})
			if got == nil || !IsOurs(got) || len(got.Rules) != 1 || got.Rules[0].Resources[0] != "pods" {
				t.Errorf("%s after the grant: %+v, want our label and the granted rule", c.role, got)
			}
			continue
		}
		if !errors.As(err, &refused) || refused.Name != c.refused || refused.TakeOverHelps != c.takeOverHelps {
			t.Errorf("%s for %s (take-over %v): %v, want %s refused (take-over helps: %v)", c.role, c.user, c.takeOver, err, c.refused, c.takeOverHelps)
		}
		// Nothing was written: every object is as it was, and no new object exists.
		for _, o := range existing {
			m := o.(metav1.Object)
			var got runtime.Object
			switch o.(type) {
			case *rbacv1.ClusterRole:
				got, _ = client.RbacV1().ClusterRoles().Get(ctx, m.GetName(), metav1.GetOptions{})
			default:
				got, _ = client.RbacV1().ClusterRoleBindings().Get(ctx, m.GetName(), metav1.GetOptions{})
			}
			if !equality.Semantic.DeepEqual(got, o) {
				t.Errorf("%s for %s: %s changed after a refusal", c.role, c.user, m.GetName())
			}
		}
		if writes := countWrites(client); writes != 0 {
			t.Errorf("%s for %s: %d writes after a refusal", c.role, c.user, writes)
		}
	}
}

func countWrites(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			n++
		}
	}
	return n
}

// A system: name is refused before any request; an unreadable object is not written.
func TestApplyRefusesSystemNamesAndUnreadableObjects(t *testing.T) {
	ctx := context.Background()
	g := clusterGrant(t, "ok", User("bob"))
	g.ClusterRole.Name = "system:aggregate-to-edit" // Render refuses this name; Apply must too
	client := fake.NewClientset()
	_, err := Apply(ctx, client.RbacV1(), g, ApplyOptions{TakeOver: true})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.TakeOverHelps || countWrites(client) != 0 {
		t.Errorf("system: name: %v, %d writes", err, countWrites(client))
	}

	client = fake.NewClientset()
	client.PrependReactor("get", "clusterrolebindings", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrolebindings"}, "ok-user-bob", errors.New("no"))
	})
	_, err = Apply(ctx, client.RbacV1(), clusterGrant(t, "ok", User("bob")), ApplyOptions{})
	if !apierrors.IsForbidden(err) || countWrites(client) != 0 {
		t.Errorf("unreadable binding: %v, %d writes; want Forbidden and nothing written", err, countWrites(client))
	}
}

// The same grant twice: created, then unchanged; namespaced grants are guarded the same way.
func TestApplyTwiceAndNamespaced(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "clusterops-x", Namespace: "other"}})
	g, err := Render(fakeResolver(t), GrantSpec{Template: "x", Rules: []RuleSpec{{Verbs: []string{"get"}, Resources: []string{"pods"}}},
		Subjects: []Subject{User("a")}, Namespace: "ns1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{ActionCreated, ActionUnchanged} {
		applied, err := Apply(ctx, client.RbacV1(), g, ApplyOptions{})
		if err != nil || len(applied) != 2 || applied[0].Action != want || applied[1].Action != want {
			t.Errorf("apply %d: %+v %v, want both %s", i+1, applied, err, want)
		}
	}
	g.Role.Namespace, g.RoleBinding.Namespace = "other", "other"
	var refused *RefusedError
	if _, err := Apply(ctx, client.RbacV1(), g, ApplyOptions{}); !errors.As(err, &refused) || refused.Namespace != "other" {
		t.Errorf("a hand-made Role in another namespace: %v, want refused", err)
	}
}
