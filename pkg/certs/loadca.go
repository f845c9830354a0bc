package certs

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
)

// LoadCA reads a CA certificate and its private key, for signing. Each failure is one line that
// says what to do: a missing or unreadable file, a PEM that is not a CA cert, or a key that does
// not belong to the cert.
func LoadCA(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cs, err := readCerts(certPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("no CA certificate at %s: give --ca-cert (and --root on a node)", certPath)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("cannot read the CA certificate %s: permission denied; run as a user who can read it", certPath)
	case err != nil:
		return nil, nil, fmt.Errorf("%s is not a PEM certificate: %v", certPath, err)
	case len(cs) == 0:
		return nil, nil, fmt.Errorf("%s holds no certificate", certPath)
	}
	ca := cs[0]
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate (%s): give the cluster CA, e.g. /etc/kubernetes/pki/ca.crt", certPath, ca.Subject.CommonName)
	}
	key, err := readKey(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("no CA key at %s: the CA may be externally managed; sign through the certificates API (leave out --ca-cert/--ca-key)", keyPath)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("cannot read the CA key %s: permission denied; run as root on the control-plane node, or sign through the certificates API", keyPath)
	case err != nil:
		return nil, nil, fmt.Errorf("cannot use the CA key: %v", err)
	}
	if !KeyMatchesCert(ca, key) {
		return nil, nil, fmt.Errorf("the CA key %s does not belong to the CA certificate %s", keyPath, certPath)
	}
	return ca, key, nil
}
