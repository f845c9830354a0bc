package certs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// CertsCAOptions holds the flags of `certs ca`.
type CertsCAOptions struct {
	node       nodeFlags
	WarnWithin string

	output     *cmdutil.OutputFlags
	printer    *cmdutil.Printer
	warnWithin time.Duration
	now        func() time.Time

	genericiooptions.IOStreams
}

const certsCALong = `Show the status of kubeadm's certificate authorities (ca, etcd-ca, front-proxy-ca): expiry,
whether the key is present (externally managed when it is not) and matches, what each CA signs and
which components trust it. Then print a written, ordered rotation plan for the CA that expires
first. The plan is only printed: nothing is changed.

Exit codes:
  0  every CA is valid for longer than --warn-within
  1  a CA expires within --warn-within
  2  a CA is expired, missing, or its key does not match
  3  the command could not run (no kubeadm layout under --root, bad flags)`

// NewCmdCertsCA returns `certs ca`.
func NewCmdCertsCA(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsCAOptions{output: cmdutil.NewOutputFlags(), WarnWithin: "365d", now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "ca",
		Short: "Show the CAs and print an ordered CA rotation plan",
		Long:  certsCALong,
		Example: `  # CA status and the rotation plan on a control-plane node
  kubectl clusterops certs ca

  # The plan as JSON steps
  kubectl clusterops certs ca -o json`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.node.add(cmd, "/", "The node's filesystem root that holds kubeadm's layout.")
	cmd.Flags().StringVar(&o.WarnWithin, "warn-within", o.WarnWithin, "Warn (exit 1) about CAs that expire within this time.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete builds the printer.
func (o *CertsCAOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error {
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate parses --warn-within; it does no I/O.
func (o *CertsCAOptions) Validate() error {
	var err error
	o.warnWithin, err = cmdutil.ParseLongDuration("warn-within", o.WarnWithin)
	return err
}

// Run reads the CAs and prints the status and plan.
func (o *CertsCAOptions) Run(context.Context) error {
	report, err := certs.CAStatusReport(o.node.layout(), o.now(), o.warnWithin)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	err = o.printer.Print(o.Out, "CertificateAuthorities", report, func(w io.Writer) error {
		fmt.Fprintln(w, "CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tKEY\tSTATUS\tSIGNS")
		for _, ca := range report.CAs {
			key := "present"
			switch {
			case ca.ExternallyManaged:
				key = "absent (externally managed)"
			case ca.KeyMatches != nil && !*ca.KeyMatches:
				key = "does not match"
			case ca.KeyMatches == nil:
				key = "unreadable"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ca.Name, expires(ca.NotAfter), residualText(ca.ResidualSeconds, ca.NotAfter),
				key, ca.Status, strings.Join(ca.Signs, ","))
		}
		w, flush := cmdutil.NewSection(w)
		defer flush()
		fmt.Fprintln(w)
		for _, ca := range report.CAs {
			fmt.Fprintf(w, "%s is trusted by: %s\n", ca.Name, strings.Join(ca.TrustedBy, "; "))
		}
		fmt.Fprintf(w, "\nRotation plan for %s (expires first; printed only, nothing is changed):\n", report.RotateFirst)
		for _, s := range report.Plan {
			fmt.Fprint(w, s.String())
		}
		return nil
	})
	if err != nil {
		return err
	}
	sev := 0
	for _, ca := range report.CAs {
		switch ca.Status {
		case certs.StatusOK:
		case certs.StatusExpiring:
			sev = max(sev, 1)
		default:
			if !(ca.Status == certs.StatusInvalid && ca.ExternallyManaged) {
				sev = 2
			}
		}
	}
	if sev > 0 {
		return &cmdutil.ExitError{Code: sev}
	}
	return nil
}
