package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	certificatesclient "k8s.io/client-go/kubernetes/typed/certificates/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
)

// ServingName is the name of the served API server certificate in a report.
const ServingName = "apiserver (serving)"

// ServingCert fetches the certificate an HTTPS server presents and checks it against roots (nil
// means the system roots) for serverName. The handshake only reads the certificate: nothing is
// sent to the server, and the result says whether it verified.
func ServingCert(ctx context.Context, server, serverName string, roots *x509.CertPool, now time.Time, warnWithin time.Duration) (Certificate, *x509.Certificate) {
	c := Certificate{Name: ServingName, Source: SourceAPI, Path: server, Components: []string{"kube-apiserver"}}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		c.Status, c.Problem = StatusInvalid, fmt.Sprintf("cannot parse the server URL %q", server)
		return c, nil
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	if serverName == "" {
		serverName = u.Hostname()
	}
	dialer := &tls.Dialer{Config: &tls.Config{ServerName: serverName, InsecureSkipVerify: true}} //nolint:gosec // verified below
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		c.Status, c.Problem = StatusInvalid, fmt.Sprintf("TLS handshake with %s: %v", host, err)
		return c, nil
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	if len(state.PeerCertificates) == 0 {
		c.Status, c.Problem = StatusInvalid, "the server sent no certificate"
		return c, nil
	}
	cert := state.PeerCertificates[0]
	fillCert(&c, cert, now)
	inter := x509.NewCertPool()
	for _, ic := range state.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, verr := cert.Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter,
		CurrentTime: cert.NotBefore.Add(time.Second)}) // expiry is reported separately
	ok := verr == nil
	c.ChainVerified = &ok
	c.Status = status(cert, now, warnWithin)
	if !ok {
		c.Status, c.Problem = StatusUnverified, verr.Error()
	}
	return c, cert
}

// ClientCert checks a client certificate (and its key, when given) from a kubeconfig.
func ClientCert(name, path string, certPEM, keyPEM []byte, roots *x509.CertPool, now time.Time, warnWithin time.Duration) Certificate {
	c := Certificate{Name: name, Source: SourceAPI, Path: path}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		c.Status, c.Problem = StatusInvalid, err.Error()
		return c
	}
	fillCert(&c, certs[0], now)
	c.Status = status(certs[0], now, warnWithin)
	if len(keyPEM) > 0 {
		key, err := ParsePrivateKeyPEM(keyPEM)
		ok := err == nil && KeyMatchesCert(certs[0], key)
		c.KeyMatches = &ok
		if !ok {
			c.Status, c.Problem = StatusKeyMismatch, "the client key does not match the client certificate"
		}
	}
	if roots != nil && c.Status != StatusKeyMismatch {
		verifyAgainst(&c, certs, roots, x509.ExtKeyUsageClientAuth)
	}
	return c
}

func verifyAgainst(c *Certificate, certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) {
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: certs[0].NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{usage}})
	ok := err == nil
	c.ChainVerified = &ok
	if !ok {
		c.Status, c.Problem = StatusUnverified, err.Error()
	}
}

// TLSSecrets checks every kubernetes.io/tls Secret of namespace ("" for all namespaces): expiry,
// whether tls.key matches tls.crt, and, when the Secret has a ca.crt, the chain.
func TLSSecrets(ctx context.Context, client coreclient.SecretsGetter, namespace string, now time.Time, warnWithin time.Duration) ([]Certificate, error) {
	list, err := client.Secrets(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)).String()})
	if err != nil {
		return nil, err
	}
	var out []Certificate
	for _, s := range list.Items {
		c := Certificate{Name: s.Name, Source: SourceSecret, Path: s.Namespace + "/" + s.Name}
		certs, err := ParseCertsPEM(s.Data[corev1.TLSCertKey])
		if err != nil {
			c.Status, c.Problem = StatusInvalid, "tls.crt: "+err.Error()
			out = append(out, c)
			continue
		}
		fillCert(&c, certs[0], now)
		c.Status = status(certs[0], now, warnWithin)
		key, kerr := ParsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey])
		ok := kerr == nil && KeyMatchesCert(certs[0], key)
		c.KeyMatches = &ok
		if !ok {
			c.Status, c.Problem = StatusKeyMismatch, "tls.key does not match tls.crt"
		} else if caPEM := s.Data["ca.crt"]; len(caPEM) > 0 {
			if cas, err := ParseCertsPEM(caPEM); err == nil {
				roots := x509.NewCertPool()
				for _, ca := range cas {
					roots.AddCert(ca)
				}
				verifyAgainst(&c, certs, roots, x509.ExtKeyUsageAny)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// CSRs reports pending certificate signing requests, and issued ones whose certificate expires
// within warnWithin (or has expired).
func CSRs(ctx context.Context, client certificatesclient.CertificateSigningRequestsGetter, now time.Time, warnWithin time.Duration) ([]Certificate, error) {
	list, err := client.CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []Certificate
	for _, csr := range list.Items {
		c := Certificate{Name: csr.Name, Source: SourceCSR, Path: csr.Spec.SignerName, Subject: csr.Spec.Username}
		decided := false
		for _, cond := range csr.Status.Conditions {
			if cond.Type == certificatesv1.CertificateApproved || cond.Type == certificatesv1.CertificateDenied ||
				cond.Type == certificatesv1.CertificateFailed {
				decided = true
			}
		}
		if !decided {
			c.Status = StatusPending
			c.Problem = fmt.Sprintf("pending since %s: approve or deny it (kubectl certificate approve %s)",
				csr.CreationTimestamp.UTC().Format(time.RFC3339), csr.Name)
			out = append(out, c)
			continue
		}
		certs, err := ParseCertsPEM(csr.Status.Certificate)
		if err != nil {
			continue
		}
		fillCert(&c, certs[0], now)
		c.Status = status(certs[0], now, warnWithin)
		if c.Status != StatusOK {
			out = append(out, c)
		}
	}
	return out, nil
}

// MarkRestartPending compares the served API server certificate with the node's apiserver
// certificate. When both name the same server (same subject, same SANs) and come from the same
// issuer (same issuer name and authority key ID), but the served one is not the file's, the file
// was renewed and kube-apiserver has not been restarted since. The served entry then gets
// StatusRestartPending (unless it already has a worse status).
//
// The key is not compared: kubeadm's own renewal makes a new key every time
// (renewal.FileRenewer.Renew -> pkiutil.NewCertAndKey, cmd/kubeadm/app/phases/certs/renewal/
// filerenewer.go:41-42 and util/pkiutil/pki_helpers.go:95-111 in kubernetes v1.37.2), and so does
// `certs renew --new-key`; matching on the key made every such renewal look "OK" while
// kube-apiserver still served the old certificate. Another control-plane node behind the same
// endpoint has its own name and address in its SANs, so it is not taken for this node's.
func MarkRestartPending(r *Report, served *x509.Certificate, onDisk *x509.Certificate) {
	if served == nil || onDisk == nil || served.Equal(onDisk) || !sameServerIdentity(served, onDisk) {
		return
	}
	for i := range r.Certificates {
		c := &r.Certificates[i]
		if c.Source == SourceAPI && c.Name == ServingName && (c.Status == StatusOK || c.Status == StatusExpiring || c.Status == StatusExpired) {
			c.Status = StatusRestartPending
			c.Problem = fmt.Sprintf("kube-apiserver serves a certificate that expires %s, but apiserver.crt on disk expires %s: "+
				"restart kube-apiserver to load it", served.NotAfter.UTC().Format(time.RFC3339), onDisk.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

// sameServerIdentity reports whether two certificates name the same server and come from the same
// issuer: subject, every SAN (in any order), issuer name and authority key ID.
func sameServerIdentity(a, b *x509.Certificate) bool {
	return bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawIssuer, b.RawIssuer) &&
		bytes.Equal(a.AuthorityKeyId, b.AuthorityKeyId) &&
		sameSet(a.DNSNames, b.DNSNames) && sameSet(a.EmailAddresses, b.EmailAddresses) &&
		sameSet(stringsOf(a.IPAddresses), stringsOf(b.IPAddresses)) && sameSet(stringsOf(a.URIs), stringsOf(b.URIs))
}

func stringsOf[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
