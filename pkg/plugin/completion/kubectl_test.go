package completion

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestKubectlPluginPrint(t *testing.T) {
	cmdtest.Isolate(t)
	out, _, err := run(t, "completion", "kubectl-plugin")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/usr/bin/env sh\n", kubectlCompleteMarker, `exec kubectl-clusterops __complete "$@"`} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %q:\n%s", want, out)
		}
	}
	_, _, err = run(t, "completion", "kubectl-plugin", "--dir", "/x")
	cmdtest.AssertOneLine(t, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), "--install") {
		t.Errorf("--dir without --install: %v", err)
	}
}

func newKubectlPluginOptions(goos, pathDir string) (*KubectlPluginCompletionOptions, *bytes.Buffer) {
	var out bytes.Buffer
	return &KubectlPluginCompletionOptions{
		Install: true, goos: goos,
		lookPath: func(name string) (string, error) {
			if pathDir == "" {
				return "", errors.New("not found")
			}
			return filepath.Join(pathDir, name), nil
		},
		IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &out},
	}, &out
}

func TestKubectlPluginInstall(t *testing.T) {
	dir := t.TempDir()
	o, out := newKubectlPluginOptions("linux", dir)
	if err := completeAndRun(o); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, kubectlCompleteName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("helper not written with mode 0755: %v %v", fi, err)
	}
	if !strings.Contains(out.String(), "written") {
		t.Errorf("output: %q", out.String())
	}
	// Again: nothing to do.
	o, out = newKubectlPluginOptions("linux", dir)
	if err := completeAndRun(o); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Errorf("second install: %v %q", err, out.String())
	}
	// An older helper of ours is replaced; a foreign file is kept unless --force.
	if err := os.WriteFile(path, []byte("#!/bin/sh\n# "+kubectlCompleteMarker+"\nold\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if o, _ = newKubectlPluginOptions("linux", dir); completeAndRun(o) != nil {
		t.Fatal("replacing our own older helper failed")
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho mine\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, _ = newKubectlPluginOptions("linux", dir)
	err = completeAndRun(o)
	cmdtest.AssertOneLine(t, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), "--force") {
		t.Errorf("foreign file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "#!/bin/sh\necho mine\n" {
		t.Errorf("foreign file was changed: %q", data)
	}
	o, _ = newKubectlPluginOptions("linux", dir)
	o.Force = true
	if err := completeAndRun(o); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), kubectlCompleteMarker) {
		t.Errorf("--force did not replace the file: %q", data)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestKubectlPluginInstallWindowsAndErrors(t *testing.T) {
	dir := t.TempDir()
	o, _ := newKubectlPluginOptions("windows", "")
	o.Dir = dir
	if err := completeAndRun(o); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, kubectlCompleteName+".cmd"))
	if err != nil || !strings.Contains(string(data), "kubectl-clusterops __complete %*") {
		t.Errorf("windows helper: %q %v", data, err)
	}
	o, _ = newKubectlPluginOptions("linux", "")
	err = completeAndRun(o)
	cmdtest.AssertOneLine(t, err)
	if !strings.Contains(err.Error(), "--dir") {
		t.Errorf("not on PATH: %v", err)
	}
	o, _ = newKubectlPluginOptions("linux", "")
	o.Dir = filepath.Join(dir, "missing")
	err = completeAndRun(o)
	cmdtest.AssertOneLine(t, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
		t.Errorf("missing dir: %v", err)
	}
}

// completeAndRun is what the adapter does after Validate.
func completeAndRun(o *KubectlPluginCompletionOptions) error {
	if err := o.Complete(nil, nil, nil); err != nil {
		return err
	}
	return o.Run(context.Background())
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdCompletion}, args...)
}
