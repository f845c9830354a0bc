package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"

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
		Pods:         []upgrade.PodFacts{{Namespace: "a", Name: "p", Node: "w1"}},
		HelmObjects:  []upgrade.HelmObject{{Release: "web", Namespace: "shop", Revision: 2, APIVersion: "batch/v1beta1", Kind: "CronJob", Resource: "cronjobs", Name: "nightly"}},
		StoredObjects: []upgrade.StoredObject{{Group: "coordination.k8s.io", Resource: "leasecandidates", Namespace: "kube-system", Name: "apiserver-x",
			APIVersion: "coordination.k8s.io/v1alpha2", Source: upgrade.SourceManaged, Manager: "kube-apiserver"}}}
	rel, _ := upgrade.ParseReleases([]byte("v1.37.2\nv1.38.1\n"), "t")
	p, err := upgrade.MakePlan(f, upgrade.Options{Releases: rel})
	if err != nil {
		t.Fatal(err)
	}
	var table, md bytes.Buffer
	printer, err := cmdutil.NewOutputFlags().ToPrinter()
	if err != nil {
		t.Fatal(err)
	}
	if err := printer.Print(&table, "UpgradePlan", p, func(w io.Writer) error { return printPlanTable(w, p) }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SKEW POLICY VIOLATIONS", "kubelet-too-old", "Hop 1: v1.37.2 -> v1.38.1", "kubeadm upgrade apply v1.38.1", "a/p", "Status: violated (exit 2)", "\nNODE   PDB (0 DISRUPTIONS ALLOWED)   BARE PODS",
		"helm release web (shop, revision 2)   batch/v1beta1", "none: coordination.k8s.io/v1beta1 serves it until 1.39"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := printPlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Kubernetes upgrade: v1.37.2 -> v1.38.1", "- [ ] Fix skew violation `kubelet-too-old`", "## Hop 1", "- [ ] Clear the drain of `w1`",
		"(removed in 1.25, source: helm release web (shop, revision 2)) to `batch/v1`"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdUpgrade}, args...)
}

func TestUpgradeHelp(t *testing.T) {
	cmdtest.Isolate(t)
	for args, wants := range map[string][]string{
		"upgrade --help":      {"plan ", "upgrade plan -o markdown"},
		"upgrade plan --help": {"Exit codes:", "2  the version-skew policy", "--to", "--releases", "--chunk-size", "markdown (a runbook checklist)"},
	} {
		out, _, err := run(t, strings.Fields(args)...)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// Bad input is exit 3 and one line, before any cluster contact (nothing listens at --server).
func TestUpgradePlanUsageErrors(t *testing.T) {
	dir := cmdtest.Isolate(t)
	server := cmdtest.ClosedPortURL(t)
	badReleases := filepath.Join(dir, "releases.txt")
	if err := os.WriteFile(badReleases, []byte("v1.37.2\nlatest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "next"}, `--to "next" is not a version: write it as vMAJOR.MINOR.PATCH`},
		{[]string{"--to", "v1.38"}, "is not a version"},
		{[]string{"--chunk-size", "0"}, "--chunk-size must be a positive number, got 0"},
		{[]string{"--kubectl-version", "x"}, `--kubectl-version "x" is not a version such as v1.37.2`},
		{[]string{"extra"}, "extra"},
		{[]string{"-o", "wide"}, "(or markdown, for a runbook checklist)"},
		{[]string{"--releases", filepath.Join(dir, "missing.txt")}, "cannot read --releases"},
		{[]string{"--releases", badReleases}, `line 2: "latest" is not a version such as v1.37.2`},
	} {
		args := append([]string{"upgrade", "plan", "--server", server}, tc.args...)
		out, _, err := run(t, args...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Errorf("%v: exit %d, %v, stdout %q; want exit 3 and %q", tc.args, cmdutil.ExitCode(err), err, out, tc.want)
		}
		if strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("%v: the cluster was contacted: %v", tc.args, err)
		}
	}
	// An empty kubeconfig and no --server: still exit 3 and one line.
	_, _, err := run(t, "upgrade", "plan", "--to", "next")
	cmdtest.AssertOneLine(t, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
		t.Errorf("empty kubeconfig: exit %d, %v", cmdutil.ExitCode(err), err)
	}
}

// fakeAPIServer answers GET /version with v1.37.2 and everything else with 404 NotFound, the
// way an apiserver answers for what it does not serve.
func fakeAPIServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/version" {
			_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
			"reason": "NotFound", "code": 404, "message": "the server could not find the requested resource"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The whole lifecycle through the Factory: clients from --server, a plan from what could be read.
func TestUpgradePlanRun(t *testing.T) {
	dir := cmdtest.Isolate(t)
	srv := fakeAPIServer(t)
	releases := filepath.Join(dir, "releases.txt")
	if err := os.WriteFile(releases, []byte("v1.37.2\nv1.38.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "upgrade", "plan", "--server", srv.URL, "--releases", releases, "--kubectl-version", "v1.37.2", "-o", "json")
	if cmdutil.ExitCode(err) != cmdutil.ExitWarnings {
		t.Fatalf("exit %d (%v), want 1: facts could not be read", cmdutil.ExitCode(err), err)
	}
	var p struct {
		Kind           string `json:"kind"`
		ClusterVersion string `json:"clusterVersion"`
		Target         string `json:"target"`
		MissingFacts   []struct {
			Fact string `json:"fact"`
		} `json:"missingFacts"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if p.Kind != "UpgradePlan" || p.ClusterVersion != "v1.37.2" || p.Target != "v1.38.1" || len(p.MissingFacts) == 0 {
		t.Errorf("plan = %+v", p)
	}
}

// A cancelled context stops the plan, even while the apiserver holds the /version request and
// no --request-timeout bounds it.
func TestUpgradePlanCancel(t *testing.T) {
	dir := cmdtest.Isolate(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	flags := genericclioptions.NewConfigFlags(false)
	*flags.APIServer = srv.URL
	*flags.KubeConfig = filepath.Join(dir, "kubeconfig")
	o := &UpgradePlanOptions{output: cmdutil.NewOutputFlags(), ChunkSize: 500, KubectlVersion: "v1.37.2",
		IOStreams: genericiooptions.NewTestIOStreamsDiscard(), fetch: httpFetch}
	if err := o.Complete(cmdutil.NewFactory(flags), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.timeout != 2*time.Minute {
		t.Errorf("timeout without --request-timeout = %v, want 2m", o.timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	select {
	case err := <-done:
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
			t.Errorf("exit %d, %v", cmdutil.ExitCode(err), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
}
