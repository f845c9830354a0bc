//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// The scheduled-snapshot CronJob: rendered from the node's manifest, accepted by the real API
// server (kubectl apply --dry-run=server), created and then updated with --apply.
func TestEtcdSnapshotSchedule(t *testing.T) {
	cp := env.cp
	r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "schedule", "--root", cp.Root, "--keep", "5", "--schedule", "*/30 * * * *")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &cj); err != nil {
		t.Fatalf("not a CronJob: %v\n%s", err, r.stdout)
	}
	pod, err := harness.ReadManifest(cp.ManifestPath("etcd"))
	if err != nil {
		t.Fatal(err)
	}
	spec := cj.Spec.JobTemplate.Spec.Template.Spec
	switch {
	case cj.Namespace != "kube-system" || cj.Spec.Schedule != "*/30 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent:
		t.Errorf("cronjob %s/%s schedule %q policy %q", cj.Namespace, cj.Name, cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
	case !spec.HostNetwork || len(spec.InitContainers) != 1 || len(spec.Containers) != 1:
		t.Errorf("pod spec: hostNetwork %v, %d init containers, %d containers", spec.HostNetwork, len(spec.InitContainers), len(spec.Containers))
	case spec.InitContainers[0].Image != pod.Spec.Containers[0].Image:
		t.Errorf("snapshot image %q, the manifest's etcd image is %q", spec.InitContainers[0].Image, pod.Spec.Containers[0].Image)
	case spec.NodeSelector["node-role.kubernetes.io/control-plane"] != "" || len(spec.Tolerations) == 0:
		t.Errorf("nodeSelector %v tolerations %v", spec.NodeSelector, spec.Tolerations)
	case !strings.Contains(strings.Join(spec.InitContainers[0].Command, " "), "--endpoints="+cp.Etcd[0].ClientURL):
		t.Errorf("etcdctl command %v does not use the manifest's endpoint %s", spec.InitContainers[0].Command, cp.Etcd[0].ClientURL)
	case !strings.Contains(spec.Containers[0].Command[2], "tail -n +6"):
		t.Errorf("prune command %v does not keep 5", spec.Containers[0].Command)
	}
	if _, ok := spec.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok {
		t.Errorf("no control-plane nodeSelector: %v", spec.NodeSelector)
	}
	file := filepath.Join(t.TempDir(), "cronjob.yaml")
	os.WriteFile(file, []byte(r.stdout), 0o600)
	if a := run(t, "kubectl", "apply", "--dry-run=server", "-f", file, "--kubeconfig", cp.AdminKubeconfig); a.code != 0 {
		t.Fatalf("the API server rejects the rendered CronJob: %s", a.stderr)
	}

	a := run(t, "kubectl", "clusterops", "etcd", "snapshot", "schedule", "--root", cp.Root, "--apply", "--kubeconfig", cp.AdminKubeconfig)
	if a.code != 0 || !strings.Contains(a.stdout, "created") {
		t.Fatalf("--apply: exit %d %s%s", a.code, a.stdout, a.stderr)
	}
	t.Cleanup(func() {
		cp.Client.BatchV1().CronJobs("kube-system").Delete(context.Background(), "etcd-snapshot", metav1.DeleteOptions{})
	})
	a = run(t, "kubectl", "clusterops", "etcd", "snapshot", "schedule", "--root", cp.Root, "--apply", "--schedule", "0 3 * * *", "--kubeconfig", cp.AdminKubeconfig)
	if a.code != 0 || !strings.Contains(a.stdout, "configured") {
		t.Fatalf("second --apply: exit %d %s%s", a.code, a.stdout, a.stderr)
	}
	got, err := cp.Client.BatchV1().CronJobs("kube-system").Get(context.Background(), "etcd-snapshot", metav1.GetOptions{})
	if err != nil || got.Spec.Schedule != "0 3 * * *" {
		t.Errorf("cronjob after --apply: %v %+v", err, got)
	}
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "schedule", "--root", cp.Root, "--schedule", "hourly"), 3, "--schedule")
}

// A full disk: a 256 KiB tmpfs in a private mount namespace (the host sees nothing of it).
func TestEtcdSnapshotDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "full")
	os.MkdirAll(dir, 0o755)
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("unshare -m is not permitted here (%v): cannot simulate a full disk", err)
	}
	script := `mount -t tmpfs -o size=256k tmpfs "$1" || exit 99
"$2" etcd snapshot save "$1/snap.db" --root "$3"; rc=$?
echo "left:$(ls -A "$1")"; exit $rc`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, "sh", dir, filepath.Join(env.pluginDir, "kubectl-clusterops"), env.cp.Root)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	code := cmd.ProcessState.ExitCode()
	if code == 99 {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	if code != 3 || !strings.Contains(string(out), "disk is full") {
		t.Errorf("exit %d, want 3 and 'disk is full'", code)
	}
	if !strings.Contains(string(out), "left:\n") {
		t.Errorf("files left on the full disk: %s", out)
	}
}
