package rbac

import (
	"strings"
	"testing"
)

func TestTemplatesAreSafeAndDocumented(t *testing.T) {
	want := []string{"cert-viewer", "cluster-readonly", "developer", "etcd-backup-operator", "namespace-admin", "readonly"}
	if got := strings.Join(TemplateNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("templates = %s, want %s", got, strings.Join(want, ","))
	}
	for _, tmpl := range Templates() {
		if err := CheckSafe(tmpl.Rules); err != nil {
			t.Errorf("template %s: %v", tmpl.Name, err)
		}
		if len(tmpl.Description) < 40 || (tmpl.Scope != ScopeCluster && tmpl.Scope != ScopeNamespace) || len(tmpl.Rules) == 0 {
			t.Errorf("template %s lacks a description, scope or rules: %+v", tmpl.Name, tmpl)
		}
		for _, r := range tmpl.Rules {
			for _, res := range r.Resources {
				if tmpl.Name != "namespace-admin" && (res == "secrets" || res == "pods/exec" || res == "pods/attach") {
					t.Errorf("template %s grants %s", tmpl.Name, res)
				}
			}
		}
	}
}

func TestReadonlyTemplateGrantsNoWrites(t *testing.T) {
	tmpl, err := LookupTemplate("readonly")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tmpl.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("readonly grants %q on %v", v, r.Resources)
			}
		}
	}
}

func TestCheckSafeRejectsDangerousRules(t *testing.T) {
	for _, r := range []RuleSpec{
		{Verbs: []string{"escalate"}, Resources: []string{"roles"}},
		{Verbs: []string{"bind"}, Resources: []string{"clusterroles"}},
		{Verbs: []string{"impersonate"}, Resources: []string{"users"}},
		{Verbs: []string{"*"}, Resources: []string{"pods"}},
		{Verbs: []string{"get"}, Resources: []string{"*"}},
		{Verbs: []string{"get"}, Resources: []string{"pods"}, APIGroups: []string{"*"}},
	} {
		if CheckSafe([]RuleSpec{r}) == nil {
			t.Errorf("CheckSafe(%+v) = nil, want an error", r)
		}
	}
}

func TestLookupTemplateUnknown(t *testing.T) {
	_, err := LookupTemplate("admin")
	if err == nil || !strings.Contains(err.Error(), "readonly") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line listing the templates, got %v", err)
	}
	a, _ := LookupTemplate("readonly")
	a.Rules[0].Verbs[0] = "delete"
	b, _ := LookupTemplate("readonly")
	if b.Rules[0].Verbs[0] != "get" {
		t.Fatal("LookupTemplate returned shared state: a change to one result leaked into the next")
	}
}
