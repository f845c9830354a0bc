package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var kubeadmConfig = template.Must(template.New("kubeadm").Parse(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: {{.HostIP}}
  bindPort: {{.APIServerPort}}
nodeRegistration:
  name: {{.NodeName}}
  criSocket: unix:///var/run/containerd/containerd.sock
  imagePullPolicy: Never
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: {{.ClusterName}}
kubernetesVersion: {{.KubernetesVersion}}
controlPlaneEndpoint: 127.0.0.1:{{.APIServerPort}}
certificatesDir: /etc/kubernetes/pki
networking:
  podSubnet: {{.PodSubnet}}
  serviceSubnet: {{.ServiceSubnet}}
  dnsDomain: cluster.local
apiServer:
  certSANs:
  - 127.0.0.1
  - localhost
etcd:
  local:
    dataDir: /var/lib/etcd
`))

type kubeadmValues struct {
	HostIP, NodeName, ClusterName, KubernetesVersion, PodSubnet, ServiceSubnet string
	APIServerPort                                                              int
}

// Kubeadm runs the real kubeadm binary chrooted into the node's root (--rootfs), with the
// harness's config file. It returns the combined output.
func (cp *ControlPlane) Kubeadm(ctx context.Context, args ...string) (string, error) {
	full := append([]string{}, args...)
	full = append(full, "--rootfs", cp.Root)
	cmd := exec.CommandContext(ctx, filepath.Join(cp.BinDir, "kubeadm"), full...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	cp.logf("kubeadm %s (%s)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		return out.String(), fmt.Errorf("kubeadm %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// layoutNode lays out a kubeadm control-plane node under cp.Root with kubeadm's own phases.
func (cp *ControlPlane) layoutNode(ctx context.Context) error {
	var buf bytes.Buffer
	if err := kubeadmConfig.Execute(&buf, kubeadmValues{
		HostIP: cp.HostIP, NodeName: cp.NodeName, ClusterName: cp.Name,
		KubernetesVersion: KubernetesVersion, PodSubnet: cp.PodSubnet, ServiceSubnet: cp.ServiceSubnet,
		APIServerPort: cp.APIServerPort,
	}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cp.Root, "kubeadm.yaml"), buf.Bytes(), 0o600); err != nil {
		return err
	}
	for _, phase := range [][]string{
		{"certs", "all"}, {"kubeconfig", "all"}, {"control-plane", "all"}, {"etcd", "local"},
	} {
		args := append([]string{"init", "phase"}, phase...)
		if _, err := cp.Kubeadm(ctx, append(args, "--config", "/kubeadm.yaml")...); err != nil {
			return err
		}
	}
	return nil
}

// uploadConfig runs the real `kubeadm init phase upload-config all`: the kubeadm-config and
// kubelet-config ConfigMaps. Before it, the harness creates the kubeadm:cluster-admins
// ClusterRoleBinding that `kubeadm init` creates to give admin.conf its rights: kubeadm would make it
// through a client to the advertise address, where nothing listens in this tier.
func (cp *ControlPlane) uploadConfig(ctx context.Context) error {
	_, err := cp.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:cluster-admins"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "kubeadm:cluster-admins"}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding kubeadm:cluster-admins: %w", err)
	}
	_, err = cp.Kubeadm(ctx, "init", "phase", "upload-config", "all", "--config", "/kubeadm.yaml",
		"--kubeconfig", "/etc/kubernetes/super-admin.conf")
	return err
}

// kubeadmObjects makes the rest of kubeadm's own API objects with the real kubeadm: the bootstrap
// token and cluster-info, CoreDNS and kube-proxy. (mark-control-plane has no --kubeconfig flag and
// would reach for the advertise address; AddNode sets its label and taint instead.)
func (cp *ControlPlane) kubeadmObjects(ctx context.Context) error {
	superAdmin := []string{"--kubeconfig", "/etc/kubernetes/super-admin.conf"}
	for _, phase := range [][]string{
		append([]string{"bootstrap-token", "--skip-token-print"}, superAdmin...),
		append([]string{"addon", "all"}, superAdmin...),
	} {
		args := append([]string{"init", "phase"}, phase...)
		args = append(args, "--config", "/kubeadm.yaml")
		if _, err := cp.Kubeadm(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}
