// Package contexts checks every context of a merged kubeconfig at once (server, TLS, identity,
// namespace, credentials, certificate expiry) and plans and applies the pruning of dangling and
// unreferenced entries. It takes the merged config and a way to reach each context; it never
// reads the wall clock or the global kubeconfig itself.
package contexts

import (
	"time"
)

// Severities of a finding.
const (
	SeverityWarning = "warning"
	SeverityProblem = "problem"
)

// Statuses of a context: the worst severity of its findings.
const (
	StatusOK      = "OK"
	StatusWarning = "Warning"
	StatusProblem = "Problem"
)

// Checks a finding can come from; they are stable names for scripts.
const (
	CheckDangling    = "dangling"     // the context names a cluster or user the kubeconfig lacks
	CheckReachable   = "reachable"    // the server did not answer
	CheckTLS         = "tls"          // the server certificate does not verify against the context's CA
	CheckCredentials = "credentials"  // the server rejected the credentials (401)
	CheckClientCert  = "client-cert"  // the client certificate expired, expires soon or cannot be read
	CheckClusterCA   = "cluster-ca"   // the cluster CA expired, expires soon or cannot be read
	CheckExec        = "exec"         // the exec plugin's command is not on PATH
	CheckNamespace   = "namespace"    // the context's namespace does not exist
	CheckConfig      = "config"       // clientcmd cannot build a client config for the context
	CheckCurrent     = "current"      // current-context names a context that does not exist
	CheckInsecureTLS = "insecure-tls" // insecure-skip-tls-verify: the server is not verified
)

// Credential types, as the user entry configures them (client-go's precedence: exec and
// auth-provider supply a token or cert, a token wins over basic auth).
const (
	CredClientCert   = "client-certificate"
	CredToken        = "token"
	CredExec         = "exec"
	CredAuthProvider = "auth-provider"
	CredBasic        = "basic"
	CredNone         = "none"
)

// Report is the result of checking every context; printed with kind "ContextReport".
type Report struct {
	// CurrentContext is the context in use (--context, or the kubeconfig's current-context).
	CurrentContext    string `json:"currentContext"`
	WarnWithinSeconds int64  `json:"warnWithinSeconds"`
	TimeoutSeconds    int64  `json:"timeoutSeconds"`
	// Contexts, sorted by name.
	Contexts []Context `json:"contexts"`
	// UnreferencedClusters and UnreferencedUsers are entries no context names.
	UnreferencedClusters []Entry `json:"unreferencedClusters"`
	UnreferencedUsers    []Entry `json:"unreferencedUsers"`
	// Findings not tied to one context (a current-context that does not exist).
	Findings []Finding `json:"findings,omitempty"`
}

// Entry is a cluster or user entry and the file it comes from.
type Entry struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
}

// Context is the check of one context.
type Context struct {
	Name      string `json:"name"`
	Current   bool   `json:"current"`
	Cluster   string `json:"cluster"`
	User      string `json:"user"`
	Namespace string `json:"namespace"` // as configured; "" means default
	Source    string `json:"source,omitempty"`
	Server    string `json:"server,omitempty"`
	// Reachable is nil when the server was not tried (dangling context, no client config).
	Reachable *bool `json:"reachable,omitempty"`
	// LatencyMilliseconds is the time of the /version request.
	LatencyMilliseconds *int64 `json:"latencyMilliseconds,omitempty"`
	// TLS is "verified" (against the context's CA, or the system roots without one), "insecure"
	// (insecure-skip-tls-verify), "none" (http://), "failed", or "" when not tried.
	TLS           string `json:"tls,omitempty"`
	ServerVersion string `json:"serverVersion,omitempty"`
	// Identity is what the API server sees (SelfSubjectReview); nil when it could not be asked.
	Identity *Identity `json:"identity,omitempty"`
	// NamespaceExists is nil when it could not be told (forbidden, unreachable).
	NamespaceExists *bool      `json:"namespaceExists,omitempty"`
	Credential      Credential `json:"credential"`
	ClusterCA       *Cert      `json:"clusterCA,omitempty"`
	Status          string     `json:"status"`
	Findings        []Finding  `json:"findings,omitempty"`
}

// Identity is the user the API server authenticated.
type Identity struct {
	Username string   `json:"username"`
	UID      string   `json:"uid,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// Credential is how the context's user authenticates.
type Credential struct {
	// Type is one of the Cred* constants; several joined with "+" when the user has several.
	Type       string `json:"type"`
	ClientCert *Cert  `json:"clientCertificate,omitempty"`
	// ExecCommand and ExecFound describe an exec plugin: its command, and whether it is on PATH.
	ExecCommand  string `json:"execCommand,omitempty"`
	ExecFound    *bool  `json:"execFound,omitempty"`
	AuthProvider string `json:"authProvider,omitempty"`
}

// Cert is a certificate's identity and validity.
type Cert struct {
	Subject          string    `json:"subject"`
	Issuer           string    `json:"issuer"`
	NotAfter         time.Time `json:"notAfter"`
	ExpiresInSeconds int64     `json:"expiresInSeconds"` // negative once expired
}

// Finding is one thing wrong with a context.
type Finding struct {
	Severity string `json:"severity"`
	Check    string `json:"check"`
	Message  string `json:"message"`
}

// Worst is the worst status of the report: Problem, Warning or OK.
func (r *Report) Worst() string {
	worst := worstOf(r.Findings)
	for _, c := range r.Contexts {
		worst = max(worst, rank(c.Status))
	}
	return statuses[worst]
}

var statuses = []string{StatusOK, StatusWarning, StatusProblem}

func rank(status string) int {
	for i, s := range statuses {
		if s == status {
			return i
		}
	}
	return 0
}

func worstOf(fs []Finding) int {
	worst := 0
	for _, f := range fs {
		switch f.Severity {
		case SeverityProblem:
			worst = 2
		case SeverityWarning:
			worst = max(worst, 1)
		}
	}
	return worst
}
