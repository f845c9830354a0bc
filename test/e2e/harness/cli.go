package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PluginModule is the Go import path of the plugin's build-info variables.
const PluginModule = "github.com/clusterops/kubectl-clusterops"

// BuildPlugin builds cmd/kubectl-clusterops into dir with the given gitVersion stamped in, and
// returns the binary's path.
func BuildPlugin(dir, version string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "kubectl-clusterops")
	build := exec.Command("go", "build", "-o", out,
		"-ldflags", "-X "+PluginModule+"/pkg/plugin/cmdutil.gitVersion="+version, "./cmd/kubectl-clusterops")
	build.Dir = root
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the plugin: %w\n%s", err, msg)
	}
	return out, nil
}

// CLI runs commands the way an admin's shell would: the plugin and the upstream binaries first on PATH.
type CLI struct {
	Dirs []string // searched first, in order
	Env  []string // extra environment, e.g. KUBECONFIG=...
	// Timeout ends a command that runs longer (default 3 minutes).
	Timeout time.Duration
}

// Result is what one command run gave.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs name with args, logs the command and its output into the test log, and fails the test
// only when the command cannot be started at all.
func (c CLI) Run(t testing.TB, extraEnv []string, name string, args ...string) Result {
	t.Helper()
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// exec.Command resolves the name with this process's PATH: resolve it with the test PATH.
	bin := name
	for _, dir := range c.Dirs {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			bin = filepath.Join(dir, name)
			break
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	path := strings.Join(append(append([]string{}, c.Dirs...), os.Getenv("PATH")), string(os.PathListSeparator))
	cmd.Env = append(os.Environ(), "PATH="+path)
	cmd.Env = append(cmd.Env, c.Env...)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	t.Logf("$ %s %s  (exit %d)\n%s%s", name, strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	return res
}

// PluginJSON runs `kubectl clusterops ARGS -o json` and decodes its stdout into v; a stdout that
// is not JSON fails the test.
func (c CLI) PluginJSON(t testing.TB, v any, args ...string) Result {
	t.Helper()
	r := c.Run(t, nil, "kubectl", append(append([]string{"clusterops"}, args...), "-o", "json")...)
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("%v: not JSON (exit %d, %q): %v", args, r.Code, r.Stderr, err)
	}
	return r
}
