//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// The API sources: the served certificate and the kubeconfig's client certificate agree with the
// node's files; TLS Secrets are checked for expiry, key match and chain; a pending CSR is reported.
func TestCertsCheckAPISources(t *testing.T) {
	ctx := context.Background()
	client := env.cp.Client
	ns := fmt.Sprintf("certs-e2e-%d", time.Now().UnixNano())
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	now := time.Now()
	caKey, err := certs.GenerateKey(certs.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(1000 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	secret := func(name string, validity time.Duration, mismatch bool) {
		key, _ := certs.GenerateKey(certs.ECDSAP256, nil)
		cert, err := certs.SignClientCert(ca, caKey, key.Public(), pkix.Name{CommonName: name}, now, validity)
		if err != nil {
			t.Fatal(err)
		}
		if mismatch {
			key, _ = certs.GenerateKey(certs.ECDSAP256, nil)
		}
		keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(key)
		_, err = client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": certs.EncodeCertPEM(cert), "tls.key": keyPEM, "ca.crt": certs.EncodeCertPEM(ca)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	secret("good", 300*24*time.Hour, false)
	secret("soon", 10*24*time.Hour, false)
	secret("wrong-key", 300*24*time.Hour, true)

	c, r := certsCheck(t, "--source", "secrets", "-n", ns, "--kubeconfig", env.cp.AdminKubeconfig)
	if r.code != 2 || len(c.Certificates) != 3 {
		t.Fatalf("exit %d, %d certificates", r.code, len(c.Certificates))
	}
	for name, want := range map[string]string{"good": "OK", "soon": "Expiring", "wrong-key": "KeyMismatch"} {
		got, _ := c.cert(name)
		if got.Status != want || got.Source != "secret" || got.Path != ns+"/"+name {
			t.Errorf("secret %s: %+v, want status %s", name, got, want)
		}
		if want == "OK" && (got.ChainVerified == nil || !*got.ChainVerified) {
			t.Errorf("secret %s: chain not verified against its ca.crt", name)
		}
	}

	key, _ := certs.GenerateKey(certs.ECDSAP256, nil)
	csrPEM, _ := certutil.MakeCSR(key, &pkix.Name{CommonName: "pending-user"}, nil, nil)
	csr, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "clusterops-e2e-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrPEM, SignerName: "example.com/clusterops-e2e",
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), csr.Name, metav1.DeleteOptions{})
	})
	api, r := certsCheck(t, "--source", "api", "--kubeconfig", env.cp.AdminKubeconfig)
	if r.code != 1 {
		t.Errorf("a pending CSR: exit %d, want 1", r.code)
	}
	if p, ok := api.cert(csr.Name); !ok || p.Status != "Pending" || p.Source != "csr" {
		t.Errorf("pending CSR %s: %+v", csr.Name, p)
	}
	served, _ := api.cert("apiserver (serving)")
	file := readCert(t, filepath.Join(env.cp.PKI(), "apiserver.crt"))
	if served.NotAfter == nil || !served.NotAfter.Equal(file.NotAfter) || served.Path != env.cp.Server {
		t.Errorf("serving certificate %+v, file expires %s", served, file.NotAfter)
	}
	user, _ := api.cert("kubeconfig user kubernetes-admin")
	if want := kubeconfigCert(t, env.cp.AdminKubeconfig); user.NotAfter == nil || !user.NotAfter.Equal(want.NotAfter) ||
		user.KeyMatches == nil || !*user.KeyMatches || user.ChainVerified == nil || !*user.ChainVerified {
		t.Errorf("kubeconfig user: %+v", user)
	}
	// By default on a node both the node's files and the API are checked; a dead API server only warns.
	both, r := certsCheck(t, "--root", env.cp.Root, "--kubeconfig", env.cp.AdminKubeconfig)
	if _, ok := both.cert("apiserver (serving)"); !ok || len(both.CAs) != 3 {
		t.Errorf("default sources on a node: exit %d, %d certificates", r.code, len(both.Certificates))
	}
	down, r := certsCheck(t, "--root", env.cp.Root, "--server", "https://127.0.0.1:1", "--kubeconfig", env.cp.AdminKubeconfig)
	if r.code != 0 || len(down.Certificates) < 11 || !containsLine(r.stderr, "warning: only the node was checked") {
		t.Errorf("node with an unreachable API server: exit %d, stderr %q", r.code, r.stderr)
	}
}

func containsLine(s, sub string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, sub) {
			return true
		}
	}
	return false
}
