package cmdutil

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// Options is the lifecycle every command follows, as kubectl's commands do:
//   - Complete(f, cmd, args) fills in what the flags leave open: positional arguments (first,
//     before anything that can fail), the printer (built once, here), clients from the Factory,
//     and defaults read from files; it does not contact the cluster;
//   - Validate() checks the options and does no I/O; an error it returns is bad input (exit 3, and a
//     pointer to --help) unless it is already an *ExitError;
//   - Run(ctx) does the work through the domain packages and prints the typed result.
type Options interface {
	Complete(f Factory, cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// RunE is the one adapter that wires an Options into a cobra command:
//
//	cmd := cmdutil.NewCommand(&cobra.Command{...}, f, o)
//
// Validate runs even when Complete failed, so it must only read what flags and positional
// arguments set (Complete takes the arguments first, before anything that can fail).
func RunE(f Factory, o Options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cerr := o.Complete(f, cmd, args)
		// Bad input wins over a failed Complete (an empty kubeconfig, a missing manifest): the
		// flags and arguments are what the caller must fix first, and a script gets exit 3 with
		// a pointer to --help either way.
		if err := o.Validate(); err != nil {
			var exit *ExitError
			if errors.As(err, &exit) {
				return err
			}
			return UsageError(cmd.CommandPath(), err) // bad input: exit 3, with a pointer to --help
		}
		if cerr != nil {
			return cerr
		}
		return o.Run(cmd.Context()) // cobra's Execute sets a Background context when none was given
	}
}

// AdapterAnnotation marks a command whose RunE is RunE; the command-tree test checks every leaf.
const AdapterAnnotation = "clusterops.io/lifecycle"

// NewCommand sets RunE through the adapter and marks cmd as wired, so that the command-tree test
// can tell. Every leaf command is built with it.
func NewCommand(cmd *cobra.Command, f Factory, o Options) *cobra.Command {
	cmd.RunE = RunE(f, o)
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[AdapterAnnotation] = "Complete/Validate/Run"
	return cmd
}
