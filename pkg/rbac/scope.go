package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Upstream sources of the rules in this file (kubernetes/kubernetes and kubernetes/apiserver):
//
//   - The RBAC authorizer asks the rule resolver with the request's namespace
//     (plugin/pkg/auth/authorizer/rbac/rbac.go:75-78), and the resolver reads
//     RoleBindings only when that namespace is not empty
//     (pkg/registry/rbac/validation/rule.go:179-236, the `if len(namespace) > 0` at :208).
//     A RoleBinding therefore never grants a non-resource URL or a request about a
//     cluster-scoped resource, which carries no namespace.
//   - A request for the namespace object /api/v1/namespaces/X (and its status and finalize
//     subresources) carries namespace X (k8s.io/apiserver pkg/endpoints/request/requestinfo.go:191-195),
//     so RoleBindings in X grant get, update, patch and delete of namespace X.
//   - Creating a RoleBinding in NS to a ClusterRole asks "bind clusterroles NAME" with namespace NS
//     (pkg/registry/rbac/escalation_check.go, BindingAuthorized: Namespace: bindingNamespace).
//   - Impersonation asks "impersonate" on users, groups (core), serviceaccounts (in the
//     account's namespace), uids and userextras/KEY (authentication.k8s.io)
//     (k8s.io/apiserver pkg/endpoints/filters/impersonation/impersonation.go:72-110); CSR approval
//     and signing ask "approve"/"sign" on certificates.k8s.io signers named after the signer
//     (plugin/pkg/admission/certificates/util.go IsAuthorizedForSignerName, used by the approval
//     and signing admission plugins). None of these is listed by discovery.

// Authorization-only resources: the authorizer is asked about them, discovery does not list them.
var virtualResources = []APIResource{
	{Group: "", Resource: "users", Kind: "User", Verbs: []string{"impersonate"}},
	{Group: "", Resource: "groups", Kind: "Group", Verbs: []string{"impersonate"}},
	{Group: "authentication.k8s.io", Resource: "uids", Kind: "UID", Verbs: []string{"impersonate"}},
	{Group: "authentication.k8s.io", Resource: "userextras", Kind: "UserExtra", Verbs: []string{"impersonate"}},
	{Group: "certificates.k8s.io", Resource: "signers", Kind: "Signer", Verbs: []string{"approve", "sign", "attest"}},
}

// extraVerbs are verbs the authorizer is asked on a served resource that discovery does not
// list for it: bind and escalate on roles and clusterroles (RBAC's escalation checks),
// impersonate on serviceaccounts.
var extraVerbs = map[string][]string{
	"rbac.authorization.k8s.io/roles":        {"bind", "escalate"},
	"rbac.authorization.k8s.io/clusterroles": {"bind", "escalate"},
	"/serviceaccounts":                       {"impersonate"},
}

// VirtualResources returns the authorization-only resources (users, groups, uids,
// userextras/*, signers), for rows of the access matrix.
func VirtualResources() []APIResource {
	out := make([]APIResource, len(virtualResources))
	for i, r := range virtualResources {
		out[i] = r
		out[i].Verbs = slices.Clone(r.Verbs)
		if r.Resource == "userextras" {
			// Any key: "userextras/*" asks about impersonating an arbitrary extra.
			out[i].Resource = "userextras/*"
			out[i].Subresource = true
		}
	}
	return out
}

// lookupVirtual finds an authorization-only resource; group "-" means any.
func lookupVirtual(base, sub, group string) (APIResource, bool) {
	for _, r := range virtualResources {
		if r.Resource != base || (group != "-" && group != r.Group) {
			continue
		}
		if sub != "" && base != "userextras" {
			return APIResource{}, false
		}
		out := r
		out.Verbs = slices.Clone(r.Verbs)
		if sub != "" {
			out.Resource += "/" + sub
			out.Subresource = true
		}
		return out, true
	}
	return APIResource{}, false
}

// AuthorizedVerbs returns the verbs worth asking about res: what discovery lists, plus the
// authorization-only verbs the authorizer uses for it.
func AuthorizedVerbs(res APIResource) []string {
	out := slices.Clone(res.Verbs)
	base, _, _ := strings.Cut(res.Resource, "/")
	if base == res.Resource {
		for _, v := range extraVerbs[res.Group+"/"+res.Resource] {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// isNamespaceObject reports whether group/resource is the namespace object (or one of its
// subresources): authorized with the namespace's own name as the namespace.
func isNamespaceObject(group, resource string) bool {
	base, _, _ := strings.Cut(resource, "/")
	return group == "" && base == "namespaces"
}

// NamespaceApplies reports whether a request for verb on res can carry a namespace, so that
// RoleBindings can grant it: a namespaced resource, the namespace object itself, or bind and
// escalate on clusterroles (a RoleBinding in a namespace may delegate a ClusterRole there).
func NamespaceApplies(res APIResource, verb string) bool {
	switch {
	case res.Namespaced:
		return true
	case isNamespaceObject(res.Group, res.Resource):
		// Only requests for one namespace (/api/v1/namespaces/X[/status]) carry X; list, watch
		// and create are requests on the collection (requestinfo.go:191-203).
		return slices.Contains([]string{"get", "update", "patch", "delete"}, verb)
	case res.Group == "rbac.authorization.k8s.io" && res.Resource == "clusterroles":
		return verb == "bind" || verb == "escalate"
	}
	return false
}

// RequestFor builds the question the authorizer is asked when verb is used on res (an object
// called name, or any) in namespace ns ("" is cluster scope), with the namespace the API server
// puts in it: ns for what NamespaceApplies to, the object's own name for a namespace, none
// otherwise.
func RequestFor(res APIResource, verb, name, ns string) Request {
	base, sub, _ := strings.Cut(res.Resource, "/")
	req := Request{Verb: verb, Group: res.Group, Resource: base, Subresource: sub, Name: name}
	switch {
	case !NamespaceApplies(res, verb):
	case isNamespaceObject(res.Group, res.Resource) && name != "":
		req.Namespace = name
	case isNamespaceObject(res.Group, res.Resource) && ns != "":
		req.Namespace, req.Name = ns, ns
	default:
		req.Namespace = ns
	}
	return req
}

// knownClusterScoped are the cluster-scoped resources of a kubeadm cluster and the
// authorization-only ones, for callers without discovery.
var knownClusterScoped = map[string]bool{
	"/nodes": true, "/namespaces": true, "/persistentvolumes": true, "/componentstatuses": true,
	"/users": true, "/groups": true, "authentication.k8s.io/uids": true, "authentication.k8s.io/userextras": true,
	"certificates.k8s.io/signers": true, "certificates.k8s.io/certificatesigningrequests": true,
	"certificates.k8s.io/clustertrustbundles": true,
	"rbac.authorization.k8s.io/clusterroles":  true, "rbac.authorization.k8s.io/clusterrolebindings": true,
	"storage.k8s.io/storageclasses": true, "storage.k8s.io/csidrivers": true, "storage.k8s.io/csinodes": true,
	"storage.k8s.io/volumeattachments": true, "storage.k8s.io/volumeattributesclasses": true,
	"apiextensions.k8s.io/customresourcedefinitions": true, "apiregistration.k8s.io/apiservices": true,
	"admissionregistration.k8s.io/validatingwebhookconfigurations":   true,
	"admissionregistration.k8s.io/mutatingwebhookconfigurations":     true,
	"admissionregistration.k8s.io/validatingadmissionpolicies":       true,
	"admissionregistration.k8s.io/validatingadmissionpolicybindings": true,
	"admissionregistration.k8s.io/mutatingadmissionpolicies":         true,
	"admissionregistration.k8s.io/mutatingadmissionpolicybindings":   true,
	"scheduling.k8s.io/priorityclasses":                              true, "node.k8s.io/runtimeclasses": true,
	"networking.k8s.io/ingressclasses": true, "networking.k8s.io/ipaddresses": true, "networking.k8s.io/servicecidrs": true,
	"flowcontrol.apiserver.k8s.io/flowschemas": true, "flowcontrol.apiserver.k8s.io/prioritylevelconfigurations": true,
	"authentication.k8s.io/tokenreviews": true, "authentication.k8s.io/selfsubjectreviews": true,
	"authorization.k8s.io/subjectaccessreviews": true, "authorization.k8s.io/selfsubjectaccessreviews": true,
	"authorization.k8s.io/selfsubjectrulesreviews": true,
	"resource.k8s.io/deviceclasses":                true, "resource.k8s.io/resourceslices": true,
}

// ScopeFunc tells whether group/resource (a subresource is judged by its resource) is
// cluster-scoped.
type ScopeFunc func(group, resource string) bool

// KnownClusterScoped is a ScopeFunc from a built-in list (kubeadm clusters, Kubernetes 1.37).
func KnownClusterScoped(group, resource string) bool {
	base, _, _ := strings.Cut(resource, "/")
	return knownClusterScoped[group+"/"+base]
}

// ScopeFromDiscovery is a ScopeFunc from served resources, falling back to the built-in list
// for what they do not name.
func ScopeFromDiscovery(served []APIResource) ScopeFunc {
	m := map[string]bool{}
	for _, r := range served {
		base, _, _ := strings.Cut(r.Resource, "/")
		if base == r.Resource {
			m[r.Group+"/"+base] = !r.Namespaced
		}
	}
	return func(group, resource string) bool {
		base, _, _ := strings.Cut(resource, "/")
		if cs, ok := m[group+"/"+base]; ok {
			return cs
		}
		return KnownClusterScoped(group, resource)
	}
}

// inNamespace returns the part of rule a RoleBinding can grant, with scope telling which
// resources are cluster-scoped: no non-resource URLs, no cluster-scoped resources except the
// namespace object and bind/escalate on clusterroles. dropped lists the resources removed (the
// rule's non-resource URLs are always removed).
func inNamespace(rule rbacv1.PolicyRule, scope ScopeFunc) (kept rbacv1.PolicyRule, dropped []string) {
	kept = rule
	kept.NonResourceURLs, kept.Resources = nil, nil
	for _, res := range rule.Resources {
		keep := false
		for _, g := range rule.APIGroups {
			switch {
			case g == "*", strings.HasPrefix(res, "*"), !scope(g, res), isNamespaceObject(g, res):
				keep = true
			case g == "rbac.authorization.k8s.io" && res == "clusterroles" &&
				(slices.Contains(rule.Verbs, "bind") || slices.Contains(rule.Verbs, "escalate") || slices.Contains(rule.Verbs, "*")):
				keep = true
			}
		}
		if keep {
			kept.Resources = append(kept.Resources, res)
		} else {
			dropped = append(dropped, res)
		}
	}
	return kept, dropped
}
