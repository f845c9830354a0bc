//go:build e2enode

package node

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signalRounds is how many interrupted renewals testAgentRenewInterrupted runs. 20 (the issue's
// figure, run with CLUSTEROPS_E2E_SIGNAL_ROUNDS=20) is the full proof; the tier runs 4 by default,
// since a round that lands in a control-plane restart takes 1.5 to 2.5 minutes.
func signalRounds() int {
	if n, err := strconv.Atoi(os.Getenv("CLUSTEROPS_E2E_SIGNAL_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// SIGINT and SIGTERM at random points of `certs renew all --control-plane` (the agent pod
// being created, starting, renewing, or restarting the static pods): after each, no agent pod is
// left, no static pod manifest is left parked and every manifest is in place; then a full run
// completes.
func testAgentRenewInterrupted(t *testing.T) {
	ref := imageRef(t)
	rounds := signalRounds()
	for round := 1; round <= rounds; round++ {
		sig := syscall.SIGINT
		if round%2 == 0 {
			sig = syscall.SIGTERM
		}
		after := time.Duration(500+rand.IntN(25000)) * time.Millisecond
		bin := filepath.Join(env.cli.Dirs[0], "kubectl-clusterops")
		cmd := exec.Command(bin, "certs", "renew", "all", "--control-plane", "--image", ref)
		cmd.Env = append(os.Environ(), env.cli.Env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		finished := false
		select {
		case <-waited:
			finished = true // it ended before the signal
		case <-time.After(after):
			_ = cmd.Process.Signal(sig)
			select {
			case <-waited:
			case <-time.After(6 * time.Minute): // the CLI retries deleting its pod for up to 5 minutes
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: the CLI did not exit within 6m of %v", round, sig)
			}
		}
		t.Logf("round %d/%d: %v after %v (finished first: %v), exit %d after %v; stderr:\n%s", round, rounds, sig, after, finished,
			cmd.ProcessState.ExitCode(), time.Since(start).Round(time.Second), stderr.String())
		assertNoAgentPods(t)
		if parked, _ := filepath.Glob("/etc/kubernetes/tmp/clusterops-restart/*.yaml"); len(parked) > 0 {
			t.Fatalf("round %d: manifests left parked: %v", round, parked)
		}
		for _, c := range components {
			if _, err := os.Stat(env.node.ManifestPath(c)); err != nil {
				t.Fatalf("round %d: %s manifest missing: %v", round, c, err)
			}
		}
		waitAPIServer(t)
	}
	waitControlPlaneReady(t)
	testAgentCertsRenewControlPlane(t)
}

// waitAPIServer waits until the API server answers /readyz (the next round's agent pod needs
// it, not the scheduler: agent pods name their node).
func waitAPIServer(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := env.node.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 4m: %v", err)
		}
		time.Sleep(time.Second)
	}
}
