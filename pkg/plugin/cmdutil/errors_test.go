package cmdutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func urlErr(err error) error {
	return &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/version?timeout=32s", Err: err}
}

func dialErr(err error) error {
	return urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: err})
}

func TestFriendlyError(t *testing.T) {
	const server = "https://10.0.0.1:6443"
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"connection refused", dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
			[]string{"cannot reach the Kubernetes API server at " + server + ": connection refused;", "--context/--kubeconfig/--server"}},
		{"no such host", dialErr(&net.DNSError{Err: "no such host", Name: "api.example.invalid", IsNotFound: true}),
			[]string{"cannot reach", `no such host "api.example.invalid"`}},
		{"net timeout", urlErr(timeoutError{}),
			[]string{"cannot reach", "timed out", "--request-timeout"}},
		{"context deadline", fmt.Errorf("getting version: %w", context.DeadlineExceeded),
			[]string{"cannot reach", "timed out"}},
		{"timeout as text only", errors.New(`Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: i/o timeout`),
			[]string{"cannot reach", "timed out"}},
		{"refused as text only", errors.New(`dial tcp 10.0.0.1:6443: connect: connection refused`),
			[]string{"cannot reach", "connection refused"}},
		{"unknown authority", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			[]string{"certificate of the API server at " + server, "unknown authority", "certificate-authority"}},
		{"wrong host", urlErr(&tls.CertificateVerificationError{Err: x509.HostnameError{
			Certificate: &x509.Certificate{DNSNames: []string{"kubernetes", "kubernetes.default"}, IPAddresses: []net.IP{net.ParseIP("10.96.0.1")}},
			Host:        "10.0.0.1",
		}}), []string{`not valid for "10.0.0.1"`, "kubernetes, kubernetes.default, 10.96.0.1", "--tls-server-name"}},
		{"expired", urlErr(x509.CertificateInvalidError{Reason: x509.Expired, Detail: "current time is after 2025-01-01"}),
			[]string{"has expired", "current time is after 2025-01-01", "renew"}},
		{"unauthorized", apierrors.NewUnauthorized("Unauthorized"),
			[]string{"rejected your credentials", "401", "kubeconfig"}},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "",
			errors.New(`User "bob" cannot list resource "namespaces" in API group "" at the cluster scope`)),
			[]string{"permission denied", `User "bob" cannot list resource "namespaces"`, "cluster admin", "--as"}},
		{"forbidden without message", &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
			Details: &metav1.StatusDetails{Kind: "secrets", Name: "ca-key"},
		}}, []string{"permission denied", "access to secrets ca-key is forbidden", "--as"}},
		{"wrapped forbidden", fmt.Errorf("listing nodes: %w", apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "",
			errors.New("multi\nline reason"))), []string{"permission denied", "multi line reason"}},
		{"forbidden, no detail", apierrors.NewGenericServerResponse(403, "GET", schema.GroupResource{}, "", "unknown", 0, true),
			[]string{"permission denied", "the server gave no reason", "--as"}},
		{"bad timeout", errors.New("Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)"),
			[]string{"invalid --request-timeout", "10s"}},
		{"empty kubeconfig", clientcmd.ErrEmptyConfig,
			[]string{"no Kubernetes cluster is configured", "--kubeconfig", "KUBECONFIG"}},
		{"multi-line passthrough", errors.New("first line\nsecond line"), []string{"first line second line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FriendlyError(tt.err, server)
			assertOneLine(t, got)
			for _, w := range tt.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("message %q lacks %q", got, w)
				}
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the original error is no longer in the chain")
			}
			if ExitCode(got) != ExitCannotRun {
				t.Errorf("exit code %d, want %d", ExitCode(got), ExitCannotRun)
			}
		})
	}
}

func TestFriendlyErrorPassThrough(t *testing.T) {
	if FriendlyError(nil, "x") != nil {
		t.Error("nil must stay nil")
	}
	plain := errors.New("something else went wrong")
	if got := FriendlyError(plain, "https://a"); got != plain {
		t.Errorf("an unrecognised single-line error must be returned unchanged, got %v", got)
	}
	if got := FriendlyError(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), ""); strings.Contains(got.Error(), "server at") {
		t.Errorf("no server known, but the message names one: %q", got)
	}
}

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain error", base, 3},
		{"pointer", &ExitError{Code: ExitProblems, Err: base}, 2},
		{"value", ExitError{Code: ExitWarnings, Err: base}, 1},
		{"wrapped pointer", fmt.Errorf("checking certs: %w", &ExitError{Code: ExitWarnings, Err: base}), 1},
		{"wrapped value", fmt.Errorf("x: %w", ExitError{Code: ExitProblems}), 2},
		{"usage error", UsageError("kubectl clusterops", base), 3},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}

	e := &ExitError{Code: 2, Err: base}
	if e.Error() != "boom" || !errors.Is(e, base) {
		t.Errorf("ExitError must show and unwrap its error: %q", e.Error())
	}
	if (&ExitError{Code: 1}).Error() != "" {
		t.Error("an ExitError without Err must have an empty message (main then prints nothing)")
	}
}

func assertOneLine(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
	if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error message must be one non-empty line, got %q", msg)
	}
}
