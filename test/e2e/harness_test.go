//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// The harness's nodes and mirror pods look like a kubelet's to the real apiserver.
func TestHarnessNodesAndMirrorPods(t *testing.T) {
	ctx := context.Background()
	cp := env.cp
	if _, err := cp.AddNode(ctx, harness.NodeSpec{Name: "harness-worker-old", KubeletVersion: "v1.34.3", KubeProxyVersion: "v1.34.3"}); err != nil {
		t.Fatal(err)
	}
	node, err := cp.Client.CoreV1().Nodes().Get(ctx, "harness-worker-old", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.34.3" || node.Status.NodeInfo.KubeProxyVersion != "v1.34.3" {
		t.Errorf("nodeInfo = %+v", node.Status.NodeInfo)
	}
	// Real kubectl, as the admin, sees the node with its version.
	out := run(t, "kubectl", "--kubeconfig", cp.AdminKubeconfig, "get", "node", "harness-worker-old", "--no-headers")
	if out.code != 0 || !strings.Contains(out.stdout, "Ready") || !strings.Contains(out.stdout, "v1.34.3") {
		t.Errorf("kubectl get node: %q", out.stdout)
	}

	pods, err := cp.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + cp.NodeName})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range pods.Items {
		if p.Annotations["kubernetes.io/config.mirror"] == "" || p.Annotations["kubernetes.io/config.source"] != "file" {
			continue
		}
		got[p.Name] = true
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Node" || p.OwnerReferences[0].Name != cp.NodeName {
			t.Errorf("%s: ownerReferences %+v", p.Name, p.OwnerReferences)
		}
		if p.Status.Phase != "Running" {
			t.Errorf("%s: phase %s", p.Name, p.Status.Phase)
		}
	}
	for _, c := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if !got[c+"-"+cp.NodeName] {
			t.Errorf("no mirror pod for %s; have %v", c, got)
		}
	}
	// kubeadm's own objects exist, made by the real kubeadm.
	for _, ref := range [][2]string{{"kube-system", "kubeadm-config"}, {"kube-system", "kubelet-config"}, {"kube-public", "cluster-info"}, {"kube-system", "coredns"}, {"kube-system", "kube-proxy"}} {
		if _, err := cp.Client.CoreV1().ConfigMaps(ref[0]).Get(ctx, ref[1], metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s/%s: %v", ref[0], ref[1], err)
		}
	}
	if _, err := cp.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); err != nil {
		t.Errorf("kube-proxy DaemonSet: %v", err)
	}
}

// Three etcd members, TLS with the kubeadm etcd certs, form one cluster behind the apiserver.
func TestHarnessThreeEtcdMembers(t *testing.T) {
	bin, err := harness.Binaries("etcdctl")
	if err != nil {
		t.Fatal(err)
	}
	cp := harness.StartT(t, harness.Options{Name: "three", EtcdMembers: 3, NoControllerManager: true, NoKubeadmObjects: true, NoMirrorPods: true})
	pki := filepath.Join(cp.PKI(), "etcd")
	out := run(t, filepath.Join(bin, "etcdctl"), "--endpoints", strings.Join(cp.EtcdEndpoints(), ","),
		"--cacert", filepath.Join(pki, "ca.crt"), "--cert", filepath.Join(pki, "healthcheck-client.crt"),
		"--key", filepath.Join(pki, "healthcheck-client.key"), "member", "list", "-w", "json")
	if out.code != 0 {
		t.Fatalf("etcdctl member list: %s", out.stderr)
	}
	var list struct {
		Members []struct {
			Name       string   `json:"name"`
			ClientURLs []string `json:"clientURLs"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Members) != 3 {
		t.Fatalf("members = %+v, want 3", list.Members)
	}
	v := parseVersion(t, run(t, "kubectl", "clusterops", "version", "-o", "json", "--kubeconfig", cp.AdminKubeconfig))
	if v.ServerVersion == nil || v.ServerVersion.GitVersion != harness.KubernetesVersion {
		t.Errorf("apiserver on 3 etcd members: %+v", v.ServerVersion)
	}
}
