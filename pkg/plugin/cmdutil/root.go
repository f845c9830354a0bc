package cmdutil

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// GroupConstructor builds one command group from the Factory and the streams.
type GroupConstructor func(Factory, genericiooptions.IOStreams) *cobra.Command

// NewRootCommand returns the root command with the kubectl global flags, their completion, one
// Factory over them, and the given groups attached. pkg/plugin adds the help text; tests of a group
// build a root with only that group (cmdtest.Run).
func NewRootCommand(streams genericiooptions.IOStreams, short, long string, groups ...GroupConstructor) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams)
	f := NewFactory(configFlags)

	cmd := NewGroupCommand("kubectl-clusterops", short, long)
	cmd.Annotations[cobra.CommandDisplayNameAnnotation] = DisplayName
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	// We ship our own `completion` command, with kubectl-plugin instructions.
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return UsageError(c.CommandPath(), err)
	})
	configFlags.AddFlags(cmd.PersistentFlags())
	RegisterConfigFlagCompletions(cmd, f)
	for _, g := range groups {
		cmd.AddCommand(g(f, streams))
	}
	return cmd
}
