package cmdutil

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// CompletionTimeout bounds any request made while completing a word: a slow
// or unreachable cluster must not hang the shell.
const CompletionTimeout = 5 * time.Second

// RegisterConfigFlagCompletions adds dynamic completion to the kubectl
// global flags on root: --context, --cluster and --user from the kubeconfig,
// -n/--namespace from the cluster. Errors give no completions.
func RegisterConfigFlagCompletions(root *cobra.Command, f Factory) {
	funcs := map[string]cobra.CompletionFunc{
		"context": CompleteKubeconfig(f, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.Contexts))
		}),
		"cluster": CompleteKubeconfig(f, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.Clusters))
		}),
		"user": CompleteKubeconfig(f, func(c *clientcmdapi.Config) []string {
			return slices.Collect(maps.Keys(c.AuthInfos))
		}),
		"namespace": CompleteNamespaces(f),
	}
	for name, fn := range funcs {
		if err := root.RegisterFlagCompletionFunc(name, fn); err != nil {
			// Only possible if cli-runtime renames a flag: a programming
			// error that every test building the root command catches.
			panic(fmt.Sprintf("registering completion for --%s: %v", name, err))
		}
	}
}

// CompleteKubeconfig completes names read from the merged kubeconfig.
func CompleteKubeconfig(f Factory, names func(*clientcmdapi.Config) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := f.RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return WithPrefix(names(&raw), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteNamespaces completes the cluster's namespace names.
func CompleteNamespaces(f Factory) cobra.CompletionFunc {
	return CompleteFromCluster(f, func(ctx context.Context, c corev1client.CoreV1Interface) ([]string, error) {
		list, err := c.Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(list.Items))
		for _, ns := range list.Items {
			names = append(names, ns.Name)
		}
		return names, nil
	})
}

// WithPrefix returns the sorted names that start with prefix.
func WithPrefix(names []string, prefix string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
