// Package cmdtest holds the helpers the command groups' tests share: an isolated kubeconfig, a
// root command with one group, and assertions on the one-line error contract.
package cmdtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// Isolate points the kubeconfig and the discovery cache at an empty temp directory so that tests
// never read or write the user's ~/.kube. It returns the directory.
func Isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv("KUBECACHEDIR", filepath.Join(dir, "cache"))
	t.Setenv("HOME", dir)
	return dir
}

// Run executes a fresh root command holding the given groups with args, the way main does.
func Run(t *testing.T, groups []cmdutil.GroupConstructor, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cmdutil.NewRootCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}, "test", "test", groups...)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// AssertOneLine fails unless err is a non-nil error with a one-line message.
func AssertOneLine(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
	if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error message must be one non-empty line, got %q", msg)
	}
}

// ClosedPortURL is an https URL on 127.0.0.1 where nothing listens.
func ClosedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "https://" + addr
}
