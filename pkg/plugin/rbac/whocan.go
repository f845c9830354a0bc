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

// RBACWhoCanOptions holds the flags of `rbac who-can`.
type RBACWhoCanOptions struct {
	AllNamespaces bool
	// Verb, Resource (a resource or a non-resource URL) and Name are the arguments.
	Verb     string
	Resource string
	Name     string

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  *apiClient
	genericiooptions.IOStreams
}

// NewCmdRBACWhoCan returns `rbac who-can`.
func NewCmdRBACWhoCan(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACWhoCanOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
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

The namespace is the one the API server puts in the request: a RoleBinding never grants a
non-resource URL or a cluster-scoped resource, but the namespace object itself is
authorized in its own namespace (who-can patch namespaces shop lists the RoleBindings
of shop; with -n NS and no NAME, namespace NS), and so are bind and escalate on
clusterroles (a RoleBinding in NS may delegate a ClusterRole there). Authorization-only
resources are accepted: impersonate on users, groups, uids, userextras/KEY and
serviceaccounts, and approve, sign or attest on signers (NAME is the signer name).

Exit codes: 0 the list was printed (even if empty); 3 bad input, unknown resource,
unreachable or forbidden cluster (you need list on roles, clusterroles and bindings).`,
		Example: `  # Who may exec into pods in shop
  kubectl clusterops rbac who-can create pods/exec -n shop

  # Who may read secrets, bindings of every namespace included
  kubectl clusterops rbac who-can get secrets -A

  # Who may change one named object
  kubectl clusterops rbac who-can update configmaps kubeadm-config -n kube-system

  # Who may approve client certificates
  kubectl clusterops rbac who-can approve signers kubernetes.io/kube-apiserver-client

  # Who may relabel the namespace shop (and so change its Pod Security level)
  kubectl clusterops rbac who-can patch namespaces shop

  # A non-resource URL, as JSON
  kubectl clusterops rbac who-can get /metrics -o json`,
		Args: cmdutil.UsageArgs(cobra.RangeArgs(2, 3)),
	}, f, o)
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Also list RoleBindings of every namespace.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes the arguments, the printer and the client. It sends no request: the resource
// is looked up through discovery in Run.
func (o *RBACWhoCanOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	o.Verb, o.Resource = args[0], args[1]
	if len(args) == 3 {
		o.Name = args[2]
	}
	o.client, err = newAPIClient(f, cmdutil.ClientOptions{})
	return err
}

// Validate checks the arguments; it does no I/O.
func (o *RBACWhoCanOptions) Validate() error {
	if o.isNonResourceURL() && o.Name != "" {
		return fmt.Errorf("a non-resource URL (%s) takes no NAME", o.Resource)
	}
	return nil
}

func (o *RBACWhoCanOptions) isNonResourceURL() bool { return strings.HasPrefix(o.Resource, "/") }

// request resolves the resource through discovery (or the authorization-only resources users,
// groups, uids, userextras/KEY and signers) and builds the question as the API server asks it;
// allNamespaces is whether RoleBindings of every namespace may answer it.
func (o *RBACWhoCanOptions) request() (req rbac.Request, allNamespaces bool, err error) {
	if o.isNonResourceURL() {
		// A RoleBinding never grants a non-resource URL: -A adds nothing.
		return rbac.Request{Verb: o.Verb, NonResourceURL: o.Resource}, false, nil
	}
	res, err := rbac.NewResolver(o.client.discovery).Lookup(o.Resource, "-")
	if err != nil {
		return req, false, cmdutil.FriendlyError(err, o.client.server)
	}
	ns := ""
	if o.client.namespaceExplicit && !o.AllNamespaces {
		ns = o.client.namespace
	}
	req = rbac.RequestFor(res, o.Verb, o.Name, ns)
	// The namespace object named on the command line is authorized in its own namespace only.
	allNamespaces = o.AllNamespaces && rbac.NamespaceApplies(res, o.Verb) && req.Namespace == ""
	return req, allNamespaces, nil
}

// Run evaluates the bindings and prints the subjects.
func (o *RBACWhoCanOptions) Run(ctx context.Context) error {
	req, allNamespaces, err := o.request()
	if err != nil {
		return err
	}
	snap, err := rbac.LoadSnapshot(ctx, o.client.kube.RbacV1())
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	res := rbac.WhoCan(snap, req, allNamespaces)
	return o.printer.Print(o.Out, "RBACWhoCan", res, func(w io.Writer) error {
		fmt.Fprintln(w, "KIND\tSUBJECT\tSCOPE\tBINDING\tROLE\tAGGREGATED FROM")
		for _, a := range res.Subjects {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Subject.Kind, subjectName(a.Subject), scopeName(a.Namespace),
				a.Binding, a.Role, dashIfEmpty(strings.Join(a.AggregatedFrom, ",")))
		}
		fmt.Fprintf(w, "Group\t%s\tcluster-wide\t(built in: bypasses RBAC)\t-\t-\n", rbac.PrivilegedGroup)
		return nil
	})
}
