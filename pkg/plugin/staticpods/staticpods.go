package staticpods

import (
	"errors"
	"fmt"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/staticpods"
)

const staticpodsLong = `Static pod manifests (the files the kubelet runs from /etc/kubernetes/manifests on each
control-plane node) against the mirror pods the kubelet reports to the API server.

Mirror pods are found by the kubelet's annotations (kubernetes.io/config.mirror,
kubernetes.io/config.hash, kubernetes.io/config.source). Comparisons are of content (image,
flags, env, volumes, resources, probes), never of config.hash: the kubelet hashes the decoded
pod, so the hash cannot be recomputed from a file.`

// NewCmdStaticPods returns the `staticpods` command group.
func NewCmdStaticPods(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("staticpods", "Static pod manifests vs mirror pods: drift and health", staticpodsLong)
	cmd.Example = `  # The mirror pods of every control-plane node
  kubectl clusterops staticpods list

  # On a control-plane node: manifests against their mirror pods
  sudo kubectl clusterops staticpods diff --root /`
	cmd.AddCommand(
		NewCmdStaticPodsList(f, streams),
		NewCmdStaticPodsDiff(f, streams),
		NewCmdStaticPodsInspect(f, streams),
	)
	return cmd
}

// apiClient is a typed client, the API server URL and the request timeout (--request-timeout,
// or cmdutil.DefaultProbeTimeout when unset) for one command of the group.
type apiClient struct {
	kube    kubernetes.Interface
	server  string
	timeout time.Duration
}

func newAPIClient(f cmdutil.Factory) (*apiClient, error) {
	kube, err := f.ClientSet()
	if err != nil {
		return nil, err
	}
	return &apiClient{kube: kube, server: f.Server(), timeout: f.Timeout()}, nil
}

// complete builds the printer and the client: what every command of the group needs.
func complete(f cmdutil.Factory, output *cmdutil.OutputFlags) (*cmdutil.Printer, *apiClient, error) {
	p, err := output.ToPrinter()
	if err != nil {
		return nil, nil, err
	}
	c, err := newAPIClient(f)
	return p, c, err
}

// staticpodsError turns a domain error into one line with an exit code.
func staticpodsError(err error, server string) error {
	var nf *staticpods.ErrNodeNotFound
	var amb *staticpods.ErrAmbiguousNode
	var cnf *staticpods.ErrComponentNotFound
	switch {
	case errors.As(err, &nf):
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%w; list the nodes with 'kubectl get nodes' and pass one with --node", err)}
	case errors.As(err, &amb):
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%w: pass --node to pick one", err)}
	case errors.As(err, &cnf):
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%w; see 'kubectl clusterops staticpods list'", err)}
	case errors.Is(err, staticpods.ErrNoManifestsDir):
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%w: run this on a control-plane node, or pass --root (the node's root) or --manifests-dir", err)}
	}
	return cmdutil.FriendlyError(err, server)
}
