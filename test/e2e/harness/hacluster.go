package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// HATierOptIn is the environment variable that allows the multi-node tier to change this host.
const HATierOptIn = "CLUSTEROPS_E2E_HA"

// haState is hack/ha-up's state dir: its marker, the recorded pids, the admin kubeconfig.
const haState = "/var/lib/clusterops-ha-tier"

// HACluster is the multi-node tier (hack/ha-up): a real HA kubeadm cluster on this machine, three
// stacked-etcd control-plane nodes and a worker, each a set of Linux namespaces with its own
// containerd and kubelet, behind haproxy on LB.
type HACluster struct {
	AdminKubeconfig string // the admin kubeconfig on this host; its server is LB
	LB              string // the control-plane endpoint, host:port
	ControlPlane    []string
	Workers         []string
	NodeIP          map[string]string
	Client          kubernetes.Interface
	Config          *rest.Config
	repo            string
}

// HATierAllowed says why the multi-node tier may not run here, or "" when it may.
func HATierAllowed() string { return tierAllowed("the multi-node tier", HATierOptIn) }

// UseHACluster reuses a Ready cluster of this tier, or brings one up with hack/ha-up. It does not
// tear it down: hack/test-ha runs hack/ha-down after the tier.
func UseHACluster(ctx context.Context) (*HACluster, error) {
	if why := HATierAllowed(); why != "" {
		return nil, fmt.Errorf("%s", why)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	c, err := openHACluster(root)
	if err == nil && c.ready(ctx) == nil {
		return c, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "ha-up"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/ha-up: %w", err)
	}
	if c, err = openHACluster(root); err != nil {
		return nil, err
	}
	return c, c.ready(ctx)
}

func openHACluster(repo string) (*HACluster, error) {
	if _, err := os.Stat(filepath.Join(haState, "created-by-clusterops")); err != nil {
		return nil, fmt.Errorf("no cluster of this tier: %w", err)
	}
	c := &HACluster{
		AdminKubeconfig: filepath.Join(haState, "admin.conf"), LB: "10.77.0.1:6443",
		ControlPlane: []string{"cp1", "cp2", "cp3"}, Workers: []string{"w1"},
		NodeIP: map[string]string{"cp1": "10.77.0.11", "cp2": "10.77.0.12", "cp3": "10.77.0.13", "w1": "10.77.0.21"},
		repo:   repo,
	}
	var err error
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	return c, nil
}

// Nodes is every node, control plane first.
func (c *HACluster) Nodes() []string {
	return append(append([]string{}, c.ControlPlane...), c.Workers...)
}

func (c *HACluster) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes() {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !NodeReady(node) {
			return fmt.Errorf("node %s is not Ready", n)
		}
	}
	return nil
}

// NodeReady says whether the node's Ready condition is True.
func NodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NodePID is the host pid of the node's PID 1, checked against what hack/ha-up recorded (the
// executable and the start time), so that a reused pid is never taken for the node.
func (c *HACluster) NodePID(node string) (int, error) {
	b, err := os.ReadFile(filepath.Join(haState, "node-"+node+".pid"))
	if err != nil {
		return 0, fmt.Errorf("node %s is not running: %w", node, err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return 0, fmt.Errorf("node %s: bad pid file %q", node, b)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, err
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || exe != f[1] || procStartTime(pid) != f[2] {
		return 0, fmt.Errorf("node %s is not running (pid %d is gone or another process)", node, pid)
	}
	return pid, nil
}

// procStartTime is field 22 of /proc/PID/stat (clock ticks since boot), or "" when pid is gone.
func procStartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// Exec runs a command inside every namespace of a node (hack/ha-exec does the same for a
// person), with the upstream binaries on PATH, and returns its stdout; its stderr is in the
// error when it fails.
func (c *HACluster) Exec(ctx context.Context, node string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.repo, "hack", "ha-exec"), append([]string{node}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s on %s: %w\n%s%s", strings.Join(args, " "), node, err, out.Bytes(), stderr.Bytes())
	}
	return out.Bytes(), nil
}

// Path is where a path inside the node's mount namespace can be read and written from this host.
func (c *HACluster) Path(node, path string) (string, error) {
	pid, err := c.NodePID(node)
	if err != nil {
		return "", err
	}
	return filepath.Join(fmt.Sprintf("/proc/%d/root", pid), path), nil
}

// ImportImage imports the plugin's image from an OCI layout into a node's containerd with
// hack/image-import and returns the reference it printed.
func (c *HACluster) ImportImage(ctx context.Context, node, layout, ref string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.repo, "hack", "image-import"), layout)
	cmd.Dir = c.repo
	cmd.Env = append(os.Environ(), "IMAGE="+ref, "CTR=hack/ha-exec "+node+" ctr")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/image-import into %s: %w\n%s", node, err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// PowerOff kills the node's PID 1: the kernel ends every process of the node (kubelet,
// containerd, its static pods), as when a machine loses power.
func (c *HACluster) PowerOff(node string) error {
	pid, err := c.NodePID(node)
	if err != nil {
		return err
	}
	start := procStartTime(pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for i := 0; i < 300 && procStartTime(pid) == start; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if procStartTime(pid) == start {
		return fmt.Errorf("node %s: PID 1 (%d) still there 30s after SIGKILL", node, pid)
	}
	return nil
}

// Boot starts a powered-off node again (hack/ha-up boot NODE): namespaces, containerd, kubelet.
func (c *HACluster) Boot(ctx context.Context, node string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.repo, "hack", "ha-up"), "boot", node)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
