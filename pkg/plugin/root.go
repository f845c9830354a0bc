// Package plugin is the cobra layer of kubectl-clusterops: one file per
// command group, each command built with the kubectl Options pattern
// (NewCmdX, XOptions with Complete/Validate/Run). Domain logic lives in the
// domain packages; nothing here exits the process or writes to os.Stdout.
package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// displayName is how the plugin is invoked through kubectl; help and error
// hints use it instead of the binary name.
const displayName = "kubectl clusterops"

const rootLong = `kubectl clusterops groups the day-2 work of a kubeadm-style Kubernetes cluster.
It uses your current kubeconfig and accepts every kubectl global flag
(--kubeconfig, --context, -n, --as, --request-timeout, ...).

Command groups:
  user        Onboard a person: key, CSR, signed certificate, kubeconfig credentials and
              context, RBAC binding, verification
  rbac        Roles and bindings from templates, access matrix, who-can, risky-permission audit
  certs       Expiry of every control-plane certificate and kubeconfig, renewal, CA status
  upgrade     Upgrade plan: versions, version-skew policy, minor-by-minor path, deprecated APIs,
              drain blockers
  etcd        Snapshot save / status / verify / restore, retention, scheduled backups
  staticpods  Static pod manifests vs mirror pods: drift and health
  cluster     Architecture overview: control-plane health, nodes, CoreDNS, kube-proxy, CNI,
              pod/service CIDRs, NetworkPolicy support
The commands available in this build are listed below.

Exit codes:
  0  success, or a check found nothing to report
  1  a check found warnings
  2  a check found a problem (expired, violated, unhealthy)
  3  the command could not run (bad input, unreachable or forbidden cluster)`

const rootExample = `  # Show the plugin's version and the version of the cluster it talks to
  kubectl clusterops version

  # Use another kubeconfig context, as with any kubectl command
  kubectl clusterops version --context prod

  # Set up tab completion through kubectl (1.26 or later)
  kubectl clusterops completion kubectl-plugin --install`

// NewCmdRoot returns the root command with every subcommand attached. Each
// call builds a fresh, independent command tree.
//
// To add a command group: write NewCmdX(getter, streams) in its own file and
// add it with cmd.AddCommand below. A group with subcommands should use
// newGroupCommand so that an unknown subcommand is an error (exit 3).
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams)

	cmd := newGroupCommand("kubectl-clusterops",
		"Day-2 operations for kubeadm-style Kubernetes clusters", rootLong)
	cmd.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: displayName}
	cmd.Example = rootExample
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	// We ship our own `completion` command, with kubectl-plugin instructions.
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c.CommandPath(), err)
	})

	configFlags.AddFlags(cmd.PersistentFlags())
	registerConfigFlagCompletions(cmd, configFlags)

	cmd.AddCommand(
		NewCmdVersion(configFlags, streams),
		NewCmdCompletion(streams),
		NewCmdCerts(configFlags, streams),
		NewCmdRBAC(configFlags, streams),
		NewCmdUser(configFlags, streams),
		NewCmdEtcd(configFlags, streams),
		NewCmdUpgrade(configFlags, streams),
		NewCmdStaticPods(configFlags, streams),
		NewCmdCluster(configFlags, streams),
	)
	return cmd
}

// newGroupCommand returns a command that only holds subcommands: without
// arguments it prints its help; with an unknown subcommand it fails with a
// one-line usage error (cobra would otherwise print help and exit 0, or a
// multi-line suggestion).
func newGroupCommand(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(s, `" or "`))
			}
			return usageError(cmd.CommandPath(), errors.New(msg))
		},
	}
}

// usageArgs wraps a cobra positional-argument check so that its error is a
// usage error (exit 3) with a pointer to --help.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(cmd.CommandPath(), err)
		}
		return nil
	}
}
