package harness

import (
	"context"
	"os"
	"testing"
	"time"
)

// StartT starts a control plane for a test and stops it when the test ends. When the test has
// failed, the last lines of every component's log go into the test output.
func StartT(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cp, err := Start(ctx, opts)
	if cp != nil {
		t.Cleanup(func() {
			cp.Stop()
			if t.Failed() || os.Getenv("CLUSTEROPS_E2E_LOGS") != "" {
				t.Logf("component logs of %s:\n%s", cp.Name, cp.Logs(150))
			}
		})
	}
	if err != nil {
		// Harness failures are failures, never skips: CI must not pass without the e2e tier.
		t.Fatalf("starting the control plane %q: %v", opts.Name, err)
	}
	return cp
}
