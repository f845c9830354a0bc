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

// templateListResult is printed with kind "RBACTemplateList".
type templateListResult struct {
	Templates []rbac.Template `json:"templates"`
}

// RBACTemplateListOptions holds the flags of `rbac template list`.
type RBACTemplateListOptions struct {
	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

func newCmdRBACTemplateList(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACTemplateListOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in role templates",
		Long: `List the built-in role templates with their scope and a description.
None of them grants escalate, bind, impersonate or a "*" wildcard.`,
		Example: `  # The built-in templates
  kubectl clusterops rbac template list

  # As JSON
  kubectl clusterops rbac template list -o json`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer; the templates are built in, so no client is needed.
func (o *RBACTemplateListOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate checks the options; there is nothing to check.
func (o *RBACTemplateListOptions) Validate() error { return nil }

// Run prints the templates.
func (o *RBACTemplateListOptions) Run(context.Context) error {
	res := templateListResult{Templates: rbac.Templates()}
	return o.printer.Print(o.Out, "RBACTemplateList", res, func(w io.Writer) error {
		fmt.Fprintln(w, "NAME\tSCOPE\tDESCRIPTION")
		for _, t := range res.Templates {
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Scope, t.Description)
		}
		return nil
	})
}

// RBACTemplateShowOptions holds the flags of `rbac template show`.
type RBACTemplateShowOptions struct {
	Name string

	output   *cmdutil.OutputFlags
	printer  *cmdutil.Printer
	template rbac.Template
	genericiooptions.IOStreams
}

func newCmdRBACTemplateShow(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACTemplateShowOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "show NAME",
		Short: "Show a built-in role template and its rules",
		Long: `Show one template: its description, default scope and rules. Resources are
listed by name; 'rbac grant' finds their API groups through discovery.`,
		Example: `  # The rules of one template
  kubectl clusterops rbac template show readonly

  # As YAML
  kubectl clusterops rbac template show developer -o yaml`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return rbac.TemplateNames(), cobra.ShellCompDirectiveNoFileComp
		},
	}, f, o)
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes the template name and builds the printer.
func (o *RBACTemplateShowOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name = args[0]
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate looks the template up among the built-in ones.
func (o *RBACTemplateShowOptions) Validate() error {
	t, err := rbac.LookupTemplate(o.Name)
	if err != nil {
		return err
	}
	o.template = t
	return nil
}

// Run prints the template and its rules.
func (o *RBACTemplateShowOptions) Run(context.Context) error {
	t := o.template
	return o.printer.Print(o.Out, "RBACTemplate", t, func(w io.Writer) error {
		fmt.Fprintf(w, "Name:\t%s\nScope:\t%s\nDescription:\t%s\n\n", t.Name, t.Scope, t.Description)
		fmt.Fprintln(w, "VERBS\tRESOURCES\tRESOURCE NAMES")
		for _, r := range t.Rules {
			fmt.Fprintf(w, "%s\t%s\t%s\n", strings.Join(r.Verbs, ","), strings.Join(r.Resources, ","),
				dashIfEmpty(strings.Join(r.ResourceNames, ",")))
		}
		return nil
	})
}
