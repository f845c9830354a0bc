//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// rbacEnv is one control plane of its own (the rbac tests create cluster-wide objects), with the
// real kube-controller-manager, whose clusterrole-aggregation controller fills aggregated roles.
type rbacEnv struct {
	cp *harness.ControlPlane
}

// plugin runs `kubectl clusterops rbac ARGS --kubeconfig <admin>` through the real kubectl.
func (e rbacEnv) plugin(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "kubectl", append(append([]string{"clusterops", "rbac"}, args...), "--kubeconfig", e.cp.AdminKubeconfig)...)
}

// kubectl runs the real kubectl against the same cluster.
func (e rbacEnv) kubectl(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "kubectl", append(args, "--kubeconfig", e.cp.AdminKubeconfig)...)
}

// sh runs a shell pipeline with the plugin and kubectl on PATH and KUBECONFIG set.
func (e rbacEnv) sh(t *testing.T, script string) result {
	t.Helper()
	return runEnv(t, []string{"KUBECONFIG=" + e.cp.AdminKubeconfig}, "bash", "-o", "pipefail", "-c", script)
}

func TestRBAC(t *testing.T) {
	e := rbacEnv{cp: harness.StartT(t, harness.Options{Name: "rbac", NoMirrorPods: true})}

	// Before anything is granted: a kubeadm cluster's own roles and bindings are not findings.
	t.Run("AuditOfAFreshClusterIsClean", func(t *testing.T) {
		r := e.plugin(t, "audit")
		if r.code != 0 || !strings.Contains(r.stdout, "No findings") {
			t.Errorf("fresh cluster: exit %d, want 0 and 'No findings'", r.code)
		}
	})
	t.Run("Templates", func(t *testing.T) { testRBACTemplates(t, e) })
	t.Run("Grant", func(t *testing.T) { testRBACGrant(t, e) })
	t.Run("GrantBadInput", func(t *testing.T) { testRBACGrantBadInput(t, e) })

	fx := createRBACFixture(t, e.cp.Client)
	if fx.objects < 20 {
		t.Fatalf("the fixture has %d roles and bindings, want at least 20", fx.objects)
	}
	t.Logf("fixture: %d roles and bindings, %d subjects", fx.objects, len(fx.subjects))
	t.Run("Audit", func(t *testing.T) { testRBACAudit(t, e) })
	t.Run("MatrixAgreesWithTheAuthorizer", func(t *testing.T) { testRBACMatrix(t, e, fx) })
	t.Run("MatrixAgreesWithKubectlAuthCanI", func(t *testing.T) { testRBACMatrixCanI(t, e) })
	t.Run("WhoCanAgreesWithTheAuthorizer", func(t *testing.T) { testRBACWhoCan(t, e, fx) })
	t.Run("ExplainAgreesWithTheAuthorizer", func(t *testing.T) { testRBACExplain(t, e) })
}

func testRBACTemplates(t *testing.T, e rbacEnv) {
	r := e.plugin(t, "template", "list", "-o", "json")
	var list struct {
		Kind      string          `json:"kind"`
		Templates []rbac.Template `json:"templates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || list.Kind != "RBACTemplateList" || len(list.Templates) != 6 {
		t.Fatalf("template list -o json: %v %+v", err, list)
	}
	show := e.plugin(t, "template", "show", "readonly", "-o", "json")
	var readonly rbac.Template
	if err := json.Unmarshal([]byte(show.stdout), &readonly); err != nil || len(readonly.Rules) == 0 {
		t.Fatalf("template show readonly -o json: %v", err)
	}
	for _, r := range readonly.Rules {
		if slices.Contains(r.Resources, "secrets") || slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
			t.Errorf("readonly template rule %+v grants more than reads, or reads secrets", r)
		}
	}
	if r := e.plugin(t, "template", "show", "readonly"); r.code != 0 || !strings.Contains(r.stdout, "pods/log") {
		t.Errorf("template show readonly: exit %d", r.code)
	}
	oneLineError(t, e.plugin(t, "template", "show", "nope"), `unknown template "nope"`)

	if r := e.kubectl(t, "create", "namespace", "rbac-tpl"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Every template renders without warnings (every resource and verb exists on this server),
	// and the real `kubectl apply -f -` accepts the YAML and the JSON.
	for _, tmpl := range list.Templates {
		scope := "-n rbac-tpl"
		if tmpl.Scope == rbac.ScopeCluster {
			scope = "--cluster-wide"
		}
		for _, format := range []string{"yaml", "json"} {
			// A user and a role name of their own for each run, so that each one creates its objects.
			id := "tpl-" + tmpl.Name + "-" + format
			res := e.sh(t, "kubectl clusterops rbac grant "+tmpl.Name+" --user "+id+" --role-name "+id+" "+scope+
				" --dry-run=client -o "+format+" | kubectl apply -f -")
			if res.code != 0 || strings.Contains(res.stderr, "Warning") || strings.Count(res.stdout, " created") != 2 {
				t.Errorf("template %s -o %s | kubectl apply: exit %d, want 2 objects created and no warnings", tmpl.Name, format, res.code)
			}
		}
	}
	// What kubectl applied grants what the template says, and no more.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "deployments.apps"}, "yes"},
		{[]string{"get", "pods", "--subresource", "log"}, "yes"},
		{[]string{"list", "jobs.batch"}, "yes"},
		{[]string{"get", "secrets"}, "no"},
		{[]string{"create", "pods", "--subresource", "exec"}, "no"},
		{[]string{"delete", "deployments.apps"}, "no"},
	} {
		args := append([]string{"auth", "can-i"}, c.args...)
		r := e.kubectl(t, append(args, "--as", "tpl-readonly-yaml", "-n", "rbac-tpl")...)
		if strings.TrimSpace(r.stdout) != c.want {
			t.Errorf("readonly via kubectl apply: can-i %v = %q, want %s", c.args, r.stdout, c.want)
		}
	}
}

func testRBACGrant(t *testing.T, e rbacEnv) {
	if r := e.kubectl(t, "create", "namespace", "rbac-g"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	first := e.plugin(t, "grant", "readonly", "--user", "alice", "-n", "rbac-g")
	if first.code != 0 || strings.Count(first.stdout, "created (server-side apply)") != 2 {
		t.Fatalf("first grant: exit %d", first.code)
	}
	second := e.plugin(t, "grant", "readonly", "--user", "alice", "-n", "rbac-g")
	if second.code != 0 || strings.Count(second.stdout, "unchanged (server-side apply)") != 2 {
		t.Errorf("a second identical grant must change nothing: exit %d", second.code)
	}
	managers := e.kubectl(t, "get", "role", "clusterops-readonly", "-n", "rbac-g", "--show-managed-fields",
		"-o", "jsonpath={.metadata.managedFields[*].manager}")
	if strings.TrimSpace(managers.stdout) != rbac.FieldManager {
		t.Errorf("field managers = %q, want only %s", managers.stdout, rbac.FieldManager)
	}
	rules := e.kubectl(t, "get", "role", "clusterops-readonly", "-n", "rbac-g", "-o", "jsonpath={.rules[0].apiGroups}")
	if !strings.Contains(rules.stdout, `"apps"`) {
		t.Errorf("deployments did not get the apps group through discovery: %s", rules.stdout)
	}
	for _, c := range []struct{ verb, resource, want string }{
		{"list", "deployments.apps", "yes"}, {"watch", "pods", "yes"}, {"get", "secrets", "no"}, {"create", "deployments.apps", "no"},
	} {
		r := e.kubectl(t, "auth", "can-i", c.verb, c.resource, "--as", "alice", "-n", "rbac-g")
		if strings.TrimSpace(r.stdout) != c.want {
			t.Errorf("can-i %s %s --as alice = %q, want %s", c.verb, c.resource, r.stdout, c.want)
		}
	}
	// Cluster-wide, for a service account, with -o name.
	cw := e.plugin(t, "grant", "cert-viewer", "--serviceaccount", "rbac-g:viewer", "--cluster-wide", "-o", "name")
	if cw.code != 0 || !strings.Contains(cw.stdout, "clusterrolebinding.rbac.authorization.k8s.io/clusterops-cert-viewer-sa-rbac-g-viewer-") {
		t.Errorf("cluster-wide grant: exit %d", cw.code)
	}
	if r := e.kubectl(t, "auth", "can-i", "list", "certificatesigningrequests.certificates.k8s.io", "--as", "system:serviceaccount:rbac-g:viewer"); strings.TrimSpace(r.stdout) != "yes" {
		t.Errorf("cert-viewer: can-i list csr = %q", r.stdout)
	}
	// Custom rules: short names resolve, the group comes from discovery.
	custom := e.plugin(t, "grant", "--role-name", "restarter", "--verb", "get,delete", "--resource", "deploy,po", "--group", "ops", "-n", "rbac-g")
	if custom.code != 0 {
		t.Fatalf("custom grant: exit %d", custom.code)
	}
	if r := e.kubectl(t, "auth", "can-i", "delete", "deployments.apps", "--as", "x", "--as-group", "ops", "-n", "rbac-g"); strings.TrimSpace(r.stdout) != "yes" {
		t.Errorf("custom rule: can-i delete deployments --as-group ops = %q", r.stdout)
	}
	// Warnings, not errors: a verb the resource does not serve, a deprecated resource, a
	// cluster-scoped resource in a namespaced Role.
	warn := e.plugin(t, "grant", "--role-name", "w", "--verb", "get,watch", "--resource", "pods/log,endpoints,nodes", "--user", "x",
		"-n", "rbac-g", "--dry-run=client", "-o", "yaml")
	for _, want := range []string{`pods/log does not support the verb "watch"`, "endpoints: v1 Endpoints is deprecated", "cluster-scoped resources (nodes)"} {
		if warn.code != 0 || !strings.Contains(warn.stderr, "Warning: "+want) {
			t.Errorf("grant with warnings: exit %d, want 0 and the warning %q", warn.code, want)
		}
	}
	// --dry-run=server asks the API server but stores nothing.
	srv := e.plugin(t, "grant", "developer", "--user", "dora", "-n", "rbac-g", "--dry-run=server")
	if srv.code != 0 || !strings.Contains(srv.stdout, "created (server dry run)") {
		t.Errorf("--dry-run=server: exit %d", srv.code)
	}
	if r := e.kubectl(t, "get", "role", "clusterops-developer", "-n", "rbac-g"); r.code == 0 {
		t.Error("--dry-run=server stored the role")
	}
}

func testRBACGrantBadInput(t *testing.T, e rbacEnv) {
	oneLineError(t, e.plugin(t, "grant", "nope", "--user", "x", "-n", "rbac-g"), `unknown template "nope"`)
	oneLineError(t, e.plugin(t, "grant", "readonly", "-n", "rbac-g"), "missing subject")
	oneLineError(t, e.plugin(t, "grant", "readonly", "--serviceaccount", "nocolon", "-n", "rbac-g"), "NAMESPACE:NAME")
	oneLineError(t, e.plugin(t, "grant", "readonly", "--user", "x"), "missing scope")
	oneLineError(t, e.plugin(t, "grant", "readonly", "--user", "x", "-n", "rbac-g", "--cluster-wide"), "not both")
	oneLineError(t, e.plugin(t, "grant", "--role-name", "old", "--verb", "get", "--resource", "deployments", "--api-group", "extensions",
		"--user", "x", "-n", "rbac-g"), `API group "extensions" is not served`)
	oneLineError(t, e.plugin(t, "grant", "--role-name", "bad", "--verb", "get", "--resource", "frobnicators", "--user", "x", "-n", "rbac-g"),
		`unknown resource "frobnicators"`)
	// alice (readonly in rbac-g) may not create roles: a Forbidden apply, in plain words.
	forbidden := e.plugin(t, "grant", "namespace-admin", "--user", "mallory", "-n", "rbac-g", "--as", "alice")
	oneLineError(t, forbidden, "permission denied")
	for _, obj := range []string{"role/bad", "role/old", "role/clusterops-namespace-admin"} {
		if r := e.kubectl(t, "get", obj, "-n", "rbac-g"); r.code == 0 {
			t.Errorf("%s exists after a failed grant", obj)
		}
	}
}

func testRBACAudit(t *testing.T, e rbacEnv) {
	table := e.plugin(t, "audit")
	if table.code != 2 || !strings.Contains(table.stdout, "Role/rbac-a/readonly") {
		t.Errorf("audit: exit %d, want 2 and the tutorial role in the table", table.code)
	}
	r := e.plugin(t, "audit", "-o", "json", "--fail-on", "none")
	if r.code != 0 {
		t.Errorf("--fail-on none: exit %d, want 0", r.code)
	}
	var res struct {
		Findings []rbac.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]rbac.Severity{}
	for _, f := range res.Findings {
		got[f.Check+" "+f.Object.String()] = f.Severity
	}
	for key, sev := range map[string]rbac.Severity{
		"readonly-name-grants-writes Role/rbac-a/readonly":        rbac.SeverityHigh,
		"unserved-api-group Role/rbac-a/readonly":                 rbac.SeverityLow,
		"missing-role RoleBinding/rbac-a/dangling-u4":             rbac.SeverityMedium,
		"wildcard ClusterRole/e2e-batch-all":                      rbac.SeverityHigh,
		"secrets-read Role/rbac-a/secret-reader":                  rbac.SeverityMedium,
		"pods-exec-attach Role/rbac-tpl/tpl-namespace-admin-yaml": rbac.SeverityHigh,
	} {
		if got[key] != sev {
			t.Errorf("audit finding %q: severity %q, want %q", key, got[key], sev)
		}
	}
	for key := range got {
		// developer's pod-create, workload-write and pods-portforward are stated in its description (#14).
		developerRisk := strings.Contains(key, "developer") && (strings.HasPrefix(key, "pod-create ") ||
			strings.HasPrefix(key, "workload-write ") || strings.HasPrefix(key, "pods-portforward "))
		if strings.Contains(key, "readonly-yaml") || strings.Contains(key, "developer-yaml") && !developerRisk ||
			strings.Contains(key, "clusterops-readonly") || strings.Contains(key, "system:") {
			t.Errorf("unexpected finding %q (templates readonly/developer and system roles must be clean)", key)
		}
	}
	if r := e.plugin(t, "audit", "--fail-on", "critical"); r.code != 3 {
		t.Errorf("--fail-on critical: exit %d, want 3", r.code)
	}
}
