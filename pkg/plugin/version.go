package plugin

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
)

// Build information, stamped at link time (the Makefile does this):
//
//	go build -ldflags "\
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin.gitVersion=v1.2.3 \
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin.gitCommit=$(git rev-parse HEAD) \
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
//	  ./cmd/kubectl-clusterops
//
// They are written only by the linker and never assigned at run time.
var (
	gitVersion = "v0.0.0-dev"
	gitCommit  = "unknown"
	buildDate  = "unknown"
)

// defaultProbeTimeout bounds the /version request when --request-timeout is
// not given (or is 0).
const defaultProbeTimeout = 30 * time.Second

// clientVersionInfo is the "clientVersion" object of `version -o json`.
type clientVersionInfo struct {
	GitVersion string `json:"gitVersion"`
	GitCommit  string `json:"gitCommit"`
	BuildDate  string `json:"buildDate"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
}

// versionResult is printed with kind "Version". Its JSON shape is stable:
// {"apiVersion","kind","clientVersion":{...},"server":"https://...","serverVersion":{...}}.
// server is the URL that answered, so a script can tell which cluster it talked to.
type versionResult struct {
	ClientVersion clientVersionInfo `json:"clientVersion"`
	Server        string            `json:"server,omitempty"`
	ServerVersion *version.Info     `json:"serverVersion,omitempty"`
}

func clientVersion() clientVersionInfo {
	return clientVersionInfo{
		GitVersion: gitVersion,
		GitCommit:  gitCommit,
		BuildDate:  buildDate,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// VersionOptions holds the flags and clients of `kubectl clusterops version`.
type VersionOptions struct {
	// ClientOnly skips the API server (--client).
	ClientOnly bool

	output    *outputFlags
	discovery discovery.ServerVersionInterfaceWithContext
	server    string
	timeout   time.Duration

	genericiooptions.IOStreams
}

// NewVersionOptions returns options with defaults set.
func NewVersionOptions(streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{output: newOutputFlags(), IOStreams: streams}
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
func NewCmdVersion(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVersionOptions(streams)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin and Kubernetes API server versions",
		Long: `Print the version of kubectl-clusterops and of the Kubernetes API server of the
current context.

The server is asked for /version once; the request gives up after --request-timeout
(30s when that flag is not set). With --client no cluster is contacted.`,
		Example: versionExample,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(getter); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", o.ClientOnly, "Print only the client version; do not contact the cluster.")
	o.output.addFlags(cmd)
	return cmd
}

// Complete resolves the output printer and, unless --client, the discovery
// client and the timeout of the server probe.
func (o *VersionOptions) Complete(getter genericclioptions.RESTClientGetter) error {
	if _, err := o.output.toPrinter(); err != nil {
		return err
	}
	if o.ClientOnly {
		return nil
	}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return friendlyError(err, "")
	}
	o.server = config.Host
	o.timeout = config.Timeout // --request-timeout; also enforced by the HTTP client
	if o.timeout <= 0 {
		o.timeout = defaultProbeTimeout
	}
	dc, err := getter.ToDiscoveryClient()
	if err != nil {
		return friendlyError(err, o.server)
	}
	o.discovery = discovery.ToDiscoveryInterfaceWithContext(dc)
	return nil
}

// Validate checks the options; it does no I/O.
func (o *VersionOptions) Validate() error {
	if !o.ClientOnly && o.discovery == nil {
		return fmt.Errorf("internal error: version options not completed")
	}
	return nil
}

// Run asks the server for its version and prints the result.
func (o *VersionOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	result := versionResult{ClientVersion: clientVersion()}
	if !o.ClientOnly {
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		info, err := o.discovery.ServerVersionWithContext(ctx)
		if err != nil {
			return friendlyError(err, o.server)
		}
		result.Server = o.server
		result.ServerVersion = info
	}
	return o.output.print(o.Out, "Version", result, func(w io.Writer) error {
		c := result.ClientVersion
		_, err := fmt.Fprintf(w, "Client Version: %s\nGit Commit: %s\nBuild Date: %s\nGo Version: %s %s\n",
			c.GitVersion, c.GitCommit, c.BuildDate, c.GoVersion, c.Platform)
		if err == nil && result.ServerVersion != nil {
			_, err = fmt.Fprintf(w, "Server Version: %s\nServer: %s\n", result.ServerVersion.GitVersion, result.Server)
		}
		return err
	})
}
