//go:build e2enode

package node

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// The plugin answers through the real kubectl against the real node's apiserver.
func testRealNodeVersion(t *testing.T) {
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "version", "-o", "json")
	var v struct {
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &v) != nil || v.ServerVersion.GitVersion != harness.KubernetesVersion {
		t.Fatalf("version: exit %d, %q", r.Code, r.Stdout)
	}
}

// The kubelet reports the static pods as mirror pods and holds its own certs.
func testRealNodeKubeletArtifacts(t *testing.T) {
	ctx := context.Background()
	for _, c := range components {
		pod, err := env.node.MirrorPod(ctx, c)
		if err != nil {
			t.Fatalf("mirror pod of %s: %v", c, err)
		}
		a := pod.Annotations
		if a["kubernetes.io/config.source"] != "file" || a["kubernetes.io/config.hash"] == "" || a["kubernetes.io/config.mirror"] != a["kubernetes.io/config.hash"] {
			t.Errorf("%s: kubelet annotations %v", c, a)
		}
		if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "Node" || pod.OwnerReferences[0].Name != env.node.NodeName {
			t.Errorf("%s: ownerReferences %+v", c, pod.OwnerReferences)
		}
	}
	for _, f := range []string{"/var/lib/kubelet/pki/kubelet-client-current.pem", "/var/lib/kubelet/pki/kubelet.crt"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("kubelet cert: %v", err)
		}
	}
	node, err := env.node.Client.CoreV1().Nodes().Get(ctx, env.node.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.NodeInfo.KubeletVersion != harness.KubernetesVersion || !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") {
		t.Errorf("nodeInfo: %+v", node.Status.NodeInfo)
	}
}

// A SIGKILL of the kube-scheduler container is seen and undone by the kubelet: a restart.
func testRealNodeSchedulerKillIsARestart(t *testing.T) {
	ctx := context.Background()
	pod, err := env.node.MirrorPod(ctx, "kube-scheduler")
	if err != nil || len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("kube-scheduler mirror pod: %v", err)
	}
	before := pod.Status.ContainerStatuses[0].RestartCount
	pid := containerPid(t, strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	// Earlier tests restarted the scheduler too: the kubelet's crash back-off can reach its 5-minute cap.
	deadline := time.Now().Add(6 * time.Minute)
	for time.Now().Before(deadline) {
		pod, err = env.node.MirrorPod(ctx, "kube-scheduler")
		if err == nil && len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].RestartCount > before {
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("kube-scheduler restartCount stayed at %d after SIGKILL of pid %d", before, pid)
}

// containerPid finds a container's init pid through the real containerd.
func containerPid(t *testing.T, id string) int {
	t.Helper()
	out, err := exec.Command("ctr", "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err == nil && pid > 0 {
				return pid
			}
		}
	}
	t.Fatalf("no running task %s in:\n%s", id, out)
	return 0
}

// A manifest edit gives a new config.hash and a restarted pod with the new flag; restoring the file
// the safe way gives the original pod back. Every node-level command test relies on these helpers.
func testRealNodeManifestEditRestartsThePod(t *testing.T) {
	ctx := context.Background()
	value, oldHash := editSchedulerFlag(t, nil)
	flag := "--leader-elect-retry-period=" + value
	newHash, err := env.node.WaitMirrorHashChange(ctx, "kube-scheduler", oldHash, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := env.node.MirrorPod(ctx, "kube-scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(pod.Spec.Containers[0].Command, " "), flag) {
		t.Errorf("restarted pod (hash %s) lacks %s: %v", newHash, flag, pod.Spec.Containers[0].Command)
	}
}
