package rbac

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// APIResource is one served resource or subresource, as discovery lists it.
type APIResource struct {
	Group       string   `json:"group"`
	Resource    string   `json:"resource"` // plural name; "pods/log" for a subresource
	Kind        string   `json:"kind,omitempty"`
	Namespaced  bool     `json:"namespaced"`
	Verbs       []string `json:"verbs,omitempty"`
	Subresource bool     `json:"-"`
}

// GroupResource is "resource" for the core group, else "resource.group".
func (r APIResource) GroupResource() string { return groupResource(r.Group, r.Resource) }

func groupResource(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

// removedGroups explains API groups that clusters no longer serve but that
// old manifests (and tutorials) still name.
var removedGroups = map[string]string{
	"extensions": "it was removed in Kubernetes 1.16-1.22: deployments, daemonsets and replicasets are in apps; " +
		"ingresses and networkpolicies are in networking.k8s.io",
}

// deprecatedResources are still served but deprecated: a rule for them gets a warning.
var deprecatedResources = map[schema.GroupResource]string{
	{Group: "", Resource: "endpoints"}:         "v1 Endpoints is deprecated since Kubernetes 1.33; grant endpointslices (discovery.k8s.io) instead",
	{Group: "", Resource: "componentstatuses"}: "v1 ComponentStatus is deprecated since Kubernetes 1.19",
}

// specialVerbs are authorization-only verbs that discovery does not list.
var specialVerbs = []string{"use", "bind", "escalate", "impersonate", "approve", "sign", "attest", "*"}

// Resolver turns rule specs into policy rules with the API server's help:
// discovery (cached in memory for the Resolver's life) and a deferred
// discovery RESTMapper with kubectl's short names.
type Resolver struct {
	disc   discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper

	once      sync.Once
	loadErr   error
	groups    map[string]bool
	resources map[schema.GroupResource]*APIResource
}

// NewResolver returns a Resolver that asks d (wrapped in a memory cache).
func NewResolver(d discovery.DiscoveryInterface) *Resolver {
	cached := memory.NewMemCacheClient(d)
	deferred := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	return &Resolver{disc: cached, mapper: restmapper.NewShortcutExpander(deferred, cached, nil)}
}

func (r *Resolver) load() error {
	r.once.Do(func() {
		groups, lists, err := r.disc.ServerGroupsAndResources()
		if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
			r.loadErr = err
			return
		}
		r.groups = map[string]bool{}
		for _, g := range groups {
			r.groups[g.Name] = true
		}
		r.resources = map[schema.GroupResource]*APIResource{}
		for _, list := range lists {
			gv, perr := schema.ParseGroupVersion(list.GroupVersion)
			if perr != nil {
				continue
			}
			for _, res := range list.APIResources {
				r.add(gv.Group, res)
			}
		}
	})
	return r.loadErr
}

func (r *Resolver) add(group string, res metav1.APIResource) {
	key := schema.GroupResource{Group: group, Resource: res.Name}
	cur, ok := r.resources[key]
	if !ok {
		cur = &APIResource{Group: group, Resource: res.Name, Kind: res.Kind, Namespaced: res.Namespaced,
			Subresource: strings.Contains(res.Name, "/")}
		r.resources[key] = cur
	}
	for _, v := range res.Verbs {
		if !slices.Contains(cur.Verbs, v) {
			cur.Verbs = append(cur.Verbs, v)
		}
	}
}

// Resources lists every served resource (subresources too when
// withSubresources), sorted by group then name.
func (r *Resolver) Resources(withSubresources bool) ([]APIResource, error) {
	if err := r.load(); err != nil {
		return nil, err
	}
	var out []APIResource
	for _, res := range r.resources {
		if res.Subresource && !withSubresources {
			continue
		}
		out = append(out, *res)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Resource < out[j].Resource
	})
	return out, nil
}

// ServedGroups returns the API groups the server serves ("" is core).
func (r *Resolver) ServedGroups() (map[string]bool, error) {
	if err := r.load(); err != nil {
		return nil, err
	}
	return r.groups, nil
}

// Lookup resolves one resource name: "deployments", "deploy", "pods/log",
// "deployments.apps", or with an explicit group ("" is core; "-" means find
// it). It returns the served resource or a one-line error.
func (r *Resolver) Lookup(name, group string) (APIResource, error) {
	if err := r.load(); err != nil {
		return APIResource{}, err
	}
	base, sub, _ := strings.Cut(name, "/")
	if group == "-" {
		group = ""
		if res, g, ok := strings.Cut(base, "."); ok {
			base, group = res, g
		} else {
			group = "-"
		}
	}
	if res, ok := lookupVirtual(strings.ToLower(base), sub, group); ok && !r.serves(strings.ToLower(base), group) {
		// Authorization-only (users, groups, uids, userextras/KEY, signers): asked about, never
		// served (a served resource of that name, such as a CRD, wins).
		return res, nil
	}
	if group != "-" && !r.groups[group] {
		hint := "see 'kubectl api-versions'"
		if h, ok := removedGroups[group]; ok {
			hint = h
		}
		return APIResource{}, fmt.Errorf("API group %q is not served by this cluster (%s), so a rule for %q in it grants nothing; %s",
			group, groupResource(group, base), name, hint)
	}
	if group != "-" {
		// An exact plural name in an explicit group needs no mapper.
		if res, ok := r.resources[schema.GroupResource{Group: group, Resource: strings.ToLower(name)}]; ok {
			return *res, nil
		}
	}
	gvr := schema.GroupVersionResource{Resource: strings.ToLower(base)}
	if group != "-" {
		gvr.Group = group
	}
	full, err := r.mapper.ResourceFor(gvr)
	if err != nil {
		var amb *meta.AmbiguousResourceError
		if errors.As(err, &amb) && len(amb.MatchingResources) > 0 {
			full = amb.MatchingResources[0]
		} else if group != "-" {
			if other, err2 := r.mapper.ResourceFor(schema.GroupVersionResource{Resource: gvr.Resource}); err2 == nil {
				return APIResource{}, fmt.Errorf("API group %q has no resource %q; it is served by %q (use --api-group %q or leave --api-group out)",
					group, base, groupOrCore(other.Group), other.Group)
			}
			return APIResource{}, fmt.Errorf("unknown resource %q in API group %q: see 'kubectl api-resources'", base, groupOrCore(group))
		} else {
			return APIResource{}, fmt.Errorf("unknown resource %q: the API server does not serve it (see 'kubectl api-resources')", base)
		}
	}
	if group != "-" && full.Group != group {
		// The mapper reads an empty group as "any group"; "" here means core.
		return APIResource{}, fmt.Errorf("API group %q has no resource %q; it is served by %q (use --api-group %q or leave --api-group out)",
			groupOrCore(group), base, groupOrCore(full.Group), full.Group)
	}
	key := schema.GroupResource{Group: full.Group, Resource: full.Resource}
	if sub != "" {
		key.Resource += "/" + sub
	}
	res, ok := r.resources[key]
	if !ok {
		return APIResource{}, fmt.Errorf("unknown subresource %q of %s: see 'kubectl api-resources' and the API reference", sub, groupResource(full.Group, full.Resource))
	}
	return *res, nil
}

// serves reports whether discovery lists a resource called name, in group ("-": any group).
func (r *Resolver) serves(name, group string) bool {
	for key := range r.resources {
		if key.Resource == name && (group == "-" || key.Group == group) {
			return true
		}
	}
	return false
}

func groupOrCore(g string) string {
	if g == "" {
		return "core"
	}
	return g
}

// Resolved is the outcome of resolving rule specs.
type Resolved struct {
	Rules []rbacv1.PolicyRule
	// ClusterScoped lists cluster-scoped resources named by the rules (a
	// namespaced Role cannot grant them).
	ClusterScoped []string
	// Warnings are things the user should know but that do not stop a grant.
	Warnings []string
}

// Resolve resolves specs into policy rules, one rule per API group of each
// spec. Unknown resources and unserved API groups are errors; verbs the
// resource does not support are warnings.
func (r *Resolver) Resolve(specs []RuleSpec) (Resolved, error) {
	var out Resolved
	for i, spec := range specs {
		if len(spec.Verbs) == 0 {
			return out, fmt.Errorf("rule %d has no verbs: give at least one --verb", i+1)
		}
		if len(spec.NonResourceURLs) > 0 {
			if len(spec.Resources) > 0 {
				return out, fmt.Errorf("rule %d mixes resources and non-resource URLs: put them in separate rules", i+1)
			}
			out.Rules = append(out.Rules, rbacv1.PolicyRule{Verbs: spec.Verbs, NonResourceURLs: spec.NonResourceURLs})
			continue
		}
		if len(spec.Resources) == 0 {
			return out, fmt.Errorf("rule %d has no resources: give at least one --resource", i+1)
		}
		groups := spec.APIGroups
		if len(groups) == 0 {
			groups = []string{"-"}
		}
		byGroup := map[string]*rbacv1.PolicyRule{}
		var order []string
		for _, name := range spec.Resources {
			for _, g := range groups {
				var res APIResource
				if name == "*" || strings.HasPrefix(name, "*/") || g == "*" {
					if g == "-" {
						return out, fmt.Errorf("rule %d: resource %q needs an explicit --api-group", i+1, name)
					}
					res = APIResource{Group: g, Resource: name}
				} else {
					var err error
					if res, err = r.Lookup(name, g); err != nil {
						return out, err
					}
					if msg, ok := deprecatedResources[schema.GroupResource{Group: res.Group, Resource: res.Resource}]; ok {
						out.Warnings = append(out.Warnings, res.GroupResource()+": "+msg)
					}
					if !res.Namespaced && !slices.Contains(out.ClusterScoped, res.GroupResource()) {
						out.ClusterScoped = append(out.ClusterScoped, res.GroupResource())
					}
					for _, v := range spec.Verbs {
						if !slices.Contains(res.Verbs, v) && !slices.Contains(specialVerbs, v) {
							out.Warnings = append(out.Warnings, fmt.Sprintf("%s does not support the verb %q (it supports %s)",
								res.GroupResource(), v, strings.Join(res.Verbs, ", ")))
						}
					}
				}
				rule, ok := byGroup[res.Group]
				if !ok {
					rule = &rbacv1.PolicyRule{APIGroups: []string{res.Group}, Verbs: slices.Clone(spec.Verbs),
						ResourceNames: slices.Clone(spec.ResourceNames)}
					byGroup[res.Group] = rule
					order = append(order, res.Group)
				}
				if !slices.Contains(rule.Resources, res.Resource) {
					rule.Resources = append(rule.Resources, res.Resource)
				}
			}
		}
		for _, g := range order {
			out.Rules = append(out.Rules, *byGroup[g])
		}
	}
	return out, nil
}
