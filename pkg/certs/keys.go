// Package certs reads, checks and renews the certificates of a kubeadm node, and holds the key,
// PEM, CSR and signing helpers that other packages (pkg/users) reuse:
//
//	GenerateKey(RSA2048|RSA4096|ECDSAP256, nil)      a new private key (ParseKeyType for flags)
//	WritePrivateKeyFile(path, key)                   PEM, mode 0600, atomic (internal/atomicfile)
//	EncodePrivateKeyPEM / ParsePrivateKeyPEM         kubeadm's PEM encodings (PKCS#1, SEC 1, PKCS#8)
//	EncodeCertPEM / ParseCertsPEM                    certificates
//	CreateCSR(key, subject, dns, ips) / ParseCSRPEM  certificate requests
//	SignClientCert(caCert, caKey, pub, subject, now, validity)
//	KeyMatchesCert(cert, key), VerifySignedBy(cert, ca)
//
// Nothing here reads the wall clock: every function that needs the time takes `now`.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType names a private key algorithm and size.
type KeyType string

// The key types this tool generates.
const (
	RSA2048   KeyType = "rsa-2048"
	RSA4096   KeyType = "rsa-4096"
	ECDSAP256 KeyType = "ecdsa-p256"
)

// KeyTypes lists the accepted key types, for flag help.
func KeyTypes() []KeyType { return []KeyType{RSA2048, RSA4096, ECDSAP256} }

// ParseKeyType parses "rsa-2048", "rsa-4096" or "ecdsa-p256".
func ParseKeyType(s string) (KeyType, error) {
	for _, t := range KeyTypes() {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown key type %q: use rsa-2048, rsa-4096 or ecdsa-p256", s)
}

// GenerateKey makes a new private key of the given type. rnd is crypto/rand.Reader when nil.
func GenerateKey(t KeyType, rnd io.Reader) (crypto.Signer, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch t {
	case RSA2048:
		return rsa.GenerateKey(rnd, 2048)
	case RSA4096:
		return rsa.GenerateKey(rnd, 4096)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rnd)
	}
	return nil, fmt.Errorf("unknown key type %q: use rsa-2048, rsa-4096 or ecdsa-p256", t)
}

// KeyTypeOf returns the type of an existing key, so a new key can match it.
func KeyTypeOf(key crypto.PublicKey) (KeyType, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() > 2048 {
			return RSA4096, nil
		}
		return RSA2048, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256, nil
		}
	}
	return "", fmt.Errorf("unsupported key type %T", key)
}

// PEM block types.
const (
	CertificateBlockType        = "CERTIFICATE"
	CertificateRequestBlockType = "CERTIFICATE REQUEST"
	RSAPrivateKeyBlockType      = "RSA PRIVATE KEY"
	ECPrivateKeyBlockType       = "EC PRIVATE KEY"
	PrivateKeyBlockType         = "PRIVATE KEY"
)

// EncodePrivateKeyPEM encodes a key as kubeadm writes it: PKCS#1 for RSA, SEC 1 for ECDSA.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: RSAPrivateKeyBlockType, Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: ECPrivateKeyBlockType, Bytes: der}), nil
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyBlockType, Bytes: der}), nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// ErrNoPrivateKey means the PEM data holds no private key block.
var ErrNoPrivateKey = errors.New("no PEM private key found")

// ParsePrivateKeyPEM returns the first private key in PEM data (PKCS#1, SEC 1 or PKCS#8). Other
// blocks (a certificate in the same file, as in kubelet-client-current.pem) are skipped.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, ErrNoPrivateKey
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case RSAPrivateKeyBlockType:
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case ECPrivateKeyBlockType:
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case PrivateKeyBlockType:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// EncodeCertPEM encodes one certificate as PEM.
func EncodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: CertificateBlockType, Bytes: cert.Raw})
}

// ErrNoCertificate means the data holds no PEM certificate.
var ErrNoCertificate = errors.New("no PEM certificate found (the file is not a certificate)")

// ParseCertsPEM returns every certificate in PEM data, in order; other blocks are skipped. It
// fails with ErrNoCertificate when there is none.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != CertificateBlockType {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}

// KeyMatchesCert reports whether key is the private key of cert's public key.
func KeyMatchesCert(cert *x509.Certificate, key crypto.Signer) bool {
	if cert == nil || key == nil {
		return false
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}
