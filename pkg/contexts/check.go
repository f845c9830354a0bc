package contexts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/clock"
)

// Conn is how a check reaches one context's server.
type Conn struct {
	// Client authenticates as the context's user.
	Client kubernetes.Interface
	// Anonymous has the context's server, CA and TLS settings but no credentials: it tells
	// reachability, TLS and the version apart from the credentials.
	Anonymous kubernetes.Interface
}

// Options of Check.
type Options struct {
	// Current is the context in use; it is marked.
	Current string
	// Now is the time certificates are judged at.
	Now time.Time
	// Clock measures the latency of each server.
	Clock clock.PassiveClock
	// WarnWithin: a certificate that expires within it is a warning.
	WarnWithin time.Duration
	// Timeout bounds all the requests to one context.
	Timeout time.Duration
	// Parallel is how many contexts are checked at once (at least 1).
	Parallel int
	// Connect builds the clients of a context; nil checks the kubeconfig only.
	Connect func(name string) (*Conn, error)
	// LookPath finds an exec plugin's command (exec.LookPath when nil).
	LookPath func(string) (string, error)
	// ReadFile reads certificate files the kubeconfig names (os.ReadFile when nil).
	ReadFile func(string) ([]byte, error)
}

// Check checks every context of cfg, the merged kubeconfig before flags are applied, at most
// o.Parallel at once, and lists the clusters and users no context names.
func Check(ctx context.Context, cfg *clientcmdapi.Config, o Options) *Report {
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	r := &Report{
		CurrentContext:       o.Current,
		WarnWithinSeconds:    int64(o.WarnWithin / time.Second),
		TimeoutSeconds:       int64(o.Timeout / time.Second),
		Contexts:             []Context{},
		UnreferencedClusters: []Entry{},
		UnreferencedUsers:    []Entry{},
	}
	names := slices.Sorted(maps.Keys(cfg.Contexts))
	r.Contexts = make([]Context, len(names))
	sem := make(chan struct{}, max(o.Parallel, 1))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r.Contexts[i] = o.checkContext(ctx, cfg, name)
		})
	}
	wg.Wait()
	if o.Current != "" && cfg.Contexts[o.Current] == nil {
		r.Findings = append(r.Findings, Finding{Severity: SeverityWarning, Check: CheckCurrent,
			Message: fmt.Sprintf("the current context %q is not in the kubeconfig", o.Current)})
	}
	r.UnreferencedClusters, r.UnreferencedUsers = Unreferenced(cfg, nil)
	return r
}

// Unreferenced lists the clusters and users that no context names, leaving out the contexts in
// without (a prune's view once they are gone).
func Unreferenced(cfg *clientcmdapi.Config, without map[string]bool) (clusters, users []Entry) {
	usedClusters, usedUsers := map[string]bool{}, map[string]bool{}
	for name, c := range cfg.Contexts {
		if !without[name] {
			usedClusters[c.Cluster], usedUsers[c.AuthInfo] = true, true
		}
	}
	clusters, users = []Entry{}, []Entry{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Clusters)) {
		if !usedClusters[name] {
			clusters = append(clusters, Entry{Name: name, Source: cfg.Clusters[name].LocationOfOrigin})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.AuthInfos)) {
		if !usedUsers[name] {
			users = append(users, Entry{Name: name, Source: cfg.AuthInfos[name].LocationOfOrigin})
		}
	}
	return clusters, users
}

// Dangling says what a context names that the kubeconfig lacks ("" when nothing).
func Dangling(cfg *clientcmdapi.Config, c *clientcmdapi.Context) string {
	var missing []string
	switch {
	case c.Cluster == "":
		missing = append(missing, "names no cluster")
	case cfg.Clusters[c.Cluster] == nil:
		missing = append(missing, fmt.Sprintf("names the cluster %q, which is not in the kubeconfig", c.Cluster))
	}
	if c.AuthInfo != "" && cfg.AuthInfos[c.AuthInfo] == nil {
		missing = append(missing, fmt.Sprintf("names the user %q, which is not in the kubeconfig", c.AuthInfo))
	}
	return strings.Join(missing, "; it ")
}

func (o *Options) checkContext(ctx context.Context, cfg *clientcmdapi.Config, name string) (c Context) {
	kc := cfg.Contexts[name]
	c = Context{Name: name, Current: name == o.Current, Cluster: kc.Cluster, User: kc.AuthInfo,
		Namespace: kc.Namespace, Source: kc.LocationOfOrigin, Credential: Credential{Type: CredNone}}
	add := func(sev, check, msg string) { c.Findings = append(c.Findings, Finding{sev, check, msg}) }
	defer func() { c.Status = statuses[worstOf(c.Findings)] }()

	if d := Dangling(cfg, kc); d != "" {
		add(SeverityProblem, CheckDangling, "the context "+d)
	}
	cluster, user := cfg.Clusters[kc.Cluster], cfg.AuthInfos[kc.AuthInfo]
	execMissing := false
	if cluster != nil {
		c.Server = cluster.Server
		o.clusterCA(&c, cluster, add)
	}
	if user != nil {
		execMissing = o.credential(&c, user, add)
	}
	if o.Connect == nil || cluster == nil || (kc.AuthInfo != "" && user == nil) {
		return c
	}
	conn, err := o.Connect(name)
	if err != nil {
		add(SeverityProblem, CheckConfig, "no client config: "+oneLine(err))
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	o.probe(ctx, &c, conn, cluster, !execMissing, add)
	return c
}

// probe asks the server for /version without credentials (reachability, TLS, latency), then for
// the identity it sees and for the namespace with the context's credentials.
func (o *Options) probe(ctx context.Context, c *Context, conn *Conn, cluster *clientcmdapi.Cluster, withCreds bool,
	add func(sev, check, msg string)) {
	start := o.Clock.Now()
	info, err := serverVersion(ctx, conn.Anonymous)
	latency := o.Clock.Since(start).Milliseconds()
	var status apierrors.APIStatus
	if err != nil && !errors.As(err, &status) { // no HTTP answer
		reachable := false
		switch {
		case isTLSError(err):
			reachable, c.TLS = true, "failed"
			add(SeverityProblem, CheckTLS, "the server certificate does not verify against the context's CA: "+oneLine(err))
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			add(SeverityProblem, CheckReachable, fmt.Sprintf("the server %s did not answer within %s", c.Server, o.Timeout))
		default:
			add(SeverityProblem, CheckReachable, fmt.Sprintf("the server %s is unreachable: %s", c.Server, oneLine(err)))
		}
		c.Reachable = &reachable
		return
	}
	reachable := true
	c.Reachable, c.LatencyMilliseconds = &reachable, &latency
	switch {
	case strings.HasPrefix(c.Server, "http://"):
		c.TLS = "none"
	case cluster.InsecureSkipTLSVerify:
		c.TLS = "insecure"
	default:
		c.TLS = "verified"
	}
	if info != nil {
		c.ServerVersion = info.GitVersion
	}
	if !withCreds {
		return
	}
	if info == nil { // anonymous requests are not allowed: ask as the user
		if info, err := serverVersion(ctx, conn.Client); err == nil {
			c.ServerVersion = info.GitVersion
		}
	}
	id, err := whoAmI(ctx, conn.Client)
	switch {
	case apierrors.IsUnauthorized(err):
		add(SeverityProblem, CheckCredentials, "the server rejected the credentials of user "+c.User+" (401 Unauthorized)")
		return
	case err != nil && !errors.As(err, &status):
		add(SeverityProblem, CheckCredentials, "the credentials of user "+c.User+" could not be used: "+oneLine(err))
		return
	case err == nil:
		c.Identity = id
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	exists, err := namespaceExists(ctx, conn.Client, ns)
	if err == nil {
		c.NamespaceExists = &exists
		if !exists {
			add(SeverityProblem, CheckNamespace, fmt.Sprintf("the namespace %q does not exist", ns))
		}
	}
}

// isTLSError reports a server certificate that does not verify.
func isTLSError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// clusterCA reads the cluster's CA bundle and judges the certificate that expires first.
func (o *Options) clusterCA(c *Context, cluster *clientcmdapi.Cluster, add func(sev, check, msg string)) {
	if cluster.InsecureSkipTLSVerify {
		add(SeverityWarning, CheckInsecureTLS, "insecure-skip-tls-verify: the server's certificate is not checked")
	}
	data, what := cluster.CertificateAuthorityData, "certificate-authority-data"
	if len(data) == 0 && cluster.CertificateAuthority != "" {
		var err error
		what = cluster.CertificateAuthority
		if data, err = o.ReadFile(cluster.CertificateAuthority); err != nil {
			add(SeverityProblem, CheckClusterCA, "cannot read the cluster CA: "+oneLine(err))
			return
		}
	}
	if len(data) == 0 {
		return // the system roots verify the server
	}
	cert, err := earliest(data)
	if err != nil {
		add(SeverityProblem, CheckClusterCA, fmt.Sprintf("the cluster CA (%s) does not parse: %v", what, err))
		return
	}
	c.ClusterCA = o.cert(cert)
	o.judge(c.ClusterCA, CheckClusterCA, "the cluster CA", add)
}

// credential describes the user entry; it returns true when an exec plugin's command is missing.
func (o *Options) credential(c *Context, u *clientcmdapi.AuthInfo, add func(sev, check, msg string)) bool {
	var types []string
	missing := false
	if u.Exec != nil {
		types = append(types, CredExec)
		c.Credential.ExecCommand = u.Exec.Command
		_, err := o.LookPath(u.Exec.Command)
		found := err == nil
		c.Credential.ExecFound = &found
		if !found {
			missing = true
			add(SeverityProblem, CheckExec, fmt.Sprintf("the exec plugin command %q is not found on PATH", u.Exec.Command))
		}
	}
	if u.AuthProvider != nil {
		types = append(types, CredAuthProvider)
		c.Credential.AuthProvider = u.AuthProvider.Name
	}
	if len(u.ClientCertificateData) > 0 || u.ClientCertificate != "" {
		types = append(types, CredClientCert)
		o.clientCert(c, u, add)
	}
	if u.Token != "" || u.TokenFile != "" {
		types = append(types, CredToken)
	}
	if u.Username != "" || u.Password != "" {
		types = append(types, CredBasic)
	}
	if len(types) > 0 {
		c.Credential.Type = strings.Join(types, "+")
	}
	return missing
}

func (o *Options) clientCert(c *Context, u *clientcmdapi.AuthInfo, add func(sev, check, msg string)) {
	data := u.ClientCertificateData
	if len(data) == 0 {
		var err error
		if data, err = o.ReadFile(u.ClientCertificate); err != nil {
			add(SeverityProblem, CheckClientCert, "cannot read the client certificate: "+oneLine(err))
			return
		}
	}
	certs, err := certutil.ParseCertsPEM(data)
	if err != nil {
		add(SeverityProblem, CheckClientCert, "the client certificate does not parse: "+oneLine(err))
		return
	}
	c.Credential.ClientCert = o.cert(certs[0]) // the leaf; any others are intermediates
	o.judge(c.Credential.ClientCert, CheckClientCert, "the client certificate", add)
}

func earliest(pemData []byte) (*x509.Certificate, error) {
	certs, err := certutil.ParseCertsPEM(pemData)
	if err != nil {
		return nil, err
	}
	first := certs[0]
	for _, c := range certs[1:] {
		if c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return first, nil
}

func (o *Options) cert(c *x509.Certificate) *Cert {
	return &Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC(),
		ExpiresInSeconds: int64(c.NotAfter.Sub(o.Now) / time.Second)}
}

func (o *Options) judge(c *Cert, check, what string, add func(sev, check, msg string)) {
	left := c.NotAfter.Sub(o.Now)
	switch {
	case left <= 0:
		add(SeverityProblem, check, fmt.Sprintf("%s (%s) expired %s ago", what, c.Subject, duration.HumanDuration(-left)))
	case left <= o.WarnWithin:
		add(SeverityWarning, check, fmt.Sprintf("%s (%s) expires in %s", what, c.Subject, duration.HumanDuration(left)))
	}
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
