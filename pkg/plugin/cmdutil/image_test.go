package cmdutil

import (
	"strings"
	"testing"
)

func TestAgentImage(t *testing.T) {
	const release = "ghcr.io/clusterops/kubectl-clusterops:"
	tests := []struct {
		name, flag, env, version string
		want, wantErr            string
	}{
		{name: "release default", version: "v0.1.0", want: release + "v0.1.0"},
		{name: "release candidate", version: "v1.2.3-rc.1", want: release + "v1.2.3-rc.1"},
		{name: "flag wins", flag: "mirror.example:5000/ops/clusterops:v0.1.0", env: "other.example/x:y", version: "v0.1.0",
			want: "mirror.example:5000/ops/clusterops:v0.1.0"},
		{name: "env over the default", env: "registry.internal/clusterops@sha256:" + strings.Repeat("ab", 32), version: "v0.1.0",
			want: "registry.internal/clusterops@sha256:" + strings.Repeat("ab", 32)},
		{name: "env on a dev build", env: "localhost/kubectl-clusterops:e8e3bb3", version: "e8e3bb3",
			want: "localhost/kubectl-clusterops:e8e3bb3"},
		{name: "flag on a dev build", flag: "clusterops", version: "v0.0.0-dev", want: "clusterops"},
		{name: "unstamped dev build", version: "v0.0.0-dev", wantErr: "kubectl-clusterops v0.0.0-dev is a dev build"},
		{name: "make dist dev version", version: "v0.0.0-e8e3bb3", wantErr: "no default agent image"},
		{name: "git describe without a tag", version: "e8e3bb3-dirty", wantErr: "pass --image or set CLUSTEROPS_IMAGE"},
		{name: "commits after a tag", version: "v0.1.0-3-gabc1234", wantErr: "is a dev build"},
		{name: "dirty tag", version: "v0.1.0-dirty", wantErr: "is a dev build"},
		{name: "bad flag", flag: "Mirror/Clusterops:v1", version: "v0.1.0", wantErr: `--image "Mirror/Clusterops:v1" is not an image reference`},
		{name: "bad env", env: "ghcr.io/x:bad tag", version: "v0.1.0", wantErr: `CLUSTEROPS_IMAGE "ghcr.io/x:bad tag" is not an image reference`},
		{name: "bad flag with a good env", flag: "-x", env: "ghcr.io/x:y", version: "v0.1.0", wantErr: "--image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentImage(tt.flag, tt.env, tt.version)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ExitCode(err) != ExitCannotRun {
					t.Fatalf("agentImage = %q, %v (exit %d), want an exit-3 error containing %q", got, err, ExitCode(err), tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("the error is not one line: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("agentImage = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

// AgentImage reads CLUSTEROPS_IMAGE and this binary's stamped version (unstamped in tests: a dev build).
func TestAgentImageEnvironment(t *testing.T) {
	t.Setenv(ImageEnv, "")
	if _, err := AgentImage(""); err == nil || !strings.Contains(err.Error(), "dev build") {
		t.Errorf("unstamped test binary without --image: %v", err)
	}
	t.Setenv(ImageEnv, "mirror.example/clusterops:v9.9.9")
	if got, err := AgentImage(""); err != nil || got != "mirror.example/clusterops:v9.9.9" {
		t.Errorf("from CLUSTEROPS_IMAGE: %q %v", got, err)
	}
	if got, err := AgentImage("flag.example/clusterops:v1.0.0"); err != nil || got != "flag.example/clusterops:v1.0.0" {
		t.Errorf("--image over CLUSTEROPS_IMAGE: %q %v", got, err)
	}
}
