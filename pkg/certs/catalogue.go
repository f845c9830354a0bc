package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Layout is where a kubeadm node keeps its PKI, under Root ("/" on a real node).
type Layout struct {
	// Root is the node's filesystem root; every other path is inside it.
	Root string
	// CertDir is kubeadm's certificatesDir, as seen from the node (default /etc/kubernetes/pki).
	CertDir string
	// KubeconfigDir holds admin.conf and friends (default /etc/kubernetes).
	KubeconfigDir string
	// KubeletPKIDir holds the kubelet's own certificates (default /var/lib/kubelet/pki).
	KubeletPKIDir string
}

// DefaultLayout is kubeadm's layout under root.
func DefaultLayout(root string) Layout {
	if root == "" {
		root = "/"
	}
	return Layout{Root: root, CertDir: "/etc/kubernetes/pki", KubeconfigDir: "/etc/kubernetes",
		KubeletPKIDir: "/var/lib/kubelet/pki"}
}

// Path maps a node path into Root.
func (l Layout) Path(nodePath string) string {
	return filepath.Join(l.Root, nodePath)
}

// ManifestsDir is the static pod manifests folder, inside Root.
func (l Layout) ManifestsDir() string { return filepath.Join(l.Path(l.KubeconfigDir), "manifests") }

// TmpDir is kubeadm's scratch folder for backups, inside Root.
func (l Layout) TmpDir() string { return filepath.Join(l.Path(l.KubeconfigDir), "tmp") }

// ErrNoLayout means the root has no kubeadm PKI.
var ErrNoLayout = errors.New("no kubeadm layout")

// Validate checks that the root looks like a kubeadm control-plane node.
func (l Layout) Validate() error {
	dir := l.Path(l.CertDir)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w under %s: %s does not exist; pass --root (the node's filesystem root) "+
			"or --cert-dir where kubeadm's certificates are", ErrNoLayout, l.Root, dir)
	case err != nil:
		return fmt.Errorf("reading %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("%w under %s: %s is not a directory", ErrNoLayout, l.Root, dir)
	}
	return nil
}

// Kind says how a certificate is stored.
type Kind string

// Storage kinds.
const (
	// KindFile is a NAME.crt / NAME.key pair in the cert dir.
	KindFile Kind = "file"
	// KindKubeconfig is a client cert embedded in (or referenced by) a kubeconfig.
	KindKubeconfig Kind = "kubeconfig"
	// KindKubelet is a kubelet certificate under the kubelet's PKI dir.
	KindKubelet Kind = "kubelet"
)

// Spec is one entry of the certificate catalogue.
type Spec struct {
	// Name is kubeadm's name in `kubeadm certs check-expiration` (or ours for kubelet certs).
	Name string
	// CAName is the name of the issuing CA ("" for a self-signed kubelet serving cert).
	CAName string
	Kind   Kind
	// File is the base name inside CertDir (KindFile, e.g. "etcd/server"), the file name inside
	// KubeconfigDir (KindKubeconfig), or the cert file inside KubeletPKIDir (KindKubelet).
	File string
	// KeyFile is the key of a KindKubelet cert, inside KubeletPKIDir (the same file when the
	// kubelet keeps both in one PEM).
	KeyFile string
	// Components are the static pods (or "kubelet") that load this certificate at start.
	Components []string
	// Kubeadm is true for the certificates `kubeadm certs check-expiration` lists.
	Kubeadm bool
	// Renewable is true for the certificates `certs renew` handles (kubeadm's catalogue).
	Renewable bool
	// InitNodeOnly: kubeadm writes the file only on the node where `kubeadm init` ran (1.29+:
	// super-admin.conf), and tells admins to keep it off the node. A joined control-plane node has
	// none, so its absence is reported (StatusAbsent), not counted as a problem, and `renew all`
	// skips it.
	InitNodeOnly bool
}

// CASpec is one certificate authority of kubeadm's PKI.
type CASpec struct {
	Name string
	File string // base name inside CertDir
}

// CAs returns kubeadm's certificate authorities, in kubeadm's order.
func CAs() []CASpec {
	return []CASpec{{"ca", "ca"}, {"etcd-ca", "etcd/ca"}, {"front-proxy-ca", "front-proxy-ca"}}
}

// Catalogue returns every certificate a kubeadm control-plane node depends on: kubeadm's own list,
// in kubeadm's order, then the kubelet's.
func Catalogue() []Spec {
	apiserver := []string{"kube-apiserver"}
	etcd := []string{"etcd"}
	return []Spec{
		{Name: "admin.conf", CAName: "ca", Kind: KindKubeconfig, File: "admin.conf", Kubeadm: true, Renewable: true},
		{Name: "apiserver", CAName: "ca", Kind: KindFile, File: "apiserver", Components: apiserver, Kubeadm: true, Renewable: true},
		{Name: "apiserver-etcd-client", CAName: "etcd-ca", Kind: KindFile, File: "apiserver-etcd-client", Components: apiserver, Kubeadm: true, Renewable: true},
		{Name: "apiserver-kubelet-client", CAName: "ca", Kind: KindFile, File: "apiserver-kubelet-client", Components: apiserver, Kubeadm: true, Renewable: true},
		{Name: "controller-manager.conf", CAName: "ca", Kind: KindKubeconfig, File: "controller-manager.conf", Components: []string{"kube-controller-manager"}, Kubeadm: true, Renewable: true},
		{Name: "etcd-healthcheck-client", CAName: "etcd-ca", Kind: KindFile, File: "etcd/healthcheck-client", Components: etcd, Kubeadm: true, Renewable: true},
		{Name: "etcd-peer", CAName: "etcd-ca", Kind: KindFile, File: "etcd/peer", Components: etcd, Kubeadm: true, Renewable: true},
		{Name: "etcd-server", CAName: "etcd-ca", Kind: KindFile, File: "etcd/server", Components: etcd, Kubeadm: true, Renewable: true},
		{Name: "front-proxy-client", CAName: "front-proxy-ca", Kind: KindFile, File: "front-proxy-client", Components: apiserver, Kubeadm: true, Renewable: true},
		{Name: "scheduler.conf", CAName: "ca", Kind: KindKubeconfig, File: "scheduler.conf", Components: []string{"kube-scheduler"}, Kubeadm: true, Renewable: true},
		{Name: "super-admin.conf", CAName: "ca", Kind: KindKubeconfig, File: "super-admin.conf", Kubeadm: true, Renewable: true, InitNodeOnly: true},
		{Name: "kubelet.conf", CAName: "ca", Kind: KindKubeconfig, File: "kubelet.conf", Components: []string{"kubelet"}},
		{Name: "kubelet-client", CAName: "ca", Kind: KindKubelet, File: "kubelet-client-current.pem", KeyFile: "kubelet-client-current.pem", Components: []string{"kubelet"}},
		{Name: "kubelet-serving", CAName: "ca", Kind: KindKubelet, File: "kubelet.crt", KeyFile: "kubelet.key", Components: []string{"kubelet"}},
	}
}

// RenewableNames are the names `certs renew` accepts, in kubeadm's order.
func RenewableNames() []string {
	var names []string
	for _, s := range Catalogue() {
		if s.Renewable {
			names = append(names, s.Name)
		}
	}
	return names
}

// specByName finds a catalogue entry.
func specByName(name string) (Spec, bool) {
	for _, s := range Catalogue() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// certPaths returns the on-disk (root-mapped) cert and key paths of a file or kubelet spec.
func (l Layout) certPaths(s Spec) (certPath, keyPath string) {
	switch s.Kind {
	case KindFile:
		base := filepath.Join(l.Path(l.CertDir), filepath.FromSlash(s.File))
		return base + ".crt", base + ".key"
	case KindKubelet:
		dir := l.Path(l.KubeletPKIDir)
		return filepath.Join(dir, s.File), filepath.Join(dir, s.KeyFile)
	}
	return filepath.Join(l.Path(l.KubeconfigDir), s.File), ""
}

func (l Layout) caPaths(name string) (certPath, keyPath string) {
	for _, ca := range CAs() {
		if ca.Name == name {
			base := filepath.Join(l.Path(l.CertDir), filepath.FromSlash(ca.File))
			return base + ".crt", base + ".key"
		}
	}
	return "", ""
}

// readInRoot reads a file; an absolute symlink target (kubelet-client-current.pem points at
// /var/lib/kubelet/pki/kubelet-client-<date>.pem) is resolved inside Root, not on this machine.
func (l Layout) readInRoot(path string) ([]byte, error) {
	for range 8 {
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		if filepath.IsAbs(target) {
			path = l.Path(target)
		} else {
			path = filepath.Join(filepath.Dir(path), target)
		}
	}
	return os.ReadFile(path)
}

// nodePath maps a path found in a node file (a kubeconfig's client-certificate) into Root.
func (l Layout) nodePath(p, relativeTo string) string {
	if filepath.IsAbs(p) {
		return l.Path(p)
	}
	return filepath.Join(filepath.Dir(relativeTo), p)
}

// displayPath is a root-mapped path as seen from the node.
func (l Layout) displayPath(p string) string {
	rel, err := filepath.Rel(l.Root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + filepath.ToSlash(rel)
}

// ReadCert reads the certificate of a catalogue entry stored as a file (e.g. "apiserver").
func (l Layout) ReadCert(name string) (*x509.Certificate, error) {
	s, ok := specByName(name)
	if !ok || s.Kind == KindKubeconfig {
		return nil, fmt.Errorf("%q is not a certificate file of the catalogue", name)
	}
	p, _ := l.certPaths(s)
	data, err := l.readInRoot(p)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}
