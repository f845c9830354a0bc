package rbac

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/clusterops/kubectl-clusterops/internal/namehash"
)

// FieldManager is the server-side apply field manager of every object this
// package applies.
const FieldManager = "kubectl-clusterops"

// Labels put on rendered objects.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelTemplate  = "clusterops.io/rbac-template"
)

// GrantSpec says what to render: a role with Rules (from a template, custom
// rules, or both) bound to Subjects, in Namespace or cluster-wide.
type GrantSpec struct {
	// RoleName is the Role/ClusterRole name; default "clusterops-<Template>".
	RoleName string
	// Template is recorded in a label (may be empty for custom rules).
	Template string
	Rules    []RuleSpec
	Subjects []Subject
	// Namespace for a Role + RoleBinding; ignored when ClusterWide.
	Namespace   string
	ClusterWide bool
}

// Grant is a rendered role and binding: either Role + RoleBinding or
// ClusterRole + ClusterRoleBinding is set.
type Grant struct {
	Role               *rbacv1.Role
	RoleBinding        *rbacv1.RoleBinding
	ClusterRole        *rbacv1.ClusterRole
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	// Warnings: verbs a resource does not support, cluster-scoped resources
	// in a namespaced Role, ...
	Warnings []string
}

// Objects returns the role then the binding, with apiVersion and kind set.
func (g *Grant) Objects() []runtime.Object {
	if g.ClusterRole != nil {
		return []runtime.Object{g.ClusterRole, g.ClusterRoleBinding}
	}
	return []runtime.Object{g.Role, g.RoleBinding}
}

// RenderTemplate renders the built-in template name for one subject, in
// namespace or (clusterWide) as a ClusterRole + ClusterRoleBinding. It is the
// entry point for `user create --role TEMPLATE`.
func RenderTemplate(r *Resolver, name string, subject Subject, namespace string, clusterWide bool) (*Grant, error) {
	t, err := LookupTemplate(name)
	if err != nil {
		return nil, err
	}
	return Render(r, GrantSpec{Template: t.Name, Rules: t.Rules, Subjects: []Subject{subject},
		Namespace: namespace, ClusterWide: clusterWide})
}

// Render resolves spec.Rules through r and builds the objects.
func Render(r *Resolver, spec GrantSpec) (*Grant, error) {
	roleName := spec.RoleName
	if roleName == "" {
		if spec.Template == "" {
			return nil, fmt.Errorf("missing role name: give --role-name for custom rules")
		}
		roleName = "clusterops-" + spec.Template
	}
	if err := validName(roleName); err != nil {
		return nil, fmt.Errorf("invalid role name %q: %v", roleName, err)
	}
	if IsSystemName(roleName) {
		return nil, fmt.Errorf("role name %q is in the reserved system: namespace (Kubernetes' own roles): kubectl-clusterops never makes or changes one; choose another --role-name", roleName)
	}
	if len(spec.Subjects) == 0 {
		return nil, fmt.Errorf("missing subject: give --user, --group or --serviceaccount NAMESPACE:NAME")
	}
	if !spec.ClusterWide {
		if spec.Namespace == "" {
			return nil, fmt.Errorf("missing namespace: give -n NAMESPACE, or --cluster-wide")
		}
		if errs := validation.IsDNS1123Label(spec.Namespace); len(errs) > 0 {
			return nil, fmt.Errorf("invalid namespace %q: %s", spec.Namespace, errs[0])
		}
	}
	res, err := r.Resolve(spec.Rules)
	if err != nil {
		return nil, err
	}
	g := &Grant{Warnings: res.Warnings}
	labels := map[string]string{LabelManagedBy: FieldManager}
	if spec.Template != "" {
		labels[LabelTemplate] = spec.Template
	}
	var subjects []rbacv1.Subject
	for _, s := range spec.Subjects {
		subjects = append(subjects, s.RBAC())
	}
	bindingName := roleName + "-" + bindingSuffix(spec.Subjects)
	if spec.ClusterWide {
		g.ClusterRole = &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: roleName, Labels: labels},
			Rules:      res.Rules,
		}
		g.ClusterRoleBinding = &rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: bindingName, Labels: labels},
			Subjects:   subjects,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
		}
		return g, nil
	}
	for _, rule := range res.Rules {
		if len(rule.NonResourceURLs) > 0 {
			return nil, fmt.Errorf("non-resource URLs (%s) can only be granted cluster-wide: add --cluster-wide",
				strings.Join(rule.NonResourceURLs, ", "))
		}
	}
	if len(res.ClusterScoped) > 0 {
		g.Warnings = append(g.Warnings, fmt.Sprintf("cluster-scoped resources (%s) in a Role in namespace %q grant nothing (use --cluster-wide)",
			strings.Join(res.ClusterScoped, ", "), spec.Namespace))
	}
	g.Role = &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: roleName, Namespace: spec.Namespace, Labels: labels},
		Rules:      res.Rules,
	}
	g.RoleBinding = &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: bindingName, Namespace: spec.Namespace, Labels: labels},
		Subjects:   subjects,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roleName},
	}
	return g, nil
}

// bindingSuffix names a binding after its (first) subject: "user-alice", "group-dev",
// "sa-monitoring-prometheus". The readable form maps ':', '/' and '%' to '-' and joins a service
// account's namespace and name with '-', so it can lose what told two subjects apart ("a:b" and
// "a-b"; kube-system:backup and kube:system-backup). Then, and whenever the readable form ends
// like a hashed one, a short hash of the exact subjects is added, so that different subjects
// always get different names.
func bindingSuffix(subjects []Subject) string {
	s := subjects[0]
	var exact string
	lossy := len(subjects) > 1
	switch s.Kind {
	case KindServiceAccount:
		exact = "sa-" + s.Namespace + "-" + s.Name
		lossy = lossy || strings.Contains(s.Namespace, "-")
	default:
		exact = strings.ToLower(s.Kind) + "-" + s.Name
	}
	if len(subjects) > 1 {
		exact += fmt.Sprintf("-and-%d-more", len(subjects)-1)
	}
	out := strings.NewReplacer("/", "-", "%", "-", ":", "-").Replace(exact)
	if lossy || out != exact || namehash.LooksHashed(out) {
		var parts []string
		for _, s := range subjects {
			parts = append(parts, s.Kind, s.Namespace, s.Name)
		}
		out += "-" + namehash.Short(parts...)
	}
	return out
}

// validName checks an RBAC object name (a path segment name).
func validName(name string) error {
	if errs := path.IsValidPathSegmentName(name); len(errs) > 0 {
		return fmt.Errorf("%s", errs[0])
	}
	if len(name) > validation.DNS1123SubdomainMaxLength {
		return fmt.Errorf("longer than %d characters", validation.DNS1123SubdomainMaxLength)
	}
	return nil
}
