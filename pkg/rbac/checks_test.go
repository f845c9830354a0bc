package rbac

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// checksTable is the table of docs/guide/rbac.md, from CheckInfos: one column per peer
// scanner, "—" where it has no rule for the check.
func checksTable() string {
	var b strings.Builder
	b.WriteString("| Check ID | What it finds | Severity | kubescape | rbac-police | KubiScan | rbac-tool | RBAC good practices |\n" +
		"|---|---|---|---|---|---|---|---|\n")
	cell := func(s string) string {
		if s == "" {
			return "—"
		}
		return strings.ReplaceAll(s, "|", "\\|")
	}
	for _, id := range AllChecks {
		info := CheckInfos[id]
		p := info.Peers
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", id, cell(info.Short), info.Severity,
			cell(p.Kubescape), cell(p.RBACPolice), cell(p.KubiScan), cell(p.RBACTool), cell(p.GoodPractices))
	}
	return b.String()
}

// The guide's table lists every check, as CheckInfos describes it (CLUSTEROPS_WRITE_GUIDE=1
// rewrites it).
func TestGuideTableListsEveryCheck(t *testing.T) {
	const path = "../../docs/guide/rbac.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	guide := string(data)
	if len(CheckInfos) != len(AllChecks) {
		t.Fatalf("CheckInfos has %d entries, AllChecks %d", len(CheckInfos), len(AllChecks))
	}
	if os.Getenv("CLUSTEROPS_WRITE_GUIDE") == "1" {
		start := strings.Index(guide, "| Check ID |")
		end := strings.Index(guide[start:], "\n\n")
		guide = guide[:start] + strings.TrimSuffix(checksTable(), "\n") + guide[start+end:]
		if err := os.WriteFile(path, []byte(guide), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(guide, checksTable()) {
		t.Errorf("%s does not hold the checks table; run CLUSTEROPS_WRITE_GUIDE=1 go test ./pkg/rbac -run TestGuideTable", path)
	}
}
