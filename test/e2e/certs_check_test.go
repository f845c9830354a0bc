//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

var kubeadmNames = []string{"admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client",
	"controller-manager.conf", "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client",
	"scheduler.conf", "super-admin.conf"}

// compareWithKubeadm checks that our node report agrees with kubeadm's on the same root: the same
// names in the same order, the same expiry to the second, CA names, missing and externally-managed flags.
func compareWithKubeadm(t *testing.T, root string) ourCheck {
	t.Helper()
	ours, _ := certsCheck(t, "--root", root, "--source", "node")
	theirs := kubeadmCheck(t, root)
	var names, theirNames []string
	for _, c := range ours.Certificates {
		if c.Kubeadm {
			names = append(names, c.Name)
		}
	}
	for _, c := range theirs.Certificates {
		theirNames = append(theirNames, c.Name)
	}
	if !slices.Equal(names, theirNames) || !slices.Equal(theirNames, kubeadmNames) {
		t.Fatalf("names:\n ours    %v\n kubeadm %v", names, theirNames)
	}
	same := func(kind string, o ourCert, k kubeadmCert) {
		if o.Missing != k.Missing || o.ExternallyManaged != k.ExternallyManaged || o.CAName != k.CAName && !k.Missing {
			t.Errorf("%s %s: ours missing=%v external=%v ca=%q; kubeadm missing=%v external=%v ca=%q", kind, k.Name,
				o.Missing, o.ExternallyManaged, o.CAName, k.Missing, k.ExternallyManaged, k.CAName)
		}
		if k.ExpirationDate == nil || o.NotAfter == nil {
			if (k.ExpirationDate == nil) != (o.NotAfter == nil) {
				t.Errorf("%s %s: expiry ours %v, kubeadm %v", kind, k.Name, o.NotAfter, k.ExpirationDate)
			}
			return
		}
		if !o.NotAfter.Equal(*k.ExpirationDate) {
			t.Errorf("%s %s: expires %s, kubeadm says %s", kind, k.Name, o.NotAfter.Format(time.RFC3339), k.ExpirationDate.Format(time.RFC3339))
		}
		if d := o.ResidualSeconds - k.ResidualTime; d < -5 || d > 5 {
			t.Errorf("%s %s: residual %d s, kubeadm %d s", kind, k.Name, o.ResidualSeconds, k.ResidualTime)
		}
	}
	for _, k := range theirs.Certificates {
		o, _ := ours.cert(k.Name)
		same("certificate", o, k)
	}
	if len(ours.CAs) != len(theirs.CAs) {
		t.Fatalf("CAs: ours %d, kubeadm %d", len(ours.CAs), len(theirs.CAs))
	}
	for i, k := range theirs.CAs {
		if ours.CAs[i].Name != k.Name {
			t.Errorf("CA %d: ours %s, kubeadm %s", i, ours.CAs[i].Name, k.Name)
		}
		same("CA", ours.CAs[i], k)
	}
	return ours
}

// certs check agrees with the real kubeadm check-expiration on the same node root: intact, after
// deleting a certificate and a kubeconfig, and after removing a CA key.
func TestCertsCheckAgreesWithKubeadm(t *testing.T) {
	ours := compareWithKubeadm(t, env.cp.Root)
	for _, c := range ours.Certificates {
		if c.Status != "OK" || c.KeyMatches == nil || !*c.KeyMatches || c.ChainVerified == nil || !*c.ChainVerified {
			t.Errorf("%s: status %s keyMatches %v chainVerified %v (%s)", c.Name, c.Status, c.KeyMatches, c.ChainVerified, c.Problem)
		}
	}
	if c, _ := ours.cert("apiserver"); !slices.Contains(c.SANs, "127.0.0.1") || !strings.Contains(c.Subject, "CN=kube-apiserver") {
		t.Errorf("apiserver subject %q SANs %v", c.Subject, c.SANs)
	}
	if r := run(t, "kubectl", "clusterops", "certs", "check", "--root", env.cp.Root, "--source", "node"); r.code != 0 ||
		!strings.Contains(r.stdout, "CERTIFICATE AUTHORITY   EXPIRES") || !strings.Contains(r.stdout, "EXTERNALLY MANAGED   SOURCE   STATUS") {
		t.Errorf("table: exit %d", r.code)
	}

	root := copyRoot(t, env.cp.Root)
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	if err := os.Remove(filepath.Join(pki, "apiserver.crt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "etc", "kubernetes", "scheduler.conf")); err != nil {
		t.Fatal(err)
	}
	after := compareWithKubeadm(t, root)
	if c, _ := after.cert("apiserver"); !c.Missing || c.Status != "Missing" {
		t.Errorf("deleted apiserver.crt: %+v", c)
	}
	if _, r := certsCheck(t, "--root", root, "--source", "node"); r.code != 2 {
		t.Errorf("a missing certificate: exit %d, want 2", r.code)
	}

	if err := os.Remove(filepath.Join(pki, "etcd", "ca.key")); err != nil {
		t.Fatal(err)
	}
	ext := compareWithKubeadm(t, root)
	if c, _ := ext.cert("etcd-server"); !c.ExternallyManaged {
		t.Errorf("etcd-server with etcd-ca key removed: not externally managed: %+v", c)
	}
}

// Exit codes and the problems the check finds: expiring, not a certificate, a mismatched key,
// a bad root; the kubelet's certificates; the prometheus output.
func TestCertsCheckFindings(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	if _, r := certsCheck(t, "--root", root, "--source", "node", "--warn-within", "400d"); r.code != 1 {
		t.Errorf("--warn-within 400d on one-year certificates: exit %d, want 1", r.code)
	}
	addKubeletCerts(t, root)
	c, r := certsCheck(t, "--root", root, "--source", "node")
	if r.code != 2 {
		t.Errorf("an expired kubelet serving certificate: exit %d, want 2", r.code)
	}
	client, ok := c.cert("kubelet-client")
	if !ok || client.CAName != "ca" || client.ChainVerified == nil || !*client.ChainVerified || !*client.KeyMatches || client.Status != "OK" {
		t.Errorf("kubelet-client (symlink to an absolute path inside the root): %+v", client)
	}
	// After TLS bootstrap kubeadm's kubelet.conf points at kubelet-client-current.pem by path.
	kubeletConf := filepath.Join(root, "etc", "kubernetes", "kubelet.conf")
	cfg, err := clientcmd.LoadFromFile(kubeletConf)
	if err != nil {
		t.Fatal(err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	user.ClientCertificateData, user.ClientKeyData = nil, nil
	user.ClientCertificate = "/var/lib/kubelet/pki/kubelet-client-current.pem"
	user.ClientKey = "/var/lib/kubelet/pki/kubelet-client-current.pem"
	if err := clientcmd.WriteToFile(*cfg, kubeletConf); err != nil {
		t.Fatal(err)
	}
	c, _ = certsCheck(t, "--root", root, "--source", "node")
	if kc, _ := c.cert("kubelet.conf"); kc.NotAfter == nil || !kc.NotAfter.Equal(*client.NotAfter) || !*kc.KeyMatches || kc.Status != "OK" {
		t.Errorf("kubelet.conf referring to kubelet-client-current.pem: %+v (kubelet-client expires %v)", kc, client.NotAfter)
	}
	serving, ok := c.cert("kubelet-serving")
	if !ok || serving.CAName != "self-signed" || serving.Status != "Expired" || serving.ResidualSeconds >= 0 {
		t.Errorf("kubelet-serving: %+v", serving)
	}

	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	if err := os.WriteFile(filepath.Join(pki, "front-proxy-client.crt"), []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join(pki, "apiserver-kubelet-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pki, "apiserver-etcd-client.key"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	c, r = certsCheck(t, "--root", root, "--source", "node")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if fp, _ := c.cert("front-proxy-client"); fp.Status != "Invalid" || !strings.Contains(fp.Problem, "not a certificate") {
		t.Errorf("front-proxy-client that is not a PEM certificate: %+v", fp)
	}
	if ec, _ := c.cert("apiserver-etcd-client"); ec.Status != "KeyMismatch" || ec.KeyMatches == nil || *ec.KeyMatches {
		t.Errorf("apiserver-etcd-client with another key: %+v", ec)
	}

	prom := run(t, "kubectl", "clusterops", "certs", "check", "--root", env.cp.Root, "--source", "node", "-o", "prometheus")
	apiserver := readCert(t, filepath.Join(env.cp.PKI(), "apiserver.crt"))
	want := `clusterops_cert_not_after_seconds{name="apiserver",source="node",path="/etc/kubernetes/pki/apiserver.crt",ca="ca"} `
	if prom.code != 0 || !strings.Contains(prom.stdout, want+big.NewInt(apiserver.NotAfter.Unix()).String()+"\n") {
		t.Errorf("prometheus output lacks %s%d", want, apiserver.NotAfter.Unix())
	}

	for _, bad := range [][]string{
		{"--root", filepath.Join(t.TempDir(), "nothing-here"), "--source", "node"},
		{"--root", root, "--warn-within", "soon"},
		{"--root", root, "--source", "disk"},
		{"--root", root, "-o", "xml"},
	} {
		r := run(t, "kubectl", append([]string{"clusterops", "certs", "check"}, bad...)...)
		if msg := strings.TrimSpace(r.stderr); r.code != 3 || msg == "" || strings.Contains(msg, "\n") {
			t.Errorf("%v: want exit 3 and one line, got %d %q", bad, r.code, msg)
		}
	}
}

// addKubeletCerts writes what a kubelet keeps: kubelet-client-current.pem (cert and key in one
// file, a symlink to an absolute path) signed by the node's CA, and a self-signed kubelet.crt that
// expired an hour ago.
func addKubeletCerts(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "var", "lib", "kubelet", "pki")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	caCert := readCert(t, filepath.Join(pki, "ca.crt"))
	caKeyPEM, err := os.ReadFile(filepath.Join(pki, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caKeyPEM)
	caKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// mk makes a key and a certificate signed by parent (a self-signed CA when parent is nil) and
	// returns cert+key PEM, and the parsed certificate and key for signing with it.
	mk := func(cn string, parent *x509.Certificate, signer any, notAfter time.Time) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-48 * time.Hour), NotAfter: notAfter, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if parent == nil {
			tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign
			parent, signer = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), key
	}
	client, _ := mk("system:node:"+env.cp.NodeName, caCert, caKey, now.Add(200*24*time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "kubelet-client-2026-01-01-00-00-00.pem"), client, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/var/lib/kubelet/pki/kubelet-client-2026-01-01-00-00-00.pem", filepath.Join(dir, "kubelet-client-current.pem")); err != nil {
		t.Fatal(err)
	}
	// As the kubelet does without serverTLSBootstrap: its own CA, then the serving cert, both in kubelet.crt.
	kubeletCAPEM, kubeletCAKey := mk(env.cp.NodeName+"-ca@1", nil, nil, now.Add(-time.Hour))
	caBlock, _ := pem.Decode(kubeletCAPEM)
	kubeletCA, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	serving, _ := mk(env.cp.NodeName+"@1", kubeletCA, kubeletCAKey, now.Add(-time.Hour))
	i := strings.Index(string(serving), "-----BEGIN EC PRIVATE KEY")
	if err := os.WriteFile(filepath.Join(dir, "kubelet.crt"), append(serving[:i:i], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kubeletCA.Raw})...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubelet.key"), serving[i:], 0o600); err != nil {
		t.Fatal(err)
	}
}

// certs ca: the CA status agrees with kubeadm's CA list and the plan is ordered; an externally
// managed CA changes the plan; nothing is written.
func TestCertsCA(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	before := etcKubernetesSums(t, root)
	r := run(t, "kubectl", "clusterops", "certs", "ca", "--root", root, "-o", "json")
	var out struct {
		CAs []struct {
			Name     string     `json:"name"`
			NotAfter *time.Time `json:"notAfter"`
			Signs    []string   `json:"signs"`
		} `json:"certificateAuthorities"`
		RotateFirst string `json:"rotateFirst"`
		Plan        []struct {
			Step     int      `json:"step"`
			Title    string   `json:"title"`
			Commands []string `json:"commands"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, err)
	}
	k := kubeadmCheck(t, root)
	for i, ca := range k.CAs {
		if out.CAs[i].Name != ca.Name || !out.CAs[i].NotAfter.Equal(*ca.ExpirationDate) {
			t.Errorf("CA %d: %s %v, kubeadm %s %v", i, out.CAs[i].Name, out.CAs[i].NotAfter, ca.Name, ca.ExpirationDate)
		}
	}
	if !slices.Equal(out.CAs[1].Signs, []string{"apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server"}) {
		t.Errorf("etcd-ca signs %v", out.CAs[1].Signs)
	}
	if len(out.Plan) < 6 || out.Plan[0].Step != 1 || !strings.Contains(out.Plan[0].Title, "Back up") ||
		!strings.Contains(out.Plan[len(out.Plan)-1].Title, "Drop the old CA") {
		t.Errorf("plan: %+v", out.Plan)
	}
	if text := run(t, "kubectl", "clusterops", "certs", "ca", "--root", root); !strings.Contains(text.stdout, "Rotation plan for ") {
		t.Errorf("table output lacks the plan")
	}
	if !maps.Equal(before, etcKubernetesSums(t, root)) {
		t.Errorf("certs ca changed files")
	}
	if r := run(t, "kubectl", "clusterops", "certs", "ca", "--root", root, "--warn-within", "20y"); r.code != 1 {
		t.Errorf("CAs expiring within 20 years: exit %d, want 1", r.code)
	}
}
