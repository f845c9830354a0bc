package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACMatrixOptions holds the flags of `rbac matrix`.
type RBACMatrixOptions struct {
	Groups         []string
	ServiceAccount string
	Resources      []string
	Verbs          []string
	Parallel       int

	output    *outputFlags
	conn      *clusterConn
	reviewer  rbac.Reviewer
	resources []rbac.APIResource
	result    rbac.MatrixResult
	genericiooptions.IOStreams
}

// subjectFlags turns --as/--as-group, --group and --serviceaccount into the
// subject to ask about; ok is false when none is given (the current user).
func subjectFlags(cmd *cobra.Command, groups []string, serviceAccount string) (subj rbac.Subject, extraGroups []string, ok bool, err error) {
	as, asGroups := impersonationFlags(cmd)
	switch {
	case serviceAccount != "" && as != "":
		return subj, nil, false, errors.New("give either --as or --serviceaccount, not both")
	case serviceAccount != "":
		subj, err = rbac.ParseServiceAccount(serviceAccount)
		return subj, append(asGroups, groups...), err == nil, err
	case strings.HasPrefix(as, "system:serviceaccount:"):
		subj, err = rbac.ParseServiceAccount(strings.TrimPrefix(as, "system:serviceaccount:"))
		return subj, append(asGroups, groups...), err == nil, err
	case as != "":
		return rbac.User(as), append(asGroups, groups...), true, nil
	case len(groups) > 0:
		return rbac.Group(groups[0]), append(asGroups, groups[1:]...), true, nil
	case len(asGroups) > 0:
		return subj, nil, false, errors.New("--as-group needs --as; use --group to ask about a group")
	}
	return subj, nil, false, nil
}

// NewCmdRBACMatrix returns `rbac matrix`.
func NewCmdRBACMatrix(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACMatrixOptions{Verbs: rbac.DefaultVerbs, Parallel: 32, output: newOutputFlags(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "matrix [--as USER [--as-group G] | --group G | --serviceaccount NS:NAME] [-n NS]",
		Short: "Access matrix: which verbs a subject may use on every resource",
		Long: `Show what a subject may do: one row per resource (every resource the API server
serves, or --resource), one column per verb (default get list watch create update patch
delete). Every cell is the API server's own answer: a SelfSubjectAccessReview for the
current user, or a SubjectAccessReview for --as USER (with its --as-group groups),
--group G or --serviceaccount NS:NAME. Those subjects are asked about as authenticated
users (system:authenticated is added), as 'kubectl auth can-i --as' does; --as is used as
the subject, not to impersonate (you need create on subjectaccessreviews).

With -n NS the namespaced resources are asked about in that namespace; without -n the
matrix is for cluster scope (all namespaces), cluster-scoped resources included.
A verb a resource does not serve shows n/a and is not asked. Requests run in parallel
(--parallel, default 32).

Exit codes: 0 the matrix was printed; 3 bad input, unreachable or forbidden cluster.`,
		Example: `  # What may I do in the namespace "shop"?
  kubectl clusterops rbac matrix -n shop

  # What may alice do cluster-wide, for a few resources?
  kubectl clusterops rbac matrix --as alice --resource pods,deployments,secrets

  # A service account, as JSON
  kubectl clusterops rbac matrix --serviceaccount monitoring:prometheus -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(cmd.CommandPath(), err)
			}
			if err := o.Complete(cmd, getter); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Groups, "group", nil, "Ask about a member of this group (repeatable; with --as, extra groups of that user).")
	f.StringVar(&o.ServiceAccount, "serviceaccount", "", "Ask about this service account, as NAMESPACE:NAME.")
	f.StringSliceVar(&o.Resources, "resource", nil, "Only these resources (e.g. pods,deployments,pods/exec); default: every served resource.")
	f.StringSliceVar(&o.Verbs, "verb", o.Verbs, "The verbs (columns).")
	f.IntVar(&o.Parallel, "parallel", o.Parallel, "Access reviews in flight at once.")
	o.output.addFlags(cmd)
	return cmd
}

// Complete resolves the subject, the clients and the resources.
func (o *RBACMatrixOptions) Complete(cmd *cobra.Command, getter genericclioptions.RESTClientGetter) error {
	if _, err := o.output.toPrinter(); err != nil {
		return usageError(cmd.CommandPath(), err)
	}
	subj, extra, ok, err := subjectFlags(cmd, o.Groups, o.ServiceAccount)
	if err != nil {
		return usageError(cmd.CommandPath(), err)
	}
	conn, err := newClusterConn(getter, true, float32(max(o.Parallel*20, 100)))
	if err != nil {
		return err
	}
	o.conn = conn
	if ok {
		user, groups := subj.UserInfo(extra, true)
		o.reviewer = rbac.SubjectReviewer{Client: conn.client.AuthorizationV1(), User: user, Groups: groups}
		o.result.Subject, o.result.User, o.result.Groups = &subj, user, groups
	} else {
		o.reviewer = rbac.SelfReviewer{Client: conn.client.AuthorizationV1()}
	}
	resolver := rbac.NewResolver(conn.discovery)
	if len(o.Resources) == 0 {
		all, err := resolver.Resources(false)
		if err != nil {
			return friendlyError(err, conn.server)
		}
		for _, r := range all {
			if conn.namespaceExplicit && !r.Namespaced {
				continue
			}
			o.resources = append(o.resources, r)
		}
		return nil
	}
	for _, name := range o.Resources {
		r, err := resolver.Lookup(name, "-")
		if err != nil {
			return &ExitError{Code: ExitCannotRun, Err: friendlyError(err, conn.server)}
		}
		o.resources = append(o.resources, r)
	}
	return nil
}

// Validate checks the options.
func (o *RBACMatrixOptions) Validate() error {
	if len(o.Verbs) == 0 {
		return errors.New("--verb needs at least one verb")
	}
	if o.Parallel < 1 || o.Parallel > 256 {
		return fmt.Errorf("invalid --parallel %d: use 1 to 256", o.Parallel)
	}
	return nil
}

// Run asks the API server and prints the matrix.
func (o *RBACMatrixOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ns := ""
	if o.conn.namespaceExplicit {
		ns = o.conn.namespace
	}
	res, err := rbac.Matrix(ctx, o.reviewer, o.resources, rbac.MatrixOptions{Verbs: o.Verbs, Namespace: ns, Parallel: o.Parallel})
	if err != nil {
		return friendlyError(err, o.conn.server)
	}
	res.Subject, res.User, res.Groups = o.result.Subject, o.result.User, o.result.Groups
	return o.output.print(o.Out, "RBACMatrix", res, func(w io.Writer) error {
		fmt.Fprint(w, "NAME")
		for _, v := range res.Verbs {
			fmt.Fprint(w, "\t"+strings.ToUpper(v))
		}
		fmt.Fprintln(w)
		for _, row := range res.Rows {
			fmt.Fprint(w, groupedName(row.Group, row.Resource))
			for _, v := range res.Verbs {
				fmt.Fprint(w, "\t"+row.Access[v])
			}
			fmt.Fprintln(w)
		}
		return nil
	})
}
