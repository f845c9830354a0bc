package certs

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

const certsLong = `Check every certificate a kubeadm cluster depends on, renew them safely, and plan a CA rotation.

  check   expiry, key match and chain of kubeadm's certificates, the kubeconfigs, the kubelet's
          certificates, the API server's serving certificate, your own client certificate,
          kubernetes.io/tls Secrets and CSRs
  renew   renew leaf certificates with the same CA, after a complete backup, with atomic writes
  ca      CA status and a written, ordered CA rotation plan

The node commands read a kubeadm layout under --root (default / for check; renew needs it
explicitly): --cert-dir and --kubeconfig-dir are kubeadm's paths as seen from the node.`

// NewCmdCerts returns the `certs` command group.
func NewCmdCerts(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("certs", "Check, renew and plan the rotation of the cluster's certificates", certsLong)
	cmd.Example = `  # Every cert on this control-plane node and what the API server serves; exit 1 within 30 days
  sudo kubectl clusterops certs check

  # Renew kubeadm's leaf certs with a backup, then restart the static pods that load them
  sudo kubectl clusterops certs renew all --root / --restart-static-pods`
	cmd.AddCommand(
		NewCmdCertsCheck(f, streams),
		NewCmdCertsRenew(f, streams),
		NewCmdCertsCA(f, streams),
	)
	return cmd
}

// nodeFlags are the kubeadm layout flags shared by the certs commands.
type nodeFlags struct {
	root, certDir, kubeconfigDir string
}

func (f *nodeFlags) add(cmd *cobra.Command, rootDefault, rootHelp string) {
	cmdutil.AddRootFlag(cmd, &f.root, rootDefault, rootHelp)
	cmd.Flags().StringVar(&f.certDir, "cert-dir", "/etc/kubernetes/pki", "kubeadm's certificate dir, as seen from the node (inside --root).")
	cmd.Flags().StringVar(&f.kubeconfigDir, "kubeconfig-dir", "/etc/kubernetes", "The dir of admin.conf and the other kubeconfigs, as seen from the node (inside --root).")
}

func (f *nodeFlags) layout() certs.Layout {
	l := certs.DefaultLayout(f.root)
	l.CertDir, l.KubeconfigDir = f.certDir, f.kubeconfigDir
	return l
}

// parseLongDuration accepts Go durations (720h, 90m) and whole days or weeks (30d, 2w).
func parseLongDuration(flag, s string) (time.Duration, error) {
	return cmdutil.ParseLongDuration(flag, s)
}

// expires formats a time as kubeadm's check-expiration table does.
func expires(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("Jan 02, 2006 15:04 MST")
}

func residualText(seconds int64, notAfter *time.Time) string {
	if notAfter == nil {
		return ""
	}
	if seconds <= 0 {
		return "<invalid>"
	}
	return duration.ShortHumanDuration(time.Duration(seconds) * time.Second)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeProblems(w io.Writer, report *certs.Report) error {
	var lines []string
	on := func(node string) string {
		if node == "" {
			return ""
		}
		return node + ": "
	}
	for _, c := range report.Certificates {
		if c.Status != certs.StatusOK && c.Problem != "" {
			lines = append(lines, fmt.Sprintf("  %s%s (%s): %s", on(c.Node), c.Name, c.Source, c.Problem))
		} else if c.Status == certs.StatusExpiring {
			lines = append(lines, fmt.Sprintf("  %s%s (%s): expires within %s", on(c.Node), c.Name, c.Source,
				duration.ShortHumanDuration(time.Duration(report.WarnWithinSeconds)*time.Second)))
		}
	}
	for _, c := range report.CAs {
		if c.Status != certs.StatusOK && c.Problem != "" {
			lines = append(lines, fmt.Sprintf("  %s%s (CA): %s", on(c.Node), c.Name, c.Problem))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "\nFindings:\n%s\n", strings.Join(lines, "\n"))
	return err
}
