package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Subject is who a permission is for: a User, a Group or a ServiceAccount.
type Subject struct {
	Kind      string `json:"kind"` // User, Group or ServiceAccount
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"` // ServiceAccount only
}

// Subject kinds, as in rbacv1.Subject.
const (
	KindUser           = rbacv1.UserKind
	KindGroup          = rbacv1.GroupKind
	KindServiceAccount = rbacv1.ServiceAccountKind
)

// User, Group and ServiceAccount build subjects.
func User(name string) Subject  { return Subject{Kind: KindUser, Name: name} }
func Group(name string) Subject { return Subject{Kind: KindGroup, Name: name} }
func ServiceAccount(namespace, name string) Subject {
	return Subject{Kind: KindServiceAccount, Namespace: namespace, Name: name}
}

// ParseServiceAccount parses "NAMESPACE:NAME".
func ParseServiceAccount(s string) (Subject, error) {
	ns, name, ok := strings.Cut(s, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return Subject{}, fmt.Errorf("invalid service account %q: write it as NAMESPACE:NAME, for example kube-system:backup", s)
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return Subject{}, fmt.Errorf("invalid service account %q: namespace %q is not a valid name (%s)", s, ns, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return Subject{}, fmt.Errorf("invalid service account %q: %q is not a valid name (%s)", s, name, errs[0])
	}
	return ServiceAccount(ns, name), nil
}

// ParseSubject parses "user:NAME", "group:NAME", "serviceaccount:NS:NAME"
// (also "sa:NS:NAME"), or a bare NAME, which is a user. Kinds are
// case-insensitive ("User:alice" works too).
func ParseSubject(s string) (Subject, error) {
	if s == "" {
		return Subject{}, fmt.Errorf("missing subject: give user:NAME, group:NAME or serviceaccount:NAMESPACE:NAME")
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return User(s), nil
	}
	switch strings.ToLower(kind) {
	case "user", "u":
		if rest == "" {
			break
		}
		return User(rest), nil
	case "group", "g":
		if rest == "" {
			break
		}
		return Group(rest), nil
	case "serviceaccount", "sa":
		return ParseServiceAccount(rest)
	default:
		// A user name may contain ':' (for example "system:admin").
		return User(s), nil
	}
	return Subject{}, fmt.Errorf("invalid subject %q: give user:NAME, group:NAME or serviceaccount:NAMESPACE:NAME", s)
}

// String is "User alice", "Group dev" or "ServiceAccount ns/name".
func (s Subject) String() string {
	if s.Kind == KindServiceAccount {
		return s.Kind + " " + s.Namespace + "/" + s.Name
	}
	return s.Kind + " " + s.Name
}

// RBAC returns the subject as it appears in a binding.
func (s Subject) RBAC() rbacv1.Subject {
	switch s.Kind {
	case KindServiceAccount:
		return rbacv1.Subject{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace}
	default:
		return rbacv1.Subject{Kind: s.Kind, APIGroup: rbacv1.GroupName, Name: s.Name}
	}
}

// Identities the API server's authenticators give to requests without credentials
// (k8s.io/apiserver pkg/authentication/user/user.go:71-77).
const (
	AnonymousUser      = "system:anonymous"
	AllUnauthenticated = "system:unauthenticated"
	AllAuthenticated   = "system:authenticated"
)

// UserInfo is the identity the authorizer sees when this subject makes a
// request: user name and groups. A service account gets its user name
// system:serviceaccount:NS:NAME and its groups; a group is a member with no
// user name. With authenticated, the groups are completed as the API server
// completes them: system:anonymous gets system:unauthenticated, and any
// other identity gets system:authenticated unless it already holds
// system:authenticated or system:unauthenticated (k8s.io/apiserver
// pkg/authentication/group/authenticated_group_adder.go:45-56 and the
// impersonation filter, pkg/endpoints/filters/impersonation/impersonation.go:126-156).
func (s Subject) UserInfo(extraGroups []string, authenticated bool) (user string, groups []string) {
	switch s.Kind {
	case KindUser:
		user = s.Name
	case KindGroup:
		groups = append(groups, s.Name)
	case KindServiceAccount:
		user = "system:serviceaccount:" + s.Namespace + ":" + s.Name
		groups = append(groups, "system:serviceaccounts", "system:serviceaccounts:"+s.Namespace)
	}
	for _, g := range extraGroups {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if !authenticated {
		return user, groups
	}
	switch {
	case user == AnonymousUser:
		if !slices.Contains(groups, AllUnauthenticated) {
			groups = append(groups, AllUnauthenticated)
		}
	case !slices.Contains(groups, AllAuthenticated) && !slices.Contains(groups, AllUnauthenticated):
		groups = append(groups, AllAuthenticated)
	}
	return user, groups
}

// subjectMatches reports whether the binding subject b applies to a request
// by user with groups (as the RBAC authorizer decides it).
func subjectMatches(b rbacv1.Subject, bindingNamespace, user string, groups []string) bool {
	switch b.Kind {
	case rbacv1.UserKind:
		return user != "" && b.Name == user
	case rbacv1.GroupKind:
		return slices.Contains(groups, b.Name)
	case rbacv1.ServiceAccountKind:
		ns := b.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return user != "" && ns != "" && user == "system:serviceaccount:"+ns+":"+b.Name
	}
	return false
}

// fromRBAC converts a binding subject; a ServiceAccount subject without a
// namespace takes the binding's namespace (as the authorizer does).
func fromRBAC(b rbacv1.Subject, bindingNamespace string) Subject {
	s := Subject{Kind: b.Kind, Name: b.Name}
	if b.Kind == rbacv1.ServiceAccountKind {
		s.Namespace = b.Namespace
		if s.Namespace == "" {
			s.Namespace = bindingNamespace
		}
	}
	return s
}
