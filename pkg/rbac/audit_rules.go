package rbac

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// mutatingVerbs that a role named read-only must not hold (escalate, bind and impersonate have
// their own check, which judges a grant limited to named objects by what those grant).
var mutatingVerbs = []string{"create", "update", "patch", "delete", "deletecollection", "*"}

// readOnlyName matches role names that promise read-only access: one of the words, whole,
// between separators (so "viewer" matches, "reviewer" and "preview" do not).
var readOnlyName = regexp.MustCompile(`(?i)(^|[-_.:])(read[-_.]?only|ro|view|views|viewer|viewers|reader|readers|read|observer|observers|auditor|auditors)($|[-_.:])`)

// covers reports whether rule grants verb on group/resource[/sub] for some
// object name (resourceNames are not checked); restricted is true when the
// rule is limited to named objects.
func covers(rule rbacv1.PolicyRule, verb, group, resource, sub string) (ok, restricted bool) {
	req := Request{Verb: verb, Group: group, Resource: resource, Subresource: sub}
	r := rule
	r.ResourceNames = nil
	return RuleAllows(req, r), len(rule.ResourceNames) > 0
}

func coversAny(rule rbacv1.PolicyRule, verbs []string, group, resource, sub string) (matched []string, restricted bool) {
	for _, v := range verbs {
		if ok, rs := covers(rule, v, group, resource, sub); ok {
			matched = append(matched, v)
			restricted = rs
		}
	}
	return matched, restricted
}

// gr is one group/resource[/subresource] a check looks at.
type gr struct{ group, resource, sub string }

func (g gr) String() string {
	r := g.resource
	if g.sub != "" {
		r += "/" + g.sub
	}
	return groupResource(g.group, r)
}

// coversSome returns the targets of which rule grants one of verbs, and the verbs.
func coversSome(rule rbacv1.PolicyRule, verbs []string, targets ...gr) (hit []string, matched []string) {
	for _, t := range targets {
		if v, _ := coversAny(rule, verbs, t.group, t.resource, t.sub); len(v) > 0 {
			hit = append(hit, t.String())
			for _, x := range v {
				if !slices.Contains(matched, x) {
					matched = append(matched, x)
				}
			}
		}
	}
	return hit, matched
}

func ruleString(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 && len(r.Resources) == 0 {
		return fmt.Sprintf("verbs=[%s] nonResourceURLs=[%s]", strings.Join(r.Verbs, ","), strings.Join(r.NonResourceURLs, ","))
	}
	s := fmt.Sprintf("apiGroups=[%s] resources=[%s] verbs=[%s]", strings.Join(quoteEmpty(r.APIGroups), ","),
		strings.Join(r.Resources, ","), strings.Join(r.Verbs, ","))
	if len(r.ResourceNames) > 0 {
		s += " resourceNames=[" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}

func quoteEmpty(groups []string) []string {
	out := slices.Clone(groups)
	for i, g := range out {
		if g == "" {
			out[i] = `""`
		}
	}
	return out
}

var (
	writeVerbsCUP = []string{"create", "update", "patch"}
	rbacGroup     = "rbac.authorization.k8s.io"
	// Workload controllers: whoever writes one runs pods as any service account of the namespace.
	workloadControllers = []gr{{"apps", "deployments", ""}, {"apps", "replicasets", ""}, {"apps", "statefulsets", ""},
		{"apps", "daemonsets", ""}, {"batch", "jobs", ""}, {"batch", "cronjobs", ""}, {"", "replicationcontrollers", ""}}
	impersonationTargets = []gr{{"", "users", ""}, {"", "groups", ""}, {"", "serviceaccounts", ""},
		{"authentication.k8s.io", "uids", ""}, {"authentication.k8s.io", "userextras", "*"}}
)

// isURLWildcard: "*" and "/*" both reach every non-resource URL.
func isURLWildcard(u string) bool { return u == "*" || u == "/*" }

// auditor runs the per-rule checks with what they need to judge named objects.
type auditor struct {
	s     *Snapshot
	opts  AuditOptions
	scope ScopeFunc
	// depth stops judging named objects inside named objects.
	depth int
}

// auditRules runs the per-rule checks on the rules one object grants. namespace is set when
// the rules can only apply in it (a Role, or a role bound by a RoleBinding): cluster-scoped
// resources and non-resource URLs then grant nothing (pkg/registry/rbac/validation/rule.go:208).
func (a *auditor) auditRules(ref ObjectRef, namespace string, rules []rbacv1.PolicyRule, subjects []Subject) []Finding {
	var out []Finding
	add := func(sev Severity, check, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Check: check, Object: ref, Message: fmt.Sprintf(format, args...), Subjects: subjects})
	}
	csrApproval, csrSigners := false, false
	var writes []string
	for _, orig := range rules {
		r := orig
		if namespace != "" {
			var dropped []string
			r, dropped = inNamespace(orig, a.scope)
			if gone := append(slices.Clone(orig.NonResourceURLs), dropped...); len(gone) > 0 {
				add(SeverityLow, CheckGrantsNothing, "names %s, which a Role or RoleBinding cannot grant (cluster-scoped or "+
					"non-resource URLs): that part grants nothing (%s)", strings.Join(gone, ", "), ruleString(orig))
			}
			if len(r.Resources) == 0 {
				continue
			}
		}
		rs := ruleString(r)
		var wild []string
		if slices.Contains(r.Verbs, "*") {
			wild = append(wild, "verbs")
		}
		if slices.Contains(r.Resources, "*") {
			wild = append(wild, "resources")
		}
		if slices.Contains(r.APIGroups, "*") {
			wild = append(wild, "apiGroups")
		}
		if slices.ContainsFunc(r.NonResourceURLs, isURLWildcard) {
			wild = append(wild, "nonResourceURLs")
		}
		for _, v := range r.Verbs {
			if slices.Contains(mutatingVerbs, v) && !slices.Contains(writes, v) {
				writes = append(writes, v)
			}
		}
		if len(wild) > 0 {
			// Every other check that applies is reported as well: scripts filter on check IDs.
			add(SeverityHigh, CheckWildcard, "wildcard in %s: grants everything that exists now and every API added later (%s)",
				strings.Join(wild, ", "), rs)
		}
		if len(r.Resources) == 0 {
			continue
		}
		if v, restricted := coversAny(r, []string{"get", "list", "watch"}, "", "secrets", ""); len(v) > 0 {
			sev := SeverityHigh
			what := "every secret in scope"
			if restricted {
				sev, what = SeverityLow, "the named secrets"
			} else if !slices.Contains(v, "list") && !slices.Contains(v, "watch") {
				sev, what = SeverityMedium, "any secret whose name is known"
			}
			add(sev, CheckSecretsRead, "can read %s (%s), service account tokens and TLS keys included (%s)", what, strings.Join(v, ","), rs)
		}
		if v, restricted := coversAny(r, writeVerbsCUP, "", "secrets", ""); len(v) > 0 && !restricted {
			add(SeverityMedium, CheckSecretsWrite, "can write secrets (%s): a new service-account-token Secret mints a token "+
				"for any service account of the namespace (%s)", strings.Join(v, ","), rs)
		}
		if hit, _ := coversSome(r, []string{"create", "get"}, gr{"", "pods", "exec"}, gr{"", "pods", "attach"}); len(hit) > 0 {
			add(SeverityHigh, CheckPodExec, "can run commands in or attach to pods (%s): the pods' service account tokens and secrets are exposed (%s)", strings.Join(hit, ", "), rs)
		}
		if hit, _ := coversSome(r, []string{"update", "patch"}, gr{"", "pods", "ephemeralcontainers"}); len(hit) > 0 {
			add(SeverityHigh, CheckEphemeralContainers, "can add ephemeral containers to running pods (pods/ephemeralcontainers): "+
				"as good as exec, with the pod's service account and volumes (%s)", rs)
		}
		if hit, _ := coversSome(r, []string{"create", "get"}, gr{"", "pods", "portforward"}); len(hit) > 0 {
			add(SeverityMedium, CheckPortForward, "can open connections into pods (pods/portforward): reaches services that trust the pod network (%s)", rs)
		}
		out = append(out, a.escalationFindings(ref, namespace, r, subjects)...)
		if v, _ := coversAny(r, []string{"get", "create"}, "", "nodes", "proxy"); len(v) > 0 {
			add(SeverityHigh, CheckNodesProxy, "can reach the kubelet API through nodes/proxy (exec into any pod on the node, bypassing audit) (%s)", rs)
		}
		if v, _ := coversAny(r, []string{"update", "patch"}, "certificates.k8s.io", "certificatesigningrequests", "approval"); len(v) > 0 {
			csrApproval = true
		}
		if ok, _ := covers(r, "approve", "certificates.k8s.io", "signers", ""); ok {
			csrSigners = true
		}
		if ok, _ := covers(r, "create", "", "serviceaccounts", "token"); ok {
			add(SeverityMedium, CheckSAToken, "can mint tokens for service accounts (serviceaccounts/token create) and act as them (%s)", rs)
		}
		if hit, v := coversSome(r, []string{"create", "update", "patch", "delete"},
			gr{"admissionregistration.k8s.io", "validatingwebhookconfigurations", ""},
			gr{"admissionregistration.k8s.io", "mutatingwebhookconfigurations", ""}); len(hit) > 0 {
			add(SeverityHigh, CheckWebhookWrite, "can %s admission webhook configurations (%s): a webhook sees, changes or "+
				"blocks every object sent to the API server, secrets included (%s)", strings.Join(v, ","), strings.Join(hit, ", "), rs)
		}
		if ok, _ := covers(r, "create", "", "persistentvolumes", ""); ok {
			add(SeverityHigh, CheckPVCreate, "can create persistent volumes: a hostPath volume mounts any directory of a node (%s)", rs)
		}
		if hit, v := coversSome(r, []string{"update", "patch"}, gr{"", "nodes", "status"}, gr{"", "pods", "status"},
			gr{"", "services", "status"}); len(hit) > 0 {
			add(SeverityMedium, CheckStatusWrite, "can %s %s: forged status misleads controllers and schedulers "+
				"(node capacity and addresses, pod IPs, load-balancer IPs) (%s)", strings.Join(v, ","), strings.Join(hit, ", "), rs)
		}
		if v, _ := coversAny(r, []string{"update", "patch"}, "", "namespaces", ""); len(v) > 0 {
			add(SeverityMedium, CheckNamespaceWrite, "can %s namespaces: relabelling a namespace changes its Pod Security "+
				"level (pod-security.kubernetes.io labels) (%s)", strings.Join(v, ","), rs)
		}
		if hit, v := coversSome(r, writeVerbsCUP, gr{rbacGroup, "roles", ""}, gr{rbacGroup, "rolebindings", ""},
			gr{rbacGroup, "clusterroles", ""}, gr{rbacGroup, "clusterrolebindings", ""}); len(hit) > 0 {
			add(SeverityMedium, CheckRBACWrite, "can %s %s: it may grant others whatever it holds itself (%s)",
				strings.Join(v, ","), strings.Join(hit, ", "), rs)
		}
		if ok, _ := covers(r, "create", "", "pods", ""); ok {
			add(SeverityMedium, CheckPodCreate, "can create pods: a pod runs as any service account of its namespace and "+
				"mounts any Secret, ConfigMap or PVC there (%s)", rs)
		}
		if hit, v := coversSome(r, writeVerbsCUP, workloadControllers...); len(hit) > 0 {
			add(SeverityMedium, CheckWorkloadWrite, "can %s %s: their pods run as any service account of the namespace "+
				"and mount any Secret there (%s)", strings.Join(v, ","), strings.Join(hit, ", "), rs)
		}
		if a.opts.ServedGroups != nil {
			for _, g := range r.APIGroups {
				if g != "*" && !a.opts.ServedGroups[g] {
					hint := ""
					if h, ok := removedGroups[g]; ok {
						hint = "; " + h
					}
					add(SeverityLow, CheckUnservedAPIGroup, "names API group %q, which this cluster does not serve: that part of the rule grants nothing%s (%s)", g, hint, rs)
				}
			}
		}
	}
	switch {
	case csrApproval && csrSigners:
		add(SeverityHigh, CheckCSRApproval, "can approve certificate signing requests (certificatesigningrequests/approval and approve on signers): it can mint client certificates, for example for system:masters")
	case csrApproval || csrSigners:
		add(SeverityMedium, CheckCSRApproval, "holds half of what approving certificate signing requests needs (certificatesigningrequests/approval update and approve on signers)")
	}
	if len(writes) > 0 && readOnlyName.MatchString(ref.Name) {
		add(SeverityHigh, CheckReadOnlyWrites, "is named like a read-only role but grants the write verbs %s", strings.Join(writes, ", "))
	}
	return out
}

// escalationFindings: escalate, bind and impersonate. Limited by resourceNames, bind and
// impersonate are judged by what the named roles or identities grant (the documented
// delegation pattern, bind on "view" only, is not a risk); escalate on a named role still lets
// its holder rewrite that role to anything.
func (a *auditor) escalationFindings(ref ObjectRef, namespace string, r rbacv1.PolicyRule, subjects []Subject) []Finding {
	var out []Finding
	rs := ruleString(r)
	add := func(sev Severity, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Check: CheckEscalation, Object: ref, Message: fmt.Sprintf(format, args...), Subjects: subjects})
	}
	for _, verb := range []string{"escalate", "bind"} {
		hit, _ := coversSome(r, []string{verb}, gr{rbacGroup, "roles", ""}, gr{rbacGroup, "clusterroles", ""})
		if len(hit) == 0 {
			continue
		}
		if verb == "escalate" || len(r.ResourceNames) == 0 {
			add(SeverityHigh, "grants %q on %s: a way around RBAC's escalation checks (%s)", verb, strings.Join(hit, ", "), rs)
			continue
		}
		var rules []rbacv1.PolicyRule
		var unknown []string
		for _, name := range r.ResourceNames {
			found := false
			if cr, ok := a.s.clusterRoles[name]; ok {
				rules, found = append(rules, cr.Rules...), true
			}
			if role, ok := a.s.roles[namespace+"/"+name]; ok && namespace != "" {
				rules, found = append(rules, role.Rules...), true
			}
			if !found {
				unknown = append(unknown, name)
			}
		}
		sev, what := a.judgeNamed(namespace, rules)
		if len(unknown) > 0 && sev.Rank() < SeverityMedium.Rank() {
			// Whoever creates a role of that name decides what this grants.
			sev, what = SeverityMedium, "nothing yet: "+strings.Join(unknown, ",")+" does not exist"
		}
		add(sev, "grants %q on the named roles %s only: they grant %s (%s)", verb, strings.Join(r.ResourceNames, ","), what, rs)
	}
	hit, _ := coversSome(r, []string{"impersonate"}, impersonationTargets...)
	for _, res := range r.Resources {
		// One extra key ("userextras/scopes") is asked as that subresource only.
		if strings.HasPrefix(res, "userextras/") && res != "userextras/*" &&
			(slices.Contains(r.Verbs, "impersonate") || slices.Contains(r.Verbs, "*")) &&
			(slices.Contains(r.APIGroups, "authentication.k8s.io") || slices.Contains(r.APIGroups, "*")) {
			hit = append(hit, groupResource("authentication.k8s.io", res))
		}
	}
	if len(hit) == 0 {
		return out
	}
	if len(r.ResourceNames) == 0 {
		add(SeverityHigh, "grants \"impersonate\" on %s: it can act as anyone of that kind (%s)", strings.Join(hit, ", "), rs)
		return out
	}
	// Named identities: what they hold, as users, groups or service accounts.
	var rules []rbacv1.PolicyRule
	sev := SeverityLow
	for _, name := range r.ResourceNames {
		var subj []Subject
		if ok, _ := covers(r, "impersonate", "", "users", ""); ok {
			subj = append(subj, User(name))
			if sa, err := ParseServiceAccount(strings.TrimPrefix(name, "system:serviceaccount:")); err == nil && strings.HasPrefix(name, "system:serviceaccount:") {
				subj = append(subj, sa)
			}
		}
		if ok, _ := covers(r, "impersonate", "", "groups", ""); ok {
			if name == PrivilegedGroup {
				sev = SeverityHigh
			}
			subj = append(subj, Group(name))
		}
		if ok, _ := covers(r, "impersonate", "", "serviceaccounts", ""); ok {
			for _, ns := range a.serviceAccountNamespaces(namespace, name) {
				subj = append(subj, ServiceAccount(ns, name))
			}
		}
		for _, s := range subj {
			for _, p := range Explain(a.s, s, ExplainOptions{Authenticated: false, ClusterScoped: a.scope}).Permissions {
				rules = append(rules, rbacv1.PolicyRule{Verbs: p.Verbs, APIGroups: p.APIGroups, Resources: p.Resources,
					ResourceNames: p.ResourceNames, NonResourceURLs: p.NonResourceURLs})
			}
		}
	}
	nsev, what := a.judgeNamed("", rules)
	if nsev.Rank() > sev.Rank() {
		sev = nsev
	}
	if sev == SeverityHigh && what == "nothing risky" {
		what = "membership of " + PrivilegedGroup
	}
	add(sev, "grants \"impersonate\" on the named identities %s only: they hold %s (%s)", strings.Join(r.ResourceNames, ","), what, rs)
	return out
}

// serviceAccountNamespaces: the namespace of the role, or for a cluster-wide rule every
// namespace where a binding names a service account called name.
func (a *auditor) serviceAccountNamespaces(namespace, name string) []string {
	if namespace != "" {
		return []string{namespace}
	}
	var out []string
	for _, b := range a.s.bindings("*") {
		for _, subj := range b.subjects {
			if s := fromRBAC(subj, b.ref.Namespace); s.Kind == KindServiceAccount && s.Name == name && !slices.Contains(out, s.Namespace) {
				out = append(out, s.Namespace)
			}
		}
	}
	return out
}

// judgeNamed audits the rules of named roles or identities: the worst severity they reach
// (low when nothing risky), and the checks that fired.
func (a *auditor) judgeNamed(namespace string, rules []rbacv1.PolicyRule) (Severity, string) {
	if a.depth > 0 {
		return SeverityHigh, "rules this audit does not follow further"
	}
	inner := &auditor{s: a.s, opts: AuditOptions{}, scope: a.scope, depth: a.depth + 1}
	sev := SeverityLow
	var checks []string
	for _, f := range inner.auditRules(ObjectRef{}, namespace, rules, nil) {
		if f.Severity.Rank() > sev.Rank() {
			sev = f.Severity
		}
		if f.Severity != SeverityLow && !slices.Contains(checks, f.Check) {
			checks = append(checks, f.Check)
		}
	}
	if len(checks) == 0 {
		return SeverityLow, "nothing risky"
	}
	return sev, "what " + strings.Join(checks, ", ") + " flag"
}
