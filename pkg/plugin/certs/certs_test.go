package certs

import (
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func TestParseLongDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"1y": 365 * 24 * time.Hour, "720h": 720 * time.Hour, "0d": 0} {
		if got, err := parseLongDuration("warn-within", in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"soon", "-5d", "d", "-1h"} {
		if _, err := parseLongDuration("warn-within", bad); err == nil || !strings.Contains(err.Error(), "--warn-within") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestCertsCommandsRejectBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"certs", "renew"},
		{"certs", "renew", "all"},
		{"certs", "renew", "all", "--root", "/x", "--csr-only", "--restart-static-pods"},
		{"certs", "renew", "all", "--root", "/x", "--validity", "10m"},
		{"certs", "check", "--source", "disk"},
		{"certs", "ca", "extra"},
		{"certs", "rotate"},
	} {
		out, _, err := cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdCerts}, args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || strings.Contains(err.Error(), "\n") || out != "" {
			t.Errorf("%v: exit %d, %v, stdout %q", args, cmdutil.ExitCode(err), err, out)
		}
	}
}
