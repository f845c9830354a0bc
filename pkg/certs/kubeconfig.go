package certs

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
)

// kubeconfigCert is the client certificate of a kubeconfig's current user.
type kubeconfigCert struct {
	config   *clientcmdapi.Config
	user     *clientcmdapi.AuthInfo
	userName string
	cert     *x509.Certificate
	key      crypto.Signer
	certFrom string // path of the cert when it is a file reference, "" when embedded
	keyErr   error
	caData   []byte
}

// loadKubeconfigCert reads a kubeconfig inside the layout and returns its current user's client
// certificate, embedded or referenced by path (mapped into Root).
func (l Layout) loadKubeconfigCert(path string) (*kubeconfigCert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid kubeconfig: %v", path, err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		return nil, fmt.Errorf("%s has no current context %q", path, cfg.CurrentContext)
	}
	user := cfg.AuthInfos[ctx.AuthInfo]
	if user == nil {
		return nil, fmt.Errorf("%s: the current context names user %q, which is not defined", path, ctx.AuthInfo)
	}
	kc := &kubeconfigCert{config: cfg, user: user, userName: ctx.AuthInfo}
	if cl := cfg.Clusters[ctx.Cluster]; cl != nil {
		kc.caData = cl.CertificateAuthorityData
	}
	certPEM := user.ClientCertificateData
	if len(certPEM) == 0 && user.ClientCertificate != "" {
		kc.certFrom = l.nodePath(user.ClientCertificate, path)
		if certPEM, err = l.readInRoot(kc.certFrom); err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", path, err)
		}
	}
	if len(certPEM) == 0 {
		return nil, fmt.Errorf("%s: user %q has no client certificate", path, ctx.AuthInfo)
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: client certificate: %w", path, err)
	}
	kc.cert = certs[0]
	keyPEM := user.ClientKeyData
	if len(keyPEM) == 0 && user.ClientKey != "" {
		keyPEM, kc.keyErr = l.readInRoot(l.nodePath(user.ClientKey, path))
	}
	if kc.keyErr == nil {
		if len(keyPEM) == 0 {
			kc.keyErr = errors.New("no client key")
		} else {
			kc.key, kc.keyErr = ParsePrivateKeyPEM(keyPEM)
		}
	}
	return kc, nil
}

// encodeKubeconfigWithCert returns the kubeconfig with the current user's embedded client cert
// (and key, when key is not nil) replaced. Every other entry is kept as it was.
func encodeKubeconfigWithCert(kc *kubeconfigCert, cert *x509.Certificate, key crypto.Signer) ([]byte, error) {
	user := kc.user.DeepCopy()
	user.ClientCertificateData = EncodeCertPEM(cert)
	user.ClientCertificate = ""
	if key != nil {
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			return nil, err
		}
		user.ClientKeyData = keyPEM
		user.ClientKey = ""
	}
	cfg := kc.config.DeepCopy()
	cfg.AuthInfos[kc.userName] = user
	return clientcmd.Write(*cfg)
}
