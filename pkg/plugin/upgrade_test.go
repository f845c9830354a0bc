package plugin

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
)

func TestUpgradePlanValidate(t *testing.T) {
	for _, tc := range []struct {
		opts UpgradePlanOptions
		want string
	}{
		{UpgradePlanOptions{To: "v1.38", ChunkSize: 500}, "is not a version"},
		{UpgradePlanOptions{To: "v1.38.0-rc.1", ChunkSize: 500}, ""},
		{UpgradePlanOptions{ChunkSize: 0}, "--chunk-size"},
		{UpgradePlanOptions{KubectlVersion: "x", ChunkSize: 1}, "--kubectl-version"},
	} {
		err := tc.opts.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: err %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// --online merges the stable markers (read through the injected getter: no network here).
func TestUpgradePlanOnline(t *testing.T) {
	var asked []string
	o := &UpgradePlanOptions{releases: upgrade.BuiltinReleases(), fetch: func(_ context.Context, url string) ([]byte, bool, error) {
		asked = append(asked, url)
		switch {
		case strings.HasSuffix(url, "stable-1.37.txt"):
			return []byte("v1.37.5\n"), true, nil
		case strings.HasSuffix(url, "stable-1.38.txt"):
			return []byte("v1.38.2\n"), true, nil
		}
		return nil, false, nil
	}}
	if err := o.addOnline(context.Background(), &upgrade.Facts{APIServerVersion: "v1.37.2"}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 3 || !strings.HasPrefix(asked[0], "https://dl.k8s.io/release/stable-1.37.txt") {
		t.Errorf("asked %v", asked)
	}
	v := o.releases.Versions()
	if v[len(v)-1] != "v1.38.2" || !strings.Contains(o.releases.Source, "online") {
		t.Errorf("releases %v (%s)", v, o.releases.Source)
	}
}

func TestUpgradePlanPrinters(t *testing.T) {
	f := &upgrade.Facts{APIServerVersion: "v1.37.2", Kubeadm: &upgrade.KubeadmConfig{KubernetesVersion: "v1.37.2", ClusterName: "prod"},
		ControlPlane: []upgrade.ControlPlaneNode{{Node: "cp1", APIServer: "v1.37.2", ControllerManager: "v1.37.2", Scheduler: "v1.37.2"}},
		Nodes:        []upgrade.NodeFacts{{Name: "w1", Kubelet: "v1.33.0", KubeProxy: "v1.33.0"}},
		Pods:         []upgrade.PodFacts{{Namespace: "a", Name: "p", Node: "w1"}}}
	rel, _ := upgrade.ParseReleases([]byte("v1.37.2\nv1.38.1\n"), "t")
	p, err := upgrade.MakePlan(f, upgrade.Options{Releases: rel})
	if err != nil {
		t.Fatal(err)
	}
	var table, md bytes.Buffer
	o := newOutputFlags()
	if err := o.print(&table, "UpgradePlan", p, func(w io.Writer) error { return printPlanTable(w, p) }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SKEW POLICY VIOLATIONS", "kubelet-too-old", "Hop 1: v1.37.2 -> v1.38.1", "kubeadm upgrade apply v1.38.1", "a/p", "Status: violated (exit 2)", "\nNODE   PDB (0 DISRUPTIONS ALLOWED)   BARE PODS"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := printPlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Kubernetes upgrade: v1.37.2 -> v1.38.1", "- [ ] Fix skew violation `kubelet-too-old`", "## Hop 1", "- [ ] Clear the drain of `w1`"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
