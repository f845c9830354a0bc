package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/keyutil"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newCA(t *testing.T) (*x509.Certificate, []byte) {
	t.Helper()
	key, err := GenerateKey(ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(10 * 365 * 24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(key)
	return ca, keyPEM
}

func TestKeysRoundTripAndMatch(t *testing.T) {
	for _, kt := range KeyTypes() {
		if kt == RSA4096 && testing.Short() {
			continue
		}
		key, err := GenerateKey(kt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := KeyTypeOf(key.Public()); got != kt {
			t.Errorf("KeyTypeOf(%s) = %s", kt, got)
		}
		data, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKeyPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		ca, caKeyPEM := newCA(t)
		caKey, _ := ParsePrivateKeyPEM(caKeyPEM)
		cert, err := SignClientCert(ca, caKey, key.Public(), pkix.Name{CommonName: "jane", Organization: []string{"dev"}}, t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !KeyMatchesCert(cert, back) || KeyMatchesCert(cert, caKey) {
			t.Errorf("%s: KeyMatchesCert wrong", kt)
		}
		if VerifySignedBy(cert, ca) != nil || !cert.NotAfter.Equal(t0.Add(DefaultValidity)) || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("%s: signed cert %v %v", kt, cert.NotAfter, cert.ExtKeyUsage)
		}
	}
	if _, err := ParseKeyType("dsa-1024"); err == nil {
		t.Error("ParseKeyType accepted dsa-1024")
	}
	if _, err := ParsePrivateKeyPEM([]byte("nope")); !errors.Is(err, ErrNoPrivateKey) {
		t.Errorf("garbage key: %v", err)
	}
	if _, err := ParseCertsPEM([]byte("-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n")); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("a key is not a cert: %v", err)
	}
	corrupt := []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
	if _, err := ParseCertsPEM(corrupt); err == nil || errors.Is(err, ErrNoCertificate) {
		t.Errorf("a corrupt certificate block must fail as a parse error, not as no certificate: %v", err)
	}
}

// kubelet-client-current.pem holds the certificate and then the key: both parse from one file.
func TestParseCertAndKeyFromOneFile(t *testing.T) {
	ca, caKeyPEM := newCA(t)
	data := append(EncodeCertPEM(ca), caKeyPEM...)
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ParseCertsPEM(data)
	if err != nil || len(cs) != 1 || !KeyMatchesCert(cs[0], key) {
		t.Errorf("cert+key file: %d certs, %v", len(cs), err)
	}
}

func TestRenewCertKeepsIdentityAndCapsAtCA(t *testing.T) {
	ca, caKeyPEM := newCA(t)
	caKey, _ := ParsePrivateKeyPEM(caKeyPEM)
	key, _ := GenerateKey(ECDSAP256, nil)
	old := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"kubernetes", "kubernetes.default"}, IPAddresses: []net.IP{net.ParseIP("10.96.0.1")},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(nil, old, ca, key.Public(), caKey)
	old, _ = x509.ParseCertificate(der)
	renewed, err := RenewCert(old, ca, caKey, key.Public(), t0, 400*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Subject.String() != old.Subject.String() || fmt.Sprint(SANs(renewed)) != fmt.Sprint(SANs(old)) ||
		renewed.KeyUsage != old.KeyUsage || renewed.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("renewal changed the identity: %v %v", renewed.Subject, SANs(renewed))
	}
	capped, _ := RenewCert(old, ca, caKey, key.Public(), t0, 100*365*24*time.Hour)
	if !capped.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("not capped at the CA: %s vs %s", capped.NotAfter, ca.NotAfter)
	}
	if _, err := RenewCert(old, ca, caKey, key.Public(), ca.NotAfter.Add(time.Hour), 0); err == nil || !strings.Contains(err.Error(), "rotate the CA") {
		t.Errorf("an expired CA: %v", err)
	}
	other, _ := GenerateKey(ECDSAP256, nil)
	if _, err := RenewCert(old, ca, other, key.Public(), t0, 0); err == nil {
		t.Error("signing with a key that is not the CA's was accepted")
	}
}

func TestWritePrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.key")
	key, _ := GenerateKey(ECDSAP256, nil)
	if err := WritePrivateKeyFile(p, key); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
}

func TestRenewNames(t *testing.T) {
	all, _ := RenewNames(nil)
	if len(all) != 11 || all[0] != "admin.conf" || all[10] != "super-admin.conf" {
		t.Errorf("all: %v", all)
	}
	for in, want := range map[string]string{"kubelet.conf": "rotated by the kubelet", "etcd": "unknown certificate", "all,apiserver": "cannot be combined"} {
		if _, err := RenewNames(strings.Split(in, ",")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", in, err)
		}
	}
}
