package cmdutil

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
)

// Exit codes of kubectl-clusterops. They are part of the public interface
// (scripts test them) and are documented in the root command's --help.
const (
	// ExitOK: the command succeeded, or a check found nothing to report.
	ExitOK = 0
	// ExitWarnings: a check ran and found warnings (for example a
	// certificate that expires soon).
	ExitWarnings = 1
	// ExitProblems: a check ran and found a problem (expired, violated,
	// unhealthy).
	ExitProblems = 2
	// ExitCannotRun: the command could not do its job: bad input, an
	// unreachable cluster, forbidden access, any unexpected error.
	ExitCannotRun = 3
)

// ExitError carries an exit code up to main together with the error that
// caused it. Commands return it (by pointer or value, possibly wrapped) from
// RunE; main prints "error: <Err>" and exits with Code.
//
// A check that has already printed its findings and only needs to signal
// them through the exit status returns &ExitError{Code: ExitWarnings} with a
// nil Err: its message is empty and main prints nothing.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the message of the wrapped error, or "" when there is none.
func (e ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by the root command to the process exit
// status: 0 for nil, the Code of an ExitError found anywhere in the chain,
// and ExitCannotRun for every other error.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var p *ExitError
	if errors.As(err, &p) && p != nil {
		return p.Code
	}
	var v ExitError
	if errors.As(err, &v) {
		return v.Code
	}
	return ExitCannotRun
}

// UsageError marks bad command-line input (exit 3) and appends a pointer to
// the command's help.
func UsageError(commandPath string, err error) error {
	return &ExitError{
		Code: ExitCannotRun,
		Err:  fmt.Errorf("%w; see '%s --help'", err, commandPath),
	}
}

// friendly is an error with a rewritten, single-line message that still
// unwraps to the original error (so errors.Is/As keep working).
type friendly struct {
	msg string
	err error
}

func (f *friendly) Error() string { return f.msg }
func (f *friendly) Unwrap() error { return f.err }

// Rewrite returns an error whose message is msg (one line, saying what to do) and that still
// unwraps to err, so that errors.Is/As keep working on the cause.
func Rewrite(msg string, err error) error { return &friendly{msg: OneLine(msg), err: err} }

const ReachHint = "check that the cluster is running and --context/--kubeconfig/--server point at it"

// FriendlyError translates errors from client-go, the network and TLS into
// one plain line that says what went wrong and what to do about it. server is
// the API server URL the request went to ("" if unknown). Errors it does not
// recognise are returned with their message folded onto one line.
func FriendlyError(err error, server string) error {
	if err == nil {
		return nil
	}
	at := ""
	if server != "" {
		at = " at " + server
	}
	msg := ""
	switch {
	case apierrors.IsUnauthorized(err):
		msg = fmt.Sprintf("the Kubernetes API server%s rejected your credentials (401 Unauthorized); "+
			"the token or client certificate of the current user is wrong or expired: "+
			"check the user in your kubeconfig, or pass --token / --client-certificate", at)
	case apierrors.IsForbidden(err):
		msg = fmt.Sprintf("permission denied by the Kubernetes API server%s: %s; "+
			"ask a cluster admin to grant this access, or retry with --as=<user> if you may impersonate one",
			at, ForbiddenDetail(err))
	case strings.HasPrefix(err.Error(), "Invalid timeout value"): // from clientcmd
		msg = "invalid --request-timeout: use a whole number of seconds or a duration such as 10s, 2m or 1h (0 means no timeout)"
	case clientcmd.IsEmptyConfig(err):
		msg = "no Kubernetes cluster is configured: set KUBECONFIG, or pass --kubeconfig or --server"
	default:
		if cause := UnreachableCause(err); cause != "" {
			msg = fmt.Sprintf("cannot reach the Kubernetes API server%s: %s; %s", at, cause, ReachHint)
		} else if tlsMsg := TLSProblem(err, server); tlsMsg != "" {
			msg = tlsMsg
		}
	}
	if msg == "" {
		text := OneLine(err.Error())
		if text == err.Error() {
			return err
		}
		msg = text
	}
	return &friendly{msg: OneLine(msg), err: err}
}

// UnreachableCause returns a short cause when err means the API server could
// not be reached at all, or "" otherwise.
func UnreachableCause(err error) string {
	text := err.Error()
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(text, "connection refused"):
		return "connection refused"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("no such host %q", dnsErr.Name)
	case strings.Contains(text, "no such host"):
		return "no such host"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		strings.Contains(text, "no route to host") || strings.Contains(text, "network is unreachable"):
		return "no route to host"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		strings.Contains(text, "i/o timeout") || strings.Contains(text, "context deadline exceeded") ||
		strings.Contains(text, "Client.Timeout exceeded"):
		return "timed out (see --request-timeout)"
	}
	return ""
}

// TLSProblem explains certificate verification failures, or returns "".
func TLSProblem(err error, server string) string {
	what := "the API server certificate"
	if server != "" {
		what = "the certificate of the API server at " + server
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownCA) || strings.Contains(err.Error(), "certificate signed by unknown authority"):
		return what + " is signed by an unknown authority; make certificate-authority-data in your kubeconfig " +
			"(or --certificate-authority) the cluster CA, or check that --server points at the right cluster"
	case errors.As(err, &hostErr):
		valid := ""
		if hostErr.Certificate != nil {
			valid = fmt.Sprintf(" (it is valid for %s)", strings.Join(slices.Concat(hostErr.Certificate.DNSNames,
				ipStrings(hostErr.Certificate.IPAddresses)), ", "))
		}
		return fmt.Sprintf("%s is not valid for %q%s; use a --server address the certificate was issued for, "+
			"or --tls-server-name", what, hostErr.Host, valid)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("%s has expired or is not yet valid (%s); renew the API server certificate, "+
			"or check this machine's clock", what, invalid.Detail)
	}
	return ""
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// ForbiddenDetail returns what was denied: the server's own message says which
// user, verb and resource; fall back to the status details.
func ForbiddenDetail(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		// client-go reports "unknown" when the body was not a decodable Status.
		if s.Message != "" && s.Message != "unknown" {
			return s.Message
		}
		if d := s.Details; d != nil && d.Kind != "" {
			resource := d.Kind
			if d.Group != "" {
				resource += "." + d.Group
			}
			if d.Name != "" {
				resource += " " + d.Name
			}
			return "access to " + resource + " is forbidden"
		}
		return "the server gave no reason"
	}
	return err.Error()
}

// OneLine folds a possibly multi-line message onto a single line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
