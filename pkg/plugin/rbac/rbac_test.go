package rbac

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

// Bad input is rejected with one line and exit 3 before any cluster is contacted
// (the kubeconfig here is empty: a command that tried would fail differently).
func TestRBACBadInputNeedsNoCluster(t *testing.T) {
	cmdtest.Isolate(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rbac", "grant", "nope", "--user", "x", "-n", "a"}, `unknown template "nope"`},
		{[]string{"rbac", "grant", "readonly", "-n", "a"}, "missing subject"},
		{[]string{"rbac", "grant", "readonly", "--user", "x", "--group", "g", "-n", "a"}, "only one of"},
		{[]string{"rbac", "grant", "readonly", "--serviceaccount", "x", "-n", "a"}, "NAMESPACE:NAME"},
		{[]string{"rbac", "grant", "--user", "x", "-n", "a"}, "missing template"},
		{[]string{"rbac", "grant", "--verb", "get", "--resource", "pods", "--user", "x", "-n", "a"}, "--role-name"},
		{[]string{"rbac", "grant", "readonly", "--user", "x", "-n", "a", "--dry-run=maybe"}, "invalid --dry-run"},
		{[]string{"rbac", "grant", "readonly", "--user", "x", "-n", "a", "-o", "table"}, "unsupported output format"},
		{[]string{"rbac", "grant", "readonly", "--user", "x"}, "missing scope"},
		{[]string{"rbac", "grant", "cluster-readonly", "--user", "x"}, "add --cluster-wide"},
		{[]string{"rbac", "grant", "readonly", "--user", "x", "-n", "a", "--cluster-wide"}, "not both"},
		{[]string{"rbac", "audit", "--fail-on", "critical"}, "invalid --fail-on"},
		{[]string{"rbac", "matrix", "--parallel", "0"}, "invalid --parallel"},
		{[]string{"rbac", "explain", "sa:bad"}, "NAMESPACE:NAME"},
		{[]string{"rbac", "who-can", "get"}, "accepts between 2 and 3 arg(s)"},
		{[]string{"rbac", "template", "show", "nope"}, `unknown template "nope"`},
		{[]string{"rbac", "frob"}, `unknown command "frob"`},
	} {
		_, _, err := run(t, c.args...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d %q, want exit 3 and %q", c.args, cmdutil.ExitCode(err), err, c.want)
		}
	}
}

func TestRBACTemplateCommandsWorkOffline(t *testing.T) {
	cmdtest.Isolate(t)
	out, _, err := run(t, "rbac", "template", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion string `json:"apiVersion"`
		Templates  []struct {
			Name string `json:"name"`
		} `json:"templates"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.APIVersion != cmdutil.ResultAPIVersion || len(list.Templates) != 6 {
		t.Fatalf("template list -o json: %v %s", err, out)
	}
	out, _, err = run(t, "rbac", "template", "show", "etcd-backup-operator")
	if err != nil || !strings.Contains(out, "kubeadm-config") {
		t.Errorf("template show: %v\n%s", err, out)
	}
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdRBAC}, args...)
}
