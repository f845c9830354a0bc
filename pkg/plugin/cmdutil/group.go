package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// DisplayName is how the plugin is invoked through kubectl; help and error hints use it instead of
// the binary name.
const DisplayName = "kubectl clusterops"

// GroupAnnotation marks a command built by NewGroupCommand; the command-tree test checks that
// every command is either such a group or wired through the Options adapter.
const GroupAnnotation = "clusterops.io/group"

// NewGroupCommand returns a command that only holds subcommands: without arguments it prints its
// help; with an unknown subcommand it fails with a one-line usage error (cobra would otherwise print
// help and exit 0, or a multi-line suggestion).
func NewGroupCommand(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:         use,
		Short:       short,
		Long:        long,
		Annotations: map[string]string{GroupAnnotation: "subcommands only"},
		Args:        cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(s, `" or "`))
			}
			return UsageError(cmd.CommandPath(), errors.New(msg))
		},
	}
}

// UsageArgs wraps a cobra positional-argument check so that its error is a usage error (exit 3)
// with a pointer to --help.
func UsageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return UsageError(cmd.CommandPath(), err)
		}
		return nil
	}
}
