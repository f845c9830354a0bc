package rbac

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelBootstrapping marks the roles and bindings the API server makes for itself (cluster-admin,
// edit, system:*): it reconciles them at every start, and they are never ours to change.
const (
	LabelBootstrapping = "kubernetes.io/bootstrapping"
	BootstrapRBAC      = "rbac-defaults"
)

// RefusedError is why Apply left a role or binding alone.
type RefusedError struct {
	Kind, Namespace, Name string
	// Reason says what the object is ("has a reserved system: name", ...).
	Reason string
	// TakeOverHelps says whether an explicit take-over would allow the change: true only for an
	// object that is not ours, never for a protected one.
	TakeOverHelps bool
}

func (e *RefusedError) Error() string {
	what := e.Kind + " " + e.Name
	if e.Namespace != "" {
		what = e.Kind + " " + e.Namespace + "/" + e.Name
	}
	if e.TakeOverHelps {
		return fmt.Sprintf("refusing to change %s: it %s; choose another role name, or take it over with 'rbac grant --take-over'", what, e.Reason)
	}
	return fmt.Sprintf("refusing to change %s: it %s, which kubectl-clusterops never changes, even with --take-over; choose another role name", what, e.Reason)
}

// IsSystemName reports whether name is in the reserved system: namespace (any case).
func IsSystemName(name string) bool { return strings.HasPrefix(strings.ToLower(name), "system:") }

// IsOurs reports whether an object carries the managed-by label this package sets.
func IsOurs(o metav1.Object) bool { return o.GetLabels()[LabelManagedBy] == FieldManager }

// checkWritable decides whether Apply may write the role or binding kind/ns/name, whose current
// state is existing (nil: it does not exist). A system: name, a bootstrap object and an aggregated
// ClusterRole are refused always; an existing object without our label unless takeOver.
func checkWritable(kind, ns, name string, existing metav1.Object, takeOver bool) error {
	refuse := func(reason string, takeOverHelps bool) error {
		return &RefusedError{Kind: kind, Namespace: ns, Name: name, Reason: reason, TakeOverHelps: takeOverHelps}
	}
	if IsSystemName(name) {
		return refuse("has a reserved system: name (it belongs to Kubernetes)", false)
	}
	if existing == nil {
		return nil
	}
	if existing.GetLabels()[LabelBootstrapping] == BootstrapRBAC {
		return refuse("is a Kubernetes bootstrap object (label "+LabelBootstrapping+"="+BootstrapRBAC+"; the API server reconciles it)", false)
	}
	if cr, ok := existing.(*rbacv1.ClusterRole); ok && cr.AggregationRule != nil {
		return refuse("is an aggregated ClusterRole (its rules are filled from other roles by its aggregationRule)", false)
	}
	if !IsOurs(existing) && !takeOver {
		return refuse("exists and was not made by kubectl-clusterops (no label "+LabelManagedBy+"="+FieldManager+")", true)
	}
	return nil
}
