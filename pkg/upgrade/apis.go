package upgrade

import (
	"sort"
	"strings"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// Sources of removed-API findings. The request metric and stored objects are different things:
// the metric says some client asked for the old version since the apiserver started (any
// object, maybe only a GET); a stored object says it was last written through the old version
// (by a manager, or by kubectl apply from a manifest that still says so). Neither is the other.
const (
	SourceMetric      = "apiserver-metric"
	SourceManaged     = "managedFields"
	SourceLastApplied = "last-applied-annotation"
	// A Helm release's finding has the Source "helm release NAME (NAMESPACE, revision N)"
	// (SourceHelmPrefix) and its HelmRelease set.
)

type apiKey struct{ group, version, resource string }

func removedIndex() map[apiKey]RemovedAPI {
	idx := map[apiKey]RemovedAPI{}
	for _, r := range removedAPIs() {
		idx[apiKey{r.Group, r.Version, r.Resource}] = r
	}
	return idx
}

// StoredScanTargets are the resources (group, version, resource) whose objects may carry an old
// API version in managedFields or the last-applied annotation: the replacement of every removed
// API that has one, deduplicated.
func StoredScanTargets() [][3]string {
	seen := map[[3]string]bool{}
	var out [][3]string
	for _, r := range removedAPIs() {
		if r.Replacement == "" || nonPersisted[r.Resource] {
			continue
		}
		g, v, ok := strings.Cut(r.Replacement, "/")
		if !ok {
			g, v = "", r.Replacement
		}
		k := [3]string{g, v, r.Resource}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// nonPersisted are review resources: nothing is stored, so there is nothing to scan.
var nonPersisted = map[string]bool{
	"tokenreviews": true, "subjectaccessreviews": true, "localsubjectaccessreviews": true,
	"selfsubjectaccessreviews": true, "selfsubjectreviews": true, "selfsubjectrulesreviews": true,
}

// KnownRemoved says whether the table has an entry for this old group/version of a resource.
func KnownRemoved(apiVersion, resource string) bool {
	g, v := splitAPIVersion(apiVersion)
	_, ok := removedIndex()[apiKey{g, v, resource}]
	return ok
}

func splitAPIVersion(apiVersion string) (group, version string) {
	g, v, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return "", apiVersion
	}
	return g, v
}

// removedAPIFindings matches the metric series and the stored objects against the table and the
// hops. A finding is kept when its API is removed by a hop, or is removed already.
func removedAPIFindings(f *Facts, cur *utilversion.Version, hops []Hop) []APIFinding {
	idx := removedIndex()
	hopFor := func(removedIn string) (string, bool) {
		rv, err := utilversion.ParseGeneric(removedIn)
		if err != nil {
			return "", false
		}
		if rv.Major() < cur.Major() || (rv.Major() == cur.Major() && rv.Minor() <= cur.Minor()) {
			return "removed", true
		}
		for _, h := range hops {
			if tv := parseVersion(h.To); tv != nil && tv.Major() == rv.Major() && tv.Minor() == rv.Minor() {
				return h.To, true
			}
		}
		return "", false
	}
	var out []APIFinding
	for _, r := range f.DeprecatedRequests {
		removedIn := r.RemovedRelease
		entry, known := idx[apiKey{r.Group, r.Version, r.Resource}]
		if removedIn == "" && known {
			removedIn = entry.RemovedIn
		}
		hop, ok := hopFor(removedIn)
		if !ok {
			continue
		}
		out = append(out, APIFinding{Source: SourceMetric, APIVersion: groupVersion(r.Group, r.Version), Resource: r.Resource,
			Subresource: r.Subresource, RemovedIn: removedIn, Hop: hop, Replacement: entry.Replacement, Note: entry.Note})
	}
	// found is the finding of an object written or rendered with apiVersion, if a hop removes it.
	found := func(apiVersion, resource string) (APIFinding, bool) {
		g, v := splitAPIVersion(apiVersion)
		entry, known := idx[apiKey{g, v, resource}]
		if !known {
			return APIFinding{}, false
		}
		hop, ok := hopFor(entry.RemovedIn)
		return APIFinding{APIVersion: apiVersion, Resource: resource, RemovedIn: entry.RemovedIn, Hop: hop,
			Replacement: entry.Replacement, Note: entry.Note}, ok
	}
	for _, o := range f.StoredObjects {
		a, ok := found(o.APIVersion, o.Resource)
		if !ok {
			continue
		}
		a.Object, a.Manager, a.Source = o.Name, o.Manager, SourceManaged
		if o.Namespace != "" {
			a.Object = o.Namespace + "/" + o.Name
		}
		if o.Source == SourceLastApplied {
			a.Source = SourceLastApplied
		}
		out = append(out, a)
	}
	for _, o := range f.HelmObjects {
		a, ok := found(o.APIVersion, o.Resource)
		if !ok {
			continue
		}
		a.Source, a.Object = helmSource(o), o.Name
		a.HelmRelease = &HelmReleaseRef{Name: o.Release, Namespace: o.Namespace, Revision: o.Revision}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.RemovedIn != b.RemovedIn {
			return versionLess(a.RemovedIn, b.RemovedIn)
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.APIVersion+a.Resource != b.APIVersion+b.Resource {
			return a.APIVersion+a.Resource < b.APIVersion+b.Resource
		}
		return a.Object < b.Object
	})
	return out
}

func versionLess(a, b string) bool {
	va, vb := parseVersion(a), parseVersion(b)
	if va == nil || vb == nil {
		return a < b
	}
	return va.LessThan(vb)
}
