//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// Without the opt-in, the real-node scripts refuse before they touch anything, and the test
// command says in one line that the node tier did not run.
func TestNodeTierRefusesWithoutOptIn(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	_, stateBefore := os.Stat("/var/lib/clusterops-node-tier")
	for _, script := range []string{"node-up", "node-down"} {
		r := runEnv(t, []string{"CLUSTEROPS_E2E_NODE="}, filepath.Join(root, "hack", script))
		if r.code == 0 || !strings.Contains(r.stderr, "set CLUSTEROPS_E2E_NODE=1") {
			t.Errorf("hack/%s without opt-in: exit %d, stderr %q", script, r.code, r.stderr)
		}
	}
	if _, stateAfter := os.Stat("/var/lib/clusterops-node-tier"); os.IsNotExist(stateBefore) != os.IsNotExist(stateAfter) {
		t.Errorf("the node tier's state dir appeared or vanished without the opt-in")
	}
	r := runEnv(t, []string{"CLUSTEROPS_E2E_NODE="}, filepath.Join(root, "hack", "test-node"))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 1 || !strings.Contains(lines[0], "not run") || !strings.Contains(lines[0], "CLUSTEROPS_E2E_NODE=1") {
		t.Errorf("hack/test-node without opt-in: exit %d, stdout %q", r.code, r.stdout)
	}
}
