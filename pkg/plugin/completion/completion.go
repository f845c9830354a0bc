package completion

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// completionShells are the shells `completion` can generate scripts for.
func completionShells() []string { return []string{"bash", "zsh", "fish", "powershell"} }

const completionLong = `Print a shell completion script for kubectl-clusterops to standard output.

Completion for "kubectl clusterops ..." (kubectl 1.26 or later):
  kubectl completes plugin commands by running an executable named
  kubectl_complete-clusterops found on your PATH. Install it once with

    kubectl clusterops completion kubectl-plugin --install

  (it goes next to kubectl-clusterops, e.g. $KREW_ROOT/bin; see
  "kubectl clusterops completion kubectl-plugin --help"), and make sure kubectl
  completion itself is set up ("kubectl completion --help"). Context, cluster,
  user and namespace names complete from your kubeconfig and the cluster.

Completion for the kubectl-clusterops binary itself:

  bash (needs the bash-completion package, v2):
    current shell:  source <(kubectl-clusterops completion bash)
    permanently:    kubectl-clusterops completion bash > ~/.local/share/bash-completion/completions/kubectl-clusterops

  zsh:
    current shell:  source <(kubectl-clusterops completion zsh)
    permanently:    kubectl-clusterops completion zsh > "${fpath[1]}/_kubectl-clusterops"
                    (completion must be enabled: "autoload -U compinit; compinit" in ~/.zshrc)

  fish:
    current shell:  kubectl-clusterops completion fish | source
    permanently:    kubectl-clusterops completion fish > ~/.config/fish/completions/kubectl-clusterops.fish

  powershell:
    current shell:  kubectl-clusterops completion powershell | Out-String | Invoke-Expression
    permanently:    add the line above to your $PROFILE

Start a new shell after installing a script permanently.`

const completionExample = `  # Load bash completion into the current shell
  source <(kubectl clusterops completion bash)

  # Install zsh completion permanently
  kubectl clusterops completion zsh > "${fpath[1]}/_kubectl-clusterops"

  # Install fish completion permanently
  kubectl clusterops completion fish > ~/.config/fish/completions/kubectl-clusterops.fish

  # Complete "kubectl clusterops ..." through kubectl 1.26 or later
  kubectl clusterops completion kubectl-plugin --install`

// CompletionOptions holds the arguments of `kubectl clusterops completion`.
type CompletionOptions struct {
	Shell string

	root *cobra.Command
	genericiooptions.IOStreams
}

// NewCmdCompletion returns the `completion` command. It generates the
// scripts from the root of the tree it is attached to.
func NewCmdCompletion(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:                   "completion SHELL",
		Short:                 "Print the shell completion script (bash, zsh, fish or powershell)",
		Long:                  completionLong,
		Example:               completionExample,
		DisableFlagsInUseLine: true,
		ValidArgs:             completionShells(),
		Args: cmdutil.UsageArgs(func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("expected one shell name (%s), got %d arguments",
					strings.Join(completionShells(), ", "), len(args))
			}
			return nil
		}),
	}, f, o)
	cmd.AddCommand(NewCmdCompletionKubectlPlugin(f, streams))
	return cmd
}

// Complete takes the shell name from the arguments, and the root of the tree to describe.
func (o *CompletionOptions) Complete(_ cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Shell = strings.ToLower(args[0])
	}
	o.root = cmd.Root()
	return nil
}

// Validate checks that the shell is supported.
func (o *CompletionOptions) Validate() error {
	if !slices.Contains(completionShells(), o.Shell) {
		return fmt.Errorf("unsupported shell %q: use one of %s", o.Shell, strings.Join(completionShells(), ", "))
	}
	return nil
}

// Run writes the completion script for the root to o.Out.
func (o *CompletionOptions) Run(context.Context) error {
	root := o.root
	var gen func(io.Writer) error
	switch o.Shell {
	case "bash":
		gen = func(w io.Writer) error { return root.GenBashCompletionV2(w, true) }
	case "zsh":
		gen = root.GenZshCompletion
	case "fish":
		gen = func(w io.Writer) error { return root.GenFishCompletion(w, true) }
	case "powershell":
		gen = root.GenPowerShellCompletionWithDesc
	}
	if gen == nil {
		return o.Validate()
	}
	if err := gen(o.Out); err != nil {
		return fmt.Errorf("writing %s completion script: %w", o.Shell, err)
	}
	return nil
}
