// Package user is the `user` command group: onboard a person with a client certificate and a
// kubeconfig (create), list the users the cluster knows (list), and remove their access (delete).
package user

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// NewCmdUser returns the `user` group.
func NewCmdUser(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("user", "Onboard, list and offboard people with client certificates",
		`Onboard a person end to end with one command: a private key, a client certificate signed
through the certificates API (or by the cluster CA on a control-plane node), a kubeconfig with a
context in their namespace, an RBAC binding, and a check with the new credentials of what they
can really do. List the users the cluster knows, and remove their access.`)
	cmd.Example = `  # Onboard team-readonly with read-only access to databases
  kubectl clusterops user create team-readonly -n databases --role readonly

  # Who has client certs or bindings?
  kubectl clusterops user list`
	cmd.AddCommand(NewCmdUserCreate(f, streams), NewCmdUserList(f, streams), NewCmdUserDelete(f, streams))
	return cmd
}

// kubeconfigFile is the kubeconfig file an edit goes to, as kubectl config decides: --kubeconfig,
// else the first file of $KUBECONFIG, else ~/.kube/config.
func kubeconfigFile(access clientcmd.ConfigAccess) string {
	if path := access.GetExplicitFile(); path != "" {
		return path
	}
	return access.GetDefaultFilename()
}
