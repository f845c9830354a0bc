package rbac

import (
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// templateResolver serves every resource the templates name, with kubeadm's groups.
func templateResolver() *Resolver {
	d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	rw := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	list := func(gv string, namespaced bool, names ...string) *metav1.APIResourceList {
		l := &metav1.APIResourceList{GroupVersion: gv}
		for _, n := range names {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: n, Namespaced: namespaced, Verbs: rw})
		}
		return l
	}
	core := list("v1", false, "namespaces", "nodes", "nodes/proxy", "persistentvolumes")
	d.Resources = []*metav1.APIResourceList{
		list("v1", true, "pods", "pods/log", "pods/exec", "pods/attach", "pods/portforward", "replicationcontrollers", "services",
			"configmaps", "persistentvolumeclaims", "events", "secrets", "serviceaccounts", "serviceaccounts/token",
			"resourcequotas", "limitranges"),
		list("apps/v1", true, "deployments", "replicasets", "statefulsets", "daemonsets", "deployments/scale",
			"statefulsets/scale", "replicasets/scale"),
		list("batch/v1", true, "jobs", "cronjobs"),
		list("autoscaling/v2", true, "horizontalpodautoscalers"),
		list("discovery.k8s.io/v1", true, "endpointslices"),
		list("networking.k8s.io/v1", true, "ingresses", "networkpolicies"),
		list("policy/v1", true, "poddisruptionbudgets"),
		list("rbac.authorization.k8s.io/v1", true, "roles", "rolebindings"),
		list("coordination.k8s.io/v1", true, "leases"),
		list("storage.k8s.io/v1", false, "storageclasses"),
		list("apiextensions.k8s.io/v1", false, "customresourcedefinitions"),
		list("certificates.k8s.io/v1", false, "certificatesigningrequests", "certificatesigningrequests/approval"),
	}
	d.Resources[0].APIResources = append(d.Resources[0].APIResources, core.APIResources...)
	for _, l := range d.Resources {
		if l.GroupVersion == "rbac.authorization.k8s.io/v1" {
			l.APIResources = append(l.APIResources, list("", false, "clusterroles").APIResources...)
		}
	}
	return NewResolver(d)
}

// Every template goes through the audit's rules, as it would be bound in a namespace, in
// kube-system and (cluster templates) cluster-wide: each risky check it reaches is named in its
// description, and the templates that promise no risk reach none.
func TestTemplatesAreAuditedAndTheirRisksStated(t *testing.T) {
	want := map[string]string{
		"readonly":             "",
		"cert-viewer":          "",
		"cluster-readonly":     "",
		"developer":            "kube-system-pod-create pod-create pods-portforward workload-write",
		"namespace-admin":      "kube-system-pod-create pod-create pods-exec-attach pods-portforward rbac-write secrets-read secrets-write workload-write",
		"etcd-backup-operator": "kube-system-pod-create workload-write",
	}
	r := templateResolver()
	for _, tmpl := range Templates() {
		checks := map[string]bool{}
		for _, ns := range []string{"shop", "kube-system", ""} {
			g, err := RenderTemplate(r, tmpl.Name, User("u"), ns, ns == "")
			if err != nil {
				t.Fatalf("%s: %v", tmpl.Name, err)
			}
			if ns == "" && tmpl.Scope == ScopeNamespace || ns != "" && tmpl.Scope == ScopeCluster && ns != "kube-system" {
				continue
			}
			for _, f := range Risks(g) {
				checks[f.Check] = true
			}
			if err := CheckSafe(g, nil); (err == nil) != (len(Risks(g)) == 0) {
				t.Errorf("%s in %q: CheckSafe %v, but %d risks", tmpl.Name, ns, err, len(Risks(g)))
			}
		}
		var got []string
		for c := range checks {
			got = append(got, c)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != want[tmpl.Name] {
			t.Errorf("template %s reaches %q, want %q", tmpl.Name, strings.Join(got, " "), want[tmpl.Name])
		}
		for _, c := range got {
			if !strings.Contains(tmpl.Description, c) {
				t.Errorf("template %s reaches %s, but its description does not say so: %s", tmpl.Name, c, tmpl.Description)
			}
		}
		if len(got) > 0 && strings.Contains(tmpl.Description, "No secrets.") {
			t.Errorf("template %s says \"No secrets.\" but reaches %v", tmpl.Name, got)
		}
		if len(tmpl.Description) < 40 || (tmpl.Scope != ScopeCluster && tmpl.Scope != ScopeNamespace) || len(tmpl.Rules) == 0 {
			t.Errorf("template %s lacks a description, scope or rules: %+v", tmpl.Name, tmpl)
		}
		for _, rule := range tmpl.Rules {
			for _, v := range rule.Verbs {
				if slices.Contains([]string{"escalate", "bind", "impersonate", "*"}, v) {
					t.Errorf("template %s grants %q", tmpl.Name, v)
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

// CheckSafe refuses, with the audit's check IDs, each risk #14 names, unless allowed.
func TestCheckSafeRefusesRiskyRulesUnlessAllowed(t *testing.T) {
	r := templateResolver()
	for _, c := range []struct {
		spec  RuleSpec
		ns    string
		check string
	}{
		{RuleSpec{Verbs: []string{"escalate"}, Resources: []string{"roles"}}, "a", CheckEscalation},
		{RuleSpec{Verbs: []string{"impersonate"}, Resources: []string{"users"}}, "", CheckEscalation},
		{RuleSpec{Verbs: []string{"*"}, Resources: []string{"pods"}}, "a", CheckWildcard},
		{RuleSpec{Verbs: []string{"get"}, Resources: []string{"*"}, APIGroups: []string{""}}, "a", CheckWildcard},
		{RuleSpec{Verbs: []string{"create"}, Resources: []string{"*/exec"}, APIGroups: []string{""}}, "a", CheckPodExec},
		{RuleSpec{Verbs: []string{"create"}, Resources: []string{"pods/exec"}}, "a", CheckPodExec},
		{RuleSpec{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, "", CheckWildcard},
		{RuleSpec{Verbs: []string{"get"}, NonResourceURLs: []string{"/*"}}, "", CheckWildcard},
		{RuleSpec{Verbs: []string{"approve"}, Resources: []string{"signers"}}, "", CheckCSRApproval},
		{RuleSpec{Verbs: []string{"update"}, Resources: []string{"certificatesigningrequests/approval"}, APIGroups: []string{"certificates.k8s.io"}}, "", CheckCSRApproval},
		{RuleSpec{Verbs: []string{"create"}, Resources: []string{"serviceaccounts/token"}, APIGroups: []string{""}}, "a", CheckSAToken},
		{RuleSpec{Verbs: []string{"get"}, Resources: []string{"nodes/proxy"}, APIGroups: []string{""}}, "", CheckNodesProxy},
		{RuleSpec{Verbs: []string{"list"}, Resources: []string{"secrets"}}, "a", CheckSecretsRead},
		{RuleSpec{Verbs: []string{"bind"}, Resources: []string{"clusterroles"}, APIGroups: []string{"rbac.authorization.k8s.io"}, ResourceNames: []string{"cluster-admin"}}, "a", CheckEscalation},
	} {
		g, err := Render(r, GrantSpec{RoleName: "custom", Rules: []RuleSpec{c.spec}, Subjects: []Subject{User("u")}, Namespace: c.ns, ClusterWide: c.ns == ""})
		if err != nil {
			t.Fatalf("%+v: %v", c.spec, err)
		}
		err = CheckSafe(g, nil)
		var risky *RiskyError
		if !errors.As(err, &risky) || !slices.Contains(risky.Checks, c.check) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckSafe(%+v) = %v, want a one-line refusal naming %s", c.spec, err, c.check)
			continue
		}
		if err := CheckSafe(g, risky.Checks); err != nil {
			t.Errorf("CheckSafe(%+v) with --allow-risky %v: %v", c.spec, risky.Checks, err)
		}
	}
	g, _ := Render(r, GrantSpec{RoleName: "fine", Rules: []RuleSpec{{Verbs: []string{"get", "delete"}, Resources: []string{"pods", "deployments"}}},
		Subjects: []Subject{User("u")}, Namespace: "a"})
	if err := CheckSafe(g, nil); err != nil {
		t.Errorf("get,delete pods,deployments refused: %v", err)
	}
	if ValidateCheckIDs([]string{"pods-exec-attach", "nope"}) == nil {
		t.Error("an unknown check ID was accepted")
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
