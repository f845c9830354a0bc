package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubernetesVersion is the version of every upstream Kubernetes binary the harness runs.
const KubernetesVersion = "v1.37.2"

// RepoRoot finds the checkout's top folder by walking up from the working directory to the
// go.mod of this module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/clusterops/kubectl-clusterops\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find the kubectl-clusterops checkout above the working directory")
		}
		dir = parent
	}
}

// Binaries returns the folder that holds the named upstream binaries, building any that are
// missing with hack/build-upstream (which caches them by version outside the clone).
func Binaries(names ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "hack", "build-upstream"), names...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/build-upstream %s: %w", strings.Join(names, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	dir := lines[len(lines)-1]
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return "", fmt.Errorf("hack/build-upstream did not produce %s: %w", n, err)
		}
	}
	return dir, nil
}
