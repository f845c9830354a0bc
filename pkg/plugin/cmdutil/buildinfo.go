package cmdutil

import (
	"runtime"
	"time"
)

// Build information, stamped at link time (the Makefile does this):
//
//	go build -ldflags "\
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil.gitVersion=v1.2.3 \
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil.gitCommit=$(git rev-parse HEAD) \
//	  -X github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
//	  ./cmd/kubectl-clusterops
//
// They are written only by the linker and never assigned at run time.
var (
	gitVersion = "v0.0.0-dev"
	gitCommit  = "unknown"
	buildDate  = "unknown"
)

// DefaultProbeTimeout bounds a request to the API server when --request-timeout is not given (or is 0).
const DefaultProbeTimeout = 30 * time.Second

// ClientVersionInfo is the "clientVersion" object of `version -o json`.
type ClientVersionInfo struct {
	GitVersion string `json:"gitVersion"`
	GitCommit  string `json:"gitCommit"`
	BuildDate  string `json:"buildDate"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
}

// ClientVersion is this binary's build information.
func ClientVersion() ClientVersionInfo {
	return ClientVersionInfo{
		GitVersion: gitVersion,
		GitCommit:  gitCommit,
		BuildDate:  buildDate,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}
