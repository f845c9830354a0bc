//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

type matrixJSON struct {
	Kind      string           `json:"kind"`
	User      string           `json:"user"`
	Groups    []string         `json:"groups"`
	Namespace string           `json:"namespace"`
	Verbs     []string         `json:"verbs"`
	Rows      []rbac.MatrixRow `json:"rows"`
	Reviews   int              `json:"reviews"`
}

// subjectArgs are the matrix flags that select a subject.
func subjectArgs(s rbac.Subject) []string {
	switch s.Kind {
	case rbac.KindServiceAccount:
		return []string{"--serviceaccount", s.Namespace + ":" + s.Name}
	case rbac.KindGroup:
		return []string{"--group", s.Name}
	}
	return []string{"--as", s.Name}
}

func parseMatrix(t *testing.T, r result) matrixJSON {
	t.Helper()
	var m matrixJSON
	if r.code != 0 {
		t.Fatalf("matrix: exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Kind != "RBACMatrix" {
		t.Fatalf("matrix -o json: %v", err)
	}
	return m
}

// Every cell of `rbac matrix`, for every fixture subject, in a namespace and at cluster scope,
// equals the answer of the API server's authorizer to a SubjectAccessReview the test makes.
func testRBACMatrix(t *testing.T, e rbacEnv, fx rbacFixture) {
	var cells, allowed atomic.Int64
	for _, s := range fx.subjects {
		for _, ns := range []string{"rbac-a", "rbac-b", ""} {
			args := append([]string{"matrix", "-o", "json"}, subjectArgs(s)...)
			if ns != "" {
				args = append(args, "-n", ns)
			}
			m := parseMatrix(t, e.plugin(t, args...))
			user, groups := s.UserInfo(nil, true)
			if m.User != user || !slices.Equal(m.Groups, groups) {
				t.Errorf("%s: matrix asked about %q %v, want %q %v", s, m.User, m.Groups, user, groups)
			}
			if len(m.Rows) < 20 || !slices.Equal(m.Verbs, rbac.DefaultVerbs) {
				t.Fatalf("%s: %d rows, verbs %v: want every served resource and the 7 default verbs", s, len(m.Rows), m.Verbs)
			}
			type cell struct {
				req  rbac.Request
				want string
			}
			var todo []cell
			for _, row := range m.Rows {
				// With -n, the cluster-scoped rows are the namespace object itself and clusterroles
				// (bind/escalate), which the API server authorizes in the namespace (#15).
				if ns != "" && !row.Namespaced && row.Resource != "namespaces" && row.Resource != "clusterroles" {
					t.Errorf("-n %s lists the cluster-scoped %s", ns, row.Resource)
				}
				base, sub, _ := strings.Cut(row.Resource, "/")
				for _, v := range m.Verbs {
					if row.Access[v] == rbac.CellUnsupported {
						continue
					}
					req := rbac.Request{Verb: v, Group: row.Group, Resource: base, Subresource: sub}
					switch {
					case ns == "":
					case base == "namespaces" && row.Group == "":
						req.Namespace, req.Name = ns, ns
					default:
						req.Namespace = ns
					}
					todo = append(todo, cell{req, row.Access[v]})
				}
			}
			parallelDo(len(todo), 16, func(i int) {
				c := todo[i]
				truth := rbac.CellDenied
				if sarAllowed(t, e.cp.Client, user, groups, c.req) {
					truth = rbac.CellAllowed
					allowed.Add(1)
				}
				cells.Add(1)
				if c.want != truth {
					t.Errorf("%s -n %q: %s %s: matrix %s, authorizer %s", s, ns, c.req.Verb, c.req.Resource, c.want, truth)
				}
			})
		}
	}
	// The current user (SelfSubjectAccessReviews): kube-controller-manager's own kubeconfig, a
	// user that is not cluster-admin, against SubjectAccessReviews for that user.
	kcm := run(t, "kubectl", "clusterops", "rbac", "matrix", "-o", "json", "--kubeconfig",
		filepath.Join(e.cp.Root, "etc", "kubernetes", "controller-manager.conf"))
	m := parseMatrix(t, kcm)
	var yes, no int
	for _, row := range m.Rows {
		for _, v := range m.Verbs {
			if row.Access[v] == rbac.CellUnsupported {
				continue
			}
			base, sub, _ := strings.Cut(row.Resource, "/")
			truth := sarAllowed(t, e.cp.Client, "system:kube-controller-manager", []string{"system:authenticated"},
				rbac.Request{Verb: v, Group: row.Group, Resource: base, Subresource: sub})
			if truth {
				yes++
			} else {
				no++
			}
			if (row.Access[v] == rbac.CellAllowed) != truth {
				t.Errorf("current user system:kube-controller-manager: %s %s: matrix %s, authorizer %v", v, row.Resource, row.Access[v], truth)
			}
		}
	}
	if m.User != "" || yes == 0 || no == 0 {
		t.Errorf("current-user matrix: user %q (want none: a SelfSubjectAccessReview), %d yes, %d no", m.User, yes, no)
	}
	t.Logf("compared %d cells (%d allowed) with SubjectAccessReviews", cells.Load(), allowed.Load())
	if allowed.Load() < 50 || cells.Load()-allowed.Load() < 50 {
		t.Errorf("the comparison is too one-sided to mean anything: %d of %d allowed", allowed.Load(), cells.Load())
	}
}

// The matrix agrees with the real `kubectl auth can-i --as` (impersonation, SelfSubjectAccessReview),
// for users, a service account, a user in a group (--as-group) and subresources.
func testRBACMatrixCanI(t *testing.T, e rbacEnv) {
	resources := []string{"pods", "pods/log", "pods/exec", "secrets", "services", "deployments.apps", "deployments.apps/scale", "jobs.batch", "configmaps"}
	for _, c := range []struct {
		flags, canI []string
		ns          string
	}{
		{[]string{"--as", "u1"}, []string{"--as", "u1"}, "rbac-a"},
		{[]string{"--as", "tutorial-user"}, []string{"--as", "tutorial-user"}, "rbac-a"},
		{[]string{"--serviceaccount", "rbac-a:bot"}, []string{"--as", "system:serviceaccount:rbac-a:bot"}, "rbac-a"},
		{[]string{"--as", "someone", "--as-group", "g0"}, []string{"--as", "someone", "--as-group", "g0"}, "rbac-b"},
		{[]string{"--as", "u3"}, []string{"--as", "u3"}, "rbac-b"},
		{[]string{"--serviceaccount", "rbac-b:robot"}, []string{"--as", "system:serviceaccount:rbac-b:robot"}, "rbac-b"},
	} {
		args := append([]string{"matrix", "-o", "json", "-n", c.ns, "--resource", strings.Join(resources, ",")}, c.flags...)
		m := parseMatrix(t, e.plugin(t, args...))
		type q struct{ verb, resource, sub, want string }
		var todo []q
		for _, row := range m.Rows {
			base, sub, _ := strings.Cut(row.Resource, "/")
			if row.Group != "" {
				base += "." + row.Group
			}
			for _, v := range m.Verbs {
				if row.Access[v] != rbac.CellUnsupported {
					todo = append(todo, q{v, base, sub, row.Access[v]})
				}
			}
		}
		if len(m.Rows) != len(resources) || len(todo) < 40 {
			t.Fatalf("%v: %d rows, %d cells", c.flags, len(m.Rows), len(todo))
		}
		var yes atomic.Int64
		parallelDo(len(todo), 4, func(i int) {
			x := todo[i]
			args := append([]string{"auth", "can-i", x.verb, x.resource, "-n", c.ns}, c.canI...)
			if x.sub != "" {
				args = append(args, "--subresource", x.sub)
			}
			r := e.kubectl(t, args...)
			got := strings.TrimSpace(r.stdout)
			if got == "yes" {
				yes.Add(1)
			}
			if got != x.want {
				t.Errorf("%v -n %s: %s %s/%s: matrix %s, kubectl auth can-i %q (exit %d)", c.flags, c.ns, x.verb, x.resource, x.sub, x.want, got, r.code)
			}
		})
		if yes.Load() == 0 {
			t.Errorf("%v: kubectl auth can-i said no to everything: the fixture does not test this subject", c.flags)
		}
	}
}

// `rbac who-can` lists exactly the binding subjects that the authorizer allows, for every
// verb x resource x scope checked (its own evaluation of Roles, ClusterRoles, aggregated
// ClusterRoles and bindings, against SubjectAccessReviews).
func testRBACWhoCan(t *testing.T, e rbacEnv, fx rbacFixture) {
	snap, err := rbac.LoadSnapshot(context.Background(), e.cp.Client.RbacV1())
	if err != nil {
		t.Fatal(err)
	}
	universe := slices.Clone(fx.subjects)
	universe = append(universe, rbac.User("system:kube-scheduler"), rbac.ServiceAccount("kube-system", "deployment-controller"),
		rbac.Group("system:authenticated"), rbac.Group("kubeadm:cluster-admins"), rbac.User("nobody"))
	type pair struct{ verb, resource string }
	var pairs []pair
	for _, r := range fixtureResources {
		for _, v := range rbac.DefaultVerbs {
			pairs = append(pairs, pair{v, groupedResource(r[0], r[1])})
		}
	}
	var checked, granted atomic.Int64
	for _, ns := range []string{"rbac-a", "rbac-b", ""} {
		for i, p := range pairs {
			args := []string{"who-can", p.verb, p.resource, "-o", "json"}
			if ns != "" {
				args = append(args, "-n", ns)
			}
			var res rbac.WhoCanResult
			if i%9 == 0 { // a sample through the CLI; the rest through the same evaluation in-process
				r := e.plugin(t, args...)
				if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
					t.Fatalf("who-can %v: exit %d, %v", args, r.code, err)
				}
			} else {
				base, sub, _ := strings.Cut(p.resource, "/")
				res1, group, _ := strings.Cut(base, ".")
				res = rbac.WhoCan(snap, rbac.Request{Verb: p.verb, Group: group, Resource: res1, Subresource: sub, Namespace: nsIfNamespaced(ns, res1)}, false)
			}
			var listed []rbac.Subject
			for _, a := range res.Subjects {
				listed = append(listed, a.Subject)
			}
			req := res.Request
			parallelDo(len(universe), 8, func(j int) {
				s := universe[j]
				user, groups := rawIdentity(s)
				truth := sarAllowed(t, e.cp.Client, user, groups, req)
				checked.Add(1)
				if truth {
					granted.Add(1)
				}
				if truth != containsSubject(listed, s) {
					t.Errorf("who-can %s %s -n %q: %s listed=%v, authorizer=%v", p.verb, p.resource, ns, s, !truth, truth)
				}
			})
		}
	}
	t.Logf("checked %d subject x verb x resource x scope answers (%d allowed)", checked.Load(), granted.Load())
	if granted.Load() < 100 {
		t.Errorf("only %d allowed answers: the comparison is too one-sided", granted.Load())
	}
	// Aggregated ClusterRoles: the source role is named.
	r := e.plugin(t, "who-can", "list", "pods", "-n", "rbac-a", "-o", "json")
	var res rbac.WhoCanResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range res.Subjects {
		if a.Subject == rbac.User("u1") && a.Role.Name == "e2e-team" && slices.Contains(a.AggregatedFrom, "e2e-team-pods") {
			found = true
		}
	}
	if !found {
		t.Errorf("who-can list pods -n rbac-a: u1 through the aggregated e2e-team (from e2e-team-pods) is missing: %+v", res.Subjects)
	}
	oneLineError(t, e.plugin(t, "who-can", "get", "frobnicators"), `unknown resource "frobnicators"`)
	// Non-resource URLs: /livez is public (system:public-info-viewer).
	nr := e.plugin(t, "who-can", "get", "/livez", "-o", "json")
	var nrRes rbac.WhoCanResult
	if err := json.Unmarshal([]byte(nr.stdout), &nrRes); err != nil {
		t.Fatal(err)
	}
	var nrListed []rbac.Subject
	for _, a := range nrRes.Subjects {
		nrListed = append(nrListed, a.Subject)
	}
	for _, g := range []string{"system:unauthenticated", "system:authenticated"} {
		if !containsSubject(nrListed, rbac.Group(g)) || !sarAllowed(t, e.cp.Client, "", []string{g}, rbac.Request{Verb: "get", NonResourceURL: "/livez"}) {
			t.Errorf("who-can get /livez: group %s missing, or denied by the authorizer: %v", g, nrListed)
		}
	}
	if containsSubject(nrListed, rbac.User("u0")) || sarAllowed(t, e.cp.Client, "", []string{"g2"}, rbac.Request{Verb: "get", NonResourceURL: "/metrics"}) {
		t.Errorf("who-can get /livez lists u0, or g2 may get /metrics")
	}
}

func groupedResource(group, resource string) string {
	if group == "" {
		return resource
	}
	base, sub, ok := strings.Cut(resource, "/")
	if ok {
		return base + "." + group + "/" + sub
	}
	return resource + "." + group
}

// nsIfNamespaced drops the namespace for the cluster-scoped resources of the fixture, as the CLI does.
func nsIfNamespaced(ns, resource string) string {
	switch resource {
	case "nodes", "namespaces", "persistentvolumes":
		return ""
	}
	return ns
}

// Every permission `rbac explain` reports is allowed by the authorizer, and every allowed cell of
// the subject's matrix is covered by a reported permission.
func testRBACExplain(t *testing.T, e rbacEnv) {
	for _, s := range []rbac.Subject{rbac.User("u1"), rbac.ServiceAccount("rbac-a", "bot"), rbac.User("tutorial-user"), rbac.User("u5"), rbac.User("u3")} {
		arg := strings.ToLower(s.Kind) + ":" + s.Name
		if s.Kind == rbac.KindServiceAccount {
			arg = "sa:" + s.Namespace + ":" + s.Name
		}
		r := e.plugin(t, "explain", arg, "-o", "json", "--authenticated=false")
		var res rbac.ExplainResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
			t.Fatalf("explain %s: exit %d %v", arg, r.code, err)
		}
		if len(res.Permissions) == 0 {
			t.Errorf("explain %s: no permissions", arg)
		}
		user, groups := s.UserInfo(nil, false)
		for _, p := range res.Permissions {
			for _, g := range p.APIGroups {
				for _, resource := range p.Resources {
					for _, v := range p.Verbs {
						if g == "*" || resource == "*" || v == "*" || strings.HasPrefix(resource, "*/") || g == "extensions" {
							continue
						}
						base, sub, _ := strings.Cut(resource, "/")
						req := rbac.Request{Verb: v, Group: g, Resource: base, Subresource: sub, Namespace: p.Namespace}
						if len(p.ResourceNames) > 0 {
							req.Name = p.ResourceNames[0]
						}
						if !sarAllowed(t, e.cp.Client, user, groups, req) {
							t.Errorf("explain %s says %s %s in %q through %s, but the authorizer denies it", arg, v, groupedResource(g, resource), p.Namespace, p.Binding)
						}
					}
				}
			}
		}
		// The converse, over the fixture's resources in its namespaces.
		for _, ns := range []string{"rbac-a", "rbac-b"} {
			for _, fr := range fixtureResources {
				for _, v := range rbac.DefaultVerbs {
					base, sub, _ := strings.Cut(fr[1], "/")
					req := rbac.Request{Verb: v, Group: fr[0], Resource: base, Subresource: sub, Namespace: nsIfNamespaced(ns, base)}
					if !sarAllowed(t, e.cp.Client, user, groups, req) {
						continue
					}
					covered := false
					for _, p := range res.Permissions {
						if p.Namespace == "" || p.Namespace == req.Namespace {
							if rbac.RuleAllows(req, policyRule(p)) {
								covered = true
							}
						}
					}
					if !covered {
						t.Errorf("explain %s: the authorizer allows %s %s in %q, but no reported permission covers it", arg, v, fr[1], ns)
					}
				}
			}
		}
	}
	missing := e.plugin(t, "explain", "u4", "-o", "json")
	if !strings.Contains(missing.stdout, "does-not-exist") {
		t.Errorf("explain u4: the binding to the missing role is not reported")
	}
	oneLineError(t, e.plugin(t, "explain", "sa:nocolon"), "NAMESPACE:NAME")
}

func policyRule(p rbac.Permission) (r rbacv1.PolicyRule) {
	r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs = p.APIGroups, p.Resources, p.Verbs, p.ResourceNames, p.NonResourceURLs
	return r
}

// rawIdentity is the subject alone, without the groups it would be in: a binding subject.
func rawIdentity(s rbac.Subject) (string, []string) {
	switch s.Kind {
	case rbac.KindGroup:
		return "", []string{s.Name}
	case rbac.KindServiceAccount:
		return "system:serviceaccount:" + s.Namespace + ":" + s.Name, nil
	}
	return s.Name, nil
}
