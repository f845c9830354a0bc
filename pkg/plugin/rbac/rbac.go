package rbac

import (
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

const rbacLong = `Roles and bindings from templates, an access matrix, who-can, explain and a
risky-permission audit, in one place.

  template list|show   the built-in role templates and their rules
  grant                render a template (or custom rules) into a Role/ClusterRole plus binding
                       and apply it with server-side apply (or print it with --dry-run=client)
  matrix               what a subject may do: resources x verbs, asked of the API server
  who-can              which subjects may do VERB on RESOURCE, and through which binding and role
  explain              every permission of a subject, with the binding and rule that grants it
  audit                risky permissions and broken bindings, with a severity`

// NewCmdRBAC returns the `rbac` command group.
func NewCmdRBAC(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("rbac", "Roles from templates, access matrix, who-can, explain and audit", rbacLong)
	cmd.Example = `  # What may alice do in shop, verb by verb?
  kubectl clusterops rbac matrix --as alice -n shop

  # Risky permissions in the whole cluster
  kubectl clusterops rbac audit`
	tmpl := cmdutil.NewGroupCommand("template", "List and show the built-in role templates",
		"List the built-in role templates, or show one with its rules.")
	tmpl.Example = `  # The templates, then the rules of one
  kubectl clusterops rbac template list
  kubectl clusterops rbac template show readonly`
	tmpl.AddCommand(newCmdRBACTemplateList(f, streams), newCmdRBACTemplateShow(f, streams))
	cmd.AddCommand(tmpl,
		NewCmdRBACGrant(f, streams),
		NewCmdRBACMatrix(f, streams),
		NewCmdRBACWhoCan(f, streams),
		NewCmdRBACExplain(f, streams),
		NewCmdRBACAudit(f, streams),
	)
	return cmd
}

// apiClient is what a command of the group takes from the Factory in Complete: a typed client, a
// discovery client over the same config, the API server URL and the namespace. Building it sends
// no request.
type apiClient struct {
	kube      kubernetes.Interface
	discovery discovery.DiscoveryInterface
	server    string
	// namespace is -n or the context's namespace; namespaceExplicit says whether -n was given.
	namespace         string
	namespaceExplicit bool
}

// newAPIClient takes the namespace and a client built with opts from the Factory.
func newAPIClient(f cmdutil.Factory, opts cmdutil.ClientOptions) (*apiClient, error) {
	ns, explicit, err := f.Namespace()
	if err != nil {
		return nil, err
	}
	kube, cfg, err := f.ClientSetWith(opts)
	if err != nil {
		return nil, err
	}
	return &apiClient{kube: kube, discovery: kube.Discovery(), server: cfg.Host, namespace: ns, namespaceExplicit: explicit}, nil
}

// scopedNamespace is the namespace given with -n, or "" (all namespaces) without it.
func (c *apiClient) scopedNamespace() string {
	if c.namespaceExplicit {
		return c.namespace
	}
	return ""
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func groupedName(group, resource string) string {
	if group == "" {
		return resource
	}
	base, sub, ok := strings.Cut(resource, "/")
	if ok {
		return base + "." + group + "/" + sub
	}
	return resource + "." + group
}

func subjectName(s rbac.Subject) string {
	if s.Kind == rbac.KindServiceAccount {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

func scopeName(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return ns
}
