package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultFleetParallel is how many contexts a fleet report runs at once by default: each one
// lists objects, so a laptop and the clusters are not flooded.
const DefaultFleetParallel = 8

// FleetEntry is one context's part of a fleet report.
type FleetEntry struct {
	Context string `json:"context"`
	// ExitCode is the exit code the command gives for this context alone (3: it could not run,
	// such as an unreachable cluster).
	ExitCode int `json:"exitCode"`
	// Error is the one-line error for this context, when there is one.
	Error string `json:"error,omitempty"`
	// Result is the object the command prints with -o json for this context alone.
	Result map[string]any `json:"result,omitempty"`
}

// FleetReport is a report over several contexts; printed with kind "FleetReport".
type FleetReport struct {
	// ReportKind is the kind of each result (UpgradePlan, CertificateReport, ...).
	ReportKind string       `json:"reportKind"`
	Contexts   []FleetEntry `json:"contexts"`
}

// fleetFlags are --contexts, --all-contexts and --parallel.
type fleetFlags struct {
	contexts []string
	all      bool
	parallel int
}

// AddFleetFlags gives a report command --contexts, --all-contexts and --parallel. With one of
// the first two, the command runs once per context (rebuild makes a fresh command for a Factory
// of that context, with the same flags), at most --parallel at once, and prints one report: a
// CONTEXT column in the table, a "context" field per entry with -o json|yaml (kind FleetReport,
// each entry's result being what -o json prints for that context alone). A context that cannot
// be reached is one entry with its error and exit code 3; the exit code is the worst of them.
func AddFleetFlags(cmd *cobra.Command, f Factory, streams genericiooptions.IOStreams,
	rebuild func(Factory, genericiooptions.IOStreams) *cobra.Command) {
	ff := &fleetFlags{}
	cmd.Flags().StringSliceVar(&ff.contexts, "contexts", nil, "Run for each of these kubeconfig contexts (comma-separated) and print one report with a CONTEXT column.")
	cmd.Flags().BoolVar(&ff.all, "all-contexts", false, "Run for every context of the kubeconfig and print one report with a CONTEXT column.")
	cmd.Flags().IntVar(&ff.parallel, "parallel", DefaultFleetParallel, "With --contexts or --all-contexts: run for at most this many contexts at once.")
	_ = cmd.RegisterFlagCompletionFunc("contexts", CompleteContextList(f))
	single := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(ff.contexts) == 0 && !ff.all {
			return single(c, args)
		}
		names, err := ff.resolve(c, f)
		if err != nil {
			return UsageError(c.CommandPath(), err)
		}
		format := ""
		if o := c.Flags().Lookup("output"); o != nil {
			format = o.Value.String()
		}
		if format != "" && format != "json" && format != "yaml" {
			return UsageError(c.CommandPath(), fmt.Errorf("with --contexts or --all-contexts, -o is json, yaml or omitted (a table), not %q", format))
		}
		entries, tables := runFleet(c.Context(), f, streams, rebuild, localArgs(c, args, format == ""), names, ff.parallel, format != "")
		if err := printFleet(streams.Out, format, c, entries, tables); err != nil {
			return err
		}
		worst := ExitOK
		for _, e := range entries {
			worst = max(worst, e.ExitCode)
		}
		if worst != ExitOK {
			return &ExitError{Code: worst}
		}
		return nil
	}
}

func (ff *fleetFlags) resolve(c *cobra.Command, f Factory) ([]string, error) {
	if ff.all && len(ff.contexts) > 0 {
		return nil, errors.New("give --contexts or --all-contexts, not both")
	}
	if c.Flags().Changed("context") {
		return nil, errors.New("--context picks one context; with --contexts or --all-contexts leave it out")
	}
	if ff.parallel < 1 {
		return nil, errors.New("--parallel must be at least 1")
	}
	raw, err := f.RawConfig()
	if err != nil {
		return nil, err
	}
	if ff.all {
		if len(raw.Contexts) == 0 {
			return nil, errors.New("--all-contexts: the kubeconfig has no contexts")
		}
		return slices.Sorted(maps.Keys(raw.Contexts)), nil
	}
	var unknown []string
	for _, n := range ff.contexts {
		if raw.Contexts[n] == nil {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--contexts: no context %s in the kubeconfig (see 'kubectl config get-contexts')", strings.Join(unknown, ", "))
	}
	return slices.Compact(slices.Clone(ff.contexts)), nil
}

// localArgs are the command's own flags as given, without the fleet flags and -o, plus the
// positional arguments; "-o json" is added unless the table is wanted.
func localArgs(c *cobra.Command, args []string, table bool) []string {
	var out []string
	c.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) {
		if !fl.Changed || slices.Contains([]string{"contexts", "all-contexts", "parallel", "output"}, fl.Name) {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+fl.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+fl.Name+"="+fl.Value.String())
	})
	if !table {
		out = append(out, "-o", "json")
	}
	return append(append(out, "--"), args...)
}

func runFleet(ctx context.Context, f Factory, streams genericiooptions.IOStreams,
	rebuild func(Factory, genericiooptions.IOStreams) *cobra.Command, args, names []string, parallel int, jsonOut bool) ([]FleetEntry, []string) {
	entries, tables := make([]FleetEntry, len(names)), make([]string, len(names))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var out, errOut bytes.Buffer
			sub := rebuild(f.ForContext(name), genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
			sub.SilenceErrors, sub.SilenceUsage = true, true
			sub.SetArgs(args)
			sub.SetOut(&out)
			sub.SetErr(&errOut)
			err := sub.ExecuteContext(ctx)
			e := FleetEntry{Context: name, ExitCode: ExitCode(err)}
			if err != nil && err.Error() != "" {
				e.Error = OneLine(err.Error())
			}
			if out.Len() > 0 && jsonOut {
				if jerr := json.Unmarshal(out.Bytes(), &e.Result); jerr != nil && e.Error == "" {
					e.Error, e.ExitCode = "the output is not JSON: "+jerr.Error(), ExitCannotRun
				}
			}
			entries[i], tables[i] = e, out.String()
			if errOut.Len() > 0 {
				errMu.Lock()
				for _, l := range strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n") {
					fmt.Fprintf(streams.ErrOut, "[%s] %s\n", name, l)
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	return entries, tables
}

func printFleet(w io.Writer, format string, c *cobra.Command, entries []FleetEntry, tables []string) error {
	if format != "" {
		kind := ""
		for _, e := range entries {
			if k, ok := e.Result["kind"].(string); ok {
				kind = k
				break
			}
		}
		flags := NewOutputFlags()
		*flags.printFlags.OutputFormat = format
		p, err := flags.ToPrinter()
		if err != nil {
			return err
		}
		return p.Print(w, "FleetReport", FleetReport{ReportKind: kind, Contexts: entries}, nil)
	}
	width := len("CONTEXT")
	for _, e := range entries {
		width = max(width, len(e.Context))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len(s)+3) }
	for i, e := range entries {
		text := strings.TrimRight(tables[i], "\n")
		if text == "" {
			text = "error: " + e.Error
		}
		for _, l := range strings.Split(text, "\n") {
			if _, err := fmt.Fprintf(w, "%s%s\n", pad(e.Context), l); err != nil {
				return err
			}
		}
		if e.Error != "" && tables[i] != "" {
			fmt.Fprintf(w, "%serror: %s\n", pad(e.Context), e.Error)
		}
	}
	fmt.Fprintf(w, "\n%sEXIT   ERROR\n", pad("CONTEXT"))
	for _, e := range entries {
		fmt.Fprintf(w, "%s%-4d   %s\n", pad(e.Context), e.ExitCode, OrDash(e.Error))
	}
	return nil
}

// CompleteContextList completes a comma-separated list of context names: the word after the
// last comma, leaving out the names already in the list.
func CompleteContextList(f Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := f.RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		done, word := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done, word = toComplete[:i+1], toComplete[i+1:]
		}
		given := strings.Split(strings.TrimSuffix(done, ","), ",")
		var out []cobra.Completion
		for _, n := range CompleteFrom(contextNames(&raw), given, word) {
			out = append(out, done+n)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

func contextNames(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Contexts)) }
