package plugin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func isolate(t *testing.T) string { return cmdtest.Isolate(t) }

// run executes a fresh root command with args, the way main does.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCmdRoot(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func assertOneLine(t *testing.T, err error) { t.Helper(); cmdtest.AssertOneLine(t, err) }

// Every command that does something is wired through the one Options adapter (Complete,
// Validate, Run); every other command is a group that only holds subcommands. The walk covers
// command groups added later too.
func TestEveryCommandUsesTheOptionsLifecycle(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	wired := 0
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" {
			return
		}
		_, group := c.Annotations[cmdutil.GroupAnnotation]
		_, adapter := c.Annotations[cmdutil.AdapterAnnotation]
		switch {
		case group == adapter:
			t.Errorf("%s: group %v, wired through the adapter %v; want exactly one", c.CommandPath(), group, adapter)
		case adapter && (c.RunE == nil || c.Run != nil):
			t.Errorf("%s: RunE was replaced after cmdutil.NewCommand", c.CommandPath())
		case group && !c.HasSubCommands():
			t.Errorf("%s: a group without subcommands", c.CommandPath())
		}
		if adapter {
			wired++
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if wired < 20 {
		t.Errorf("only %d commands wired through the adapter; the walk is broken", wired)
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
			t.Errorf("%v: help uses the binary name instead of %q", args, cmdutil.DisplayName)
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
		if got := cmdutil.ExitCode(err); got != cmdutil.ExitCannotRun {
			t.Errorf("%v: exit code %d, want %d", tt.args, got, cmdutil.ExitCannotRun)
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
