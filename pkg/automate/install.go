package automate

import (
	"context"
	"errors"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ErrForeign is wrapped when an object of an automation's name exists without our managed-by
// label, or belongs to another automation.
var ErrForeign = errors.New("not made by this automation")

// ErrNotInstalled is wrapped when remove or status finds nothing of the automation.
var ErrNotInstalled = errors.New("not installed")

// Change is one object an install or remove touched.
type Change struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"` // created, configured, unchanged, deleted, would create, ...
}

type object interface {
	metav1.Object
}

// typed is what client-go's typed clients offer for one resource.
type typed[T object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// ours reports whether obj carries our managed-by label and belongs to this automation instance.
func ours(obj metav1.Object, name string) bool {
	l := obj.GetLabels()
	return l[LabelManagedBy] == ManagedBy && l[LabelInstance] == name
}

// apply creates want, or updates the object of its name when it is ours (keep, when set, copies
// fields of the live object that the automation owns at run time, such as the status record).
// A foreign object is refused unless takeOver. dryRun asks the API server to check without
// persisting.
func apply[T object](ctx context.Context, c typed[T], kind, instance string, want T, takeOver, dryRun bool, keep func(live, want T)) (Change, bool, error) {
	ch := Change{Kind: kind, Name: want.GetName()}
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	live, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := c.Create(ctx, want, metav1.CreateOptions{DryRun: dry}); err != nil {
			return ch, false, err
		}
		ch.Action = "created"
		return ch, !dryRun, nil
	}
	if err != nil {
		return ch, false, err
	}
	if !ours(live, instance) && !takeOver {
		return ch, false, fmt.Errorf("%s %s/%s exists and is %w %s (no %s=%s label): choose another --name, remove it, or pass --take-over",
			kind, live.GetNamespace(), live.GetName(), ErrForeign, instance, LabelManagedBy, ManagedBy)
	}
	want.SetResourceVersion(live.GetResourceVersion())
	if keep != nil {
		keep(live, want)
	}
	if _, err := c.Update(ctx, want, metav1.UpdateOptions{DryRun: dry}); err != nil {
		return ch, false, err
	}
	ch.Action = "configured"
	return ch, false, nil
}

// Install creates or updates the objects in order. A foreign object of the same name stops it
// before anything is written (every name is checked first); when a later step fails, what this
// call created is deleted again, so a failed install leaves nothing behind.
func Install(ctx context.Context, client kubernetes.Interface, o Objects, takeOver, dryRun bool) ([]Change, error) {
	ns := o.ServiceAccount.Namespace
	name := o.ServiceAccount.Name
	// Check every name first, so that a refusal writes nothing.
	if !takeOver {
		if err := checkNames(ctx, client, o, name); err != nil {
			return nil, err
		}
	}
	var changes []Change
	var created []func()
	undo := func() {
		for i := len(created) - 1; i >= 0; i-- {
			created[i]()
		}
	}
	step := func(ch Change, isNew bool, err error, del func(context.Context, string, metav1.DeleteOptions) error) error {
		if err != nil {
			undo()
			return err
		}
		if isNew {
			created = append(created, func() { _ = del(context.WithoutCancel(ctx), ch.Name, metav1.DeleteOptions{}) })
		}
		if dryRun {
			ch.Action = "would be " + ch.Action
		}
		changes = append(changes, ch)
		return nil
	}
	sa := client.CoreV1().ServiceAccounts(ns)
	ch, n, err := apply(ctx, sa, "ServiceAccount", name, o.ServiceAccount, takeOver, dryRun, nil)
	if err := step(ch, n, err, sa.Delete); err != nil {
		return nil, err
	}
	roles := client.RbacV1().Roles(ns)
	ch, n, err = apply(ctx, roles, "Role", name, o.Role, takeOver, dryRun, nil)
	if err := step(ch, n, err, roles.Delete); err != nil {
		return nil, err
	}
	rbs := client.RbacV1().RoleBindings(ns)
	ch, n, err = apply(ctx, rbs, "RoleBinding", name, o.RoleBinding, takeOver, dryRun, nil)
	if err := step(ch, n, err, rbs.Delete); err != nil {
		return nil, err
	}
	cms := client.CoreV1().ConfigMaps(ns)
	ch, n, err = apply(ctx, cms, "ConfigMap", name, o.ConfigMap, takeOver, dryRun, func(live, want *corev1.ConfigMap) { want.Data = live.Data })
	if err := step(ch, n, err, cms.Delete); err != nil {
		return nil, err
	}
	if o.Lease != nil {
		ls := client.CoordinationV1().Leases(ns)
		ch, n, err = apply(ctx, ls, "Lease", name, o.Lease, takeOver, dryRun, func(live, want *coordinationv1.Lease) { want.Spec = live.Spec })
		if err := step(ch, n, err, ls.Delete); err != nil {
			return nil, err
		}
	}
	cjs := client.BatchV1().CronJobs(ns)
	want := map[string]bool{}
	for _, cj := range o.CronJobs {
		want[cj.Name] = true
		ch, n, err = apply(ctx, cjs, "CronJob", name, cj, takeOver, dryRun, nil)
		if err := step(ch, n, err, cjs.Delete); err != nil {
			return nil, err
		}
	}
	// A CronJob of this instance that is no longer wanted (a node that left the control plane).
	old, err := cjs.List(ctx, metav1.ListOptions{LabelSelector: Selector(name)})
	if err != nil {
		return changes, err
	}
	for _, cj := range old.Items {
		if want[cj.Name] {
			continue
		}
		ch := Change{Kind: "CronJob", Name: cj.Name, Action: "deleted"}
		if dryRun {
			ch.Action = "would be deleted"
		} else if err := cjs.Delete(ctx, cj.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cj.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return changes, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// checkNames fails when any object name of o exists without our mark for this instance.
func checkNames(ctx context.Context, client kubernetes.Interface, o Objects, name string) error {
	ns := o.ServiceAccount.Namespace
	check := func(kind string, get func() (metav1.Object, error)) error {
		live, err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !ours(live, name) {
			return fmt.Errorf("%s %s/%s exists and is %w %s (no %s=%s label): choose another --name, remove it, or pass --take-over",
				kind, ns, live.GetName(), ErrForeign, name, LabelManagedBy, ManagedBy)
		}
		return nil
	}
	g := metav1.GetOptions{}
	checks := []error{
		check("ServiceAccount", func() (metav1.Object, error) {
			return client.CoreV1().ServiceAccounts(ns).Get(ctx, o.ServiceAccount.Name, g)
		}),
		check("Role", func() (metav1.Object, error) { return client.RbacV1().Roles(ns).Get(ctx, o.Role.Name, g) }),
		check("RoleBinding", func() (metav1.Object, error) { return client.RbacV1().RoleBindings(ns).Get(ctx, o.RoleBinding.Name, g) }),
		check("ConfigMap", func() (metav1.Object, error) { return client.CoreV1().ConfigMaps(ns).Get(ctx, o.ConfigMap.Name, g) }),
	}
	if o.Lease != nil {
		checks = append(checks, check("Lease", func() (metav1.Object, error) { return client.CoordinationV1().Leases(ns).Get(ctx, o.Lease.Name, g) }))
	}
	for _, cj := range o.CronJobs {
		checks = append(checks, check("CronJob", func() (metav1.Object, error) { return client.BatchV1().CronJobs(ns).Get(ctx, cj.Name, g) }))
	}
	return errors.Join(checks...)
}

// Remove deletes exactly the objects of the automation instance name in ns: those with our
// managed-by label and its instance label, each with a UID precondition (an object replaced
// meanwhile is not deleted). Jobs and pods the CronJobs made go with them (background
// propagation). Objects of that name without our labels are never touched.
func Remove(ctx context.Context, client kubernetes.Interface, ns, name string, dryRun bool) ([]Change, error) {
	sel := metav1.ListOptions{LabelSelector: Selector(name)}
	var changes []Change
	var errs []error
	bg := metav1.DeletePropagationBackground
	del := func(kind, n string, uid types.UID, d func(context.Context, string, metav1.DeleteOptions) error) {
		ch := Change{Kind: kind, Name: n, Action: "deleted"}
		if dryRun {
			ch.Action = "would be deleted"
		} else if err := d(ctx, n, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", kind, ns, n, err))
			return
		}
		changes = append(changes, ch)
	}
	cjs, err := client.BatchV1().CronJobs(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range cjs.Items {
		del("CronJob", o.Name, o.UID, client.BatchV1().CronJobs(ns).Delete)
	}
	jobs, err := client.BatchV1().Jobs(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range jobs.Items {
		del("Job", o.Name, o.UID, client.BatchV1().Jobs(ns).Delete)
	}
	leases, err := client.CoordinationV1().Leases(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range leases.Items {
		del("Lease", o.Name, o.UID, client.CoordinationV1().Leases(ns).Delete)
	}
	cms, err := client.CoreV1().ConfigMaps(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range cms.Items {
		del("ConfigMap", o.Name, o.UID, client.CoreV1().ConfigMaps(ns).Delete)
	}
	rbs, err := client.RbacV1().RoleBindings(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range rbs.Items {
		del("RoleBinding", o.Name, o.UID, client.RbacV1().RoleBindings(ns).Delete)
	}
	roles, err := client.RbacV1().Roles(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range roles.Items {
		del("Role", o.Name, o.UID, client.RbacV1().Roles(ns).Delete)
	}
	sas, err := client.CoreV1().ServiceAccounts(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range sas.Items {
		del("ServiceAccount", o.Name, o.UID, client.CoreV1().ServiceAccounts(ns).Delete)
	}
	if len(changes) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("automation %q is %w in namespace %s (nothing with %s=%s and %s=%s): see `kubectl clusterops automate status -A`",
			name, ErrNotInstalled, ns, LabelManagedBy, ManagedBy, LabelInstance, name)
	}
	return changes, errors.Join(errs...)
}
