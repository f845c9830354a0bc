package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACWhoCanOptions holds the flags of `rbac who-can`.
type RBACWhoCanOptions struct {
	AllNamespaces bool

	output  *outputFlags
	conn    *clusterConn
	request rbac.Request
	genericiooptions.IOStreams
}

// NewCmdRBACWhoCan returns `rbac who-can`.
func NewCmdRBACWhoCan(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACWhoCanOptions{output: newOutputFlags(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE [NAME] [-n NS | -A]",
		Short: "List the subjects that may do VERB on RESOURCE, with the binding and role",
		Long: `List every user, group and service account that may do VERB on RESOURCE (a
resource such as pods, deployments, pods/exec, or a non-resource URL such as /metrics),
and the binding and role that grant it. Roles, ClusterRoles and bindings are evaluated
as the RBAC authorizer does; for an aggregated ClusterRole the ClusterRoles the rule
was aggregated from are shown too.

With -n NS the question is about that namespace (ClusterRoleBindings and the
RoleBindings of NS count); without -n it is about all namespaces, where only
ClusterRoleBindings grant. -A lists RoleBindings of every namespace as well, each with
its namespace. The group system:masters is always allowed: it bypasses RBAC.

Exit codes: 0 the list was printed (even if empty); 3 bad input, unknown resource,
unreachable or forbidden cluster (you need list on roles, clusterroles and bindings).`,
		Example: `  # Who may exec into pods in shop
  kubectl clusterops rbac who-can create pods/exec -n shop

  # Who may read secrets, bindings of every namespace included
  kubectl clusterops rbac who-can get secrets -A

  # Who may change one named object
  kubectl clusterops rbac who-can update configmaps kubeadm-config -n kube-system

  # A non-resource URL, as JSON
  kubectl clusterops rbac who-can get /metrics -o json`,
		Args: usageArgs(cobra.RangeArgs(2, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.output.toPrinter(); err != nil {
				return usageError(cmd.CommandPath(), err)
			}
			if err := o.Complete(getter, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Also list RoleBindings of every namespace.")
	o.output.addFlags(cmd)
	return cmd
}

// Complete resolves the resource through discovery and builds the request.
func (o *RBACWhoCanOptions) Complete(getter genericclioptions.RESTClientGetter, args []string) error {
	conn, err := newClusterConn(getter, false, 0)
	if err != nil {
		return err
	}
	o.conn = conn
	o.request = rbac.Request{Verb: args[0]}
	if strings.HasPrefix(args[1], "/") {
		if len(args) == 3 {
			return usageError("kubectl clusterops rbac who-can", fmt.Errorf("a non-resource URL (%s) takes no NAME", args[1]))
		}
		o.request.NonResourceURL = args[1]
		return nil
	}
	res, err := rbac.NewResolver(conn.discovery).Lookup(args[1], "-")
	if err != nil {
		return friendlyError(err, conn.server)
	}
	base, sub, _ := strings.Cut(res.Resource, "/")
	o.request.Group, o.request.Resource, o.request.Subresource = res.Group, base, sub
	if len(args) == 3 {
		o.request.Name = args[2]
	}
	if conn.namespaceExplicit && res.Namespaced && !o.AllNamespaces {
		o.request.Namespace = conn.namespace
	}
	return nil
}

// Run evaluates the bindings and prints the subjects.
func (o *RBACWhoCanOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := rbac.LoadSnapshot(ctx, o.conn.client.RbacV1())
	if err != nil {
		return friendlyError(err, o.conn.server)
	}
	res := rbac.WhoCan(snap, o.request, o.AllNamespaces)
	return o.output.print(o.Out, "RBACWhoCan", res, func(w io.Writer) error {
		fmt.Fprintln(w, "KIND\tSUBJECT\tSCOPE\tBINDING\tROLE\tAGGREGATED FROM")
		for _, a := range res.Subjects {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Subject.Kind, subjectName(a.Subject), scopeName(a.Namespace),
				a.Binding, a.Role, dashIfEmpty(strings.Join(a.AggregatedFrom, ",")))
		}
		fmt.Fprintf(w, "Group\t%s\tcluster-wide\t(built in: bypasses RBAC)\t-\t-\n", rbac.PrivilegedGroup)
		return nil
	})
}

func subjectName(s rbac.Subject) string {
	if s.Kind == rbac.KindServiceAccount {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

func scopeName(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return ns
}

// RBACExplainOptions holds the flags of `rbac explain`.
type RBACExplainOptions struct {
	Groups        []string
	Authenticated bool

	output  *outputFlags
	conn    *clusterConn
	subject rbac.Subject
	genericiooptions.IOStreams
}

// NewCmdRBACExplain returns `rbac explain`.
func NewCmdRBACExplain(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACExplainOptions{Authenticated: true, output: newOutputFlags(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "explain SUBJECT",
		Short: "Every permission of a subject, with the binding and rule that grants it",
		Long: `List every rule a subject holds, and for each one the binding, the role and the
binding subject that matched (the subject itself or one of its groups). SUBJECT is
user:NAME (or just NAME), group:NAME, or serviceaccount:NAMESPACE:NAME (sa:NS:NAME).

A service account's groups (system:serviceaccounts, system:serviceaccounts:NS) always
count; system:authenticated counts unless --authenticated=false; add other groups the
subject is in with --group. With -n NS only that namespace's RoleBindings (and every
ClusterRoleBinding) are shown. Bindings that name a missing role are listed too.

Exit codes: 0 printed; 3 bad input, unreachable or forbidden cluster.`,
		Example: `  # Every permission of alice, and the binding and rule that grant it
  kubectl clusterops rbac explain alice

  # The same for a service account
  kubectl clusterops rbac explain serviceaccount:kube-system:coredns

  # bob with an extra group, in shop, as JSON
  kubectl clusterops rbac explain user:bob --group dev-team -n shop -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.output.toPrinter(); err != nil {
				return usageError(cmd.CommandPath(), err)
			}
			subj, err := rbac.ParseSubject(args[0])
			if err != nil {
				return usageError(cmd.CommandPath(), err)
			}
			o.subject = subj
			if o.conn, err = newClusterConn(getter, false, 0); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringSliceVar(&o.Groups, "group", nil, "Groups the subject is in (repeatable).")
	cmd.Flags().BoolVar(&o.Authenticated, "authenticated", o.Authenticated, "Count the bindings of system:authenticated.")
	o.output.addFlags(cmd)
	return cmd
}

// Run evaluates the bindings and prints the permissions.
func (o *RBACExplainOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := rbac.LoadSnapshot(ctx, o.conn.client.RbacV1())
	if err != nil {
		return friendlyError(err, o.conn.server)
	}
	ns := ""
	if o.conn.namespaceExplicit {
		ns = o.conn.namespace
	}
	res := rbac.Explain(snap, o.subject, rbac.ExplainOptions{ExtraGroups: o.Groups, Authenticated: o.Authenticated, Namespace: ns})
	return o.output.print(o.Out, "RBACExplain", res, func(w io.Writer) error {
		if res.Privileged {
			fmt.Fprintf(w, "%s is in %s: the API server allows it everything, whatever RBAC says.\n", o.subject, rbac.PrivilegedGroup)
		}
		fmt.Fprintln(w, "SCOPE\tVERBS\tRESOURCES\tRESOURCE NAMES\tBINDING\tROLE\tVIA")
		for _, p := range res.Permissions {
			what := strings.Join(p.NonResourceURLs, ",")
			if what == "" {
				var names []string
				for _, g := range p.APIGroups {
					for _, r := range p.Resources {
						names = append(names, groupedName(g, r))
					}
				}
				what = strings.Join(names, ",")
			}
			via := p.Via.Kind + " " + subjectName(p.Via)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", scopeName(p.Namespace), strings.Join(p.Verbs, ","), what,
				dashIfEmpty(strings.Join(p.ResourceNames, ",")), p.Binding, p.Role, via)
		}
		for _, m := range res.MissingRoles {
			fmt.Fprintf(w, "Warning: a binding of this subject names %s, which does not exist\n", m)
		}
		return nil
	})
}
