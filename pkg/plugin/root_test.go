package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// isolate points the kubeconfig and the discovery cache at an empty temp
// directory so that tests never read or write the user's ~/.kube.
func isolate(t *testing.T) string {
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

// run executes a fresh root command with args, the way main does.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCmdRoot(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
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

func TestRootHelp(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{{"--help"}, {}} {
		out, _, err := run(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{
			"kubectl clusterops [command]",
			"Exit codes:",
			"1  a check found warnings",
			"2  a check found a problem",
			"3  the command could not run",
			"certs ", "etcd ", "upgrade ",
			"version ", "completion ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out)
			}
		}
		if strings.Contains(out, "kubectl-clusterops [command]") {
			t.Errorf("%v: help uses the binary name instead of %q", args, displayName)
		}
	}

	out, _, err := run(t, "version", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kubectl clusterops version [flags]") || !strings.Contains(out, "Examples:") {
		t.Errorf("version help:\n%s", out)
	}
}

func TestGlobalFlagsArePersistent(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	version, _, err := root.Find([]string{"version"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"kubeconfig", "context", "cluster", "user", "namespace", "as", "as-group", "as-uid",
		"request-timeout", "server", "token", "insecure-skip-tls-verify", "certificate-authority",
	} {
		if root.PersistentFlags().Lookup(name) == nil {
			t.Errorf("--%s is not a persistent flag of the root", name)
		}
		if version.InheritedFlags().Lookup(name) == nil {
			t.Errorf("--%s is not inherited by version", name)
		}
	}
	if f := root.PersistentFlags().ShorthandLookup("n"); f == nil || f.Name != "namespace" {
		t.Errorf("-n is not --namespace")
	}
}

func TestUsageErrors(t *testing.T) {
	isolate(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"nope"}, []string{`unknown command "nope" for "kubectl clusterops"`, "see 'kubectl clusterops --help'"}},
		{[]string{"vers"}, []string{`did you mean "version"?`, "see 'kubectl clusterops --help'"}},
		{[]string{"--bogus"}, []string{"unknown flag: --bogus", "see 'kubectl clusterops --help'"}},
		{[]string{"version", "--bogus"}, []string{"unknown flag: --bogus", "see 'kubectl clusterops version --help'"}},
		{[]string{"version", "--client=maybe"}, []string{"--client", "see 'kubectl clusterops version --help'"}},
		{[]string{"version", "extra"}, []string{`unknown command "extra"`, "see 'kubectl clusterops version --help'"}},
		{[]string{"version", "--client", "-o", "xml"}, []string{`unsupported output format "xml"`}},
		{[]string{"version", "--request-timeout", "soon"}, []string{"request-timeout"}},
	}
	for _, tt := range tests {
		out, _, err := run(t, tt.args...)
		assertOneLine(t, err)
		if got := ExitCode(err); got != ExitCannotRun {
			t.Errorf("%v: exit code %d, want %d", tt.args, got, ExitCannotRun)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tt.args, err, w)
			}
		}
		if out != "" {
			t.Errorf("%v: unexpected stdout %q", tt.args, out)
		}
	}
}
