//go:build e2eha

// Package ha is the multi-node test tier: a real HA kubeadm cluster on this machine (hack/ha-up),
// three stacked-etcd control-plane nodes cp1..cp3 and a worker w1, each a set of Linux namespaces
// with its own containerd and kubelet, behind haproxy. It changes the host and runs only with
// CLUSTEROPS_E2E_HA=1 as root (hack/test-ha runs it, then hack/ha-down).
package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

var env struct {
	ha    *harness.HACluster
	cli   harness.CLI
	bin   string // the upstream binaries
	image string // the agent image's reference, imported into every node
}

const testVersion = "v0.0.0-e2eha"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

// TestHA is the whole tier: one shared cluster, so the steps run one after another, in this
// order (run one with -run 'TestHA/NAME'). The etcd restore replaces the cluster's state and the
// power-off takes cp3 away (then it boots again): they come last.
func TestHA(t *testing.T) {
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"ClusterStatus", testClusterStatus},
		{"StaticPodsDiffAcrossNodes", testStaticPodsDiffAcrossNodes},
		{"CertsCheckControlPlane", testCertsCheckControlPlane},
		{"EtcdMoveLeader", testEtcdMoveLeader},
		{"CertsRenewRolling", testCertsRenewRolling},
		{"UpgradePlanMidUpgrade", testUpgradePlanMidUpgrade},
		{"EtcdSnapshotFollowerRestoreAllMembers", testEtcdSnapshotRestoreAllMembers},
		{"PowerOffCP3", testPowerOffCP3},
		{"BootCP3Again", testBootCP3Again},
	}
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
}

func runMain(m *testing.M) int {
	if why := harness.HATierAllowed(); why != "" {
		fmt.Fprintln(os.Stderr, "multi-node tier:", why) // a failure, not a skip: this package runs only when asked for
		return 1
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "multi-node tier:", err); return 1 }
	bin, err := harness.Binaries("kubectl", "kubeadm", "etcdctl", "etcdutl")
	if err != nil {
		return fail(err)
	}
	pluginDir, err := os.MkdirTemp("", "clusterops-plugin-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(pluginDir)
	if _, err := harness.BuildPlugin(pluginDir, testVersion); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	if env.ha, err = harness.UseHACluster(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintf(os.Stderr, "multi-node tier: 4 nodes Ready after %s\n", time.Since(start).Round(time.Second))
	if env.image, err = importImage(ctx, pluginDir); err != nil {
		return fail(err)
	}
	env.bin = bin
	env.cli = harness.CLI{Dirs: []string{pluginDir, bin}, Env: []string{"KUBECONFIG=" + env.ha.AdminKubeconfig}, Timeout: 5 * time.Minute}
	return m.Run()
}

var digestRe = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// importImage builds the plugin's image with `make image` (this host's platform; its
// reproducibility is proven by hack/verify-image and the real-node tier) and imports it into
// every node's containerd; the agent pods run it.
func importImage(ctx context.Context, dir string) (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "make", "-s", "image", "VERSION="+testVersion, "COMMIT=e2eha", "BUILD_DATE=2026-01-01T00:00:00Z",
		"SOURCE_DATE_EPOCH=1767225600", "DIST="+dir, "PLATFORMS=linux/"+runtime.GOARCH)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || digestRe.Find(out) == nil {
		return "", fmt.Errorf("make image: %v\n%s", err, out)
	}
	var ref string
	for _, n := range env.ha.Nodes() {
		if ref, err = env.ha.ImportImage(ctx, n, filepath.Join(dir, "image"), "localhost/kubectl-clusterops:"+testVersion); err != nil {
			return "", err
		}
	}
	return ref, nil
}

// runJSON runs `kubectl clusterops ARGS -o json` and decodes its stdout into v.
func runJSON(t *testing.T, v any, args ...string) harness.Result {
	t.Helper()
	return env.cli.PluginJSON(t, v, args...)
}

// assertNoAgentPods waits until no agent pod is left and fails if one stays.
func assertNoAgentPods(t *testing.T) {
	t.Helper()
	var left []corev1.Pod
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		l, err := env.ha.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: agent.Selector()})
		if err == nil && len(l.Items) == 0 {
			return
		}
		if err == nil {
			left = l.Items
		}
	}
	for _, p := range left {
		t.Errorf("agent pod left behind: %s/%s on %s (%s)", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase)
	}
}

// nodeExec runs a command inside a node and fails the test when it fails.
func nodeExec(t *testing.T, node string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := env.ha.Exec(ctx, node, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var netDialer = net.Dialer{Timeout: 2 * time.Second}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
