package cmdutil

import (
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
)

// OrDash is s, or "-" when s is empty: the placeholder kubectl tables use.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// NewSection flushes w (a tab writer that remembers column widths) and returns a fresh tab writer
// over it, so that the next table aligns on its own, as kubeadm's second table does. Call the
// returned flush when the section is written.
func NewSection(w io.Writer) (io.Writer, func() error) {
	if f, ok := w.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	tw := printers.GetNewTabWriter(w)
	return tw, tw.Flush
}

// AddRootFlag declares --root, the node's root filesystem under which node-level commands read
// (and, for renew and restore, write) kubeadm's files. One declaration for every command: the
// directory completion, and the help text of the command. def is "/" where reading this node is a
// safe default, and "" where the command changes the node and so needs --root given explicitly.
func AddRootFlag(cmd *cobra.Command, p *string, def, help string) {
	cmd.Flags().StringVar(p, "root", def, help)
	_ = cmd.MarkFlagDirname("root")
}

// DefaultNodeName is this machine's hostname as kubeadm names the node (lower case), or "".
func DefaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}
