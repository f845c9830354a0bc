package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
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

	agents     *cmdutil.AgentFlags
	runner     *agent.Runner
	output     *cmdutil.OutputFlags
	printer    *cmdutil.Printer
	prometheus bool
	// apiOptional: the API sources were chosen by default next to the node; if the API server
	// cannot be reached, warn and report the node alone.
	apiOptional bool
	warnWithin  time.Duration
	want        map[string]bool
	rootGiven   bool
	hintAgent   bool
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

  # From a laptop, with no SSH: every control-plane node's certificates, one agent pod per node
  kubectl clusterops certs check --control-plane

  # One node, with a mirrored agent image
  kubectl clusterops certs check --node cp-2 --image registry.local/kubectl-clusterops:v1.2.3

  # From a laptop: the API server's certificate, your client certificate, TLS Secrets everywhere
  kubectl clusterops certs check --source api,secrets -A

  # Metrics for node-exporter's textfile collector
  kubectl clusterops certs check -o prometheus > /var/lib/node-exporter/certs.prom`

// NewCmdCertsCheck returns `certs check`.
func NewCmdCertsCheck(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsCheckOptions{output: cmdutil.NewOutputFlags(), agents: cmdutil.NewAgentFlags(5 * time.Minute), WarnWithin: "30d", now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:     "check",
		Short:   "Check the expiry, keys and chains of every certificate of the cluster",
		Long:    certsCheckLong,
		Example: certsCheckExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.node.add(cmd, "/", "The node's filesystem root that holds kubeadm's layout.")
	o.agents.AddFlags(cmd, true, true)
	cmd.Flags().StringSliceVar(&o.Sources, "source", nil, "What to check: node, api, secrets (comma-separated). Default: see above.")
	cmd.Flags().StringVar(&o.WarnWithin, "warn-within", o.WarnWithin, "Warn (exit 1) about certificates that expire within this time, e.g. 30d, 2w, 720h.")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "With the secrets source: TLS Secrets of every namespace.")
	o.output.AddFlags(cmd)
	of := cmd.Flags().Lookup("output")
	of.Usage = strings.Replace(of.Usage, "Output format. One of: (", "Output format. One of: (prometheus, ", 1)
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdCertsCheck)
	return cmd
}

// Complete resolves the sources, the printer and, for the API sources, the clients.
func (o *CertsCheckOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	o.rootGiven = cmd.Flags().Changed("root")
	if o.warnWithin, err = cmdutil.ParseLongDuration("warn-within", o.WarnWithin); err != nil {
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
	if o.agents.Enabled() {
		// The nodes' catalogues come from agent pods; the API sources only when asked for.
		if len(o.want) == 0 {
			o.want[sourceNode] = true
		}
		if o.runner, err = o.agents.Runner(f, o.ErrOut); err != nil {
			return err
		}
		o.config, _ = f.RESTConfig()
	}
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
			// On a laptop: the nodes' own certificates are one flag away.
			o.hintAgent = !o.want[sourceNode]
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

// Validate checks the options; it does no I/O. (Complete checks --source and --warn-within; a
// failed Complete, e.g. an unreadable certificate-authority file, is reported as it is.)
func (o *CertsCheckOptions) Validate() error {
	if o.agents.Enabled() {
		if o.rootGiven {
			return errors.New("--root reads a local filesystem; --node, --nodes and --control-plane read the nodes through agent pods: pass one or the other")
		}
		if err := o.agents.Validate(); err != nil {
			return err
		}
		if o.prometheus {
			return errors.New("-o prometheus is per node: run it on each node (a node-exporter textfile), not with --node/--control-plane")
		}
	}
	return nil
}

// Run checks and prints; the exit code carries the worst finding.
func (o *CertsCheckOptions) Run(ctx context.Context) error {
	now := o.now()
	report := &certs.Report{Certificates: []certs.Certificate{}, CAs: []certs.CA{}, WarnWithinSeconds: int64(o.warnWithin / time.Second)}
	if o.want[sourceNode] && o.agents.Enabled() {
		if err := o.checkNodes(ctx, report); err != nil {
			return err
		}
	} else if o.want[sourceNode] {
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
	if o.hintAgent && !o.prometheus {
		fmt.Fprintln(o.ErrOut, "hint: from a laptop, check every control-plane node's certificates with --control-plane (agent pods, no SSH)")
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
	// The kubeconfig's CA, client cert and key, read as client-go reads them. An unreadable or
	// unparsable CA is an error: falling back to the system roots would check the served
	// certificate against the wrong CAs (and say so nowhere).
	cfg := rest.CopyConfig(o.config)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return fmt.Errorf("reading the kubeconfig's TLS files: %w", err)
	}
	var roots *x509.CertPool
	if len(cfg.CAData) > 0 {
		cas, err := certs.ParseCertsPEM(cfg.CAData)
		if err != nil {
			what := "certificate-authority-data"
			if o.config.CAFile != "" {
				what = "certificate-authority " + o.config.CAFile
			}
			return fmt.Errorf("the kubeconfig's %s: %w", what, err)
		}
		roots = x509.NewCertPool()
		for _, c := range cas {
			roots.AddCert(c)
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
	if len(o.config.CertData) == 0 && cfg.CertFile != "" {
		path = cfg.CertFile
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
	// Through agents, every row starts with its node.
	perNode := len(r.Nodes) > 0
	col := func(node string) string {
		if perNode {
			return node + "\t"
		}
		return ""
	}
	fmt.Fprintln(w, col("NODE")+"CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED\tSOURCE\tSTATUS")
	for _, c := range r.Certificates {
		name := c.Name
		if c.Missing {
			name = "!MISSING! " + name
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\n", col(c.Node), name, expires(c.NotAfter), residualText(c.ResidualSeconds, c.NotAfter),
			c.CAName, yesNo(c.ExternallyManaged), c.Source, c.Status)
	}
	if len(r.CAs) > 0 {
		tw, flush := cmdutil.NewSection(w)
		fmt.Fprintln(tw, "\n"+col("NODE")+"CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED\tSOURCE\tSTATUS")
		for _, c := range r.CAs {
			name := c.Name
			if c.Missing {
				name = "!MISSING! " + name
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", col(c.Node), name, expires(c.NotAfter), residualText(c.ResidualSeconds, c.NotAfter),
				yesNo(c.ExternallyManaged), c.Source, c.Status)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if perNode {
		tw, flush := cmdutil.NewSection(w)
		fmt.Fprintln(tw, "\nNODE\tSTATUS\tPROBLEM")
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, n.Status, n.Problem)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return writeProblems(w, r)
}
