package staticpods

import (
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func TestStaticPodsHelp(t *testing.T) {
	cmdtest.Isolate(t)
	for args, wants := range map[string][]string{
		"staticpods --help":         {"list ", "diff ", "inspect "},
		"staticpods diff --help":    {"Exit codes:", "1  drift", "--manifests-dir", "--root"},
		"staticpods inspect --help": {"Exit codes:", "kubectl clusterops staticpods inspect COMPONENT"},
	} {
		out, _, err := run(t, strings.Fields(args)...)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestStaticPodsUsageErrors(t *testing.T) {
	cmdtest.Isolate(t)
	for _, args := range [][]string{
		{"staticpods", "diff", "--manifests-dir", "/x", "--root", "/y", "--node", "n", "--server", "https://127.0.0.1:1"},
		{"staticpods", "inspect"},
		{"staticpods", "list", "extra"},
		{"staticpods", "list", "-o", "wide"},
	} {
		_, _, err := run(t, args...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
			t.Errorf("%v: exit %d, want %d (%v)", args, cmdutil.ExitCode(err), cmdutil.ExitCannotRun, err)
		}
	}
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdStaticPods}, args...)
}
