package cluster

import (
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdCluster}, args...)
}

func TestClusterHelp(t *testing.T) {
	cmdtest.Isolate(t)
	out, _, err := run(t, "cluster", "status", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exit codes:", "2  a problem", "--root", "calico, cilium, flannel"} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster status --help lacks %q:\n%s", want, out)
		}
	}
}

func TestClusterUsageErrors(t *testing.T) {
	cmdtest.Isolate(t)
	for _, args := range [][]string{
		{"cluster", "status", "extra"},
		{"cluster", "nope"},
		{"cluster", "status", "-o", "wide"},
	} {
		out, _, err := run(t, args...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || out != "" {
			t.Errorf("%v: exit %d, stdout %q (%v)", args, cmdutil.ExitCode(err), out, err)
		}
	}
}
