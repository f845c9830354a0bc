package cmdutil_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

const threeContexts = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: prod, context: {cluster: c, user: u}}
- {name: prod-eu, context: {cluster: c, user: u}}
- {name: staging, context: {cluster: c, user: u}}
`

// --contexts completes the word after the last comma, leaving out the names already listed.
func TestCompleteContextList(t *testing.T) {
	dir := cmdtest.Isolate(t)
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(threeContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	complete := cmdutil.CompleteContextList(cmdutil.NewFactory(flags))
	for word, want := range map[string][]string{
		"":              {"prod", "prod-eu", "staging"},
		"pr":            {"prod", "prod-eu"},
		"prod,":         {"prod,prod-eu", "prod,staging"},
		"prod,staging,": {"prod,staging,prod-eu"},
		"staging,p":     {"staging,prod", "staging,prod-eu"},
	} {
		got, _ := complete(nil, nil, word)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", word, got, want)
		}
	}
}

// The fleet flags refuse unknown contexts, both flags together, and --context, in one line (exit 3).
func TestFleetFlagsRefuseBadInput(t *testing.T) {
	dir := cmdtest.Isolate(t)
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(threeContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"--contexts prod,nope":               "no context nope",
		"--contexts prod --all-contexts":     "not both",
		"--all-contexts --context prod":      "--context picks one context",
		"--all-contexts --parallel 0":        "--parallel must be at least 1",
		"--all-contexts -o jsonpath={.kind}": "-o is json, yaml or omitted",
	} {
		_, _, err := cmdtest.Run(t, []cmdutil.GroupConstructor{fleetGroup}, append([]string{"report"}, strings.Fields(args)...)...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: exit %d %v, want exit 3 with %q", args, cmdutil.ExitCode(err), err, want)
		}
	}
}

type noopOptions struct{}

func (noopOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }
func (noopOptions) Validate() error                                          { return nil }
func (noopOptions) Run(context.Context) error                                { return nil }

func fleetGroup(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewCommand(&cobra.Command{Use: "report"}, f, noopOptions{})
	cmdutil.NewOutputFlags().AddFlags(cmd)
	cmdutil.AddFleetFlags(cmd, f, streams, fleetGroup)
	return cmd
}
