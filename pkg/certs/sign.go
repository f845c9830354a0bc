package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// DefaultValidity is kubeadm's default lifetime of a leaf certificate.
const DefaultValidity = 365 * 24 * time.Hour

// backdate is how far before `now` a new certificate becomes valid, to absorb clock skew.
const backdate = 5 * time.Minute

// ParseCSRPEM parses a PEM certificate request and checks its signature.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != certutil.CertificateRequestBlockType {
		return nil, errors.New("no PEM certificate request found")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return csr, nil
}

// SignClientCert signs a client certificate (ExtKeyUsageClientAuth) for pub with the CA, valid from
// now (minus a few minutes of clock-skew slack) for validity, and never past the CA's NotAfter.
func SignClientCert(caCert *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, subject pkix.Name,
	now time.Time, validity time.Duration) (*x509.Certificate, error) {
	return signFromTemplate(&x509.Certificate{
		Subject:               subject,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}, caCert, caKey, pub, now, validity)
}

// RenewCert signs a new certificate for pub that keeps everything of old that matters (subject,
// SANs, key usages, extended key usages, basic constraints) with a new serial and lifetime.
func RenewCert(old, caCert *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey,
	now time.Time, validity time.Duration) (*x509.Certificate, error) {
	return signFromTemplate(&x509.Certificate{
		Subject:               old.Subject,
		DNSNames:              old.DNSNames,
		IPAddresses:           old.IPAddresses,
		EmailAddresses:        old.EmailAddresses,
		URIs:                  old.URIs,
		KeyUsage:              old.KeyUsage,
		ExtKeyUsage:           old.ExtKeyUsage,
		UnknownExtKeyUsage:    old.UnknownExtKeyUsage,
		BasicConstraintsValid: old.BasicConstraintsValid,
		IsCA:                  false,
	}, caCert, caKey, pub, now, validity)
}

func signFromTemplate(tmpl, caCert *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey,
	now time.Time, validity time.Duration) (*x509.Certificate, error) {
	if caCert == nil || caKey == nil {
		return nil, errors.New("signing needs both the CA certificate and its private key")
	}
	if !KeyMatchesCert(caCert, caKey) {
		return nil, errors.New("the CA private key does not match the CA certificate")
	}
	if validity <= 0 {
		validity = DefaultValidity
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).SetInt64(math.MaxInt64-1))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	tmpl.NotBefore = now.Add(-backdate).UTC().Truncate(time.Second)
	if tmpl.NotBefore.Before(caCert.NotBefore) {
		tmpl.NotBefore = caCert.NotBefore
	}
	tmpl.NotAfter = now.Add(validity).UTC().Truncate(time.Second)
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
	}
	if !tmpl.NotAfter.After(now) {
		return nil, fmt.Errorf("the CA %q expired on %s: rotate the CA first (see 'certs ca')",
			caCert.Subject.CommonName, caCert.NotAfter.UTC().Format(time.RFC3339))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// VerifySignedBy reports whether cert was issued by ca (names and signature).
func VerifySignedBy(cert, ca *x509.Certificate) error {
	if cert == nil || ca == nil {
		return errors.New("no certificate")
	}
	return cert.CheckSignatureFrom(ca)
}
