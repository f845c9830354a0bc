package plugin

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// completionTimeout bounds any request made while completing a word: a slow
// or unreachable cluster must not hang the shell.
const completionTimeout = 5 * time.Second

// registerConfigFlagCompletions adds dynamic completion to the kubectl
// global flags on root: --context, --cluster and --user from the kubeconfig,
// -n/--namespace from the cluster. Errors give no completions.
func registerConfigFlagCompletions(root *cobra.Command, getter genericclioptions.RESTClientGetter) {
	funcs := map[string]cobra.CompletionFunc{
		"context": completeKubeconfig(getter, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.Contexts))
		}),
		"cluster": completeKubeconfig(getter, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.Clusters))
		}),
		"user": completeKubeconfig(getter, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.AuthInfos))
		}),
		"namespace": completeNamespaces(getter),
	}
	for name, fn := range funcs {
		if err := root.RegisterFlagCompletionFunc(name, fn); err != nil {
			// Only possible if cli-runtime renames a flag: a programming
			// error that every test building the root command catches.
			panic(fmt.Sprintf("registering completion for --%s: %v", name, err))
		}
	}
}

func completeKubeconfig(getter genericclioptions.RESTClientGetter, names func(*clientcmdapi.Config) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := getter.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(names(&raw), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeNamespaces(getter genericclioptions.RESTClientGetter) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names, err := listNamespaces(cmd.Context(), getter)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func listNamespaces(ctx context.Context, getter genericclioptions.RESTClientGetter) ([]string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	config = rest.CopyConfig(config)
	if config.Timeout <= 0 || config.Timeout > completionTimeout {
		config.Timeout = completionTimeout
	}
	client, err := corev1client.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	list, err := client.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names, nil
}

// withPrefix returns the sorted names that start with prefix.
func withPrefix(names []string, prefix string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
