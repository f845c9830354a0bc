package plugin

import (
	"strings"
	"testing"
)

func TestStaticPodsAndClusterHelp(t *testing.T) {
	isolate(t)
	for args, wants := range map[string][]string{
		"staticpods --help":         {"list ", "diff ", "inspect "},
		"staticpods diff --help":    {"Exit codes:", "1  drift", "--manifests-dir", "--root"},
		"staticpods inspect --help": {"Exit codes:", "kubectl clusterops staticpods inspect COMPONENT"},
		"cluster status --help":     {"Exit codes:", "2  a problem", "--root", "calico, cilium, flannel"},
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
	isolate(t)
	for _, args := range [][]string{
		{"staticpods", "diff", "--manifests-dir", "/x", "--root", "/y", "--node", "n", "--server", "https://127.0.0.1:1"},
		{"staticpods", "inspect"},
		{"staticpods", "list", "extra"},
		{"staticpods", "list", "-o", "wide"},
		{"cluster", "status", "extra"},
		{"cluster", "nope"},
	} {
		_, _, err := run(t, args...)
		assertOneLine(t, err)
		if ExitCode(err) != ExitCannotRun {
			t.Errorf("%v: exit %d, want %d (%v)", args, ExitCode(err), ExitCannotRun, err)
		}
	}
}
