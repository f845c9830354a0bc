package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
)

// ResultAPIVersion is the apiVersion stamped on every result printed with
// -o json|yaml|jsonpath|go-template. Field names under it are a stable,
// public interface.
const ResultAPIVersion = "clusterops.io/v1alpha1"

// OutputFlags is the -o/--output flag (plus --template and
// --allow-missing-template-keys) shared by every command that reports a
// result. Usage in a command:
//
//	o.output = NewOutputFlags()
//	o.output.AddFlags(cmd)                         // in NewCmdX
//	o.printer, err = o.output.ToPrinter()          // in Complete, once
//	o.printer.Print(o.Out, "Kind", result, table)  // in Run
//
// result is a plain Go struct with json tags; table renders the default
// human output into a kubectl-style tab writer (columns separated by '\t').
type OutputFlags struct {
	printFlags *genericclioptions.PrintFlags
}

func NewOutputFlags() *OutputFlags {
	return &OutputFlags{printFlags: genericclioptions.NewPrintFlags("")}
}

// addFlags binds -o/--output, --template and --allow-missing-template-keys.
func (f *OutputFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.printFlags.OutputFormat, "output", "o", "",
		"Output format. One of: ("+strings.Join(f.AllowedFormats(), ", ")+"). Default: a human-readable table.")
	f.printFlags.OutputFlagSpecified = func() bool { return cmd.Flags().Changed("output") }
	f.printFlags.TemplatePrinterFlags.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return f.FormatNames(), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
}

// formatNames are the names accepted before an optional "=VALUE".
func (f *OutputFlags) FormatNames() []string {
	names := slices.Clone(f.printFlags.JSONYamlPrintFlags.AllowedFormats())
	return append(names, f.printFlags.TemplatePrinterFlags.AllowedFormats()...)
}

// allowedFormats are formatNames for display: template formats as NAME=....
func (f *OutputFlags) AllowedFormats() []string {
	simple := f.printFlags.JSONYamlPrintFlags.AllowedFormats()
	out := slices.Clone(simple)
	for _, name := range f.printFlags.TemplatePrinterFlags.AllowedFormats() {
		out = append(out, name+"=...")
	}
	return out
}

// format is the -o value; "" means the default table.
func (f *OutputFlags) Format() string { return *f.printFlags.OutputFormat }

func (f *OutputFlags) TemplateGiven() bool {
	t := f.printFlags.TemplatePrinterFlags.TemplateArgument
	return t != nil && *t != ""
}

// ToPrinter returns the Printer for -o: cli-runtime's printer, or the table when no -o is given.
// An unknown format is a one-line error listing the allowed ones. Commands call it once, in
// Complete.
func (f *OutputFlags) ToPrinter() (*Printer, error) {
	format := f.Format()
	if format == "" && !f.TemplateGiven() {
		return &Printer{}, nil
	}
	if format != "" {
		name, _, _ := strings.Cut(format, "=")
		if !slices.Contains(f.FormatNames(), strings.ToLower(name)) {
			return nil, f.unsupported(format)
		}
	}
	p, err := f.printFlags.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, f.unsupported(format)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid --output %q: %s", format, OneLine(err.Error()))
	}
	return &Printer{p: p}, nil
}

func (f *OutputFlags) unsupported(format string) error {
	return fmt.Errorf("unsupported output format %q: use one of %s, or omit -o for a table",
		format, strings.Join(f.AllowedFormats(), ", "))
}

// Printer renders a command's typed result, as -o asked.
type Printer struct {
	p printers.ResourcePrinter // nil: the table
}

// IsTable reports whether the human table (no -o) was chosen.
func (p *Printer) IsTable() bool { return p.p == nil }

// Print writes v to w: through the -o printer as an object with apiVersion clusterops.io/v1alpha1
// and the given kind, or, with no -o, by calling table with a kubectl-style tab writer that Print
// flushes. A nil table falls back to YAML.
func (p *Printer) Print(w io.Writer, kind string, v any, table func(io.Writer) error) error {
	if p.p == nil && table != nil {
		tw := printers.GetNewTabWriter(w)
		if err := table(tw); err != nil {
			return err
		}
		return tw.Flush()
	}
	rp := p.p
	if rp == nil {
		rp = &printers.YAMLPrinter{}
	}
	obj, err := ToUnstructured(kind, v)
	if err != nil {
		return err
	}
	if err := rp.PrintObj(obj, w); err != nil {
		return fmt.Errorf("printing %s: %s", kind, OneLine(err.Error()))
	}
	return nil
}

// PrintObject writes a Kubernetes object (a manifest a command renders for kubectl apply) through
// the -o printer, or as YAML when no -o is given.
func (p *Printer) PrintObject(w io.Writer, obj runtime.Object) error {
	rp := p.p
	if rp == nil {
		rp = &printers.YAMLPrinter{}
	}
	return rp.PrintObj(obj, w)
}

// ToUnstructured converts a result struct through JSON into an object that
// cli-runtime printers accept, with apiVersion and kind set.
func ToUnstructured(kind string, v any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", kind, err)
	}
	var m map[string]any
	// utiljson keeps integers as int64, which unstructured requires.
	if err := utiljson.Unmarshal(data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("encoding %s: result must be a JSON object, got %.40s", kind, data)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(ResultAPIVersion)
	u.SetKind(kind)
	return u, nil
}
