// Package certs reads, checks and renews the certificates of a kubeadm node, and holds the key,
// PEM, CSR and signing helpers that other packages (pkg/users) reuse:
//
//	GenerateKey(RSA2048|RSA4096|ECDSAP256, nil)      a new private key (ParseKeyType for flags)
//	WritePrivateKeyFile(path, key)                   PEM, mode 0600, atomic (internal/atomicfile)
//	ParsePrivateKeyPEM                               keys as kubeadm writes them (PKCS#1, SEC 1, PKCS#8)
//	EncodeCertPEM / ParseCertsPEM                    certificates
//	ParseCSRPEM                                      certificate requests
//	SignClientCert(caCert, caKey, pub, subject, now, validity)
//	KeyMatchesCert(cert, key), VerifySignedBy(cert, ca)
//
// Encoding a key and making a CSR are the library's: keyutil.MarshalPrivateKeyToPEM and
// certutil.MakeCSR (k8s.io/client-go/util/keyutil and .../cert).
//
// Nothing here reads the wall clock: every function that needs the time takes `now`.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
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

// ErrNoPrivateKey means the PEM data holds no private key that can be parsed.
var ErrNoPrivateKey = errors.New("no valid PEM private key found")

// ParsePrivateKeyPEM returns the first private key in PEM data (PKCS#1, SEC 1 or PKCS#8); other
// blocks (a certificate in the same file, as in kubelet-client-current.pem) are skipped. The parsing
// is keyutil.ParsePrivateKeyPEM. What this adds: the key comes back as a crypto.Signer (every
// caller signs or compares public keys), and a failure is the sentinel ErrNoPrivateKey.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, ErrNoPrivateKey
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// EncodeCertPEM encodes one certificate as PEM. (certutil.EncodeCertificates does the same for a
// list, but returns an error that cannot happen when writing to memory.)
func EncodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: cert.Raw})
}

// ErrNoCertificate means the data holds no PEM certificate.
var ErrNoCertificate = errors.New("no PEM certificate found (the file is not a certificate)")

// ParseCertsPEM returns every certificate in PEM data, in order; other blocks are skipped. The
// parsing is certutil.ParseCertsPEM. What this adds: the library's errors are plain strings, so
// "there is no certificate at all" is told apart from "a certificate block is corrupt" and returned
// as the sentinel ErrNoCertificate, whose text is what `certs check` shows for such a file.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	certs, err := certutil.ParseCertsPEM(data)
	if err == nil {
		return certs, nil
	}
	if !hasPEMBlock(data, certutil.CertificateBlockType) {
		return nil, ErrNoCertificate
	}
	return nil, fmt.Errorf("parsing certificate: %w", err)
}

// hasPEMBlock reports whether data holds a PEM block of type typ.
func hasPEMBlock(data []byte, typ string) bool {
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return false
		}
		if block.Type == typ {
			return true
		}
	}
}

// KeyMatchesCert reports whether key is the private key of cert's public key.
func KeyMatchesCert(cert *x509.Certificate, key crypto.Signer) bool {
	if cert == nil || key == nil {
		return false
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}
