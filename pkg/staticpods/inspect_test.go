package staticpods

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

func TestInspect(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}},
		mirrorOf(basePod(), "a"), mirrorOf(basePod(), "b"),
	)
	var amb *ErrAmbiguousNode
	if _, err := Inspect(ctx, client, InspectOptions{Component: "kube-scheduler", Root: t.TempDir()}, now); !errors.As(err, &amb) || len(amb.Nodes) != 2 {
		t.Errorf("two nodes without --node: %v", err)
	}
	res, err := Inspect(ctx, client, InspectOptions{Component: "kube-scheduler", Node: "b", Root: t.TempDir()}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "b" || res.Source != "mirror pod kube-system/kube-scheduler-b" || len(res.Flags) != 3 ||
		res.Flags[1].Name != "--kubeconfig" || len(res.Flags[1].Files) != 1 || res.Flags[1].Files[0].Kind != certs.FileMissing {
		t.Errorf("result %+v", res)
	}
	if len(res.HostPaths) != 1 || res.HostPaths[0].MountPath != "/etc/kubernetes/scheduler.conf" || !res.HostPaths[0].ReadOnly {
		t.Errorf("hostPaths %+v", res.HostPaths)
	}
	if len(res.Ports) != 1 || res.Ports[0].Port != 10259 || !strings.Contains(res.Ports[0].Source, "livenessProbe") {
		t.Errorf("ports %+v", res.Ports)
	}

	// No mirror pod: the manifest under the root.
	root := t.TempDir()
	dir := filepath.Join(root, ManifestsDir)
	os.MkdirAll(dir, 0o755)
	etcd := basePod()
	etcd.Name, etcd.Labels = "etcd", nil
	writePod(t, dir, "etcd.yaml", etcd)
	res, err = Inspect(ctx, client, InspectOptions{Component: "etcd", Root: root}, now)
	if err != nil || res.Source != "manifest /etc/kubernetes/manifests/etcd.yaml" {
		t.Errorf("fallback: %+v, %v", res, err)
	}
	var nf *ErrComponentNotFound
	if _, err := Inspect(ctx, client, InspectOptions{Component: "kube-nothing", Root: root}, now); !errors.As(err, &nf) ||
		!strings.Contains(err.Error(), "static pods found: kube-scheduler") {
		t.Errorf("unknown component: %v", err)
	}
}

// Through an agent: the manifests the agent read and its file infos, nothing read locally.
func TestInspectAgentInputs(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, mirrorOf(basePod(), "a"))
	read := func(p string) certs.FileInfo { return certs.FileInfo{Path: p, Kind: certs.FileKubeconfig} }
	res, err := Inspect(ctx, client, InspectOptions{Component: "kube-scheduler", Node: "a", Root: "/", Manifests: []ManifestFile{}, ReadFile: read}, now)
	if err != nil || len(res.Flags[1].Files) != 1 || res.Flags[1].Files[0].Kind != certs.FileKubeconfig {
		t.Fatalf("mirror pod, agent files: %+v, %v", res, err)
	}
	if got := ReferencedFiles(basePod(), "kube-scheduler"); len(got) != 1 || got[0] != res.Flags[1].Value {
		t.Errorf("ReferencedFiles %v", got)
	}
	// No mirror pod: the agent's manifests, the path as on the node.
	etcd := basePod()
	etcd.Name, etcd.Labels = "etcd", nil
	res, err = Inspect(ctx, client, InspectOptions{Component: "etcd", Node: "a", Root: "/",
		Manifests: []ManifestFile{{Path: ManifestsDir + "/etcd.yaml", Pod: etcd}}, ReadFile: read}, now)
	if err != nil || res.Source != "manifest /etc/kubernetes/manifests/etcd.yaml" || res.Flags[1].Files[0].Kind != certs.FileKubeconfig {
		t.Errorf("fallback through the agent: %+v, %v", res, err)
	}
	var nf *ErrComponentNotFound
	if _, err := Inspect(ctx, client, InspectOptions{Component: "etcd", Node: "a", Root: "/", Manifests: []ManifestFile{}, ReadFile: read}, now); !errors.As(err, &nf) {
		t.Errorf("no manifest from the agent: %v", err)
	}
}
