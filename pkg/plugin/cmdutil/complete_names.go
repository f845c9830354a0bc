package cmdutil

import (
	"context"
	"slices"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Dynamic completion helpers for the command groups. Use them as a command's
// ValidArgsFunction (positional arguments) or with RegisterFlagCompletionFunc
// (flag values):
//
//	cmd.ValidArgsFunction = CompleteNodeNames(f)
//	_ = cmd.RegisterFlagCompletionFunc("component", CompleteComponentNames)
//	_ = cmd.RegisterFlagCompletionFunc("template", CompleteTemplateNames(rbac.TemplateNames))
//
// Every helper returns the sorted names that start with the word being
// completed, leaves out names already given as positional arguments, never
// offers file names, and gives no completions (rather than an error or a hung
// shell) when the cluster is slow or unreachable: requests are bounded by
// CompletionTimeout.

// ControlPlaneComponents are the static pods of a kubeadm control plane, as
// named in /etc/kubernetes/manifests and in the mirror pods' component label.
func ControlPlaneComponents() []string {
	return []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// CompleteComponentNames completes control-plane component names.
func CompleteComponentNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return CompleteFrom(ControlPlaneComponents(), args, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// CompleteTemplateNames completes names from a fixed catalogue, such as the
// RBAC role templates; names is called at completion time.
func CompleteTemplateNames(names func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return CompleteFrom(names(), args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteNodeNames completes the names of the cluster's nodes.
func CompleteNodeNames(f Factory) cobra.CompletionFunc {
	return completeNodes(f, "")
}

// CompleteControlPlaneNodeNames completes the names of the nodes labelled
// node-role.kubernetes.io/control-plane (where certs, etcd and static pods live).
func CompleteControlPlaneNodeNames(f Factory) cobra.CompletionFunc {
	return completeNodes(f, "node-role.kubernetes.io/control-plane")
}

func completeNodes(f Factory, selector string) cobra.CompletionFunc {
	return CompleteFromCluster(f, func(ctx context.Context, c corev1client.CoreV1Interface) ([]string, error) {
		list, err := c.Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(list.Items))
		for _, n := range list.Items {
			names = append(names, n.Name)
		}
		return names, nil
	})
}

// CompleteFromCluster turns a list function into a completion function: it
// builds a core/v1 client from the Factory with a short timeout and completes
// from what list returns.
func CompleteFromCluster(f Factory,
	list func(context.Context, corev1client.CoreV1Interface) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		client, _, err := f.ClientSetWith(ClientOptions{MaxTimeout: CompletionTimeout})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), CompletionTimeout)
		defer cancel()
		names, err := list(ctx, client.CoreV1())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return CompleteFrom(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteFrom returns the sorted names that start with toComplete and are
// not among args already given.
func CompleteFrom(names, args []string, toComplete string) []cobra.Completion {
	var left []string
	for _, n := range names {
		if !slices.Contains(args, n) {
			left = append(left, n)
		}
	}
	return WithPrefix(left, toComplete)
}
