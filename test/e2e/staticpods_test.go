//go:build e2e

package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type staticPodListJSON struct {
	Kind  string `json:"kind"`
	Items []struct {
		Namespace, Name, Node, Component, Image, Version, Phase, Hash string
		Ready                                                         bool
		Restarts                                                      int
	} `json:"items"`
}

type difference struct {
	Container, Kind, Name, Change, Manifest, Mirror string
}

type staticPodDiffJSON struct {
	Node      string `json:"node"`
	Manifests []struct {
		File, Pod, Status, Error string
		Differences              []difference
	} `json:"manifests"`
	Orphans []struct{ Pod, Component string } `json:"orphanMirrorPods"`
	Summary struct {
		InSync, Drift, NoMirrorPod, Invalid int
		Orphans                             int `json:"orphanMirrorPods"`
	} `json:"summary"`
}

// `staticpods list` shows the mirror pods the harness made from kubeadm's manifests, with the
// harness's config.hash (md5 of each manifest file).
//
// This tier has no kubelet: the hash, the Running phase and the Ready state checked here are the
// ones the harness wrote itself (harness.AddMirrorPods), so this proves only that the command
// reports what the mirror pods say. The real proof, against a real kubelet's config.hash and
// phase, is the node tier's testStaticPodsListRealNode (TestNode/StaticPodsListRealNode in
// test/e2e/node/staticpods_test.go).
func TestStaticPodsList(t *testing.T) {
	var list staticPodListJSON
	r := run(t, "kubectl", "clusterops", "staticpods", "list", "-o", "json", "--kubeconfig", env.cp.AdminKubeconfig)
	decodeInto(t, r, &list)
	if r.code != 0 || list.Kind != "StaticPodList" {
		t.Fatalf("exit %d kind %q", r.code, list.Kind)
	}
	var got []string
	for _, p := range list.Items {
		if p.Node != env.cp.NodeName {
			continue
		}
		got = append(got, p.Component)
		data, err := os.ReadFile(env.cp.ManifestPath(p.Component))
		if err != nil {
			t.Fatal(err)
		}
		if p.Hash != harness.MirrorHash(data) {
			t.Errorf("%s: hash %s, want the mirror pod's %s", p.Component, p.Hash, harness.MirrorHash(data))
		}
		if p.Phase != "Running" || !p.Ready || p.Namespace != "kube-system" || p.Name != p.Component+"-"+env.cp.NodeName {
			t.Errorf("%s: %+v", p.Component, p)
		}
		if strings.HasPrefix(p.Component, "kube-") && p.Version != harness.KubernetesVersion {
			t.Errorf("%s: version %q", p.Component, p.Version)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "etcd,kube-apiserver,kube-controller-manager,kube-scheduler" {
		t.Errorf("components %v", got)
	}
	table := run(t, "kubectl", "clusterops", "staticpods", "list", "--kubeconfig", env.cp.AdminKubeconfig)
	if table.code != 0 || !strings.Contains(table.stdout, "kube-controller-manager") || !strings.Contains(table.stdout, "RESTARTS") {
		t.Errorf("table:\n%s", table.stdout)
	}
	oneLineError(t, run(t, "kubectl", "clusterops", "staticpods", "list", "--node", "no-such-node", "--kubeconfig", env.cp.AdminKubeconfig),
		`node "no-such-node" not found`)
}

// copyManifests copies the node's manifests dir into a new root and returns that root.
func copyManifests(t *testing.T, cp *harness.ControlPlane) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Dir(cp.ManifestPath("etcd"))
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// `staticpods diff` against the harness's real kubeadm manifests: clean on a fresh node; then a
// flag edit is reported as exactly that flag, a deleted manifest as a mirror pod with no file, and
// extra files as a pod with no mirror pod and as invalid files.
func TestStaticPodsDiff(t *testing.T) {
	root := copyManifests(t, env.cp) // the node's own files stay untouched for the other tests
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	diff := func(extra ...string) (result, staticPodDiffJSON) {
		args := append([]string{"clusterops", "staticpods", "diff", "--root", root, "--node", env.cp.NodeName,
			"--kubeconfig", env.cp.AdminKubeconfig}, extra...)
		r := run(t, "kubectl", args...)
		var d staticPodDiffJSON
		if len(extra) > 0 {
			decodeInto(t, r, &d)
		}
		return r, d
	}
	r, clean := diff("-o", "json")
	if r.code != 0 || clean.Summary.InSync != 4 || len(clean.Manifests) != 4 {
		t.Fatalf("fresh node: exit %d, %+v", r.code, clean)
	}

	sched := filepath.Join(dir, "kube-scheduler.yaml")
	orig, _ := os.ReadFile(sched)
	edited := strings.Replace(string(orig), "- --leader-elect=true", "- --leader-elect=false", 1)
	if edited == string(orig) {
		t.Fatalf("no --leader-elect=true in kube-scheduler.yaml:\n%s", orig)
	}
	os.WriteFile(sched, []byte(edited), 0o600)
	os.Remove(filepath.Join(dir, "kube-controller-manager.yaml"))
	extra := strings.Replace(string(orig), "name: kube-scheduler\n", "name: extra-scheduler\n", 1)
	os.WriteFile(filepath.Join(dir, "extra-scheduler.yaml"), []byte(extra), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("renew the certs in May\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: [oops\n"), 0o600)
	os.WriteFile(filepath.Join(dir, ".kube-apiserver.yaml.swp"), []byte("hidden: the kubelet skips it"), 0o600)

	r, d := diff("-o", "json")
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (missing and invalid files)", r.code)
	}
	status := map[string]string{}
	for _, m := range d.Manifests {
		status[filepath.Base(m.File)] = m.Status
		if filepath.Base(m.File) == "kube-scheduler.yaml" {
			want := []difference{{Container: "kube-scheduler", Kind: "flag", Name: "--leader-elect", Change: "changed", Manifest: "false", Mirror: "true"}}
			if len(m.Differences) != 1 || m.Differences[0] != want[0] {
				t.Errorf("kube-scheduler.yaml differences %+v, want exactly %+v", m.Differences, want)
			}
		}
		if filepath.Base(m.File) == "broken.yaml" && !strings.Contains(m.Error, "not valid YAML") {
			t.Errorf("broken.yaml error %q", m.Error)
		}
	}
	want := map[string]string{"etcd.yaml": "InSync", "kube-apiserver.yaml": "InSync", "kube-scheduler.yaml": "Drift",
		"extra-scheduler.yaml": "NoMirrorPod", "notes.txt": "Invalid", "broken.yaml": "Invalid"}
	if len(status) != len(want) {
		t.Errorf("files %v, want %v", status, want)
	}
	for f, s := range want {
		if status[f] != s {
			t.Errorf("%s: %q, want %q", f, status[f], s)
		}
	}
	if len(d.Orphans) != 1 || d.Orphans[0].Pod != "kube-system/kube-controller-manager-"+env.cp.NodeName {
		t.Errorf("orphans %+v", d.Orphans)
	}
	text, _ := diff()
	if text.code != 2 || !strings.Contains(text.stdout, "--leader-elect") || !strings.Contains(text.stdout, "NoManifest") {
		t.Errorf("table:\n%s", text.stdout)
	}

	// Drift alone is exit 1.
	for _, f := range []string{"extra-scheduler.yaml", "notes.txt", "broken.yaml"} {
		os.Remove(filepath.Join(dir, f))
	}
	cm, _ := os.ReadFile(env.cp.ManifestPath("kube-controller-manager"))
	os.WriteFile(filepath.Join(dir, "kube-controller-manager.yaml"), cm, 0o600)
	if r, _ := diff("-o", "json"); r.code != 1 {
		t.Errorf("drift only: exit %d, want 1", r.code)
	}

	oneLineError(t, run(t, "kubectl", "clusterops", "staticpods", "diff", "--manifests-dir", filepath.Join(root, "nope"),
		"--node", env.cp.NodeName, "--kubeconfig", env.cp.AdminKubeconfig), "manifests directory not found")
	oneLineError(t, run(t, "kubectl", "clusterops", "staticpods", "diff", "--root", root, "--node", "no-such-node",
		"--kubeconfig", env.cp.AdminKubeconfig), `node "no-such-node" not found`)
}

// `staticpods inspect` shows the real kube-apiserver's flags with the expiry of the certificates
// kubeadm made, its hostPaths and its port.
func TestStaticPodsInspect(t *testing.T) {
	r := run(t, "kubectl", "clusterops", "staticpods", "inspect", "kube-apiserver", "--root", env.cp.Root, "-o", "json",
		"--kubeconfig", env.cp.AdminKubeconfig)
	var res struct {
		Source string
		Flags  []struct {
			Name, Value string
			Files       []struct {
				Path, Kind string
				NotAfter   *time.Time
			}
		}
		HostPaths []struct{ HostPath string }
		Ports     []struct{ Port int }
	}
	decodeInto(t, r, &res)
	if r.code != 0 || !strings.HasPrefix(res.Source, "mirror pod kube-system/kube-apiserver-") {
		t.Fatalf("exit %d source %q", r.code, res.Source)
	}
	data, err := os.ReadFile(filepath.Join(env.cp.PKI(), "apiserver.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range res.Flags {
		for _, file := range f.Files {
			found[f.Name+" "+file.Kind] = true
			if f.Name == "--tls-cert-file" && (file.NotAfter == nil || !file.NotAfter.Equal(cert.NotAfter)) {
				t.Errorf("--tls-cert-file expiry %v, want %v", file.NotAfter, cert.NotAfter)
			}
		}
	}
	for _, want := range []string{"--tls-cert-file certificate", "--tls-private-key-file key", "--etcd-certfile certificate", "--client-ca-file certificate"} {
		if !found[want] {
			t.Errorf("no %s among %v", want, found)
		}
	}
	hasPKI := false
	for _, h := range res.HostPaths {
		hasPKI = hasPKI || h.HostPath == "/etc/kubernetes/pki"
	}
	hasPort := false
	for _, p := range res.Ports {
		hasPort = hasPort || p.Port == env.cp.APIServerPort
	}
	if !hasPKI || !hasPort {
		t.Errorf("hostPaths %+v ports %+v (want /etc/kubernetes/pki and %d)", res.HostPaths, res.Ports, env.cp.APIServerPort)
	}
	oneLineError(t, run(t, "kubectl", "clusterops", "staticpods", "inspect", "kube-nothing", "--root", env.cp.Root,
		"--kubeconfig", env.cp.AdminKubeconfig), `no static pod "kube-nothing"`)
}
