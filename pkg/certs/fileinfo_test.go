package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadFileInfo(t *testing.T) {
	root := t.TempDir()
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	os.MkdirAll(pki, 0o755)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(100 * 24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	os.WriteFile(filepath.Join(pki, "apiserver.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(pki, "apiserver.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	fi := ReadFileInfo(root, "/etc/kubernetes/pki/apiserver.crt", now)
	if fi.Kind != FileCertificate || fi.DaysLeft == nil || *fi.DaysLeft != 100 || fi.Subject != "CN=kube-apiserver" {
		t.Errorf("cert: %+v", fi)
	}
	if fi := ReadFileInfo(root, "/etc/kubernetes/pki/apiserver.crt", now.Add(101*24*time.Hour)); !strings.Contains(fi.ExpiryText(), "EXPIRED") {
		t.Errorf("expired cert: %s", fi.ExpiryText())
	}
	if fi := ReadFileInfo(root, "/etc/kubernetes/pki/apiserver.key", now); fi.Kind != FileKey || fi.NotAfter != nil {
		t.Errorf("key: %+v", fi)
	}
	if fi := ReadFileInfo(root, "/etc/kubernetes/pki/missing.crt", now); fi.Kind != FileMissing {
		t.Errorf("missing: %+v", fi)
	}
}
