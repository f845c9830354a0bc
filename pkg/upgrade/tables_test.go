package upgrade

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"
)

// Every row of the removed-API table names its origin and the place it cites; a row whose kind
// k8s.io/api v0.37.2 still tags with a removal release agrees with that release, whatever its
// origin (the apiserver stops serving at that release); and a row that says it follows the
// lifecycle data is found there.
func TestRemovedAPITableSources(t *testing.T) {
	type removedIn interface{ APILifecycleRemoved() (int, int) }
	lifecycle := map[apiKey]string{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			continue
		}
		if r, ok := obj.(removedIn); ok {
			major, minor := r.APILifecycleRemoved()
			plural, _ := meta.UnsafeGuessKindToResource(gvk)
			lifecycle[apiKey{gvk.Group, gvk.Version, plural.Resource}] = fmt.Sprintf("%d.%d", major, minor)
		}
	}
	if lifecycle[apiKey{"apps", "v1beta1", "controllerrevisions"}] != "1.16" || lifecycle[apiKey{"batch", "v1beta1", "cronjobs"}] != "1.25" || len(lifecycle) < 50 {
		t.Fatalf("the lifecycle data was not read: %d kinds", len(lifecycle))
	}
	seen := map[apiKey]bool{}
	for _, r := range removedAPIs() {
		k := apiKey{r.Group, r.Version, r.Resource}
		name := r.GroupVersion() + " " + r.Resource
		if seen[k] {
			t.Errorf("%s: two rows", name)
		}
		seen[k] = true
		switch r.Origin {
		case OriginGuide, OriginLifecycle, OriginAPIHistory, OriginPluto:
		default:
			t.Errorf("%s: origin %q", name, r.Origin)
		}
		if r.Cite == "" {
			t.Errorf("%s: no citation", name)
		}
		got, tagged := lifecycle[k]
		if tagged && got != r.RemovedIn {
			t.Errorf("%s: removed in %s, but k8s.io/api says %s (%s)", name, r.RemovedIn, got, r.Cite)
		}
		if r.Origin == OriginLifecycle && !tagged {
			t.Errorf("%s: says it follows the lifecycle data, which has no removal for it", name)
		}
	}
	// The rows the issue found missing are there.
	for _, k := range []apiKey{{"admissionregistration.k8s.io", "v1alpha1", "validatingadmissionpolicies"}, {"authentication.k8s.io", "v1alpha1", "selfsubjectreviews"},
		{"resource.k8s.io", "v1alpha3", "resourceclaims"}, {"storagemigration.k8s.io", "v1alpha1", "storageversionmigrations"},
		{"rbac.authorization.k8s.io", "v1alpha1", "roles"}, {"scheduling.k8s.io", "v1alpha1", "priorityclasses"},
		{"authorization.k8s.io", "v1beta1", "selfsubjectrulesreviews"}, {"apps", "v1beta1", "controllerrevisions"}, {"apps", "v1beta2", "controllerrevisions"}} {
		if !seen[k] {
			t.Errorf("no row for %v", k)
		}
	}
}
