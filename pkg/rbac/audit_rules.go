package rbac

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// writeVerbs that a role named read-only must not hold.
var mutatingVerbs = []string{"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind", "impersonate"}

// readOnlyName matches role names that promise read-only access.
var readOnlyName = regexp.MustCompile(`(?i)(^|[-_.:])(read[-_.]?only|ro|view|viewer|viewers|reader|readers|read|observer|auditor)($|[-_.:])|readonly|read-only|viewer`)

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

func ruleString(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
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

// auditRules runs the per-rule checks on one role.
func auditRules(ref ObjectRef, rules []rbacv1.PolicyRule, subjects []Subject, opts AuditOptions) []Finding {
	var out []Finding
	add := func(sev Severity, check, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Check: check, Object: ref, Message: fmt.Sprintf(format, args...), Subjects: subjects})
	}
	csrApproval, csrSigners := false, false
	var writes []string
	for _, r := range rules {
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
		if slices.Contains(r.NonResourceURLs, "*") {
			wild = append(wild, "nonResourceURLs")
		}
		for _, v := range r.Verbs {
			if slices.Contains(mutatingVerbs, v) && !slices.Contains(writes, v) {
				writes = append(writes, v)
			}
		}
		if len(wild) > 0 {
			// The wildcard finding covers the specific risks of this rule.
			add(SeverityHigh, CheckWildcard, "wildcard in %s: grants everything that exists now and every API added later (%s)",
				strings.Join(wild, ", "), rs)
			continue
		}
		if len(r.NonResourceURLs) > 0 {
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
		var subs []string
		for _, sub := range []string{"exec", "attach"} {
			if v, _ := coversAny(r, []string{"create", "get"}, "", "pods", sub); len(v) > 0 {
				subs = append(subs, "pods/"+sub)
			}
		}
		if len(subs) > 0 {
			add(SeverityHigh, CheckPodExec, "can run commands in or attach to pods (%s): the pods' service account tokens and secrets are exposed (%s)", strings.Join(subs, ", "), rs)
		}
		for _, v := range []string{"escalate", "bind", "impersonate"} {
			if slices.Contains(r.Verbs, v) {
				add(SeverityHigh, CheckEscalation, "grants the verb %q: a way around RBAC's escalation checks (%s)", v, rs)
			}
		}
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
		if opts.ServedGroups != nil {
			for _, g := range r.APIGroups {
				if g != "*" && !opts.ServedGroups[g] {
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
