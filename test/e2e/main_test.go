//go:build e2e

// Package e2e runs the built plugin against a real kubeadm-style control plane (test/e2e/harness):
// real kubeadm, etcd, kube-apiserver and kube-controller-manager v1.37.2, and the real kubectl.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.pluginDir, err = os.MkdirTemp("", "clusterops-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(env.pluginDir)
	build := exec.Command("go", "build", "-o", filepath.Join(env.pluginDir, "kubectl-clusterops"),
		"-ldflags", "-X github.com/clusterops/kubectl-clusterops/pkg/plugin.gitVersion="+testVersion,
		"./cmd/kubectl-clusterops")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the plugin: %v\n%s", err, out)
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

// run runs a command with the plugin and the upstream binaries first on PATH.
func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	return runEnv(t, nil, name, args...)
}

func runEnv(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// exec.Command resolves the name with this process's PATH: resolve it with the test PATH.
	bin := name
	for _, dir := range []string{env.pluginDir, env.binDir} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			bin = filepath.Join(dir, name)
			break
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PATH="+env.pluginDir+string(os.PathListSeparator)+env.binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG=")
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	t.Logf("$ %s %s  (exit %d)\n%s%s", name, strings.Join(args, " "), res.code, res.stdout, res.stderr)
	return res
}
