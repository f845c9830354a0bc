package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// Sources of `certs check --source`.
const (
	sourceNode    = "node"
	sourceAPI     = "api"
	sourceSecrets = "secrets"
)

// CertsCheckOptions holds the flags and clients of `certs check`.
type CertsCheckOptions struct {
	node          nodeFlags
	Sources       []string
	WarnWithin    string
	AllNamespaces bool

	output     *cmdutil.OutputFlags
	printer    *cmdutil.Printer
	prometheus bool
	// apiOptional: the API sources were chosen by default next to the node; if the API server
	// cannot be reached, warn and report the node alone.
	apiOptional bool
	warnWithin  time.Duration
	want        map[string]bool
	namespace   string
	config      *rest.Config
	userName    string
	client      kubernetes.Interface
	now         func() time.Time

	genericiooptions.IOStreams
}

const certsCheckLong = `Check every certificate the cluster depends on: expiry, whether each private key matches its
certificate, and whether each certificate verifies against its CA.

Sources (--source, comma-separated; by default "node" when --root holds a kubeadm layout, plus
"api" when a kubeconfig is configured, plus "secrets" when -n or -A is given):
  node     kubeadm's catalogue under --root (the names of 'kubeadm certs check-expiration': admin.conf,
           apiserver, apiserver-etcd-client, ..., super-admin.conf and the CAs ca, etcd-ca,
           front-proxy-ca), kubelet.conf, and the kubelet's kubelet-client-current.pem and
           kubelet.crt when they exist
  api      the API server's serving certificate as clients see it (TLS handshake), the current
           kubeconfig's client certificate, pending CSRs and issued CSRs that expire soon
  secrets  kubernetes.io/tls Secrets of the namespace (-n) or of all namespaces (-A)

Output: two tables (certificates, CAs) with kubeadm's columns plus SOURCE and STATUS; -o json|yaml
gives every field (subject, SANs, issuer, notBefore, notAfter, residualSeconds, caName,
externallyManaged, missing, keyMatches, chainVerified); -o prometheus gives node-exporter textfile
metrics (clusterops_cert_not_after_seconds ...).

Exit codes:
  0  every certificate is valid for longer than --warn-within
  1  something expires within --warn-within, a CSR is pending, or kube-apiserver still serves an
     older certificate than the renewed apiserver.crt on this node (restart it)
  2  something is expired, missing, has a key that does not match, or does not verify
  3  the check could not run (bad flags, no kubeadm layout, unreachable or forbidden cluster)`

const certsCheckExample = `  # On a control-plane node: every certificate and CA, as kubeadm's check-expiration but more
  kubectl clusterops certs check

  # A node's filesystem mounted elsewhere; warn 60 days ahead
  kubectl clusterops certs check --root /mnt/node1 --warn-within 60d

  # From a laptop: the API server's certificate, your client certificate, TLS Secrets everywhere
  kubectl clusterops certs check --source api,secrets -A

  # Metrics for node-exporter's textfile collector
  kubectl clusterops certs check -o prometheus > /var/lib/node-exporter/certs.prom`

// NewCmdCertsCheck returns `certs check`.
func NewCmdCertsCheck(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsCheckOptions{output: cmdutil.NewOutputFlags(), WarnWithin: "30d", now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:     "check",
		Short:   "Check the expiry, keys and chains of every certificate of the cluster",
		Long:    certsCheckLong,
		Example: certsCheckExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.node.add(cmd, "/", "The node's filesystem root that holds kubeadm's layout.")
	cmd.Flags().StringSliceVar(&o.Sources, "source", nil, "What to check: node, api, secrets (comma-separated). Default: see above.")
	cmd.Flags().StringVar(&o.WarnWithin, "warn-within", o.WarnWithin, "Warn (exit 1) about certificates that expire within this time, e.g. 30d, 2w, 720h.")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "With the secrets source: TLS Secrets of every namespace.")
	o.output.AddFlags(cmd)
	of := cmd.Flags().Lookup("output")
	of.Usage = strings.Replace(of.Usage, "Output format. One of: (", "Output format. One of: (prometheus, ", 1)
	return cmd
}

// Complete resolves the sources, the printer and, for the API sources, the clients.
func (o *CertsCheckOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.warnWithin, err = parseLongDuration("warn-within", o.WarnWithin); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	if o.output.Format() == "prometheus" {
		o.prometheus = true
	} else if o.printer, err = o.output.ToPrinter(); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	o.want = map[string]bool{}
	for _, s := range o.Sources {
		s = strings.TrimSpace(s)
		if !slices.Contains([]string{sourceNode, sourceAPI, sourceSecrets}, s) {
			return cmdutil.UsageError(cmd.CommandPath(), fmt.Errorf("unknown --source %q: use node, api or secrets", s))
		}
		o.want[s] = true
	}
	nsGiven := cmd.Flags().Changed("namespace") || o.AllNamespaces
	if len(o.want) == 0 {
		// Default: what is there to check.
		if o.node.layout().Validate() == nil || cmd.Flags().Changed("root") {
			o.want[sourceNode] = true
		}
		current, err := f.CurrentContext()
		if (err == nil && current != "") || cmd.Flags().Changed("server") {
			o.want[sourceAPI] = true
			o.want[sourceSecrets] = nsGiven
			// A node whose API server is down (expired certificates...) is still checked.
			o.apiOptional = o.want[sourceNode]
		}
		if !o.want[sourceNode] && !o.want[sourceAPI] {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("nothing to check: %s holds no kubeadm layout and no kubeconfig "+
				"is configured; pass --root (a node's filesystem root) or --kubeconfig", o.node.layout().Path(o.node.certDir))}
		}
	}
	if !o.want[sourceAPI] && !o.want[sourceSecrets] {
		return nil
	}
	if o.config, err = f.RESTConfig(); err != nil {
		return err
	}
	o.userName, _ = f.UserName() // only a label for the kubeconfig's client certificate
	if o.namespace, _, err = f.Namespace(); err != nil {
		return err
	}
	if o.AllNamespaces {
		o.namespace = ""
	}
	o.client, err = f.ClientSet()
	return err
}

// Validate checks the options; it does no I/O.
func (o *CertsCheckOptions) Validate() error {
	if (o.want[sourceAPI] || o.want[sourceSecrets]) && o.client == nil {
		return errors.New("internal error: certs check options not completed")
	}
	return nil
}

// Run checks and prints; the exit code carries the worst finding.
func (o *CertsCheckOptions) Run(ctx context.Context) error {
	now := o.now()
	report := &certs.Report{Certificates: []certs.Certificate{}, CAs: []certs.CA{}, WarnWithinSeconds: int64(o.warnWithin / time.Second)}
	if o.want[sourceNode] {
		r, err := certs.CheckNode(o.node.layout(), now, o.warnWithin)
		if err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
		}
		report = r
	}
	if err := o.checkCluster(ctx, report, now); err != nil {
		if !o.apiOptional {
			return err
		}
		fmt.Fprintf(o.ErrOut, "warning: only the node was checked: %s\n", err)
	}
	var err error
	if o.prometheus {
		err = certs.WritePrometheus(o.Out, report)
	} else {
		err = o.printer.Print(o.Out, "CertificateCheck", report, func(w io.Writer) error { return checkTable(w, report) })
	}
	if err != nil {
		return err
	}
	if sev := report.Severity(); sev > 0 {
		return &cmdutil.ExitError{Code: sev}
	}
	return nil
}

func (o *CertsCheckOptions) checkCluster(ctx context.Context, report *certs.Report, now time.Time) error {
	if o.want[sourceAPI] {
		if err := o.checkAPI(ctx, report, now); err != nil {
			return err
		}
	}
	if o.want[sourceSecrets] {
		list, err := certs.TLSSecrets(ctx, o.client.CoreV1(), o.namespace, now, o.warnWithin)
		if err != nil {
			return cmdutil.FriendlyError(err, o.config.Host)
		}
		report.Certificates = append(report.Certificates, list...)
	}
	return nil
}

func (o *CertsCheckOptions) checkAPI(ctx context.Context, report *certs.Report, now time.Time) error {
	cfg := o.config
	var roots *x509.CertPool
	caData := cfg.CAData
	if len(caData) == 0 && cfg.CAFile != "" {
		caData, _ = os.ReadFile(cfg.CAFile)
	}
	if len(caData) > 0 {
		if cas, err := certs.ParseCertsPEM(caData); err == nil {
			roots = x509.NewCertPool()
			for _, c := range cas {
				roots.AddCert(c)
			}
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = cmdutil.DefaultProbeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	serving, served := certs.ServingCert(hctx, cfg.Host, cfg.ServerName, roots, now, o.warnWithin)
	if serving.NotAfter == nil && serving.Problem != "" {
		return cmdutil.FriendlyError(errors.New(serving.Problem), cfg.Host)
	}
	report.Certificates = append(report.Certificates, serving)
	if o.want[sourceNode] {
		// Renewed on disk but not yet loaded: say that kube-apiserver must restart.
		if onDisk, err := o.node.layout().ReadCert("apiserver"); err == nil {
			certs.MarkRestartPending(report, served, onDisk)
		}
	}
	certPEM, keyPEM, path := cfg.CertData, cfg.KeyData, "kubeconfig"
	if len(certPEM) == 0 && cfg.CertFile != "" {
		certPEM, _ = os.ReadFile(cfg.CertFile)
		path = cfg.CertFile
	}
	if len(keyPEM) == 0 && cfg.KeyFile != "" {
		keyPEM, _ = os.ReadFile(cfg.KeyFile)
	}
	if len(certPEM) > 0 {
		name := "kubeconfig user"
		if o.userName != "" {
			name += " " + o.userName
		}
		report.Certificates = append(report.Certificates, certs.ClientCert(name, path, certPEM, keyPEM, roots, now, o.warnWithin))
	}
	csrs, err := certs.CSRs(ctx, o.client.CertificatesV1(), now, o.warnWithin)
	if err != nil {
		fmt.Fprintf(o.ErrOut, "warning: CSRs not checked: %s\n", cmdutil.FriendlyError(err, cfg.Host))
	}
	report.Certificates = append(report.Certificates, csrs...)
	return nil
}

func checkTable(w io.Writer, r *certs.Report) error {
	fmt.Fprintln(w, "CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED\tSOURCE\tSTATUS")
	for _, c := range r.Certificates {
		name := c.Name
		if c.Missing {
			name = "!MISSING! " + name
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, expires(c.NotAfter), residualText(c.ResidualSeconds, c.NotAfter),
			c.CAName, yesNo(c.ExternallyManaged), c.Source, c.Status)
	}
	if len(r.CAs) > 0 {
		tw, flush := cmdutil.NewSection(w)
		fmt.Fprintln(tw, "\nCERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED\tSOURCE\tSTATUS")
		for _, c := range r.CAs {
			name := c.Name
			if c.Missing {
				name = "!MISSING! " + name
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, expires(c.NotAfter), residualText(c.ResidualSeconds, c.NotAfter),
				yesNo(c.ExternallyManaged), c.Source, c.Status)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return writeProblems(w, r)
}
