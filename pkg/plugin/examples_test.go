package plugin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Every command a user can run has at least one example in its help, written
// the way users type it ("kubectl clusterops ..."), with a "#" comment saying
// what it does. The test walks the whole tree, so it also holds for command
// groups added later, and group commands that only hold subcommands need one
// too (e.g. their most common subcommand).
func TestEveryCommandHasAnExample(t *testing.T) {
	root := NewCmdRoot(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var walk func(*cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || c.Deprecated != "" {
			return
		}
		checked++
		path := c.CommandPath()
		ex := c.Example
		switch {
		case strings.TrimSpace(ex) == "":
			t.Errorf("%q has no Example: add at least one to its cobra.Command", path)
		case !strings.Contains(ex, path):
			t.Errorf("%q: no example runs it (none contains %q):\n%s", path, path, ex)
		case !strings.Contains(ex, "  # "):
			t.Errorf("%q: examples need a \"  # what it does\" comment line:\n%s", path, ex)
		}
		for _, line := range strings.Split(ex, "\n") {
			if line != "" && !strings.HasPrefix(line, "  ") {
				t.Errorf("%q: example lines are indented by two spaces (kubectl style): %q", path, line)
			}
		}
	}
	walk(root)
	if checked < 3 {
		t.Fatalf("only %d commands checked: the walk is broken", checked)
	}
}
