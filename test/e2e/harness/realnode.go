package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeTierOptIn is the environment variable that allows the real-node tier to change this host.
const NodeTierOptIn = "CLUSTEROPS_E2E_NODE"

// nodeTierMarker is written by hack/node-up before it changes anything.
const nodeTierMarker = "/var/lib/clusterops-node-tier/created-by-clusterops"

// RealNode is the single-node kubeadm cluster of the real-node tier (hack/node-up): a real kubelet
// and containerd on this machine, static pods from locally built images.
type RealNode struct {
	AdminKubeconfig string // /etc/kubernetes/admin.conf
	Root            string // the real root, "/"
	NodeName        string
	// The etcd client certs kubeadm made, for on-node etcd commands.
	EtcdCA, EtcdCert, EtcdKey string
	EtcdEndpoint              string
	Client                    kubernetes.Interface
}

// NodeTierAllowed says why the real-node tier may not run here, or "" when it may.
func NodeTierAllowed() string { return tierAllowed("the real-node tier", NodeTierOptIn) }

// tierAllowed says why a tier that changes this host may not run here, or "" when it may.
func tierAllowed(tier, optIn string) string {
	switch {
	case runtime.GOOS != "linux":
		return tier + " runs on Linux only"
	case os.Getenv(optIn) != "1":
		return tier + " changes this host; set " + optIn + "=1 to allow it"
	case os.Geteuid() != 0:
		return tier + " must run as root"
	}
	return ""
}

// UseRealNode reuses a Ready node of this tier, or brings one up with hack/node-up. It does not
// tear the node down: hack/test and `make test-node` run hack/node-down after the tier.
func UseRealNode(ctx context.Context) (*RealNode, error) {
	if why := NodeTierAllowed(); why != "" {
		return nil, fmt.Errorf("%s", why)
	}
	n, err := openRealNode()
	if err == nil && n.ready(ctx) == nil {
		return n, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "node-up"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/node-up: %w", err)
	}
	if n, err = openRealNode(); err != nil {
		return nil, err
	}
	return n, n.ready(ctx)
}

func openRealNode() (*RealNode, error) {
	if _, err := os.Stat(nodeTierMarker); err != nil {
		return nil, fmt.Errorf("no node of this tier: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	n := &RealNode{
		AdminKubeconfig: "/etc/kubernetes/admin.conf", Root: "/", NodeName: strings.ToLower(host),
		EtcdCA: "/etc/kubernetes/pki/etcd/ca.crt", EtcdCert: "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		EtcdKey: "/etc/kubernetes/pki/etcd/healthcheck-client.key", EtcdEndpoint: "https://127.0.0.1:2379",
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	if n.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *RealNode) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	node, err := n.Client.CoreV1().Nodes().Get(ctx, n.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("node %s is not Ready", n.NodeName)
}

// ManifestPath is the path of a static pod manifest on the node.
func (n *RealNode) ManifestPath(component string) string {
	return filepath.Join(n.Root, "etc", "kubernetes", "manifests", component+".yaml")
}

// MirrorPod returns the kubelet's mirror pod of a control-plane component.
func (n *RealNode) MirrorPod(ctx context.Context, component string) (*corev1.Pod, error) {
	return n.Client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, component+"-"+n.NodeName, metav1.GetOptions{})
}

// WaitMirrorHashChange waits until the component's mirror pod carries a kubernetes.io/config.hash
// other than old and is Running and Ready, and returns the new hash.
func (n *RealNode) WaitMirrorHashChange(ctx context.Context, component, old string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		pod, err := n.MirrorPod(ctx, component)
		if err == nil {
			last = pod.Annotations["kubernetes.io/config.hash"]
			if last != "" && last != old && PodReady(pod) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("mirror pod of %s kept config.hash %q (want a change from %q) for %s", component, last, old, timeout)
		case <-time.After(time.Second):
		}
	}
}

// PodReady says whether the pod is Running and its Ready condition is True.
func PodReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitMirrorPodGone waits until the component's mirror pod is gone from the API.
func (n *RealNode) WaitMirrorPodGone(ctx context.Context, component string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if _, err := n.MirrorPod(ctx, component); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mirror pod of %s still there after %s", component, timeout)
		case <-time.After(time.Second):
		}
	}
}

// RestoreManifest puts a static pod manifest back the way an admin safely does: move the current
// one out of the manifests dir, wait until the kubelet has removed the pod, write the content back,
// and wait until the pod runs again. (Writing old content straight over a newer manifest can leave
// the kubelet stuck on the newer pod: it keeps a terminated pod's UID for a while.)
func (n *RealNode) RestoreManifest(ctx context.Context, component string, content []byte) error {
	path := n.ManifestPath(component)
	parked := filepath.Join(filepath.Dir(filepath.Dir(path)), "."+component+".yaml.parked")
	if err := os.Rename(path, parked); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := n.WaitMirrorPodGone(ctx, component, 3*time.Minute); err != nil {
		return err
	}
	if err := WriteFileAtomic(path, content, 0o600); err != nil {
		return err
	}
	os.Remove(parked)
	_, err := n.WaitMirrorHashChange(ctx, component, "", 3*time.Minute)
	return err
}

// WriteFileAtomic writes a file through a hidden temp file in the same dir and a rename: a kubelet
// watching the dir never reads half a file (it skips hidden files).
func WriteFileAtomic(path string, content []byte, mode os.FileMode) error {
	tmp := filepath.Join(filepath.Dir(path), ".clusterops-tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, content, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
