//go:build e2enode

package node

import (
	"path/filepath"
	"strings"
	"testing"
)

// user create signs with the real node's kubeadm CA, and the real kubectl works with the result.
func testUserCreateWithTheNodeCA(t *testing.T) {
	out := filepath.Join(t.TempDir(), "node-user.kubeconfig")
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "user", "create", "node-user", "-n", "kube-system", "--clusterrole", "view",
		"--ca-cert", "/etc/kubernetes/pki/ca.crt", "--ca-key", "/etc/kubernetes/pki/ca.key", "--output-kubeconfig", out)
	if r.Code != 0 || !strings.Contains(r.Stdout, "signed by local CA /etc/kubernetes/pki/ca.crt") {
		t.Fatalf("user create: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() { env.cli.Run(t, nil, "kubectl", "clusterops", "user", "delete", "node-user") })
	if g := env.cli.Run(t, nil, "kubectl", "--kubeconfig", out, "get", "pods"); g.Code != 0 || !strings.Contains(g.Stdout, "kube-apiserver-") {
		t.Errorf("the node user cannot list the control plane pods: %s", g.Stderr)
	}
	if g := env.cli.Run(t, nil, "kubectl", "--kubeconfig", out, "get", "secrets"); g.Code == 0 {
		t.Errorf("view must not read secrets")
	}
}
