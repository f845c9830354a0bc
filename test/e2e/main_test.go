//go:build e2e

// Package e2e runs the built plugin against a real kubeadm-style control plane (test/e2e/harness):
// real kubeadm, etcd, kube-apiserver and kube-controller-manager v1.37.2, and the real kubectl.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// env is shared by the tests of this package: the plugin binary, the upstream binaries, and one
// control plane that most tests use (tests that need their own start one with harness.StartT).
var env struct {
	pluginDir string // holds kubectl-clusterops
	binDir    string // upstream binaries: kubectl, kubeadm, etcdctl, etcdutl, ...
	cp        *harness.ControlPlane
}

// testVersion is stamped into the test build of the plugin, so tests can tell it is ours.
const testVersion = "v0.0.0-e2e"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	env.binDir, err = harness.Binaries("kubectl", "kubeadm", "etcd", "kube-apiserver", "kube-controller-manager")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: upstream binaries:", err)
		return 1
	}
	env.pluginDir, err = os.MkdirTemp("", "clusterops-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(env.pluginDir)
	if _, err := harness.BuildPlugin(env.pluginDir, testVersion); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "clusterops-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	env.cp, err = harness.Start(ctx, harness.Options{Name: "e2e", Dir: dir,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if env.cp != nil {
		defer env.cp.Stop()
	}
	if err != nil {
		// Not a skip: a harness that cannot start fails the e2e tier.
		fmt.Fprintf(os.Stderr, "e2e: starting the control plane: %v\n", err)
		if env.cp != nil {
			fmt.Fprintln(os.Stderr, env.cp.Logs(80))
		}
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: control plane ready in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, env.cp.Logs(80))
	} else {
		os.RemoveAll(dir)
	}
	return code
}

// result is what one command run gave.
type result struct {
	stdout, stderr string
	code           int
}

// run runs a command with the plugin and the upstream binaries first on PATH and KUBECONFIG cleared.
func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	return runEnv(t, nil, name, args...)
}

func runEnv(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	cli := harness.CLI{Dirs: []string{env.pluginDir, env.binDir}, Env: []string{"KUBECONFIG="}}
	r := cli.Run(t, extraEnv, name, args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}

// oneLineError asserts the contract for bad input: exit 3 and one line on stderr containing want.
func oneLineError(t *testing.T, r result, want string) {
	t.Helper()
	// A warning the caller asked for (e.g. --allow-risky) may come first; the error is one line.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !strings.HasPrefix(l, "Warning: ") {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "\n")
	if r.code != 3 || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("want exit 3 and one line containing %q, got exit %d: %q", want, r.code, msg)
	}
}

// decodeInto parses a command's JSON stdout into v, or fails the test with its exit code and stderr.
func decodeInto(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("not JSON (exit %d, stderr %q): %v\n%s", r.code, r.stderr, err, r.stdout)
	}
}
