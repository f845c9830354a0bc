package certs

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// RenewOptions say what `certs renew` does.
type RenewOptions struct {
	// Names are catalogue names; empty means every renewable certificate ("all").
	Names []string
	// NewKey makes a new private key of the same type instead of reusing the old one.
	//
	// Reuse is the default on purpose, and it is NOT what kubeadm does: kubeadm's renewal makes a
	// new key every time (renewal.FileRenewer.Renew -> pkiutil.NewCertAndKey,
	// cmd/kubeadm/app/phases/certs/renewal/filerenewer.go:41-42, util/pkiutil/pki_helpers.go:95-111
	// in kubernetes v1.37.2) and writes key then cert as two plain writes (pki_helpers.go:134-140).
	// With the same key a renewal replaces one file per certificate atomically, so a reader that
	// loads the files while it runs never sees a certificate with another key: kube-apiserver
	// reloads its serving pair on change (k8s.io/apiserver pkg/server/dynamiccertificates/
	// dynamic_serving_content.go:85-99, which refuses a mismatched pair and keeps the old one) and
	// etcd reads its pair again for new connections. A new key needs two files, hence the
	// .clusterops-new files, RecoverInterrupted and the lock. The cost of reuse: a leaked key stays
	// good for another validity period; --new-key is there for that.
	NewKey bool
	// Validity is the new lifetime (DefaultValidity when 0), never past the CA's own expiry.
	Validity time.Duration
	// DryRun plans and validates everything, and writes nothing.
	DryRun bool
	// CSROnly writes certificate requests for an external CA to CSRDir instead of renewing.
	CSROnly bool
	// CSRDir is where CSROnly writes (a path on this machine); default under the layout's tmp dir.
	CSRDir string
	// KeepBackups is how many clusterops-backup-* folders stay in the tmp dir after a renewal (the
	// new one included); older ones are removed, since each holds every CA key. 0 keeps all.
	KeepBackups int
	// Lock is the node's renewal lock when the caller already holds it (to keep it across the
	// static pod restarts); nil makes Renew take it for its own run.
	Lock *RenewalLock

	// interrupt, when set (tests), runs at each step of writing a --new-key pair (stepNewWritten,
	// stepKeyRenamed); an error stops the run there, as a kill would.
	interrupt func(step, name string) error
}

// RenewedCert is what happened (or, with DryRun, would happen) to one certificate.
type RenewedCert struct {
	Name        string     `json:"name"`
	Path        string     `json:"path"`
	CAName      string     `json:"caName"`
	OldNotAfter *time.Time `json:"oldNotAfter,omitempty"`
	NewNotAfter *time.Time `json:"newNotAfter,omitempty"`
	NewKey      bool       `json:"newKey"`
	CSRPath     string     `json:"csrPath,omitempty"`
	Components  []string   `json:"components,omitempty"`
}

// RenewResult is the outcome of Renew.
type RenewResult struct {
	DryRun    bool   `json:"dryRun"`
	CSROnly   bool   `json:"csrOnly,omitempty"`
	BackupDir string `json:"backupDir,omitempty"`
	// PrunedBackups are the older backup folders removed to keep the last RenewOptions.KeepBackups.
	PrunedBackups []string      `json:"prunedBackups,omitempty"`
	Certificates  []RenewedCert `json:"certificates"`
	// RestartStaticPods are the static pods that must restart to load the new files, in a safe order.
	RestartStaticPods []string `json:"restartStaticPods"`
	// RestartKubelet is set when a certificate the kubelet loads changed.
	RestartKubelet bool     `json:"restartKubelet,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// StaticPodOrder is the order in which control-plane static pods restart: the data store first.
func StaticPodOrder() []string {
	return []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// pending is one renewal prepared in memory before anything is written.
type pending struct {
	spec     Spec
	certPath string
	keyPath  string
	kc       *kubeconfigCert
	old      *x509.Certificate
	key      crypto.Signer
	newKey   bool
	cert     *x509.Certificate
	csrPEM   []byte
	mode     fs.FileMode
}

// Renew renews leaf certificates of a kubeadm node with the same CA, keeping subject, SANs and
// usages. A run that writes first takes the node's renewal lock and finishes or discards what an
// interrupted run left (RecoverInterrupted), so that what it reads and signs is the node as it
// will stay. Everything is then read, checked and signed in memory; the PKI and kubeconfigs are
// backed up (complete before any change); each file is replaced atomically; every written pair is
// read back and checked; older backups beyond KeepBackups are pruned.
func Renew(l Layout, opts RenewOptions, now time.Time) (*RenewResult, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	names, err := RenewNames(opts.Names)
	if err != nil {
		return nil, err
	}
	writes := !opts.DryRun && !opts.CSROnly
	if writes {
		if opts.Lock == nil {
			lock, err := LockRenewal(l)
			if err != nil {
				return nil, err
			}
			defer lock.Release()
		}
		// Recover first: a pair a killed --new-key run left half-renamed must be whole before it is
		// read, or this run would sign for a key that recovery then replaces.
		if err := RecoverInterrupted(l); err != nil {
			return nil, fmt.Errorf("finishing an interrupted renewal: %w", err)
		}
	}
	store := &caStore{l: l, cache: map[string]*loadedCA{}}
	var plan []*pending
	var skipped []string
	all := namesAll(opts.Names)
	for _, name := range names {
		p, err := prepare(l, store, name, opts, now)
		if all && errors.Is(err, errInitNodeOnly) {
			skipped = append(skipped, name+" is not on this node (kubeadm writes it only on the node where kubeadm init ran): skipped")
			continue
		}
		if err != nil {
			if left := interruptedFiles(l); !writes && len(left) > 0 {
				return nil, fmt.Errorf("%w (an interrupted --new-key renewal left %s: run certs renew without "+
					"--dry-run or --csr-only to finish it first)", err, strings.Join(left, ", "))
			}
			return nil, err
		}
		plan = append(plan, p)
	}
	res := &RenewResult{DryRun: opts.DryRun, CSROnly: opts.CSROnly, Notes: skipped}
	stamp := now.UTC().Format(backupStamp)
	if opts.CSROnly && opts.CSRDir == "" {
		opts.CSRDir = filepath.Join(l.TmpDir(), "clusterops-csr-"+stamp)
	}
	restart := map[string]bool{}
	for _, p := range plan {
		rc := RenewedCert{Name: p.spec.Name, Path: l.displayPath(p.certPath), CAName: p.spec.CAName,
			NewKey: p.newKey, Components: p.spec.Components}
		oldNA := p.old.NotAfter.UTC()
		rc.OldNotAfter = &oldNA
		if p.cert != nil {
			na := p.cert.NotAfter.UTC()
			rc.NewNotAfter = &na
		}
		if opts.CSROnly {
			rc.CSRPath = filepath.Join(opts.CSRDir, p.spec.Name+".csr")
		}
		for _, c := range p.spec.Components {
			restart[c] = true
		}
		res.Certificates = append(res.Certificates, rc)
	}
	if !opts.CSROnly {
		for _, c := range StaticPodOrder() {
			if restart[c] {
				res.RestartStaticPods = append(res.RestartStaticPods, c)
			}
		}
		res.RestartKubelet = restart["kubelet"]
		for _, p := range plan {
			if p.spec.Name == "admin.conf" || p.spec.Name == "super-admin.conf" {
				res.Notes = append(res.Notes, p.spec.Name+" changed: copy it again wherever you use it (e.g. ~/.kube/config)")
			}
		}
	}
	if res.RestartStaticPods == nil {
		res.RestartStaticPods = []string{}
	}
	if opts.DryRun {
		return res, nil
	}
	if opts.CSROnly {
		return res, writeCSRs(opts.CSRDir, plan)
	}
	if res.BackupDir, err = Backup(l, filepath.Join(l.TmpDir(), backupPrefix+stamp)); err != nil {
		return nil, err
	}
	for _, p := range plan {
		if err := p.write(opts.interrupt); err != nil {
			return res, fmt.Errorf("%w (files renewed before this one stay renewed; the backup in %s has the old ones)",
				err, res.BackupDir)
		}
	}
	for _, p := range plan {
		if err := p.verifyWritten(l); err != nil {
			return res, fmt.Errorf("%w; restore the backup: cp -a %s/etc <root>/", err, res.BackupDir)
		}
	}
	if opts.KeepBackups > 0 {
		if res.PrunedBackups, err = PruneBackups(l, opts.KeepBackups); err != nil {
			return res, fmt.Errorf("certificates renewed, but pruning old backups failed: %w", err)
		}
	}
	return res, nil
}

// verifyWritten reads the renewed files back: the certificate on disk is the one signed, and the
// key on disk is its key.
func (p *pending) verifyWritten(l Layout) error {
	shown := l.displayPath(p.certPath)
	var cert *x509.Certificate
	var key crypto.Signer
	if p.kc != nil {
		kc, err := l.loadKubeconfigCert(p.certPath)
		if err != nil {
			return fmt.Errorf("%s: reading it back after writing: %w", shown, err)
		}
		cert, key = kc.cert, kc.key
	} else {
		certs, err := readCerts(p.certPath)
		if err != nil {
			return fmt.Errorf("%s: reading it back after writing: %w", shown, err)
		}
		cert = certs[0]
		if key, err = readKey(p.keyPath); err != nil {
			return fmt.Errorf("%s: reading it back after writing: %v", l.displayPath(p.keyPath), trimRoot(l, err))
		}
	}
	if !cert.Equal(p.cert) || !KeyMatchesCert(cert, key) {
		return fmt.Errorf("%s: after writing, the certificate or key on disk is not the renewed pair "+
			"(another program changed it?)", shown)
	}
	return nil
}

// errInitNodeOnly marks a missing file that kubeadm writes only on the node where kubeadm init
// ran (Spec.InitNodeOnly): renew all skips it.
var errInitNodeOnly = errors.New("kubeadm writes it only on the node where kubeadm init ran")

// namesAll says whether the names ask for every renewable certificate: none, or just "all".
func namesAll(names []string) bool {
	return len(names) == 0 || (len(names) == 1 && names[0] == "all")
}

// RenewNames checks certificate names given to renew and expands "all" (or none) to every
// renewable certificate.
func RenewNames(names []string) ([]string, error) {
	all := RenewableNames()
	if namesAll(names) {
		return all, nil
	}
	var out []string
	for _, n := range names {
		if n == "all" {
			return nil, errors.New(`"all" cannot be combined with certificate names`)
		}
		if !slices.Contains(all, n) {
			if _, ok := specByName(n); ok {
				return nil, fmt.Errorf("%s is rotated by the kubelet itself, not renewed here; "+
					"check that the kubelet runs with certificate rotation on", n)
			}
			return nil, fmt.Errorf("unknown certificate %q: use all or one of %s", n, strings.Join(all, ", "))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func prepare(l Layout, store *caStore, name string, opts RenewOptions, now time.Time) (*pending, error) {
	spec, _ := specByName(name)
	p := &pending{spec: spec}
	p.certPath, p.keyPath = l.certPaths(spec)
	shown := l.displayPath(p.certPath)
	st, err := os.Stat(p.certPath)
	if errors.Is(err, fs.ErrNotExist) {
		err := fmt.Errorf("%s is missing (%s): renew cannot recreate it; "+
			"run 'kubeadm init phase %s' to create it, then renew", name, shown, createPhase(spec))
		if spec.InitNodeOnly {
			err = fmt.Errorf("%w (%w)", err, errInitNodeOnly)
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.mode = st.Mode().Perm()
	if spec.Kind == KindKubeconfig {
		kc, err := l.loadKubeconfigCert(p.certPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if kc.certFrom != "" {
			return nil, fmt.Errorf("%s refers to its client certificate by path (%s): only embedded certificates are renewed",
				name, l.displayPath(kc.certFrom))
		}
		if kc.keyErr != nil {
			return nil, fmt.Errorf("%s: cannot read the client key: %v", name, kc.keyErr)
		}
		p.kc, p.old, p.key = kc, kc.cert, kc.key
	} else {
		certs, err := readCerts(p.certPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, shown, err)
		}
		p.old = certs[0]
		if p.key, err = readKey(p.keyPath); err != nil {
			return nil, fmt.Errorf("%s: cannot read the private key %s: %v; restore it from a backup", name,
				l.displayPath(p.keyPath), trimRoot(l, err))
		}
	}
	if !KeyMatchesCert(p.old, p.key) {
		return nil, fmt.Errorf("%s: the private key does not match the certificate %s; restore the pair from a backup "+
			"(or pass --new-key to replace both)", name, shown)
	}
	if opts.NewKey {
		kt, err := KeyTypeOf(p.key.Public())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if p.key, err = GenerateKey(kt, nil); err != nil {
			return nil, err
		}
		p.newKey = true
	}
	if opts.CSROnly {
		p.csrPEM, err = certutil.MakeCSR(p.key, &p.old.Subject, p.old.DNSNames, p.old.IPAddresses)
		return p, err
	}
	ca := store.get(spec.CAName)
	caPath, caKeyPath := l.caPaths(spec.CAName)
	switch {
	case ca.missing:
		return nil, fmt.Errorf("%s: its CA %s is missing (%s)", name, spec.CAName, l.displayPath(caPath))
	case ca.err != nil:
		return nil, fmt.Errorf("%s: CA %s: %v", name, spec.CAName, trimRoot(l, ca.err))
	case ca.externallyManaged():
		return nil, fmt.Errorf("%s is signed by the externally managed CA %s (no %s): it cannot be renewed here; "+
			"use --csr-only to write certificate requests for your external CA", name, spec.CAName, l.displayPath(caKeyPath))
	case ca.keyErr != nil:
		return nil, fmt.Errorf("%s: cannot read the key of CA %s: %v", name, spec.CAName, trimRoot(l, ca.keyErr))
	}
	if !ca.verifies(p.old) {
		return nil, fmt.Errorf("%s is not signed by CA %s (%s): refusing to renew it with a different CA; "+
			"check that the cert dir holds this node's CA", name, spec.CAName, l.displayPath(caPath))
	}
	p.cert, err = RenewCert(p.old, ca.cert, ca.key, p.key.Public(), now, opts.Validity)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

func createPhase(s Spec) string {
	if s.Kind == KindKubeconfig {
		return "kubeconfig " + strings.TrimSuffix(s.File, ".conf")
	}
	return "certs " + s.Name
}

func trimRoot(l Layout, err error) string {
	return strings.ReplaceAll(err.Error(), strings.TrimSuffix(l.Root, "/")+"/", "/")
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCertsPEM(data)
}

// backupStamp is the UTC time in a backup folder's name.
const backupStamp = "20060102T150405Z"

// Suffix of the files a --new-key renewal writes before it renames them into place.
const newSuffix = ".clusterops-new"

// The steps of writing a --new-key pair at which a test can interrupt Renew.
const (
	stepNewWritten = "new key and cert written beside the old ones"
	stepKeyRenamed = "key renamed, cert not yet"
)

func (p *pending) write(interrupt func(step, name string) error) error {
	if interrupt == nil {
		interrupt = func(string, string) error { return nil }
	}
	certPEM := EncodeCertPEM(p.cert)
	if p.kc != nil {
		var key crypto.Signer
		if p.newKey {
			key = p.key
		}
		data, err := encodeKubeconfigWithCert(p.kc, p.cert, key)
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(p.certPath, data, p.mode)
	}
	if !p.newKey {
		return atomicfile.WriteFile(p.certPath, certPEM, p.mode)
	}
	// A new key and its cert are two files: both are written beside the old ones first; a crash
	// between the two renames leaves a .clusterops-new cert that RecoverInterrupted puts in place.
	if err := WritePrivateKeyFile(p.keyPath+newSuffix, p.key); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p.certPath+newSuffix, certPEM, p.mode); err != nil {
		os.Remove(p.keyPath + newSuffix)
		return err
	}
	if err := interrupt(stepNewWritten, p.spec.Name); err != nil {
		return err
	}
	if err := os.Rename(p.keyPath+newSuffix, p.keyPath); err != nil {
		return err
	}
	// The key's rename must be durable before the cert's: after a power loss with only the cert
	// renamed, the pair would not match and RecoverInterrupted would take the new key for a
	// leftover whose cert was never written.
	if err := atomicfile.SyncDir(filepath.Dir(p.keyPath)); err != nil {
		return err
	}
	if err := interrupt(stepKeyRenamed, p.spec.Name); err != nil {
		return err
	}
	if err := os.Rename(p.certPath+newSuffix, p.certPath); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(p.certPath))
}

func writeCSRs(dir string, plan []*pending) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, p := range plan {
		if err := atomicfile.WriteFile(filepath.Join(dir, p.spec.Name+".csr"), p.csrPEM, 0o644); err != nil {
			return err
		}
		if p.newKey {
			if err := WritePrivateKeyFile(filepath.Join(dir, p.spec.Name+".key"), p.key); err != nil {
				return err
			}
		}
	}
	return nil
}
