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
	// TakeOver lets Apply change an existing role or binding that lacks our managed-by label (it
	// gets the label). It never allows a system: name, a bootstrap object or an aggregated role.
	TakeOver bool
}

// applyStep is one object of a grant: how to read it and how to apply it, with the
// resourceVersion it was read at ("" when it did not exist).
type applyStep struct {
	kind, ns, name string
	get            func() (metav1.Object, error)
	apply          func(resourceVersion string) (metav1.Object, error)
}

// Apply applies the role and then the binding with server-side apply (field manager
// kubectl-clusterops, conflicts forced: this tool owns the objects it renders). It first reads
// every object and refuses, before it writes anything, one it may not change (see
// checkWritable); each apply then carries the resourceVersion it read, so an object changed in
// between is not overwritten. Applying the same grant twice changes nothing; the second run
// reports "unchanged".
func Apply(ctx context.Context, c rbacclient.RbacV1Interface, g *Grant, opts ApplyOptions) ([]Applied, error) {
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if opts.DryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	steps := applySteps(ctx, c, g, ao)
	befores := make([]metav1.Object, len(steps))
	for i, st := range steps {
		before, err := st.get()
		if err != nil && !apierrors.IsNotFound(err) {
			// Without reading it, nothing tells whether the object is ours: do not write it.
			return nil, fmt.Errorf("reading %s %s to check that it may be changed: %w", st.kind, st.name, err)
		}
		if err := checkWritable(st.kind, st.ns, st.name, before, opts.TakeOver); err != nil {
			return nil, err
		}
		befores[i] = before
	}
	var out []Applied
	for i, st := range steps {
		before, rv := befores[i], ""
		if before != nil {
			rv = before.GetResourceVersion()
		}
		after, err := st.apply(rv)
		if err != nil {
			return out, fmt.Errorf("applying %s %s: %w", st.kind, st.name, err)
		}
		a := Applied{Kind: st.kind, Namespace: st.ns, Name: st.name, Action: ActionCreated}
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
	}
	return out, nil
}

// applySteps lists the objects of g in the order they are applied: the role (if any), then
// the binding.
func applySteps(ctx context.Context, c rbacclient.RbacV1Interface, g *Grant, ao metav1.ApplyOptions) []applyStep {
	get := metav1.GetOptions{}
	if g.ClusterRole != nil {
		cr, crb := g.ClusterRole, g.ClusterRoleBinding
		return []applyStep{
			{kind: "ClusterRole", name: cr.Name,
				get: func() (metav1.Object, error) { return nilIfErr(c.ClusterRoles().Get(ctx, cr.Name, get)) },
				apply: func(rv string) (metav1.Object, error) {
					return nilIfErr(c.ClusterRoles().Apply(ctx, withRV(rbacac.ClusterRole(cr.Name), rv).
						WithLabels(cr.Labels).WithRules(rulesAC(cr.Rules)...), ao))
				}},
			{kind: "ClusterRoleBinding", name: crb.Name,
				get: func() (metav1.Object, error) { return nilIfErr(c.ClusterRoleBindings().Get(ctx, crb.Name, get)) },
				apply: func(rv string) (metav1.Object, error) {
					return nilIfErr(c.ClusterRoleBindings().Apply(ctx, withRV(rbacac.ClusterRoleBinding(crb.Name), rv).
						WithLabels(crb.Labels).WithSubjects(subjectsAC(crb.Subjects)...).WithRoleRef(roleRefAC(crb.RoleRef)), ao))
				}},
		}
	}
	var steps []applyStep
	if r := g.Role; r != nil { // nil: the binding points at an existing ClusterRole
		steps = append(steps, applyStep{kind: "Role", ns: r.Namespace, name: r.Name,
			get: func() (metav1.Object, error) { return nilIfErr(c.Roles(r.Namespace).Get(ctx, r.Name, get)) },
			apply: func(rv string) (metav1.Object, error) {
				return nilIfErr(c.Roles(r.Namespace).Apply(ctx, withRV(rbacac.Role(r.Name, r.Namespace), rv).
					WithLabels(r.Labels).WithRules(rulesAC(r.Rules)...), ao))
			}})
	}
	rb := g.RoleBinding
	return append(steps, applyStep{kind: "RoleBinding", ns: rb.Namespace, name: rb.Name,
		get: func() (metav1.Object, error) { return nilIfErr(c.RoleBindings(rb.Namespace).Get(ctx, rb.Name, get)) },
		apply: func(rv string) (metav1.Object, error) {
			return nilIfErr(c.RoleBindings(rb.Namespace).Apply(ctx, withRV(rbacac.RoleBinding(rb.Name, rb.Namespace), rv).
				WithLabels(rb.Labels).WithSubjects(subjectsAC(rb.Subjects)...).WithRoleRef(roleRefAC(rb.RoleRef)), ao))
		}})
}

// withRV sets the resourceVersion an apply configuration is conditional on ("": none).
func withRV[T interface{ WithResourceVersion(string) T }](ac T, rv string) T {
	if rv == "" {
		return ac
	}
	return ac.WithResourceVersion(rv)
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
