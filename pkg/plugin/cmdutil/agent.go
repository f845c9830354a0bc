package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
)

// AgentFlags are the flags of a node-level command that can run on nodes through agent pods:
// --node/--nodes/--control-plane choose the nodes, --agent-namespace and --image the pods'
// namespace and image, --agent-timeout their activeDeadlineSeconds.
type AgentFlags struct {
	Nodes        []string
	ControlPlane bool
	Namespace    string
	Image        string
	Timeout      time.Duration
}

// NewAgentFlags returns the flags with their defaults; timeout is the pod's deadline.
func NewAgentFlags(timeout time.Duration) *AgentFlags {
	return &AgentFlags{Namespace: agent.DefaultNamespace, Timeout: timeout}
}

// AddFlags registers the flags. With nodeFlag, --node NAME is registered too (a command that
// already has its own --node adds it itself and sets Nodes).
func (a *AgentFlags) AddFlags(cmd *cobra.Command, nodeFlag, multi bool) {
	if nodeFlag {
		cmd.Flags().StringSliceVar(&a.Nodes, "node", nil, "Run on this node through an agent pod, from the kubeconfig alone (no SSH, no --root).")
	}
	if multi {
		cmd.Flags().StringSliceVar(&a.Nodes, "nodes", nil, "Run on these nodes (comma-separated) through agent pods.")
		cmd.Flags().BoolVar(&a.ControlPlane, "control-plane", false, "Run on every node labelled "+agent.LabelControlPlane+" through agent pods.")
	}
	cmd.Flags().StringVar(&a.Namespace, "agent-namespace", a.Namespace, "Namespace of the agent pods (Pod Security must allow hostPath there: enforce=privileged).")
	cmd.Flags().StringVar(&a.Image, "image", "", "The agent pods' image (default "+ImageRepository+":<version>, or $"+ImageEnv+"); for mirrors and air-gapped clusters.")
	cmd.Flags().DurationVar(&a.Timeout, "agent-timeout", a.Timeout, "The agent pods' activeDeadlineSeconds: the kubelet stops them then, even if this command is gone.")
}

// Selection is the nodes the flags ask for.
func (a *AgentFlags) Selection() agent.Selection {
	var names []string
	for _, n := range a.Nodes {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return agent.Selection{Names: names, ControlPlane: a.ControlPlane}
}

// Enabled reports whether the command runs through agents.
func (a *AgentFlags) Enabled() bool { return !a.Selection().Empty() }

// Validate checks the flags; it does no I/O.
func (a *AgentFlags) Validate() error {
	if a.Timeout < 10*time.Second {
		return fmt.Errorf("--agent-timeout %s is too short: use at least 10s", a.Timeout)
	}
	if a.Namespace == "" {
		return errors.New("--agent-namespace must not be empty")
	}
	return nil
}

// Runner builds the agent runner: the image (--image, $CLUSTEROPS_IMAGE, or the release's),
// the clients, and a run ID. It removes, first, agent pods that earlier runs left behind
// (finished or expired), and says so on errOut.
func (a *AgentFlags) Runner(f Factory, errOut io.Writer) (*agent.Runner, error) {
	image, err := AgentImage(a.Image)
	if err != nil {
		return nil, err
	}
	client, err := f.ClientSet()
	if err != nil {
		return nil, err
	}
	config, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	now := time.Now
	return &agent.Runner{
		Client: client, Config: config, Namespace: a.Namespace, Image: image, Version: gitVersion,
		RunID: agent.RunID(now(), os.Getpid()), Now: now,
		Progress: func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) },
	}, nil
}

// AgentError turns the agent's global errors into one line with exit 3.
func AgentError(err error, server string) error {
	var (
		forbidden *agent.ForbiddenError
		psa       *agent.PodSecurityError
		pull      *agent.ImagePullError
		version   *agent.VersionMismatch
		noNode    *agent.NoSuchNodeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &forbidden), errors.As(err, &psa), errors.As(err, &pull), errors.As(err, &version), errors.As(err, &noNode):
		return &ExitError{Code: ExitCannotRun, Err: errors.New(OneLine(err.Error()))}
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return err
	}
	return &ExitError{Code: ExitCannotRun, Err: FriendlyError(err, server)}
}
