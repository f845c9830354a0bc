package rbac

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACMatrixOptions holds the flags of `rbac matrix`.
type RBACMatrixOptions struct {
	Groups         []string
	ServiceAccount string
	Resources      []string
	Verbs          []string
	Parallel       int

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  *apiClient
	// as and asGroups are --as and --as-group: the subject to ask about, not to impersonate.
	as       string
	asGroups []string
	// subject, user and groups are who is asked about; subject is nil for the current user.
	subject *rbac.Subject
	user    string
	groups  []string
	genericiooptions.IOStreams
}

// subjectFlags turns --as/--as-group, --group and --serviceaccount into the
// subject to ask about; ok is false when none is given (the current user).
func subjectFlags(as string, asGroups, groups []string, serviceAccount string) (subj rbac.Subject, extraGroups []string, ok bool, err error) {
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
func NewCmdRBACMatrix(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACMatrixOptions{Verbs: rbac.DefaultVerbs, Parallel: 32, output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "matrix [--as USER [--as-group G] | --group G | --serviceaccount NS:NAME] [-n NS]",
		Short: "Access matrix: which verbs a subject may use on every resource",
		Long: `Show what a subject may do: one row per resource (every resource the API server
serves, or --resource), one column per verb (default get list watch create update patch
delete bind escalate impersonate approve). Every cell is the API server's own answer: a SelfSubjectAccessReview for the
current user, or a SubjectAccessReview for --as USER (with its --as-group groups),
--group G or --serviceaccount NS:NAME. Those subjects are asked about as authenticated
users (system:authenticated is added; system:anonymous and members of
system:unauthenticated get system:unauthenticated instead), as 'kubectl auth can-i --as' does; --as is used as
the subject, not to impersonate (you need create on subjectaccessreviews).

With -n NS the namespaced resources are asked about in that namespace, and so are the
namespace NS itself (get, update, patch, delete: the API server authorizes them in NS) and
bind/escalate on clusterroles (a RoleBinding in NS may delegate a ClusterRole there);
without -n the matrix is for cluster scope (all namespaces), cluster-scoped resources and
the authorization-only ones (users, groups, uids, userextras/*, signers) included. The
verbs bind and escalate are asked on roles and clusterroles, impersonate on users, groups,
uids, userextras and serviceaccounts, approve on signers. A verb a resource does not serve
shows n/a and is not asked. Requests run in parallel (--parallel, default 32).

Exit codes: 0 the matrix was printed; 3 bad input, unreachable or forbidden cluster.`,
		Example: `  # What may I do in the namespace "shop"?
  kubectl clusterops rbac matrix -n shop

  # What may alice do cluster-wide, for a few resources?
  kubectl clusterops rbac matrix --as alice --resource pods,deployments,secrets

  # A service account, as JSON
  kubectl clusterops rbac matrix --serviceaccount monitoring:prometheus -o json`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	flags := cmd.Flags()
	flags.StringSliceVar(&o.Groups, "group", nil, "Ask about a member of this group (repeatable; with --as, extra groups of that user).")
	flags.StringVar(&o.ServiceAccount, "serviceaccount", "", "Ask about this service account, as NAMESPACE:NAME.")
	flags.StringSliceVar(&o.Resources, "resource", nil, "Only these resources (e.g. pods,deployments,pods/exec); default: every served resource.")
	flags.StringSliceVar(&o.Verbs, "verb", o.Verbs, "The verbs (columns).")
	flags.IntVar(&o.Parallel, "parallel", o.Parallel, "Access reviews in flight at once.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer and takes --as/--as-group and a client without impersonation: the
// command asks about that subject, as the current user. It sends no request.
func (o *RBACMatrixOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	// --as and --as-group are in the client config; when there is none, newAPIClient says why.
	o.as, o.asGroups = f.Impersonation()
	o.client, err = newAPIClient(f, cmdutil.ClientOptions{NoImpersonation: true, QPS: float32(max(o.Parallel*20, 100))})
	return err
}

// Validate checks the options and settles the subject; it does no I/O.
func (o *RBACMatrixOptions) Validate() error {
	if len(o.Verbs) == 0 {
		return errors.New("--verb needs at least one verb")
	}
	if o.Parallel < 1 || o.Parallel > 256 {
		return fmt.Errorf("invalid --parallel %d: use 1 to 256", o.Parallel)
	}
	subj, extra, ok, err := subjectFlags(o.as, o.asGroups, o.Groups, o.ServiceAccount)
	if err != nil {
		return err
	}
	if ok {
		o.subject = &subj
		o.user, o.groups = subj.UserInfo(extra, true)
	}
	return nil
}

// resources are the rows: --resource through discovery, or every served resource (the
// namespaced ones only with -n).
func (o *RBACMatrixOptions) resources() ([]rbac.APIResource, error) {
	resolver := rbac.NewResolver(o.client.discovery)
	var out []rbac.APIResource
	if len(o.Resources) == 0 {
		all, err := resolver.Resources(false)
		if err != nil {
			return nil, cmdutil.FriendlyError(err, o.client.server)
		}
		for _, r := range all {
			// With -n: the namespaced resources, and the two cluster-scoped ones a namespace
			// applies to (the namespace object itself; bind/escalate on clusterroles).
			if o.client.namespaceExplicit && !r.Namespaced && !rbac.NamespaceApplies(r, "bind") && !rbac.NamespaceApplies(r, "patch") {
				continue
			}
			out = append(out, r)
		}
		if !o.client.namespaceExplicit {
			out = append(out, rbac.VirtualResources()...)
		}
		return out, nil
	}
	for _, name := range o.Resources {
		r, err := resolver.Lookup(name, "-")
		if err != nil {
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: cmdutil.FriendlyError(err, o.client.server)}
		}
		out = append(out, r)
	}
	return out, nil
}

// Run asks the API server and prints the matrix.
func (o *RBACMatrixOptions) Run(ctx context.Context) error {
	var reviewer rbac.Reviewer = rbac.SelfReviewer{Client: o.client.kube.AuthorizationV1()}
	if o.subject != nil {
		reviewer = rbac.SubjectReviewer{Client: o.client.kube.AuthorizationV1(), User: o.user, Groups: o.groups}
	}
	resources, err := o.resources()
	if err != nil {
		return err
	}
	opts := rbac.MatrixOptions{Verbs: o.Verbs, Namespace: o.client.scopedNamespace(), Parallel: o.Parallel}
	res, err := rbac.Matrix(ctx, reviewer, resources, opts)
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	res.Subject, res.User, res.Groups = o.subject, o.user, o.groups
	return o.printer.Print(o.Out, "RBACMatrix", res, func(w io.Writer) error {
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
