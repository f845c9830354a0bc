package upgrade

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func table(t *testing.T, versions ...string) *Releases {
	t.Helper()
	r, err := ParseReleases([]byte(strings.Join(versions, "\n")), "test table")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var testReleases = []string{"v1.34.5", "v1.35.3", "v1.36.2", "v1.37.1", "v1.37.4", "v1.38.2", "v1.39.0", "v1.40.1"}

func hopsOf(p *Plan) []string {
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.From+"->"+h.To)
	}
	return out
}

func stepNodes(h Hop, kind string) []string {
	var out []string
	for _, s := range h.Steps {
		if s.Kind == kind {
			out = append(out, s.Nodes...)
		}
	}
	return out
}

func TestPlanPaths(t *testing.T) {
	tests := []struct {
		name   string
		facts  *Facts
		target string
		hops   []string
		status string
	}{
		{name: "default: newest patch of the next minor", facts: cluster([]string{"v1.37.2"}),
			hops: []string{"v1.37.2->v1.38.2"}, status: StatusClean},
		{name: "patch upgrade", facts: cluster([]string{"v1.37.2"}), target: "v1.37.4",
			hops: []string{"v1.37.2->v1.37.4"}, status: StatusClean},
		{name: "path over three minors goes one minor at a time", facts: cluster([]string{"v1.37.2"}), target: "v1.40.1",
			hops: []string{"v1.37.2->v1.38.2", "v1.38.2->v1.39.0", "v1.39.0->v1.40.1"}, status: StatusClean},
		{name: "same version: nothing to do", facts: cluster([]string{"v1.37.2"}), target: "v1.37.2", status: StatusClean},
		{name: "pre-release target beyond the table", facts: cluster([]string{"v1.40.1"}), target: "v1.41.0-rc.1",
			hops: []string{"v1.40.1->v1.41.0-rc.1"}, status: StatusWarnings},
		{name: "pre-release cluster", facts: cluster([]string{"v1.38.0-rc.1"}), target: "v1.38.2",
			hops: []string{"v1.38.0-rc.1->v1.38.2"}, status: StatusClean},
		{name: "mixed HA starts from the oldest apiserver", facts: cluster([]string{"v1.36.2", "v1.37.1"}), target: "v1.38.2",
			hops: []string{"v1.36.2->v1.37.4", "v1.37.4->v1.38.2"}, status: StatusViolated},
		{name: "a violation makes the status violated", facts: cluster([]string{"v1.37.2"}, "w1=v1.38.0"), target: "v1.37.4",
			hops: []string{"v1.37.2->v1.37.4"}, status: StatusViolated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := MakePlan(tt.facts, Options{Target: tt.target, Releases: table(t, testReleases...)})
			if err != nil {
				t.Fatal(err)
			}
			if got := hopsOf(p); !slices.Equal(got, tt.hops) {
				t.Errorf("hops = %v, want %v", got, tt.hops)
			}
			if p.Status != tt.status {
				t.Errorf("status = %s, want %s (violations %+v, warnings %+v)", p.Status, tt.status, p.Violations, p.Warnings)
			}
		})
	}
}

func TestPlanStepsAndWorkers(t *testing.T) {
	f := cluster([]string{"v1.37.2"}, "old=v1.34.1", "mid=v1.36.0", "new=v1.37.2")
	f.ControlPlane = append(f.ControlPlane, ControlPlaneNode{Node: "cp2", APIServer: "v1.37.2", ControllerManager: "v1.37.2", Scheduler: "v1.37.2"})
	p, err := MakePlan(f, Options{Target: "v1.39.0", Releases: table(t, testReleases...)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hops) != 2 {
		t.Fatalf("hops = %v", hopsOf(p))
	}
	h1, h2 := p.Hops[0], p.Hops[1]
	if h1.Steps[0].Kind != "snapshot" || !strings.Contains(h1.Steps[0].Commands[0], "clusterops etcd snapshot save") {
		t.Errorf("the first step must be an etcd snapshot: %+v", h1.Steps[0])
	}
	// v1.34 kubelet is 4 behind v1.38: it must move before the first hop.
	if got := stepNodes(h1, "workers-first"); !slices.Equal(got, []string{"old"}) {
		t.Errorf("hop 1 workers-first = %v, want [old]", got)
	}
	cps := stepNodes(h1, "control-plane")
	if !slices.Equal(cps, []string{"cp1", "cp2"}) {
		t.Errorf("control-plane nodes = %v", cps)
	}
	var cpSteps []Step
	for _, s := range h1.Steps {
		if s.Kind == "control-plane" {
			cpSteps = append(cpSteps, s)
		}
	}
	if !slices.Contains(cpSteps[0].Commands, "kubeadm upgrade apply v1.38.2") || !slices.Contains(cpSteps[1].Commands, "kubeadm upgrade node") {
		t.Errorf("kubeadm commands: first %v, second %v", cpSteps[0].Commands, cpSteps[1].Commands)
	}
	// Before v1.39, kubelets must be >= 1.36: old (moved to 1.37) and mid (1.36) are fine.
	if got := stepNodes(h1, "workers"); len(got) != 0 {
		t.Errorf("hop 1 workers = %v, want none", got)
	}
	if got := stepNodes(h2, "workers"); !slices.Equal(got, []string{"mid", "new", "old"}) {
		t.Errorf("last hop workers = %v, want all three", got)
	}
	if h1.Addons.Etcd != "" || p.Notes == nil || !strings.Contains(strings.Join(p.Notes, " "), "not in the built-in table") {
		t.Errorf("unknown addon versions for 1.38 must be said: %+v %v", h1.Addons, p.Notes)
	}
}

func TestPlanWorkersBetweenHops(t *testing.T) {
	f := cluster([]string{"v1.37.2"}, "w35=v1.35.0")
	p, err := MakePlan(f, Options{Target: "v1.40.1", Releases: table(t, testReleases...)})
	if err != nil {
		t.Fatal(err)
	}
	// After the control plane reaches 1.38, the next hop (1.39) needs kubelets >= 1.36.
	if got := stepNodes(p.Hops[0], "workers"); !slices.Equal(got, []string{"w35"}) {
		t.Errorf("hop 1 workers = %v, want [w35]", got)
	}
	if got := stepNodes(p.Hops[1], "workers"); len(got) != 0 {
		t.Errorf("hop 2 workers = %v, want none", got)
	}
}

func TestPlanAddonsAndKubeadm(t *testing.T) {
	f := cluster([]string{"v1.36.2"})
	p, err := MakePlan(f, Options{Target: "v1.37.4", Releases: table(t, testReleases...)})
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Hops[0].Addons; a.Etcd != "3.7.0-0" || a.CoreDNS != "v1.14.6" {
		t.Errorf("addons for 1.37 = %+v", a)
	}
	f.Kubeadm = nil
	p, err = MakePlan(f, Options{Target: "v1.37.4", Releases: table(t, testReleases...)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Hops[0].Steps {
		for _, c := range s.Commands {
			if strings.Contains(c, "kubeadm") {
				t.Errorf("non-kubeadm cluster got a kubeadm command: %q", c)
			}
		}
	}
	if !strings.Contains(strings.Join(p.Notes, " "), "not managed by kubeadm") {
		t.Errorf("the plan must say the cluster is not kubeadm's: %v", p.Notes)
	}
}

func TestPlanBadInput(t *testing.T) {
	tests := []struct{ name, target, want string }{
		{"malformed", "1.38", "is not a version"},
		{"malformed word", "latest", "is not a version"},
		{"older than the cluster", "v1.36.2", "older than the cluster"},
		{"older patch", "v1.37.1", "older than the cluster"},
		{"beyond the table", "v1.41.0", "newer than the newest release"},
		{"unknown patch", "v1.38.9", "not a release the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MakePlan(cluster([]string{"v1.37.2"}), Options{Target: tt.target, Releases: table(t, testReleases...), RefreshHint: "refresh it"})
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want an InputError containing %q", err, tt.want)
			}
			if strings.Contains(tt.want, "newest") && !strings.HasSuffix(err.Error(), "refresh it") {
				t.Errorf("the error must say how to refresh the table: %v", err)
			}
		})
	}
	_, err := MakePlan(cluster([]string{"v1.37.2"}), Options{Target: "v1.40.1", Releases: table(t, "v1.37.2", "v1.38.1", "v1.40.1")})
	if err == nil || !strings.Contains(err.Error(), "no 1.39 release") {
		t.Errorf("a gap in the table: err = %v", err)
	}
	_, err = MakePlan(&Facts{}, Options{Releases: table(t, testReleases...)})
	if err == nil {
		t.Error("no version at all must be an error")
	}
	p, err := MakePlan(cluster([]string{"v1.37.2"}), Options{Target: "v2.0.0-alpha.1", Releases: table(t, testReleases...)})
	if err != nil || p.Status != StatusViolated || p.Violations[len(p.Violations)-1].Rule != "target-unreachable" {
		t.Errorf("a new major is unreachable: %v %+v", err, p)
	}
}

func TestRemovedAPIs(t *testing.T) {
	f := cluster([]string{"v1.37.2"})
	f.DeprecatedRequests = []DeprecatedRequest{
		{Group: "resource.k8s.io", Version: "v1beta1", Resource: "deviceclasses", RemovedRelease: "1.38"},
		{Group: "resource.k8s.io", Version: "v1beta2", Resource: "resourceclaims", RemovedRelease: "1.39"}, // after the target
	}
	f.StoredObjects = []StoredObject{
		{Group: "networking.k8s.io", Resource: "ingresses", Namespace: "shop", Name: "web", APIVersion: "extensions/v1beta1", Source: SourceLastApplied},
		{Group: "resource.k8s.io", Resource: "deviceclasses", Name: "gpu", APIVersion: "resource.k8s.io/v1beta1", Source: SourceManaged, Manager: "kubectl-client-side-apply"},
		{Group: "apps", Resource: "deployments", Namespace: "a", Name: "b", APIVersion: "apps/v1", Source: SourceManaged},
	}
	p, err := MakePlan(f, Options{Target: "v1.38.2", Releases: table(t, testReleases...)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.RemovedAPIs {
		got = append(got, a.Source+" "+a.APIVersion+" "+a.Resource+" "+a.Object+" "+a.Hop)
	}
	want := []string{
		"last-applied-annotation extensions/v1beta1 ingresses shop/web removed",
		"apiserver-metric resource.k8s.io/v1beta1 deviceclasses  v1.38.2",
		"managedFields resource.k8s.io/v1beta1 deviceclasses gpu v1.38.2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("removed APIs =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Status != StatusWarnings {
		t.Errorf("status = %s, want warnings", p.Status)
	}
}

func TestParseDeprecatedMetric(t *testing.T) {
	body := []byte(`# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been requested, broken out by API group, version, resource, subresource, and removed_release.
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="resource.k8s.io",removed_release="1.38",resource="deviceclasses",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="",removed_release="",resource="componentstatuses",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="x",removed_release="1.40",resource="y",subresource="status",version="v1"} 0
apiserver_request_total{code="200"} 5
`)
	got := ParseDeprecatedMetric(body)
	want := []DeprecatedRequest{
		{Group: "resource.k8s.io", Version: "v1beta1", Resource: "deviceclasses", RemovedRelease: "1.38"},
		{Group: "", Version: "v1", Resource: "componentstatuses"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestReleasesAndHelpers(t *testing.T) {
	if _, err := ParseReleases([]byte("v1.37.2\nv1.38.0-rc.1\n"), "f"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("pre-release in a table: %v", err)
	}
	if _, err := ParseReleases([]byte("# nothing\n"), "f"); err == nil {
		t.Error("empty table accepted")
	}
	r := table(t, "1.37.2", "v1.37.2", "v1.36.9 # comment")
	if got := r.Versions(); !slices.Equal(got, []string{"v1.36.9", "v1.37.2"}) {
		t.Errorf("versions = %v", got)
	}
	b := BuiltinReleases()
	if !b.Contains(parseVersion("v1.37.2")) || !strings.HasPrefix(b.Source, "built-in table") {
		t.Errorf("built-in table = %v (%s)", b.Versions(), b.Source)
	}
	for in, want := range map[string]string{
		"registry.k8s.io/kube-apiserver:v1.37.2": "v1.37.2", "localhost:5000/etcd:3.7.0-0": "3.7.0-0",
		"localhost:5000/etcd": "", "coredns/coredns:v1.14.6@sha256:abc": "v1.14.6",
	} {
		if got := imageTag(in); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tgt := range StoredScanTargets() {
		if tgt[2] == "tokenreviews" {
			t.Error("review resources are not stored")
		}
	}
}

// A kubelet below 1.25 may be only 2 minors behind: v1.24 must move before the control plane
// goes to v1.27, while v1.25 (2 behind) and any kubelet 3 behind from 1.25 on may stay.
func TestPlanKubeletBelow125MovesFirst(t *testing.T) {
	f := cluster([]string{"v1.26.3"}, "w124=v1.24.9", "w125=v1.25.0")
	p, err := MakePlan(f, Options{Releases: table(t, "v1.26.3", "v1.27.5")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hops) != 1 || len(p.Violations) != 0 {
		t.Fatalf("hops %+v violations %+v", p.Hops, p.Violations)
	}
	if got := stepNodes(p.Hops[0], "workers-first"); !slices.Equal(got, []string{"w124"}) {
		t.Errorf("workers-first = %v, want [w124] (v1.24 would be 3 behind v1.27; below 1.25 only 2 are allowed)", got)
	}
}
