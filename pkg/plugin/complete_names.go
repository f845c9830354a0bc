package plugin

import (
	"context"
	"slices"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// Dynamic completion helpers for the command groups. Use them as a command's
// ValidArgsFunction (positional arguments) or with RegisterFlagCompletionFunc
// (flag values):
//
//	cmd.ValidArgsFunction = completeNodeNames(getter)
//	_ = cmd.RegisterFlagCompletionFunc("component", completeComponentNames)
//	_ = cmd.RegisterFlagCompletionFunc("template", completeTemplateNames(rbac.TemplateNames))
//
// Every helper returns the sorted names that start with the word being
// completed, leaves out names already given as positional arguments, never
// offers file names, and gives no completions (rather than an error or a hung
// shell) when the cluster is slow or unreachable: requests are bounded by
// completionTimeout.

// controlPlaneComponents are the static pods of a kubeadm control plane, as
// named in /etc/kubernetes/manifests and in the mirror pods' component label.
func controlPlaneComponents() []string {
	return []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// completeComponentNames completes control-plane component names.
func completeComponentNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return completeFrom(controlPlaneComponents(), args, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeTemplateNames completes names from a fixed catalogue, such as the
// RBAC role templates; names is called at completion time.
func completeTemplateNames(names func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeFrom(names(), args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNodeNames completes the names of the cluster's nodes.
func completeNodeNames(getter genericclioptions.RESTClientGetter) cobra.CompletionFunc {
	return completeFromCluster(getter, func(ctx context.Context, c corev1client.CoreV1Interface) ([]string, error) {
		list, err := c.Nodes().List(ctx, metav1.ListOptions{})
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

// completeControlPlaneNodeNames completes the names of the nodes labelled
// node-role.kubernetes.io/control-plane (where certs, etcd and static pods live).
func completeControlPlaneNodeNames(getter genericclioptions.RESTClientGetter) cobra.CompletionFunc {
	return completeFromCluster(getter, func(ctx context.Context, c corev1client.CoreV1Interface) ([]string, error) {
		list, err := c.Nodes().List(ctx, metav1.ListOptions{LabelSelector: "node-role.kubernetes.io/control-plane"})
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

// completeFromCluster turns a list function into a completion function: it
// builds a core/v1 client from the command's kubeconfig flags with a short
// timeout and completes from what list returns.
func completeFromCluster(getter genericclioptions.RESTClientGetter,
	list func(context.Context, corev1client.CoreV1Interface) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		config, err := getter.ToRESTConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		config = rest.CopyConfig(config)
		if config.Timeout <= 0 || config.Timeout > completionTimeout {
			config.Timeout = completionTimeout
		}
		client, err := corev1client.NewForConfig(config)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		names, err := list(ctx, client)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completeFrom(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFrom returns the sorted names that start with toComplete and are
// not among args already given.
func completeFrom(names, args []string, toComplete string) []cobra.Completion {
	var left []string
	for _, n := range names {
		if !slices.Contains(args, n) {
			left = append(left, n)
		}
	}
	return withPrefix(left, toComplete)
}
