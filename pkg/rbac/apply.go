package rbac

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// Apply actions.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// Applied is the outcome of applying one object.
type Applied struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    string `json:"action"` // created, configured or unchanged
	// Object is the object as the server returned it.
	Object runtime.Object `json:"-"`
}

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// DryRun asks the server to validate and admit without persisting.
	DryRun bool
}

// Apply applies the role and then the binding with server-side apply (field
// manager kubectl-clusterops, conflicts forced: this tool owns the objects it
// renders). Applying the same grant twice changes nothing; the second run
// reports "unchanged".
func Apply(ctx context.Context, c rbacclient.RbacV1Interface, g *Grant, opts ApplyOptions) ([]Applied, error) {
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if opts.DryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	var out []Applied
	step := func(kind, ns, name string, get func() (metav1.Object, error), apply func() (metav1.Object, error)) error {
		before, err := get()
		// Without get permission the apply still decides; only the action is unknown.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return fmt.Errorf("reading %s %s: %w", kind, name, err)
		}
		after, err := apply()
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", kind, name, err)
		}
		a := Applied{Kind: kind, Namespace: ns, Name: name, Action: ActionCreated}
		if o, ok := after.(runtime.Object); ok {
			a.Object = o
		}
		if before != nil {
			a.Action = ActionConfigured
			// A dry run does not bump resourceVersion: compare the content.
			if before.GetResourceVersion() == after.GetResourceVersion() &&
				(!opts.DryRun || equality.Semantic.DeepEqual(content(before), content(after))) {
				a.Action = ActionUnchanged
			}
		}
		out = append(out, a)
		return nil
	}
	var err error
	if g.ClusterRole != nil {
		cr, crb := g.ClusterRole, g.ClusterRoleBinding
		err = step("ClusterRole", "", cr.Name,
			func() (metav1.Object, error) {
				return nilIfErr(c.ClusterRoles().Get(ctx, cr.Name, metav1.GetOptions{}))
			},
			func() (metav1.Object, error) {
				return nilIfErr(c.ClusterRoles().Apply(ctx, rbacac.ClusterRole(cr.Name).WithLabels(cr.Labels).
					WithRules(rulesAC(cr.Rules)...), ao))
			})
		if err == nil {
			err = step("ClusterRoleBinding", "", crb.Name,
				func() (metav1.Object, error) {
					return nilIfErr(c.ClusterRoleBindings().Get(ctx, crb.Name, metav1.GetOptions{}))
				},
				func() (metav1.Object, error) {
					return nilIfErr(c.ClusterRoleBindings().Apply(ctx, rbacac.ClusterRoleBinding(crb.Name).
						WithLabels(crb.Labels).WithSubjects(subjectsAC(crb.Subjects)...).
						WithRoleRef(roleRefAC(crb.RoleRef)), ao))
				})
		}
		return out, err
	}
	r, rb := g.Role, g.RoleBinding
	if r != nil { // nil: the binding points at an existing ClusterRole
		err = step("Role", r.Namespace, r.Name,
			func() (metav1.Object, error) {
				return nilIfErr(c.Roles(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{}))
			},
			func() (metav1.Object, error) {
				return nilIfErr(c.Roles(r.Namespace).Apply(ctx, rbacac.Role(r.Name, r.Namespace).WithLabels(r.Labels).
					WithRules(rulesAC(r.Rules)...), ao))
			})
	}
	if err == nil {
		err = step("RoleBinding", rb.Namespace, rb.Name,
			func() (metav1.Object, error) {
				return nilIfErr(c.RoleBindings(rb.Namespace).Get(ctx, rb.Name, metav1.GetOptions{}))
			},
			func() (metav1.Object, error) {
				return nilIfErr(c.RoleBindings(rb.Namespace).Apply(ctx, rbacac.RoleBinding(rb.Name, rb.Namespace).
					WithLabels(rb.Labels).WithSubjects(subjectsAC(rb.Subjects)...).WithRoleRef(roleRefAC(rb.RoleRef)), ao))
			})
	}
	return out, err
}

// nilIfErr returns a nil interface (not a typed nil pointer) on error.
func nilIfErr[T metav1.Object](o T, err error) (metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

// content is what apply sets on an object: labels and rules, or labels,
// subjects and roleRef.
func content(o metav1.Object) any {
	switch v := o.(type) {
	case *rbacv1.Role:
		return []any{v.Labels, v.Rules}
	case *rbacv1.ClusterRole:
		return []any{v.Labels, v.Rules}
	case *rbacv1.RoleBinding:
		return []any{v.Labels, v.Subjects, v.RoleRef}
	case *rbacv1.ClusterRoleBinding:
		return []any{v.Labels, v.Subjects, v.RoleRef}
	}
	return o
}

func rulesAC(rules []rbacv1.PolicyRule) []*rbacac.PolicyRuleApplyConfiguration {
	var out []*rbacac.PolicyRuleApplyConfiguration
	for _, r := range rules {
		ac := rbacac.PolicyRule().WithVerbs(r.Verbs...)
		if len(r.NonResourceURLs) > 0 {
			ac.WithNonResourceURLs(r.NonResourceURLs...)
		} else {
			ac.WithAPIGroups(r.APIGroups...).WithResources(r.Resources...)
		}
		if len(r.ResourceNames) > 0 {
			ac.WithResourceNames(r.ResourceNames...)
		}
		out = append(out, ac)
	}
	return out
}

func subjectsAC(subjects []rbacv1.Subject) []*rbacac.SubjectApplyConfiguration {
	var out []*rbacac.SubjectApplyConfiguration
	for _, s := range subjects {
		ac := rbacac.Subject().WithKind(s.Kind).WithName(s.Name)
		if s.APIGroup != "" {
			ac.WithAPIGroup(s.APIGroup)
		}
		if s.Namespace != "" {
			ac.WithNamespace(s.Namespace)
		}
		out = append(out, ac)
	}
	return out
}

func roleRefAC(r rbacv1.RoleRef) *rbacac.RoleRefApplyConfiguration {
	return rbacac.RoleRef().WithAPIGroup(r.APIGroup).WithKind(r.Kind).WithName(r.Name)
}
