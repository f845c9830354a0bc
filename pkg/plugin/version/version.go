package version

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
)

// versionResult is printed with kind "Version". Its JSON shape is stable:
// {"apiVersion","kind","clientVersion":{...},"server":"https://...","serverVersion":{...}}.
// server is the URL that answered, so a script can tell which cluster it talked to.
type versionResult struct {
	ClientVersion cmdutil.ClientVersionInfo `json:"clientVersion"`
	Server        string                    `json:"server,omitempty"`
	ServerVersion *version.Info             `json:"serverVersion,omitempty"`
}

// VersionOptions holds the flags and clients of `kubectl clusterops version`.
type VersionOptions struct {
	// ClientOnly skips the API server (--client).
	ClientOnly bool

	output    *cmdutil.OutputFlags
	printer   *cmdutil.Printer
	discovery discovery.ServerVersionInterfaceWithContext
	server    string
	timeout   time.Duration

	genericiooptions.IOStreams
}

// NewVersionOptions returns options with defaults set.
func NewVersionOptions(streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
}

const versionExample = `  # Print the plugin and API server versions
  kubectl clusterops version

  # Print only the plugin version; no cluster is contacted
  kubectl clusterops version --client

  # Machine-readable output
  kubectl clusterops version -o json
  kubectl clusterops version -o jsonpath='{.serverVersion.gitVersion}'

  # Give up after 5 seconds if the API server does not answer
  kubectl clusterops version --request-timeout=5s`

// NewCmdVersion returns the `version` command.
func NewCmdVersion(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVersionOptions(streams)
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the plugin and Kubernetes API server versions",
		Long: `Print the version of kubectl-clusterops and of the Kubernetes API server of the
current context.

The server is asked for /version once; the request gives up after --request-timeout
(30s when that flag is not set). With --client no cluster is contacted.`,
		Example: versionExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().BoolVar(&o.ClientOnly, "client", o.ClientOnly, "Print only the client version; do not contact the cluster.")
	o.output.AddFlags(cmd)
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdVersion)
	return cmd
}

// Complete builds the printer and, unless --client, the discovery client and the timeout of the
// server probe.
func (o *VersionOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	if o.ClientOnly {
		return nil
	}
	dc, err := f.Discovery()
	if err != nil {
		return err
	}
	o.discovery = discovery.ToDiscoveryInterfaceWithContext(dc)
	o.server = f.Server()
	o.timeout = f.Timeout() // --request-timeout; also enforced by the HTTP client
	return nil
}

// Validate checks the options; it does no I/O.
func (o *VersionOptions) Validate() error { return nil }

// Run asks the server for its version and prints the result.
func (o *VersionOptions) Run(ctx context.Context) error {
	result := versionResult{ClientVersion: cmdutil.ClientVersion()}
	if !o.ClientOnly {
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		info, err := o.discovery.ServerVersionWithContext(ctx)
		if err != nil {
			return cmdutil.FriendlyError(err, o.server)
		}
		result.Server = o.server
		result.ServerVersion = info
	}
	return o.printer.Print(o.Out, "Version", result, func(w io.Writer) error {
		c := result.ClientVersion
		_, err := fmt.Fprintf(w, "Client Version: %s\nGit Commit: %s\nBuild Date: %s\nGo Version: %s %s\n",
			c.GitVersion, c.GitCommit, c.BuildDate, c.GoVersion, c.Platform)
		if err == nil && result.ServerVersion != nil {
			_, err = fmt.Fprintf(w, "Server Version: %s\nServer: %s\n", result.ServerVersion.GitVersion, result.Server)
		}
		return err
	})
}
