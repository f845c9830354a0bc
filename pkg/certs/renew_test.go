package certs

import (
	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"

	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// minimalLayout writes ca.crt/ca.key and an apiserver pair signed by it.
func minimalLayout(t *testing.T) Layout {
	t.Helper()
	l := DefaultLayout(t.TempDir())
	pki := l.Path(l.CertDir)
	if err := os.MkdirAll(pki, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, caKeyPEM := newCA(t)
	caKey, _ := ParsePrivateKeyPEM(caKeyPEM)
	os.WriteFile(filepath.Join(pki, "ca.crt"), EncodeCertPEM(ca), 0o644)
	os.WriteFile(filepath.Join(pki, "ca.key"), caKeyPEM, 0o600)
	key, _ := GenerateKey(RSA2048, nil)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"kubernetes"}, IPAddresses: []net.IP{net.ParseIP("10.96.0.1")},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(nil, tmpl, ca, key.Public(), caKey)
	cert, _ := x509.ParseCertificate(der)
	os.WriteFile(filepath.Join(pki, "apiserver.crt"), EncodeCertPEM(cert), 0o644)
	if err := WritePrivateKeyFile(filepath.Join(pki, "apiserver.key"), key); err != nil {
		t.Fatal(err)
	}
	return l
}

func pairMatches(t *testing.T, l Layout, base string) (bool, *x509.Certificate) {
	t.Helper()
	certs, err := readCerts(filepath.Join(l.Path(l.CertDir), base+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := readKey(filepath.Join(l.Path(l.CertDir), base+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return KeyMatchesCert(certs[0], key), certs[0]
}

func TestRenewNewKeyWithBackup(t *testing.T) {
	l := minimalLayout(t)
	oldKey, _ := os.ReadFile(filepath.Join(l.Path(l.CertDir), "apiserver.key"))
	dry, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, NewKey: true, DryRun: true}, t0)
	if err != nil || dry.BackupDir != "" || len(dry.Certificates) != 1 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if _, err := os.Stat(l.TmpDir()); err == nil {
		t.Error("a dry run wrote the tmp dir")
	}
	res, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, NewKey: true, Validity: 48 * time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ok, cert := pairMatches(t, l, "apiserver")
	newKey, _ := os.ReadFile(filepath.Join(l.Path(l.CertDir), "apiserver.key"))
	if !ok || string(newKey) == string(oldKey) || !cert.NotAfter.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("after --new-key: match %v, key changed %v, NotAfter %s", ok, string(newKey) != string(oldKey), cert.NotAfter)
	}
	if st, _ := os.Stat(filepath.Join(l.Path(l.CertDir), "apiserver.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("new key mode %v", st.Mode().Perm())
	}
	if n, err := VerifyBackup(res.BackupDir); err != nil || n != 4 {
		t.Errorf("backup: %d files, %v", n, err)
	}
	saved, _ := os.ReadFile(filepath.Join(res.BackupDir, "etc/kubernetes/pki/apiserver.key"))
	if string(saved) != string(oldKey) {
		t.Error("the backup does not hold the old key")
	}
	if !strings.HasPrefix(filepath.Base(res.BackupDir), "clusterops-backup-20260102T030405Z") || strings.Join(res.RestartStaticPods, ",") != "kube-apiserver" {
		t.Errorf("result %+v", res)
	}
	// The CA's key absent: refused, with the --csr-only hint.
	os.Remove(filepath.Join(l.Path(l.CertDir), "ca.key"))
	if _, err := Renew(l, RenewOptions{Names: []string{"apiserver"}}, t0); err == nil || !strings.Contains(err.Error(), "--csr-only") {
		t.Errorf("externally managed CA: %v", err)
	}
}

// A --new-key renewal killed between its renames is finished by the next run.
func TestRecoverInterrupted(t *testing.T) {
	for _, stage := range []string{"both new files written", "key renamed", "mismatched leftovers"} {
		l := minimalLayout(t)
		pki := l.Path(l.CertDir)
		ca, _ := readCerts(filepath.Join(pki, "ca.crt"))
		caKey, _ := readKey(filepath.Join(pki, "ca.key"))
		old, _ := readCerts(filepath.Join(pki, "apiserver.crt"))
		key, _ := GenerateKey(RSA2048, nil)
		cert, _ := RenewCert(old[0], ca[0], caKey, key.Public(), t0, 0)
		WritePrivateKeyFile(filepath.Join(pki, "apiserver.key"+newSuffix), key)
		atomicfile.WriteFile(filepath.Join(pki, "apiserver.crt"+newSuffix), EncodeCertPEM(cert), 0o644)
		switch stage {
		case "key renamed":
			os.Rename(filepath.Join(pki, "apiserver.key"+newSuffix), filepath.Join(pki, "apiserver.key"))
		case "mismatched leftovers":
			other, _ := GenerateKey(RSA2048, nil)
			WritePrivateKeyFile(filepath.Join(pki, "apiserver.key"+newSuffix), other)
		}
		if err := RecoverInterrupted(l); err != nil {
			t.Fatal(err)
		}
		ok, got := pairMatches(t, l, "apiserver")
		if !ok {
			t.Errorf("%s: the pair does not match after recovery", stage)
		}
		renewed := got.SerialNumber.Cmp(cert.SerialNumber) == 0
		if renewed != (stage != "mismatched leftovers") {
			t.Errorf("%s: renewed=%v", stage, renewed)
		}
		if left, _ := filepath.Glob(filepath.Join(pki, "*"+newSuffix)); len(left) > 0 {
			t.Errorf("%s: left %v", stage, left)
		}
	}
}

func TestCheckNodeMinimal(t *testing.T) {
	l := minimalLayout(t)
	r, err := CheckNode(l, t0, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var api Certificate
	for _, c := range r.Certificates {
		if c.Name == "apiserver" {
			api = c
		}
	}
	if api.Status != StatusExpiring || !*api.KeyMatches || !*api.ChainVerified || api.ResidualSeconds != 24*3600 {
		t.Errorf("apiserver: %+v", api)
	}
	if r.Severity() != 2 { // the rest of kubeadm's catalogue is missing
		t.Errorf("severity %d", r.Severity())
	}
	if _, err := CheckNode(DefaultLayout(t.TempDir()), t0, 0); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Errorf("no layout: %v", err)
	}
}

// A restart killed while a manifest was parked: the next run puts it back.
func TestParkedManifestIsRestored(t *testing.T) {
	l := minimalLayout(t)
	os.MkdirAll(l.ManifestsDir(), 0o755)
	os.MkdirAll(parkDir(l), 0o700)
	os.WriteFile(filepath.Join(parkDir(l), "etcd.yaml"), []byte("kind: Pod\n"), 0o600)
	os.WriteFile(filepath.Join(parkDir(l), "kube-apiserver.yaml"), []byte("old\n"), 0o600)
	os.WriteFile(filepath.Join(l.ManifestsDir(), "kube-apiserver.yaml"), []byte("current\n"), 0o600)
	if err := RecoverInterrupted(l); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(l.ManifestsDir(), "etcd.yaml")); string(data) != "kind: Pod\n" {
		t.Errorf("etcd.yaml not restored: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(l.ManifestsDir(), "kube-apiserver.yaml")); string(data) != "current\n" {
		t.Errorf("an existing manifest was overwritten: %q", data)
	}
}

func TestDefect4MarkRestartPending(t *testing.T) {
	l := minimalLayout(t)
	old, _ := l.ReadCert("apiserver")
	ca, _ := readCerts(filepath.Join(l.Path(l.CertDir), "ca.crt"))
	caKey, _ := readKey(filepath.Join(l.Path(l.CertDir), "ca.key"))
	key, _ := readKey(filepath.Join(l.Path(l.CertDir), "apiserver.key"))
	renewed, _ := RenewCert(old, ca[0], caKey, key.Public(), t0, 0)
	otherKey, _ := GenerateKey(ECDSAP256, nil)
	// Defect 4 (issue 14): a renewal with a new key, as kubeadm's own renewal always does.
	newKey, _ := RenewCert(old, ca[0], caKey, otherKey.Public(), t0, 0)
	// Another control-plane node behind the same endpoint: its own name and address in the SANs.
	otherNodeTmpl := *old
	otherNodeTmpl.DNSNames = append(slices.Clone(old.DNSNames), "cp2")
	otherNodeTmpl.IPAddresses = []net.IP{net.ParseIP("10.96.0.1"), net.ParseIP("192.0.2.12")}
	otherNode, _ := RenewCert(&otherNodeTmpl, ca[0], caKey, otherKey.Public(), t0, 0)
	// The same names from another CA (a different cluster answering on this address).
	otherCA, otherCAKeyPEM := newCA(t)
	otherCAKey, _ := ParsePrivateKeyPEM(otherCAKeyPEM)
	foreign, _ := RenewCert(old, otherCA, otherCAKey, key.Public(), t0, 0)
	// The same SANs in another order are the same identity.
	reorderedTmpl := *old
	reorderedTmpl.IPAddresses = []net.IP{old.IPAddresses[0]}
	reorderedTmpl.DNSNames = append([]string{"kubernetes.default"}, old.DNSNames...)
	reordered, _ := RenewCert(&reorderedTmpl, ca[0], caKey, key.Public(), t0, 0)
	reorderedTmpl.DNSNames = append(slices.Clone(old.DNSNames), "kubernetes.default")
	reorderedOnDisk, _ := RenewCert(&reorderedTmpl, ca[0], caKey, otherKey.Public(), t0.Add(time.Hour), 0)
	for _, c := range []struct {
		name           string
		served, onDisk *x509.Certificate
		want           string
	}{
		{"renewed with the same key, still serving the old one", old, renewed, StatusRestartPending},
		{"renewed with a new key (kubeadm's way), still serving the old one", old, newKey, StatusRestartPending},
		{"SANs in another order, new key", reordered, reorderedOnDisk, StatusRestartPending},
		{"restarted (or reloaded)", renewed, renewed, StatusOK},
		{"restarted after a new-key renewal", newKey, newKey, StatusOK},
		{"another node behind the same endpoint", otherNode, renewed, StatusOK},
		{"another CA", foreign, renewed, StatusOK},
	} {
		r := &Report{Certificates: []Certificate{{Name: ServingName, Source: SourceAPI, Status: StatusOK}}}
		MarkRestartPending(r, c.served, c.onDisk)
		if got := r.Certificates[0].Status; got != c.want {
			t.Errorf("%s: got %s, want %s (%s)", c.name, got, c.want, r.Certificates[0].Problem)
		}
	}
}

// super-admin.conf exists only on the node where kubeadm init ran: elsewhere it is reported as
// Absent (kubeadm shows it as missing too), which is not a problem, while a missing admin.conf
// is. Renewing it by name still says how to create it.
func TestSuperAdminConfAbsentOnJoinedNodes(t *testing.T) {
	l := minimalLayout(t)
	r, err := CheckNode(l, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Certificates {
		switch c.Name {
		case "super-admin.conf":
			if c.Status != StatusAbsent || !c.Missing {
				t.Errorf("super-admin.conf: %+v", c)
			}
		case "admin.conf":
			if c.Status != StatusMissing {
				t.Errorf("admin.conf: %+v", c)
			}
		}
	}
	only := &Report{Certificates: []Certificate{{Name: "super-admin.conf", Status: StatusAbsent}}}
	if only.Severity() != 0 {
		t.Errorf("an absent super-admin.conf has severity %d", only.Severity())
	}
	_, err = Renew(l, RenewOptions{Names: []string{"super-admin.conf"}, DryRun: true}, t0)
	if err == nil || !strings.Contains(err.Error(), "kubeadm init phase kubeconfig super-admin") {
		t.Errorf("renew super-admin.conf by name: %v", err)
	}
}
