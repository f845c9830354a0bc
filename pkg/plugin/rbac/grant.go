package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACGrantOptions holds the flags of `rbac grant`.
type RBACGrantOptions struct {
	Template       string
	User           string
	Group          string
	ServiceAccount string
	ClusterWide    bool
	RoleName       string
	TakeOver       bool
	AllowRisky     []string
	DryRun         string // none, client or server
	Custom         rbac.RuleSpec

	printFlags *genericclioptions.PrintFlags
	// printer prints with -o yaml, name or a template; printerErr says why -o names none of them.
	printer    printers.ResourcePrinter
	printerErr error
	client     *apiClient
	subject    rbac.Subject
	template   *rbac.Template // the built-in template named, if any
	genericiooptions.IOStreams
}

const grantExample = `  # Let alice read workloads, pods, logs and events in the namespace "shop"
  kubectl clusterops rbac grant readonly --user alice -n shop

  # Print the manifests instead (kubectl apply -f - accepts them)
  kubectl clusterops rbac grant developer --group dev-team -n shop --dry-run=client -o yaml

  # Read-only everywhere for a service account
  kubectl clusterops rbac grant cluster-readonly --serviceaccount monitoring:prometheus --cluster-wide

  # Custom rules: the API group of each resource comes from discovery
  kubectl clusterops rbac grant --role-name pod-restarter --verb get,list,delete --resource pods,deployments \
      --user bob -n shop

  # A risky custom rule must be named: exec into pods of shop
  kubectl clusterops rbac grant --role-name debugger --verb create --resource pods/exec --user bob -n shop \
      --allow-risky pods-exec-attach

  # Take over a role made by hand (its rules are replaced by these)
  kubectl clusterops rbac grant --role-name pod-reader --verb get,list --resource pods --user bob -n shop --take-over`

// NewCmdRBACGrant returns `rbac grant`.
func NewCmdRBACGrant(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACGrantOptions{DryRun: "none", IOStreams: streams,
		printFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(scheme.Scheme)}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "grant [TEMPLATE] (--user U | --group G | --serviceaccount NS:NAME) (-n NS | --cluster-wide)",
		Short: "Render a role template (or custom rules) and its binding, and apply them",
		Long: `Render a Role and RoleBinding in one namespace (-n), or a ClusterRole and
ClusterRoleBinding (--cluster-wide), from a built-in template and/or custom rules
(--verb, --resource, --api-group, --resource-name, --non-resource-url), for one user,
group or service account.

Resource names go through discovery and the RESTMapper: "deployments" gets the API group
"apps" by itself, and short names such as "deploy" work. An unknown resource, or an API
group the cluster does not serve (for example "extensions"), is an error; a verb that a
resource does not support is a warning.

The objects are applied with server-side apply (field manager kubectl-clusterops):
running the same grant twice changes nothing. With --dry-run=client nothing is sent
except discovery, and -o yaml|json prints manifests that 'kubectl apply -f -' accepts.
The role is named clusterops-TEMPLATE (or --role-name), the binding
ROLE-user-NAME, ROLE-group-NAME or ROLE-sa-NAMESPACE-NAME; a short hash of the exact
subject is added when that readable form loses something (a ':', '/' or '%', or the
'-' between a namespace and a name), so two subjects never share a binding.

Every role and binding is read before anything is written. grant changes only objects it
made (label app.kubernetes.io/managed-by=kubectl-clusterops). An existing role or binding
without that label is refused unless you give --take-over, which replaces its rules (or
subjects) and labels it as ours. Never changed, even with --take-over: names in the
reserved system: namespace, Kubernetes' bootstrap roles and bindings (label
kubernetes.io/bootstrapping=rbac-defaults, such as cluster-admin, admin, edit and view)
and aggregated ClusterRoles (with an aggregationRule). A role or binding that the grant
cannot read is not written either.

Templates never grant escalate, bind, impersonate or "*"; the risks each one does carry are
stated in its description ('rbac template list'). Custom rules go through the checks of
'rbac audit' as they would be bound: a rule that reaches a risky check (medium or high:
wildcards, secrets, pods/exec or */exec, nodes/proxy, signers or CSR approval,
serviceaccounts/token, escalate, bind, impersonate, pod creation, ...) is refused, with one
line naming the checks, unless --allow-risky names every one of them.

Exit codes: 0 applied (or printed); 3 bad input, unknown template or resource, risky custom
rules not named by --allow-risky, a role or binding that is not ours (or is protected),
forbidden or failed apply.`,
		Example: grantExample,
		Args:    cmdutil.UsageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return rbac.TemplateNames(), cobra.ShellCompDirectiveNoFileComp
		},
	}, f, o)
	flags := cmd.Flags()
	flags.StringVar(&o.User, "user", "", "Grant to this user.")
	flags.StringVar(&o.Group, "group", "", "Grant to this group.")
	flags.StringVar(&o.ServiceAccount, "serviceaccount", "", "Grant to this service account, as NAMESPACE:NAME.")
	flags.BoolVar(&o.ClusterWide, "cluster-wide", false, "Render a ClusterRole and ClusterRoleBinding instead of a Role and RoleBinding in -n.")
	flags.StringVar(&o.RoleName, "role-name", "", "Name of the role (default clusterops-TEMPLATE; required for custom rules).")
	flags.BoolVar(&o.TakeOver, "take-over", false, "Replace an existing role or binding that kubectl-clusterops did not make (never a system:, bootstrap or aggregated one).")
	flags.StringSliceVar(&o.AllowRisky, "allow-risky", nil, "Grant custom rules that reach these risky audit checks (check IDs, e.g. pods-exec-attach,secrets-read).")
	flags.StringVar(&o.DryRun, "dry-run", "none", `"none", "client" (print, send nothing) or "server" (the API server checks, nothing is stored).`)
	flags.Lookup("dry-run").NoOptDefVal = "client"
	flags.StringSliceVar(&o.Custom.Verbs, "verb", nil, "Custom rule: verbs (get, list, watch, create, update, patch, delete, ...).")
	flags.StringSliceVar(&o.Custom.Resources, "resource", nil, "Custom rule: resources, e.g. pods, deployments, pods/log, deployments.apps.")
	flags.StringSliceVar(&o.Custom.APIGroups, "api-group", nil, `Custom rule: API groups ("" is core); default: found through discovery.`)
	flags.StringSliceVar(&o.Custom.ResourceNames, "resource-name", nil, "Custom rule: only these object names.")
	flags.StringSliceVar(&o.Custom.NonResourceURLs, "non-resource-url", nil, "Custom rule: non-resource URLs such as /healthz (--cluster-wide only).")
	o.printFlags.AddFlags(cmd)
	return cmd
}

func (o *RBACGrantOptions) hasCustom() bool {
	c := o.Custom
	return len(c.Verbs)+len(c.Resources)+len(c.APIGroups)+len(c.ResourceNames)+len(c.NonResourceURLs) > 0
}

// Complete takes the template, the printer for -o, the namespace (and whether -n was given) and
// the client. It sends no request; an -o that names no printer is reported by Validate.
func (o *RBACGrantOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Template = args[0]
	}
	o.printer, o.printerErr = o.printFlags.ToPrinter()
	var err error
	o.client, err = newAPIClient(f, cmdutil.ClientOptions{})
	return err
}

// Validate checks the flags and the scope; it does no I/O.
func (o *RBACGrantOptions) Validate() error {
	n := 0
	for _, s := range []string{o.User, o.Group, o.ServiceAccount} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("missing subject: give --user NAME, --group NAME or --serviceaccount NAMESPACE:NAME")
	case n > 1:
		return errors.New("give only one of --user, --group and --serviceaccount")
	case o.User != "":
		o.subject = rbac.User(o.User)
	case o.Group != "":
		o.subject = rbac.Group(o.Group)
	default:
		sa, err := rbac.ParseServiceAccount(o.ServiceAccount)
		if err != nil {
			return err
		}
		o.subject = sa
	}
	if o.Template == "" && !o.hasCustom() {
		return fmt.Errorf("missing template: give one of %s, or custom rules with --verb and --resource",
			strings.Join(rbac.TemplateNames(), ", "))
	}
	if o.Template != "" {
		t, err := rbac.LookupTemplate(o.Template)
		if err != nil {
			return err
		}
		o.template = &t
	}
	if o.hasCustom() {
		if len(o.Custom.Verbs) == 0 || len(o.Custom.Resources)+len(o.Custom.NonResourceURLs) == 0 {
			return errors.New("a custom rule needs --verb and --resource (or --non-resource-url)")
		}
		if o.RoleName == "" {
			return errors.New("custom rules need --role-name (the template's default role name is kept for the template alone)")
		}
	}
	if err := rbac.ValidateCheckIDs(o.AllowRisky); err != nil {
		return fmt.Errorf("invalid --allow-risky: %w", err)
	}
	switch o.DryRun {
	case "none", "client", "server":
	default:
		return fmt.Errorf("invalid --dry-run %q: use none, client or server", o.DryRun)
	}
	if format := *o.printFlags.OutputFormat; o.printerErr != nil && format != "" {
		return fmt.Errorf("unsupported output format %q: use yaml, json or name", format)
	}
	// The scope: whether -n was given, as Complete found it.
	explicit := o.client.namespaceExplicit
	if o.ClusterWide && explicit {
		return errors.New("give either -n NAMESPACE or --cluster-wide, not both")
	}
	if !o.ClusterWide && !explicit {
		hint := "give -n NAMESPACE for a Role and RoleBinding, or --cluster-wide for a ClusterRole and ClusterRoleBinding"
		if t := o.template; t != nil && t.Scope == rbac.ScopeCluster {
			hint = fmt.Sprintf("%q is a cluster-wide template: add --cluster-wide (or -n NAMESPACE to grant it in one namespace)", t.Name)
		}
		return errors.New("missing scope: " + hint)
	}
	return nil
}

// Run renders the grant and applies or prints it.
func (o *RBACGrantOptions) Run(ctx context.Context) error {
	spec := rbac.GrantSpec{RoleName: o.RoleName, Template: o.Template, Subjects: []rbac.Subject{o.subject},
		Namespace: o.client.namespace, ClusterWide: o.ClusterWide}
	if o.template != nil {
		spec.Rules = append(spec.Rules, o.template.Rules...)
	}
	resolver := rbac.NewResolver(o.client.discovery)
	if o.hasCustom() {
		spec.Rules = append(spec.Rules, o.Custom)
	}
	grant, err := rbac.Render(resolver, spec)
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	if o.hasCustom() {
		// The custom rules alone, as they would be bound, through the audit's own checks: a
		// template's risks are stated in its description, custom ones must be named.
		customOnly := spec
		customOnly.Rules = []rbac.RuleSpec{o.Custom}
		custom, err := rbac.Render(resolver, customOnly)
		if err != nil {
			return cmdutil.FriendlyError(err, o.client.server)
		}
		if err := rbac.CheckSafe(custom, o.AllowRisky); err != nil {
			return err
		}
		for _, f := range rbac.Risks(custom) {
			fmt.Fprintf(o.ErrOut, "Warning: granting %s as you allowed (%s)\n", f.Check, rbac.CheckInfos[f.Check].Short)
		}
	}
	for _, w := range grant.Warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
	}
	objs := grant.Objects()
	actions := []string{rbac.ActionCreated, rbac.ActionCreated}
	suffix := " (dry run)"
	if o.DryRun != "client" {
		applied, err := rbac.Apply(ctx, o.client.kube.RbacV1(), grant, rbac.ApplyOptions{DryRun: o.DryRun == "server", TakeOver: o.TakeOver})
		if err != nil {
			return cmdutil.FriendlyError(err, o.client.server)
		}
		for i, a := range applied {
			if a.Object != nil {
				objs[i] = a.Object
			}
			actions[i] = a.Action
		}
		suffix = " (server-side apply)"
		if o.DryRun == "server" {
			suffix = " (server dry run)"
		}
	}
	return o.print(objs, actions, suffix)
}

func (o *RBACGrantOptions) print(objs []runtime.Object, actions []string, suffix string) error {
	format := *o.printFlags.OutputFormat
	for _, obj := range objs {
		// The server's answer has no apiVersion/kind, and its managedFields are noise
		// (unless --show-managed-fields).
		if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
			obj.GetObjectKind().SetGroupVersionKind(gvks[0])
		}
		if m, ok := obj.(metav1.Object); ok && !o.printFlags.JSONYamlPrintFlags.ShowManagedFields {
			m.SetManagedFields(nil)
		}
	}
	switch format {
	case "":
		for i, obj := range objs {
			p := &printers.NamePrinter{Operation: actions[i] + suffix}
			if err := printers.NewTypeSetter(scheme.Scheme).ToPrinter(p).PrintObj(obj, o.Out); err != nil {
				return err
			}
		}
		return nil
	case "json":
		list := &corev1.List{}
		list.Kind, list.APIVersion = "List", "v1"
		for _, obj := range objs {
			list.Items = append(list.Items, runtime.RawExtension{Object: obj})
		}
		return (&printers.JSONPrinter{}).PrintObj(list, o.Out)
	}
	for _, obj := range objs {
		if err := o.printer.PrintObj(obj, o.Out); err != nil {
			return err
		}
	}
	return nil
}
