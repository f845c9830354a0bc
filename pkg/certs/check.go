package certs

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Sources of a checked certificate.
const (
	SourceNode   = "node"
	SourceAPI    = "api"
	SourceSecret = "secret"
	SourceCSR    = "csr"
)

// Statuses, from best to worst. Expiring is a warning; the rest after it are problems.
const (
	StatusOK = "OK"
	// StatusAbsent: a file kubeadm writes only on the node where kubeadm init ran
	// (super-admin.conf) is not on this node. Reported, not a problem.
	StatusAbsent   = "Absent"
	StatusExpiring = "Expiring"
	StatusPending  = "Pending"
	// StatusRestartPending: the API server serves an older certificate than the one on disk.
	StatusRestartPending = "RestartPending"
	StatusExpired        = "Expired"
	StatusMissing        = "Missing"
	StatusKeyMismatch    = "KeyMismatch"
	StatusUnverified     = "Unverified"
	StatusInvalid        = "Invalid"
)

// Certificate is the state of one certificate. Its JSON field names are a stable interface.
type Certificate struct {
	// Node is the node the certificate was read on, when the check ran on nodes through agents.
	Node   string `json:"node,omitempty"`
	Name   string `json:"name"`
	Source string `json:"source"`
	// Path is where the certificate is, as seen from the node (or "namespace/name" of a Secret,
	// the server URL of a serving cert).
	Path              string     `json:"path,omitempty"`
	Subject           string     `json:"subject,omitempty"`
	SANs              []string   `json:"sans,omitempty"`
	Issuer            string     `json:"issuer,omitempty"`
	NotBefore         *time.Time `json:"notBefore,omitempty"`
	NotAfter          *time.Time `json:"notAfter,omitempty"`
	ResidualSeconds   int64      `json:"residualSeconds"`
	CAName            string     `json:"caName,omitempty"`
	ExternallyManaged bool       `json:"externallyManaged"`
	Missing           bool       `json:"missing"`
	// KeyMatches is nil when the private key is not available to check (API sources).
	KeyMatches *bool `json:"keyMatches,omitempty"`
	// ChainVerified is nil when the issuing CA is not available to check against.
	ChainVerified *bool `json:"chainVerified,omitempty"`
	// Kubeadm is true for the certificates `kubeadm certs check-expiration` lists.
	Kubeadm    bool     `json:"kubeadm"`
	Components []string `json:"components,omitempty"`
	Status     string   `json:"status"`
	Problem    string   `json:"problem,omitempty"`
}

// CA is the state of one certificate authority.
type CA struct {
	Node              string     `json:"node,omitempty"`
	Name              string     `json:"name"`
	Source            string     `json:"source"`
	Path              string     `json:"path,omitempty"`
	Subject           string     `json:"subject,omitempty"`
	NotBefore         *time.Time `json:"notBefore,omitempty"`
	NotAfter          *time.Time `json:"notAfter,omitempty"`
	ResidualSeconds   int64      `json:"residualSeconds"`
	ExternallyManaged bool       `json:"externallyManaged"`
	Missing           bool       `json:"missing"`
	KeyMatches        *bool      `json:"keyMatches,omitempty"`
	Status            string     `json:"status"`
	Problem           string     `json:"problem,omitempty"`
}

// Report is the result of a check.
type Report struct {
	Certificates []Certificate `json:"certificates"`
	CAs          []CA          `json:"certificateAuthorities"`
	// WarnWithinSeconds is the --warn-within window the statuses were computed with.
	WarnWithinSeconds int64 `json:"warnWithinSeconds"`
	// Nodes is set when the check ran on nodes through agents: one entry per node asked for,
	// with the reason when the node could not report (its certificates are then absent).
	Nodes []NodeStatus `json:"nodes,omitempty"`
}

// NodeStatus is whether one node reported.
type NodeStatus struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Problem string `json:"problem,omitempty"`
}

// StatusUnreachable is a node that could not report.
const StatusUnreachable = "Unreachable"

// AddNode merges the report of one node into r, tagging each entry with the node's name.
func (r *Report) AddNode(node string, nr *Report) {
	for _, c := range nr.Certificates {
		c.Node = node
		r.Certificates = append(r.Certificates, c)
	}
	for _, c := range nr.CAs {
		c.Node = node
		r.CAs = append(r.CAs, c)
	}
	r.Nodes = append(r.Nodes, NodeStatus{Name: node, Status: StatusOK})
}

// Severity is 0 when every status is OK, 1 when something only expires soon, 2 otherwise.
func (r *Report) Severity() int {
	sev := 0
	up := func(status string) {
		switch status {
		case StatusOK, StatusAbsent:
		case StatusExpiring, StatusPending, StatusRestartPending:
			sev = max(sev, 1)
		default:
			sev = 2
		}
	}
	for _, c := range r.Certificates {
		up(c.Status)
	}
	for _, c := range r.CAs {
		up(c.Status)
	}
	for _, n := range r.Nodes {
		up(n.Status)
	}
	return sev
}

type loadedCA struct {
	cert    *x509.Certificate
	bundle  []*x509.Certificate
	key     crypto.Signer
	keyErr  error
	missing bool
	err     error
}

// caStore loads each CA once.
type caStore struct {
	l     Layout
	cache map[string]*loadedCA
}

func (s *caStore) get(name string) *loadedCA {
	if ca, ok := s.cache[name]; ok {
		return ca
	}
	ca := &loadedCA{}
	s.cache[name] = ca
	certPath, keyPath := s.l.caPaths(name)
	data, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		ca.missing = true
		return ca
	}
	if err == nil {
		var certs []*x509.Certificate
		if certs, err = ParseCertsPEM(data); err == nil {
			ca.cert, ca.bundle = certs[0], certs
		}
	}
	if err != nil {
		ca.err = fmt.Errorf("%s: %w", certPath, err)
		return ca
	}
	ca.key, ca.keyErr = readKey(keyPath)
	// During a CA rotation ca.crt is a bundle (old + new): the CA that signs is the one of the key.
	for _, c := range ca.bundle {
		if ca.key != nil && KeyMatchesCert(c, ca.key) {
			ca.cert = c
		}
	}
	return ca
}

// verifies reports whether cert was signed by any CA of the bundle.
func (ca *loadedCA) verifies(cert *x509.Certificate) bool {
	for _, c := range ca.bundle {
		if VerifySignedBy(cert, c) == nil {
			return true
		}
	}
	return false
}

// externallyManaged is kubeadm's rule: the CA certificate is there, its key is not.
func (ca *loadedCA) externallyManaged() bool {
	return ca.cert != nil && errors.Is(ca.keyErr, fs.ErrNotExist)
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// CheckNode checks every certificate and CA of the catalogue under the layout at time now.
// Kubelet certificates that do not exist are left out (a node may have no kubelet); kubeadm's are
// reported as missing.
func CheckNode(l Layout, now time.Time, warnWithin time.Duration) (*Report, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	store := &caStore{l: l, cache: map[string]*loadedCA{}}
	r := &Report{WarnWithinSeconds: int64(warnWithin / time.Second)}
	for _, s := range Catalogue() {
		c, present := checkSpec(l, store, s, now, warnWithin)
		if present || s.Kubeadm {
			r.Certificates = append(r.Certificates, c)
		}
	}
	for _, spec := range CAs() {
		r.CAs = append(r.CAs, checkCA(l, store, spec, now, warnWithin))
	}
	return r, nil
}

func checkSpec(l Layout, store *caStore, s Spec, now time.Time, warnWithin time.Duration) (Certificate, bool) {
	c := Certificate{Name: s.Name, Source: SourceNode, Kubeadm: s.Kubeadm, Components: s.Components}
	certPath, keyPath := l.certPaths(s)
	c.Path = l.displayPath(certPath)
	var (
		cert   *x509.Certificate
		chain  []*x509.Certificate
		key    crypto.Signer
		keyErr error
		err    error
	)
	if s.Kind == KindKubeconfig {
		var kc *kubeconfigCert
		if kc, err = l.loadKubeconfigCert(certPath); err == nil {
			cert, key, keyErr = kc.cert, kc.key, kc.keyErr
		}
	} else {
		var data []byte
		if data, err = l.readInRoot(certPath); err == nil {
			var certs []*x509.Certificate
			if certs, err = ParseCertsPEM(data); err == nil {
				cert, chain = certs[0], certs[1:]
				key, keyErr = readKeyInRoot(l, keyPath)
			} else {
				err = fmt.Errorf("%s: %w", c.Path, err)
			}
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		c.Missing, c.Status = true, StatusMissing
		c.Problem = c.Path + " does not exist"
		if s.InitNodeOnly {
			c.Status = StatusAbsent
			c.Problem = c.Path + " does not exist: kubeadm writes it only on the node where kubeadm init ran (not a problem)"
		}
		return c, false
	}
	if err != nil {
		c.Status, c.Problem = StatusInvalid, err.Error()
		return c, true
	}
	fillCert(&c, cert, now)
	c.CAName = s.CAName
	// Without serverTLSBootstrap the kubelet makes its own CA ("<host>-ca@<time>") and writes it
	// after the serving certificate in kubelet.crt.
	if s.Name == "kubelet-serving" && !store.get(s.CAName).verifies(cert) && selfSigned(cert, chain) {
		c.CAName = "self-signed"
	}
	ok := keyErr == nil && KeyMatchesCert(cert, key)
	c.KeyMatches = &ok
	switch {
	case keyErr != nil:
		c.Problem = "private key: " + strings.TrimPrefix(keyErr.Error(), l.Root)
	case !ok:
		c.Problem = "the private key does not match the certificate"
	}
	var verified *bool
	if c.CAName == "self-signed" {
		v := true
		verified = &v
	} else if ca := store.get(c.CAName); ca.cert != nil {
		v := ca.verifies(cert)
		verified = &v
		c.ExternallyManaged = ca.externallyManaged()
	}
	if verified != nil {
		c.ChainVerified = verified
		if !*verified && c.Problem == "" {
			c.Problem = "the certificate is not signed by CA " + c.CAName
		}
	}
	c.Status = status(cert, now, warnWithin)
	switch {
	case c.KeyMatches != nil && !*c.KeyMatches:
		c.Status = StatusKeyMismatch
	case c.ChainVerified != nil && !*c.ChainVerified:
		c.Status = StatusUnverified
	}
	return c, true
}

func readKeyInRoot(l Layout, path string) (crypto.Signer, error) {
	data, err := l.readInRoot(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.displayPath(path), err)
	}
	return key, nil
}

func checkCA(l Layout, store *caStore, spec CASpec, now time.Time, warnWithin time.Duration) CA {
	certPath, _ := l.caPaths(spec.Name)
	c := CA{Name: spec.Name, Source: SourceNode, Path: l.displayPath(certPath)}
	ca := store.get(spec.Name)
	switch {
	case ca.missing:
		c.Missing, c.Status, c.Problem = true, StatusMissing, c.Path+" does not exist"
		return c
	case ca.err != nil:
		c.Status, c.Problem = StatusInvalid, strings.TrimPrefix(ca.err.Error(), l.Root)
		return c
	}
	c.Subject = ca.cert.Subject.String()
	nb, na := ca.cert.NotBefore.UTC(), ca.cert.NotAfter.UTC()
	c.NotBefore, c.NotAfter = &nb, &na
	c.ResidualSeconds = residual(ca.cert, now)
	c.ExternallyManaged = ca.externallyManaged()
	c.Status = status(ca.cert, now, warnWithin)
	if ca.keyErr == nil {
		ok := KeyMatchesCert(ca.cert, ca.key)
		c.KeyMatches = &ok
		if !ok {
			c.Status, c.Problem = StatusKeyMismatch, "the CA private key does not match the CA certificate"
		}
	} else if !c.ExternallyManaged {
		c.Status, c.Problem = StatusInvalid, "CA private key: "+strings.TrimPrefix(ca.keyErr.Error(), l.Root)
	}
	return c
}

func fillCert(c *Certificate, cert *x509.Certificate, now time.Time) {
	c.Subject = cert.Subject.String()
	c.Issuer = cert.Issuer.String()
	c.SANs = SANs(cert)
	nb, na := cert.NotBefore.UTC(), cert.NotAfter.UTC()
	c.NotBefore, c.NotAfter = &nb, &na
	c.ResidualSeconds = residual(cert, now)
}

// SANs lists a certificate's DNS names, IP addresses, emails and URIs.
func SANs(cert *x509.Certificate) []string {
	var out []string
	out = append(out, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// residual is whole seconds from now to NotAfter, as kubeadm reports residualTime.
func residual(cert *x509.Certificate, now time.Time) int64 {
	return int64(cert.NotAfter.Sub(now) / time.Second)
}

func status(cert *x509.Certificate, now time.Time, warnWithin time.Duration) string {
	switch {
	case !now.Before(cert.NotAfter):
		return StatusExpired
	case cert.NotAfter.Sub(now) <= warnWithin:
		return StatusExpiring
	}
	return StatusOK
}

// selfSigned reports whether cert signed itself or was signed by a CA in the same file.
func selfSigned(cert *x509.Certificate, chain []*x509.Certificate) bool {
	if cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil {
		return true
	}
	for _, ca := range chain {
		if VerifySignedBy(cert, ca) == nil {
			return true
		}
	}
	return false
}
