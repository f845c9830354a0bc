package staticpods

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

func mirrorOf(p *corev1.Pod, node string) *corev1.Pod {
	m := defaulted(p)
	m.Name = p.Name + "-" + node
	m.Spec.NodeName = node
	m.Annotations = map[string]string{AnnotationMirror: "h1", AnnotationHash: "h1", AnnotationSource: "file"}
	return m
}

func writePod(t *testing.T, dir, file string, p *corev1.Pod) {
	t.Helper()
	p = p.DeepCopy()
	p.APIVersion, p.Kind = "v1", "Pod"
	data, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	sched := basePod()
	sched.Spec.Containers[0].Command[3] = "--leader-elect=false"
	writePod(t, dir, "kube-scheduler.yaml", sched)
	etcd := basePod()
	etcd.Name = "etcd"
	writePod(t, dir, "etcd.yaml", etcd) // no mirror pod
	writePod(t, dir, ".hidden.yaml", etcd)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("remember to renew certs\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: Pod\napiVersion: v1\nmetadata: [\n"), 0o600)
	os.Mkdir(filepath.Join(dir, "backup"), 0o755)

	apiserver := basePod()
	apiserver.Name = "kube-apiserver"
	other := mirrorOf(basePod(), "node-b") // another node's pod: not ours
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		mirrorOf(basePod(), "node-a"), mirrorOf(apiserver, "node-a"), other,
	)
	res, err := Diff(context.Background(), client, DiffOptions{Node: "node-a", Dir: dir, DisplayDir: "/etc/kubernetes/manifests"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range res.Manifests {
		got[m.File] = m.Status
	}
	want := map[string]string{
		"/etc/kubernetes/manifests/broken.yaml":         Invalid,
		"/etc/kubernetes/manifests/etcd.yaml":           NoMirrorPod,
		"/etc/kubernetes/manifests/kube-scheduler.yaml": Drift,
		"/etc/kubernetes/manifests/notes.txt":           Invalid,
	}
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", got, want)
	}
	for f, s := range want {
		if got[f] != s {
			t.Errorf("%s: %q, want %q", f, got[f], s)
		}
	}
	for _, m := range res.Manifests {
		if m.Status == Drift && (len(m.Differences) != 1 || m.Differences[0].Name != "--leader-elect") {
			t.Errorf("drift of %s: %+v", m.File, m.Differences)
		}
		if strings.HasSuffix(m.File, "broken.yaml") && !strings.Contains(m.Error, "not valid YAML") {
			t.Errorf("broken.yaml: %q", m.Error)
		}
	}
	if len(res.Orphans) != 1 || res.Orphans[0].Pod != "kube-system/kube-apiserver-node-a" {
		t.Errorf("orphans %+v", res.Orphans)
	}
	if res.Clean() || res.Summary != (DiffSummary{Drift: 1, NoMirrorPod: 1, Invalid: 2, Orphans: 1}) {
		t.Errorf("summary %+v", res.Summary)
	}

	if _, err := Diff(context.Background(), client, DiffOptions{Node: "nope", Dir: dir}); err == nil || !strings.Contains(err.Error(), `node "nope" not found`) {
		t.Errorf("unknown node: %v", err)
	}
	if _, err := Diff(context.Background(), client, DiffOptions{Node: "node-a", Dir: filepath.Join(dir, "missing")}); !errors.Is(err, ErrNoManifestsDir) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestParseManifestErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":     "empty file",
		"a: [": "not valid YAML",
		"apiVersion: apps/v1\nkind: Deployment\n":                      "not a pod manifest",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n":   "spec.containers is empty",
		"apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}\n": "metadata.name is empty",
	} {
		_, err := ParseManifest([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", in, err, want)
		}
	}
}

func TestReferencesFile(t *testing.T) {
	for flag, value := range map[string]bool{"--tls-cert-file=/a/b.crt": true, "--kubeconfig=/etc/kubernetes/x.conf": true,
		"--client-ca-file=/x/ca": true, "--bind-address=127.0.0.1": false, "--authorization-mode=Node,RBAC": false} {
		name, v, _ := strings.Cut(flag, "=")
		if referencesFile(name, v) != value {
			t.Errorf("referencesFile(%s) != %v", flag, value)
		}
	}
}
