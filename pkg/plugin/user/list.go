package user

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/users"
)

// UserListOptions holds the flags of `user list`.
type UserListOptions struct {
	All bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  kubernetes.Interface
	server  string
	genericiooptions.IOStreams
}

// NewCmdUserList returns `user list`.
func NewCmdUserList(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserListOptions{IOStreams: streams, output: cmdutil.NewOutputFlags()}
	cmd := cmdutil.NewCommand(&cobra.Command{
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
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().BoolVar(&o.All, "all", false, "Include system: users and groups.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete resolves the printer and the client.
func (o *UserListOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.client, err = f.ClientSet(); err != nil {
		return err
	}
	o.server = f.Server()
	return nil
}

// Validate checks the options; there is nothing to check beyond what the flags parse.
func (o *UserListOptions) Validate() error { return nil }

type userList struct {
	Items []users.UserEntry `json:"items"`
}

// Run lists and prints.
func (o *UserListOptions) Run(ctx context.Context) error {
	now := time.Now()
	entries, err := users.List(ctx, o.client, now, o.All)
	if err != nil {
		return cmdutil.FriendlyError(err, o.server)
	}
	return o.printer.Print(o.Out, "UserList", userList{Items: entries}, func(w io.Writer) error {
		fmt.Fprintln(w, "NAME\tKIND\tSOURCES\tCERT EXPIRES\tBINDINGS")
		for _, e := range entries {
			expires := "-"
			if e.CertNotAfter != nil {
				expires = e.CertNotAfter.UTC().Format("2006-01-02") + " (" + shortDuration(e.CertNotAfter.Sub(now)) + ")"
				if e.CertExpired {
					expires = e.CertNotAfter.UTC().Format("2006-01-02") + " (expired)"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, strings.Join(e.Sources, ","), expires, cmdutil.OrDash(strings.Join(e.Bindings, "; ")))
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
