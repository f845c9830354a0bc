package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const kubeadmEtcdManifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --data-dir=/var/lib/etcd
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.6.5-0
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
`

func nodeRoot(t *testing.T) string {
	root := t.TempDir()
	for _, d := range []string{"etc/kubernetes/manifests", "etc/kubernetes/pki/etcd", "var/lib"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, ManifestRelPath), []byte(kubeadmEtcdManifest), 0o600)
	for _, f := range []string{"ca.crt", "healthcheck-client.crt", "healthcheck-client.key"} {
		os.WriteFile(filepath.Join(root, "etc/kubernetes/pki/etcd", f), []byte("x"), 0o600)
	}
	return root
}

func TestDiscoverConn(t *testing.T) {
	root := nodeRoot(t)
	c, err := DiscoverConn(root, Conn{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Endpoints, ",") != "https://127.0.0.1:2379,https://10.0.0.10:2379" ||
		c.CACert != filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt") ||
		c.Cert != filepath.Join(root, "etc/kubernetes/pki/etcd/healthcheck-client.crt") {
		t.Errorf("conn %+v", c)
	}
	if _, err := DiscoverConn(t.TempDir(), Conn{}); err == nil || !strings.Contains(err.Error(), "--endpoints") {
		t.Errorf("no manifest: %v", err)
	}
}

func TestPointManifestAt(t *testing.T) {
	root := nodeRoot(t)
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	u, err := PointManifestAt(root, filepath.Join(root, "var/lib/etcd-restored"), now)
	if err != nil {
		t.Fatal(err)
	}
	if u.OldDataDir != "/var/lib/etcd" || u.NewDataDir != "/var/lib/etcd-restored" ||
		u.Backup != filepath.Join(root, "etc/kubernetes/tmp/clusterops-etcd-manifest-20260203-040506/etcd.yaml") {
		t.Errorf("update %+v", u)
	}
	if b, _ := os.ReadFile(u.Backup); string(b) != kubeadmEtcdManifest {
		t.Error("backup differs from the original")
	}
	got, _ := os.ReadFile(filepath.Join(root, ManifestRelPath))
	for _, want := range []string{"--data-dir=/var/lib/etcd-restored", "mountPath: /var/lib/etcd-restored", "path: /var/lib/etcd-restored", "path: /etc/kubernetes/pki/etcd"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("manifest lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "/var/lib/etcd\n") {
		t.Errorf("the old data dir is still in the manifest:\n%s", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "etc/kubernetes/manifests")); len(entries) != 1 {
		t.Errorf("manifest dir holds %d entries, want only etcd.yaml", len(entries))
	}
	if _, err := PointManifestAt(root, "/elsewhere/etcd", now); err == nil {
		t.Error("a data dir outside the root was accepted")
	}
}
