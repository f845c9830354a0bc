package rbac

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// ObjectRef names a Role, ClusterRole or binding.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is "Kind/name" or "Kind/namespace/name".
func (r ObjectRef) String() string {
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

// Snapshot holds every Role, ClusterRole and binding of a cluster, indexed
// for evaluation. Evaluation uses the rules as stored, which is what the
// API server's RBAC authorizer uses (for an aggregated ClusterRole, the rules
// the aggregation controller wrote into it).
type Snapshot struct {
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding

	roles        map[string]*rbacv1.Role // namespace/name
	clusterRoles map[string]*rbacv1.ClusterRole
}

// LoadSnapshot lists all RBAC objects (four list calls).
func LoadSnapshot(ctx context.Context, c rbacclient.RbacV1Interface) (*Snapshot, error) {
	roles, err := c.Roles(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	crs, err := c.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing clusterroles: %w", err)
	}
	rbs, err := c.RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing rolebindings: %w", err)
	}
	crbs, err := c.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing clusterrolebindings: %w", err)
	}
	return NewSnapshot(roles.Items, crs.Items, rbs.Items, crbs.Items), nil
}

// NewSnapshot indexes the given objects.
func NewSnapshot(roles []rbacv1.Role, crs []rbacv1.ClusterRole, rbs []rbacv1.RoleBinding, crbs []rbacv1.ClusterRoleBinding) *Snapshot {
	s := &Snapshot{Roles: roles, ClusterRoles: crs, RoleBindings: rbs, ClusterRoleBindings: crbs,
		roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{}}
	for i := range s.Roles {
		s.roles[s.Roles[i].Namespace+"/"+s.Roles[i].Name] = &s.Roles[i]
	}
	for i := range s.ClusterRoles {
		s.clusterRoles[s.ClusterRoles[i].Name] = &s.ClusterRoles[i]
	}
	return s
}

// roleFor returns the referenced role's ref and rules; ok is false when the
// role does not exist.
func (s *Snapshot) roleFor(bindingNamespace string, ref rbacv1.RoleRef) (ObjectRef, []rbacv1.PolicyRule, bool) {
	switch ref.Kind {
	case "ClusterRole":
		cr, ok := s.clusterRoles[ref.Name]
		if !ok {
			return ObjectRef{Kind: ref.Kind, Name: ref.Name}, nil, false
		}
		return ObjectRef{Kind: ref.Kind, Name: ref.Name}, cr.Rules, true
	case "Role":
		r, ok := s.roles[bindingNamespace+"/"+ref.Name]
		if !ok {
			return ObjectRef{Kind: ref.Kind, Namespace: bindingNamespace, Name: ref.Name}, nil, false
		}
		return ObjectRef{Kind: ref.Kind, Namespace: bindingNamespace, Name: ref.Name}, r.Rules, true
	}
	return ObjectRef{Kind: ref.Kind, Name: ref.Name}, nil, false
}

// AggregatedFrom returns, for a ClusterRole with an aggregationRule, the
// ClusterRoles its selectors pick that hold rule: where an aggregated rule
// came from. It returns nil for other roles.
func (s *Snapshot) AggregatedFrom(role ObjectRef, rule rbacv1.PolicyRule) []string {
	if role.Kind != "ClusterRole" {
		return nil
	}
	cr, ok := s.clusterRoles[role.Name]
	if !ok || cr.AggregationRule == nil {
		return nil
	}
	var out []string
	for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
		selector, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			continue
		}
		for i := range s.ClusterRoles {
			src := &s.ClusterRoles[i]
			if src.Name == cr.Name || !selector.Matches(labels.Set(src.Labels)) || slices.Contains(out, src.Name) {
				continue
			}
			for _, r := range src.Rules {
				if equality.Semantic.DeepEqual(r, rule) {
					out = append(out, src.Name)
					break
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// Request is one access question, as a SubjectAccessReview asks it.
type Request struct {
	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Name        string `json:"name,omitempty"`
	// Namespace; "" asks about all namespaces (cluster scope).
	Namespace string `json:"namespace,omitempty"`
	// NonResourceURL is set instead of Resource for a path such as /healthz.
	NonResourceURL string `json:"nonResourceURL,omitempty"`
}

// RuleAllows reports whether rule grants req, with the RBAC authorizer's
// matching (k8s.io/kubernetes pkg/apis/rbac/v1 evaluation helpers).
func RuleAllows(req Request, rule rbacv1.PolicyRule) bool {
	if !matchesOrStar(rule.Verbs, req.Verb) {
		return false
	}
	if req.NonResourceURL != "" {
		for _, u := range rule.NonResourceURLs {
			if u == "*" || u == req.NonResourceURL ||
				(strings.HasSuffix(u, "*") && strings.HasPrefix(req.NonResourceURL, strings.TrimRight(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !matchesOrStar(rule.APIGroups, req.Group) {
		return false
	}
	combined := req.Resource
	if req.Subresource != "" {
		combined += "/" + req.Subresource
	}
	resourceOK := false
	for _, r := range rule.Resources {
		if r == "*" || r == combined || (req.Subresource != "" && r == "*/"+req.Subresource) {
			resourceOK = true
			break
		}
	}
	if !resourceOK {
		return false
	}
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, req.Name)
}

func matchesOrStar(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}

// binding is a RoleBinding or ClusterRoleBinding, seen the same way.
type binding struct {
	ref      ObjectRef
	labels   map[string]string
	subjects []rbacv1.Subject
	roleRef  rbacv1.RoleRef
}

// bindings returns the bindings that can grant a request in namespace:
// every ClusterRoleBinding, plus the RoleBindings of namespace ("" adds none;
// "*" adds those of every namespace).
func (s *Snapshot) bindings(namespace string) []binding {
	var out []binding
	for _, b := range s.ClusterRoleBindings {
		out = append(out, binding{ref: ObjectRef{Kind: "ClusterRoleBinding", Name: b.Name}, labels: b.Labels, subjects: b.Subjects, roleRef: b.RoleRef})
	}
	if namespace == "" {
		return out
	}
	for _, b := range s.RoleBindings {
		if namespace == "*" || b.Namespace == namespace {
			out = append(out, binding{ref: ObjectRef{Kind: "RoleBinding", Namespace: b.Namespace, Name: b.Name},
				labels: b.Labels, subjects: b.Subjects, roleRef: b.RoleRef})
		}
	}
	return out
}
