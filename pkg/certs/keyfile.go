package certs

import (
	"crypto"

	"k8s.io/client-go/util/keyutil"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// WritePrivateKeyFile writes key as PEM to path, mode 0600, atomically.
func WritePrivateKeyFile(path string, key crypto.Signer) error {
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o600)
}
