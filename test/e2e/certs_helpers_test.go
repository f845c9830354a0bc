//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// kubeadmExpiration is `kubeadm certs check-expiration -o json`.
type kubeadmExpiration struct {
	Certificates []kubeadmCert `json:"certificates"`
	CAs          []kubeadmCert `json:"certificateAuthorities"`
}

type kubeadmCert struct {
	Name              string     `json:"name"`
	ExpirationDate    *time.Time `json:"expirationDate"`
	ResidualTime      int64      `json:"residualTime"`
	ExternallyManaged bool       `json:"externallyManaged"`
	CAName            string     `json:"caName"`
	Missing           bool       `json:"missing"`
}

// ourCheck is `kubectl clusterops certs check -o json`.
type ourCheck struct {
	Kind         string    `json:"kind"`
	Certificates []ourCert `json:"certificates"`
	CAs          []ourCert `json:"certificateAuthorities"`
}

type ourCert struct {
	Name              string     `json:"name"`
	Source            string     `json:"source"`
	Path              string     `json:"path"`
	Subject           string     `json:"subject"`
	SANs              []string   `json:"sans"`
	Issuer            string     `json:"issuer"`
	NotAfter          *time.Time `json:"notAfter"`
	ResidualSeconds   int64      `json:"residualSeconds"`
	CAName            string     `json:"caName"`
	ExternallyManaged bool       `json:"externallyManaged"`
	Missing           bool       `json:"missing"`
	KeyMatches        *bool      `json:"keyMatches"`
	ChainVerified     *bool      `json:"chainVerified"`
	Kubeadm           bool       `json:"kubeadm"`
	Status            string     `json:"status"`
	Problem           string     `json:"problem"`
}

func (c ourCheck) cert(name string) (ourCert, bool) {
	for _, x := range c.Certificates {
		if x.Name == name {
			return x, true
		}
	}
	return ourCert{}, false
}

// kubeadmCheck runs the real `kubeadm certs check-expiration -o json` on a node root.
func kubeadmCheck(t *testing.T, root string) kubeadmExpiration {
	t.Helper()
	out, err := exec.Command(filepath.Join(env.binDir, "kubeadm"), "certs", "check-expiration", "-o", "json",
		"--config", "/kubeadm.yaml", "--rootfs", root).Output()
	if err != nil {
		t.Fatalf("kubeadm certs check-expiration: %v\n%s", err, out)
	}
	var r kubeadmExpiration
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("kubeadm JSON: %v\n%s", err, out)
	}
	return r
}

// certsCheck runs `kubectl clusterops certs check -o json` and returns the parsed report and the exit code.
func certsCheck(t *testing.T, args ...string) (ourCheck, result) {
	t.Helper()
	r := run(t, "kubectl", append([]string{"clusterops", "certs", "check", "-o", "json"}, args...)...)
	var c ourCheck
	if r.code < 3 {
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("certs check -o json is not JSON (exit %d): %v\n%s", r.code, err, r.stdout)
		}
	}
	return c, r
}

// layRoot lays out a kubeadm control-plane node root with the real kubeadm (certs, kubeconfigs,
// static pod manifests), with the shared control plane's kubeadm config. No process runs on it.
func layRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(env.cp.Root, "kubeadm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "kubeadm.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, phase := range [][]string{{"certs", "all"}, {"kubeconfig", "all"}, {"control-plane", "all"}} {
		args := append([]string{"init", "phase"}, phase...)
		args = append(args, "--config", "/kubeadm.yaml", "--rootfs", root)
		if out, err := exec.Command(filepath.Join(env.binDir, "kubeadm"), args...).CombinedOutput(); err != nil {
			t.Fatalf("kubeadm %v: %v\n%s", args, err, out)
		}
	}
	return root
}

// copyRoot copies a node root (cp -a) into a new temp dir.
func copyRoot(t *testing.T, root string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", root, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	return dst
}

// pkiPairs are the kubeadm leaf cert/key pairs in the cert dir, relative to it.
var pkiPairs = []string{"apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "etcd/healthcheck-client",
	"etcd/peer", "etcd/server", "front-proxy-client"}

var kubeconfigNames = []string{"admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"}

// pairsMismatch checks every cert/key pair of a node independently of the plugin (crypto/tls
// pairs them) and returns the ones that do not match.
func pairsMismatch(root string) []string {
	var bad []string
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	for _, p := range append(pkiPairs, "ca", "etcd/ca", "front-proxy-ca") {
		if _, err := tls.LoadX509KeyPair(filepath.Join(pki, p+".crt"), filepath.Join(pki, p+".key")); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", p, err))
		}
	}
	for _, kc := range kubeconfigNames {
		cfg, err := clientcmd.LoadFromFile(filepath.Join(root, "etc", "kubernetes", kc))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", kc, err))
			continue
		}
		user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
		if _, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", kc, err))
		}
	}
	return bad
}

// fileSums maps every regular file under dir (relative path) to its sha256.
func fileSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(data)
		sums[rel] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kubeconfigCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].ClientCertificateData)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// servedCert does a TLS handshake with addr and returns the leaf certificate it serves.
func servedCert(t *testing.T, server string) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // only reads the certificate
	conn, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(server, "https://"))
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", server, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}
