package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
)

// resultAPIVersion is the apiVersion stamped on every result printed with
// -o json|yaml|jsonpath|go-template. Field names under it are a stable,
// public interface.
const resultAPIVersion = "clusterops.io/v1alpha1"

// outputFlags is the -o/--output flag (plus --template and
// --allow-missing-template-keys) shared by every command that reports a
// result. Usage in a command:
//
//	o.output = newOutputFlags()
//	o.output.addFlags(cmd)                        // in NewCmdX
//	if _, err := o.output.toPrinter(); err != nil // in Complete: fail fast on a bad -o
//	o.output.print(o.Out, "Kind", result, table)  // in Run
//
// result is a plain Go struct with json tags; table renders the default
// human output into a kubectl-style tab writer (columns separated by '\t').
type outputFlags struct {
	printFlags *genericclioptions.PrintFlags
}

func newOutputFlags() *outputFlags {
	return &outputFlags{printFlags: genericclioptions.NewPrintFlags("")}
}

// addFlags binds -o/--output, --template and --allow-missing-template-keys.
func (f *outputFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.printFlags.OutputFormat, "output", "o", "",
		"Output format. One of: ("+strings.Join(f.allowedFormats(), ", ")+"). Default: a human-readable table.")
	f.printFlags.OutputFlagSpecified = func() bool { return cmd.Flags().Changed("output") }
	f.printFlags.TemplatePrinterFlags.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return f.formatNames(), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
}

// formatNames are the names accepted before an optional "=VALUE".
func (f *outputFlags) formatNames() []string {
	names := slices.Clone(f.printFlags.JSONYamlPrintFlags.AllowedFormats())
	return append(names, f.printFlags.TemplatePrinterFlags.AllowedFormats()...)
}

// allowedFormats are formatNames for display: template formats as NAME=....
func (f *outputFlags) allowedFormats() []string {
	simple := f.printFlags.JSONYamlPrintFlags.AllowedFormats()
	out := slices.Clone(simple)
	for _, name := range f.printFlags.TemplatePrinterFlags.AllowedFormats() {
		out = append(out, name+"=...")
	}
	return out
}

// format is the -o value; "" means the default table.
func (f *outputFlags) format() string { return *f.printFlags.OutputFormat }

func (f *outputFlags) templateGiven() bool {
	t := f.printFlags.TemplatePrinterFlags.TemplateArgument
	return t != nil && *t != ""
}

// toPrinter returns the cli-runtime printer for -o, or (nil, nil) when the
// table output is selected. An unknown format is a one-line error listing the
// allowed ones.
func (f *outputFlags) toPrinter() (printers.ResourcePrinter, error) {
	format := f.format()
	if format == "" && !f.templateGiven() {
		return nil, nil
	}
	if format != "" {
		name, _, _ := strings.Cut(format, "=")
		if !slices.Contains(f.formatNames(), strings.ToLower(name)) {
			return nil, f.unsupported(format)
		}
	}
	p, err := f.printFlags.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, f.unsupported(format)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid --output %q: %s", format, oneLine(err.Error()))
	}
	return p, nil
}

func (f *outputFlags) unsupported(format string) error {
	return fmt.Errorf("unsupported output format %q: use one of %s, or omit -o for a table",
		format, strings.Join(f.allowedFormats(), ", "))
}

// print writes v to w: through the -o printer as an object with
// apiVersion clusterops.io/v1alpha1 and the given kind, or, with no -o, by
// calling table with a kubectl-style tab writer that print flushes. A nil
// table falls back to YAML.
func (f *outputFlags) print(w io.Writer, kind string, v any, table func(io.Writer) error) error {
	p, err := f.toPrinter()
	if err != nil {
		return err
	}
	if p == nil && table != nil {
		tw := printers.GetNewTabWriter(w)
		if err := table(tw); err != nil {
			return err
		}
		return tw.Flush()
	}
	if p == nil {
		p = &printers.YAMLPrinter{}
	}
	obj, err := toUnstructured(kind, v)
	if err != nil {
		return err
	}
	if err := p.PrintObj(obj, w); err != nil {
		return fmt.Errorf("printing %s: %s", kind, oneLine(err.Error()))
	}
	return nil
}

// toUnstructured converts a result struct through JSON into an object that
// cli-runtime printers accept, with apiVersion and kind set.
func toUnstructured(kind string, v any) (*unstructured.Unstructured, error) {
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
	u.SetAPIVersion(resultAPIVersion)
	u.SetKind(kind)
	return u, nil
}
