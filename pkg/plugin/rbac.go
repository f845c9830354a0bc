package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

const rbacLong = `Roles and bindings from templates, an access matrix, who-can, explain and a
risky-permission audit, in one place.

  template list|show   the built-in role templates and their rules
  grant                render a template (or custom rules) into a Role/ClusterRole plus binding
                       and apply it with server-side apply (or print it with --dry-run=client)
  matrix               what a subject may do: resources x verbs, asked of the API server
  who-can              which subjects may do VERB on RESOURCE, and through which binding and role
  explain              every permission of a subject, with the binding and rule that grants it
  audit                risky permissions and broken bindings, with a severity`

// NewCmdRBAC returns the `rbac` command group.
func NewCmdRBAC(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := newGroupCommand("rbac", "Roles from templates, access matrix, who-can, explain and audit", rbacLong)
	cmd.Example = `  # What may alice do in shop, verb by verb?
  kubectl clusterops rbac matrix --as alice -n shop

  # Risky permissions in the whole cluster
  kubectl clusterops rbac audit`
	tmpl := newGroupCommand("template", "List and show the built-in role templates",
		"List the built-in role templates, or show one with its rules.")
	tmpl.Example = `  # The templates, then the rules of one
  kubectl clusterops rbac template list
  kubectl clusterops rbac template show readonly`
	tmpl.AddCommand(newCmdRBACTemplateList(streams), newCmdRBACTemplateShow(streams))
	cmd.AddCommand(tmpl,
		NewCmdRBACGrant(getter, streams),
		NewCmdRBACMatrix(getter, streams),
		NewCmdRBACWhoCan(getter, streams),
		NewCmdRBACExplain(getter, streams),
		NewCmdRBACAudit(getter, streams),
	)
	return cmd
}

// templateListResult is printed with kind "RBACTemplateList".
type templateListResult struct {
	Templates []rbac.Template `json:"templates"`
}

func newCmdRBACTemplateList(streams genericiooptions.IOStreams) *cobra.Command {
	output := newOutputFlags()
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in role templates",
		Long: `List the built-in role templates with their scope and a description.
None of them grants escalate, bind, impersonate or a "*" wildcard.`,
		Example: `  # The built-in templates
  kubectl clusterops rbac template list

  # As JSON
  kubectl clusterops rbac template list -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			res := templateListResult{Templates: rbac.Templates()}
			return output.print(streams.Out, "RBACTemplateList", res, func(w io.Writer) error {
				fmt.Fprintln(w, "NAME\tSCOPE\tDESCRIPTION")
				for _, t := range res.Templates {
					fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Scope, t.Description)
				}
				return nil
			})
		},
	}
	output.addFlags(cmd)
	return cmd
}

func newCmdRBACTemplateShow(streams genericiooptions.IOStreams) *cobra.Command {
	output := newOutputFlags()
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a built-in role template and its rules",
		Long: `Show one template: its description, default scope and rules. Resources are
listed by name; 'rbac grant' finds their API groups through discovery.`,
		Example: `  # The rules of one template
  kubectl clusterops rbac template show readonly

  # As YAML
  kubectl clusterops rbac template show developer -o yaml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return rbac.TemplateNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			t, err := rbac.LookupTemplate(args[0])
			if err != nil {
				return usageError(cmd.CommandPath(), err)
			}
			return output.print(streams.Out, "RBACTemplate", t, func(w io.Writer) error {
				fmt.Fprintf(w, "Name:\t%s\nScope:\t%s\nDescription:\t%s\n\n", t.Name, t.Scope, t.Description)
				fmt.Fprintln(w, "VERBS\tRESOURCES\tRESOURCE NAMES")
				for _, r := range t.Rules {
					fmt.Fprintf(w, "%s\t%s\t%s\n", strings.Join(r.Verbs, ","), strings.Join(r.Resources, ","),
						dashIfEmpty(strings.Join(r.ResourceNames, ",")))
				}
				return nil
			})
		},
	}
	output.addFlags(cmd)
	return cmd
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// impersonationFlags returns the values of the global --as and --as-group.
func impersonationFlags(cmd *cobra.Command) (user string, groups []string) {
	if f := cmd.Flags().Lookup("as"); f != nil {
		user = f.Value.String()
	}
	if f := cmd.Flags().Lookup("as-group"); f != nil {
		if sv, ok := f.Value.(interface{ GetSlice() []string }); ok {
			groups = sv.GetSlice()
		}
	}
	return user, groups
}

func groupedName(group, resource string) string {
	if group == "" {
		return resource
	}
	base, sub, ok := strings.Cut(resource, "/")
	if ok {
		return base + "." + group + "/" + sub
	}
	return resource + "." + group
}
