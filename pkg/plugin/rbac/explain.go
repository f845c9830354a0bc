package rbac

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACExplainOptions holds the flags of `rbac explain`.
type RBACExplainOptions struct {
	// Subject is the argument: user:NAME (or NAME), group:NAME or serviceaccount:NAMESPACE:NAME.
	Subject       string
	Groups        []string
	Authenticated bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  *apiClient
	subject rbac.Subject
	genericiooptions.IOStreams
}

// NewCmdRBACExplain returns `rbac explain`.
func NewCmdRBACExplain(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACExplainOptions{Authenticated: true, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "explain SUBJECT",
		Short: "Every permission of a subject, with the binding and rule that grants it",
		Long: `List every rule a subject holds, and for each one the binding, the role and the
binding subject that matched (the subject itself or one of its groups). SUBJECT is
user:NAME (or just NAME), group:NAME, or serviceaccount:NAMESPACE:NAME (sa:NS:NAME).

A service account's groups (system:serviceaccounts, system:serviceaccounts:NS) always
count; system:authenticated counts unless --authenticated=false (system:anonymous, or a
subject in system:unauthenticated, gets system:unauthenticated instead, as the API server
does); add other groups the subject is in with --group. With -n NS only that namespace's RoleBindings (and every
ClusterRoleBinding) are shown. Bindings that name a missing role are listed too.

Exit codes: 0 printed; 3 bad input, unreachable or forbidden cluster.`,
		Example: `  # Every permission of alice, and the binding and rule that grant it
  kubectl clusterops rbac explain alice

  # The same for a service account
  kubectl clusterops rbac explain serviceaccount:kube-system:coredns

  # bob with an extra group, in shop, as JSON
  kubectl clusterops rbac explain user:bob --group dev-team -n shop -o json`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().StringSliceVar(&o.Groups, "group", nil, "Groups the subject is in (repeatable).")
	cmd.Flags().BoolVar(&o.Authenticated, "authenticated", o.Authenticated, "Count the bindings of system:authenticated.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes the subject argument, the printer and the client; it sends no request.
func (o *RBACExplainOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	o.Subject = args[0]
	o.client, err = newAPIClient(f, cmdutil.ClientOptions{})
	return err
}

// Validate parses the subject; it does no I/O.
func (o *RBACExplainOptions) Validate() error {
	subj, err := rbac.ParseSubject(o.Subject)
	if err != nil {
		return err
	}
	o.subject = subj
	return nil
}

// Run evaluates the bindings and prints the permissions.
func (o *RBACExplainOptions) Run(ctx context.Context) error {
	snap, err := rbac.LoadSnapshot(ctx, o.client.kube.RbacV1())
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	opts := rbac.ExplainOptions{ExtraGroups: o.Groups, Authenticated: o.Authenticated, Namespace: o.client.scopedNamespace()}
	// Which resources are cluster-scoped (a RoleBinding cannot grant them): from discovery,
	// or the built-in list when discovery fails.
	if served, derr := rbac.NewResolver(o.client.discovery).Resources(false); derr == nil {
		opts.ClusterScoped = rbac.ScopeFromDiscovery(served)
	}
	res := rbac.Explain(snap, o.subject, opts)
	return o.printer.Print(o.Out, "RBACExplain", res, func(w io.Writer) error {
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
		for _, p := range res.Ignored {
			what := strings.Join(append(append([]string{}, p.NonResourceURLs...), p.Resources...), ",")
			fmt.Fprintf(w, "Note: %s grants nothing through %s (a RoleBinding cannot grant non-resource URLs or cluster-scoped resources)\n", what, p.Binding)
		}
		for _, m := range res.MissingRoles {
			fmt.Fprintf(w, "Warning: a binding of this subject names %s, which does not exist\n", m)
		}
		return nil
	})
}
