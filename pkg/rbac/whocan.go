package rbac

import (
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
)

// PrivilegedGroup is the group the API server authorizes for everything,
// before and without RBAC.
const PrivilegedGroup = "system:masters"

// Access is one subject that holds a permission, and where it comes from.
type Access struct {
	Subject Subject `json:"subject"`
	// Namespace where the access applies; "" means every namespace
	// (a ClusterRoleBinding).
	Namespace      string            `json:"namespace,omitempty"`
	Binding        ObjectRef         `json:"binding"`
	Role           ObjectRef         `json:"role"`
	Rule           rbacv1.PolicyRule `json:"rule"`
	AggregatedFrom []string          `json:"aggregatedFrom,omitempty"`
}

// WhoCanResult lists the subjects that may make a request.
type WhoCanResult struct {
	Request  Request  `json:"request"`
	Subjects []Access `json:"subjects"`
	// AlwaysAllowed are groups allowed everything without RBAC.
	AlwaysAllowed []string `json:"alwaysAllowed"`
}

// WhoCan evaluates every binding for req. With req.Namespace set, the
// ClusterRoleBindings and that namespace's RoleBindings count; with "" (cluster
// scope) only ClusterRoleBindings grant, as for the authorizer. With
// allNamespaces, the RoleBindings of every namespace are listed too, each with
// its namespace (req.Namespace is then ignored).
//
// As for the authorizer (pkg/registry/rbac/validation/rule.go:208), RoleBindings grant only a
// request that carries a namespace: never a non-resource URL, and with allNamespaces only when
// the caller knows the request can carry one (see NamespaceApplies and RequestFor).
func WhoCan(s *Snapshot, req Request, allNamespaces bool) WhoCanResult {
	res := WhoCanResult{Request: req, Subjects: []Access{}, AlwaysAllowed: []string{PrivilegedGroup}}
	scope := req.Namespace
	if allNamespaces {
		scope = "*"
	}
	if req.NonResourceURL != "" {
		scope = ""
	}
	for _, b := range s.bindings(scope) {
		role, rules, ok := s.roleFor(b.ref.Namespace, b.roleRef)
		if !ok {
			continue
		}
		var matched *rbacv1.PolicyRule
		for i := range rules {
			if RuleAllows(req, rules[i]) {
				matched = &rules[i]
				break
			}
		}
		if matched == nil {
			continue
		}
		from := s.AggregatedFrom(role, *matched)
		for _, subj := range b.subjects {
			res.Subjects = append(res.Subjects, Access{Subject: fromRBAC(subj, b.ref.Namespace),
				Namespace: b.ref.Namespace, Binding: b.ref, Role: role, Rule: *matched, AggregatedFrom: from})
		}
	}
	sortAccess(res.Subjects)
	return res
}

func sortAccess(a []Access) {
	sort.SliceStable(a, func(i, j int) bool {
		x, y := a[i], a[j]
		if x.Subject.Kind != y.Subject.Kind {
			return x.Subject.Kind > y.Subject.Kind // User, ServiceAccount, Group
		}
		if x.Subject.Namespace != y.Subject.Namespace {
			return x.Subject.Namespace < y.Subject.Namespace
		}
		if x.Subject.Name != y.Subject.Name {
			return x.Subject.Name < y.Subject.Name
		}
		return x.Binding.String() < y.Binding.String()
	})
}

// ExplainOptions tunes Explain.
type ExplainOptions struct {
	// ExtraGroups the subject is known to be in.
	ExtraGroups []string
	// Authenticated adds system:authenticated, as for any authenticated request.
	Authenticated bool
	// Namespace limits RoleBindings to one namespace; "" shows all of them.
	Namespace string
	// ClusterScoped tells which resources are cluster-scoped (a RoleBinding cannot grant
	// them); nil uses KnownClusterScoped.
	ClusterScoped ScopeFunc
}

// Permission is one rule a subject holds, and the binding and role that grant it.
type Permission struct {
	// Namespace where the rule applies; "" means every namespace.
	Namespace       string    `json:"namespace,omitempty"`
	Verbs           []string  `json:"verbs"`
	APIGroups       []string  `json:"apiGroups,omitempty"`
	Resources       []string  `json:"resources,omitempty"`
	ResourceNames   []string  `json:"resourceNames,omitempty"`
	NonResourceURLs []string  `json:"nonResourceURLs,omitempty"`
	Binding         ObjectRef `json:"binding"`
	Role            ObjectRef `json:"role"`
	// Via is the binding subject that matched: the subject itself or one of its groups.
	Via            Subject  `json:"via"`
	AggregatedFrom []string `json:"aggregatedFrom,omitempty"`
}

// ExplainResult lists every permission of a subject.
type ExplainResult struct {
	Subject     Subject      `json:"subject"`
	User        string       `json:"user,omitempty"`
	Groups      []string     `json:"groups,omitempty"`
	Permissions []Permission `json:"permissions"`
	// MissingRoles are roles that bindings of this subject name but that do
	// not exist (they grant nothing until someone creates them).
	MissingRoles []ObjectRef `json:"missingRoles,omitempty"`
	// Privileged is true when the subject is in system:masters: it may do
	// everything, whatever RBAC says.
	Privileged bool `json:"privileged,omitempty"`
	// Ignored are the parts of rules bound through RoleBindings that grant nothing: non-resource
	// URLs and cluster-scoped resources (the authorizer reads RoleBindings only for a request
	// with a namespace, pkg/registry/rbac/validation/rule.go:208).
	Ignored []Permission `json:"ignored,omitempty"`
}

// Explain lists, for every rule a subject holds, the binding and role that grant it.
func Explain(s *Snapshot, subject Subject, opts ExplainOptions) ExplainResult {
	user, groups := subject.UserInfo(opts.ExtraGroups, opts.Authenticated)
	res := ExplainResult{Subject: subject, User: user, Groups: groups, Permissions: []Permission{}}
	for _, g := range groups {
		if g == PrivilegedGroup {
			res.Privileged = true
		}
	}
	scope := opts.Namespace
	if scope == "" {
		scope = "*"
	}
	scopeFn := opts.ClusterScoped
	if scopeFn == nil {
		scopeFn = KnownClusterScoped
	}
	for _, b := range s.bindings(scope) {
		var via *rbacv1.Subject
		for i := range b.subjects {
			if subjectMatches(b.subjects[i], b.ref.Namespace, user, groups) {
				via = &b.subjects[i]
				break
			}
		}
		if via == nil {
			continue
		}
		role, rules, ok := s.roleFor(b.ref.Namespace, b.roleRef)
		if !ok {
			res.MissingRoles = append(res.MissingRoles, role)
			continue
		}
		for _, r := range rules {
			p := Permission{
				Namespace: b.ref.Namespace, Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources,
				ResourceNames: r.ResourceNames, NonResourceURLs: r.NonResourceURLs,
				Binding: b.ref, Role: role, Via: fromRBAC(*via, b.ref.Namespace),
				AggregatedFrom: s.AggregatedFrom(role, r),
			}
			if b.ref.Kind == "RoleBinding" {
				kept, dropped := inNamespace(r, scopeFn)
				if len(dropped)+len(r.NonResourceURLs) > 0 {
					ign := p
					ign.Resources = dropped
					res.Ignored = append(res.Ignored, ign)
				}
				if len(kept.Resources) == 0 {
					continue
				}
				p.Resources, p.NonResourceURLs = kept.Resources, nil
			}
			res.Permissions = append(res.Permissions, p)
		}
	}
	return res
}
