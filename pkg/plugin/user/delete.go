package user

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/users"
)

// UserDeleteOptions holds the flags of `user delete`.
type UserDeleteOptions struct {
	Name                   string
	DryRun, KeepKubeconfig bool

	output     *cmdutil.OutputFlags
	printer    *cmdutil.Printer
	client     kubernetes.Interface
	server     string
	kubeconfig string // the file whose merged entries are removed; "" with --keep-kubeconfig
	genericiooptions.IOStreams
}

// NewCmdUserDelete returns `user delete`.
func NewCmdUserDelete(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserDeleteOptions{IOStreams: streams, output: cmdutil.NewOutputFlags()}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a user's bindings, CSRs and merged kubeconfig entries",
		Long: `Remove a user's access: every RoleBinding and ClusterRoleBinding that names the user (a binding
with other subjects keeps them), the user's client-cert CSRs, and the user and contexts that
'user create --merge' wrote into the current kubeconfig (only an entry whose cert names the user).

A name in the reserved system: namespace is refused, as 'user create' refuses it: those users
are Kubernetes' own (system:kube-controller-manager is the only subject of a built-in
ClusterRoleBinding), and their bindings are never removed.

A client certificate cannot be revoked in Kubernetes: it stays valid until its NotAfter unless the
cluster CA is rotated. Groups in the cert (its O field) still apply. The command says so.

Exit codes: 0 removed (or nothing to remove); 3 bad input, forbidden, unreachable.`,
		Example: `  # Offboard jane
  kubectl clusterops user delete jane

  # See what would be removed
  kubectl clusterops user delete jane --dry-run`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Show what would be removed; change nothing.")
	cmd.Flags().BoolVar(&o.KeepKubeconfig, "keep-kubeconfig", false, "Leave the kubeconfig entries alone.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes NAME, the printer, the client and, unless --keep-kubeconfig, the kubeconfig file
// to remove the user's merged entries from.
func (o *UserDeleteOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name = args[0]
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if !o.KeepKubeconfig {
		o.kubeconfig = kubeconfigFile(f.ConfigAccess())
	}
	if o.client, err = f.ClientSet(); err != nil {
		return err
	}
	o.server = f.Server()
	return nil
}

// Validate checks NAME (never a system: user); it does no I/O.
func (o *UserDeleteOptions) Validate() error {
	return users.CheckDeletable(o.Name)
}

// Run removes the user's access and prints what was removed and the revocation warning.
func (o *UserDeleteOptions) Run(ctx context.Context) error {
	res, err := users.Delete(ctx, o.client, o.Name, o.kubeconfig, o.DryRun)
	if err != nil {
		return cmdutil.FriendlyError(err, o.server)
	}
	return o.printer.Print(o.Out, "UserDeletion", res, func(w io.Writer) error {
		verb := "removed"
		if res.DryRun {
			verb = "would remove"
		}
		if len(res.Removed) == 0 {
			fmt.Fprintf(w, "nothing to remove for user %q\n", res.User)
		}
		for _, r := range res.Removed {
			fmt.Fprintf(w, "%s %s\n", verb, r)
		}
		fmt.Fprintf(w, "warning: %s\n", res.Warning)
		return nil
	})
}
