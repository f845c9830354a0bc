package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/users"
)

// UserListOptions holds the flags of `user list`.
type UserListOptions struct {
	All    bool
	client kubernetes.Interface
	server string
	output *outputFlags
	genericiooptions.IOStreams
}

// NewCmdUserList returns `user list`.
func NewCmdUserList(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserListOptions{IOStreams: streams, output: newOutputFlags()}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users and groups known from client-cert CSRs and RBAC bindings",
		Long: `List the users the cluster knows: from CertificateSigningRequests for the
kubernetes.io/kube-apiserver-client signer (with the issued cert's expiry) and from the User and
Group subjects of RoleBindings and ClusterRoleBindings (with the bindings that name them).
system: users and groups are left out unless --all.

Exit codes: 0 listed; 3 could not list (forbidden, unreachable).`,
		Example: `  # Who has client certs or bindings?
  kubectl clusterops user list

  # Everything, system: subjects included, as JSON
  kubectl clusterops user list --all -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := o.output.toPrinter(); err != nil {
				return err
			}
			conn, err := newClusterConn(getter, false, 0)
			if err != nil {
				return err
			}
			o.client, o.server = conn.client, conn.server
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "Include system: users and groups.")
	o.output.addFlags(cmd)
	return cmd
}

type userList struct {
	Items []users.UserEntry `json:"items"`
}

// Run lists and prints.
func (o *UserListOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	now := time.Now()
	entries, err := users.List(ctx, o.client, now, o.All)
	if err != nil {
		return friendlyError(err, o.server)
	}
	return o.output.print(o.Out, "UserList", userList{Items: entries}, func(w io.Writer) error {
		fmt.Fprintln(w, "NAME\tKIND\tSOURCES\tCERT EXPIRES\tBINDINGS")
		for _, e := range entries {
			expires := "-"
			if e.CertNotAfter != nil {
				expires = e.CertNotAfter.UTC().Format("2006-01-02") + " (" + shortDuration(e.CertNotAfter.Sub(now)) + ")"
				if e.CertExpired {
					expires = e.CertNotAfter.UTC().Format("2006-01-02") + " (expired)"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, strings.Join(e.Sources, ","), expires, orDash(strings.Join(e.Bindings, "; ")))
		}
		return nil
	})
}

func shortDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

// UserDeleteOptions holds the flags of `user delete`.
type UserDeleteOptions struct {
	DryRun, KeepKubeconfig bool
	client                 kubernetes.Interface
	server, kubeconfig     string
	output                 *outputFlags
	genericiooptions.IOStreams
}

// NewCmdUserDelete returns `user delete`.
func NewCmdUserDelete(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserDeleteOptions{IOStreams: streams, output: newOutputFlags()}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a user's bindings, CSRs and merged kubeconfig entries",
		Long: `Remove a user's access: every RoleBinding and ClusterRoleBinding that names the user (a binding
with other subjects keeps them), the user's client-cert CSRs, and the user and contexts that
'user create --merge' wrote into the current kubeconfig (only an entry whose cert names the user).

A client certificate cannot be revoked in Kubernetes: it stays valid until its NotAfter unless the
cluster CA is rotated. Groups in the cert (its O field) still apply. The command says so.

Exit codes: 0 removed (or nothing to remove); 3 bad input, forbidden, unreachable.`,
		Example: `  # Offboard jane
  kubectl clusterops user delete jane

  # See what would be removed
  kubectl clusterops user delete jane --dry-run`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.output.toPrinter(); err != nil {
				return err
			}
			conn, err := newClusterConn(getter, false, 0)
			if err != nil {
				return err
			}
			o.client, o.server = conn.client, conn.server
			if !o.KeepKubeconfig {
				access := getter.ToRawKubeConfigLoader().ConfigAccess()
				if o.kubeconfig = access.GetExplicitFile(); o.kubeconfig == "" {
					o.kubeconfig = access.GetDefaultFilename()
				}
			}
			return o.Run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Show what would be removed; change nothing.")
	cmd.Flags().BoolVar(&o.KeepKubeconfig, "keep-kubeconfig", false, "Leave the kubeconfig entries alone.")
	o.output.addFlags(cmd)
	return cmd
}

// Run removes the user's access and prints what was removed and the revocation warning.
func (o *UserDeleteOptions) Run(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := users.Delete(ctx, o.client, name, o.kubeconfig, o.DryRun)
	if err != nil {
		return friendlyError(err, o.server)
	}
	return o.output.print(o.Out, "UserDeletion", res, func(w io.Writer) error {
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
