// Package contexts is the `contexts` command: every context of the merged kubeconfig checked at
// once, and `contexts prune`.
package contexts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clusterops/kubectl-clusterops/pkg/contexts"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// DefaultTimeout bounds the requests to one context: long enough for a TLS handshake and three
// small requests to a cluster across the world, short enough that a dead cluster costs 5 s.
const DefaultTimeout = 5 * time.Second

// DefaultParallel is how many contexts are checked at once: the probes wait on the network, so
// a kubeconfig of dozens of contexts takes about one --timeout, not one per context.
const DefaultParallel = 64

const contextsLong = `Check every context of the merged kubeconfig at once: the KUBECONFIG list, or
--kubeconfig, merged exactly as kubectl merges them. Each context is checked in parallel
(--parallel at once), with all its requests bounded by --timeout:

  server       reachable or not, with the latency of GET /version (asked without
               credentials, so it does not depend on the user); TLS verified against the
               context's CA; the server version
  identity     the user the API server sees (a SelfSubjectReview, as kubectl auth whoami)
  namespace    whether the context's namespace (default when none) exists
  credentials  client certificate, token, exec plugin, auth provider or basic; for a client
               certificate its expiry and issuer; for an exec plugin whether its command is
               on PATH
  cluster CA   the expiry of the CA the context trusts

The current context is marked with *. Clusters and users that no context names are listed
after the contexts (they do not change the exit code; 'contexts prune' removes them).

Global flags such as --user, --server or --token apply to every context, as they would to
kubectl --context; --context only chooses which context is marked current.

Exit codes:
  0  every context works
  1  warnings only: a certificate expires within --warn-within, insecure-skip-tls-verify,
     a current-context that names no context
  2  a problem: a dangling context (it names a missing cluster or user), an unreachable
     server, a server certificate that does not verify against the context's CA, rejected
     credentials, an expired client certificate or CA, an exec plugin missing from PATH,
     a namespace that is not there
  3  could not run (bad flags, no kubeconfig)`

const contextsExample = `  # Check every context of your kubeconfig
  kubectl clusterops contexts

  # The same over several files, as kubectl merges them
  KUBECONFIG=~/.kube/config:~/.kube/prod.yaml kubectl clusterops contexts

  # Give each cluster 2 seconds, and warn about certificates that expire within 60 days
  kubectl clusterops contexts --timeout 2s --warn-within 60d

  # Machine-readable: the contexts that do not work
  kubectl clusterops contexts -o jsonpath='{range .contexts[?(@.status=="Problem")]}{.name}{"\n"}{end}'`

// NewCmdContexts returns the `contexts` command with its `prune` subcommand.
func NewCmdContexts(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ContextsOptions{output: cmdutil.NewOutputFlags(), now: time.Now, IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:     "contexts",
		Short:   "Check every kubeconfig context at once: server, TLS, identity, namespace, credentials, expiry",
		Long:    contextsLong,
		Example: contextsExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	o.probe.AddFlags(cmd)
	cmd.Flags().StringVar(&o.WarnWithin, "warn-within", "30d", "Warn (exit 1) about client certificates and CAs that expire within this time, e.g. 30d, 2w, 720h.")
	o.output.AddFlags(cmd)
	cmd.AddCommand(NewCmdPrune(f, streams))
	return cmd
}

// probeFlags are --timeout and --parallel, and how a context is reached through the Factory.
type probeFlags struct {
	Timeout  time.Duration
	Parallel int
}

func (p *probeFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&p.Timeout, "timeout", DefaultTimeout, "Give up on a context whose requests have not all answered within this time.")
	cmd.Flags().IntVar(&p.Parallel, "parallel", DefaultParallel, "Check at most this many contexts at once.")
}

func (p *probeFlags) validate() error {
	if p.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, e.g. 5s")
	}
	if p.Parallel < 1 {
		return fmt.Errorf("--parallel must be at least 1")
	}
	return nil
}

// connect reaches one context through the Factory: a client as its user, and one without
// credentials; every request is bounded by the timeout.
func (p *probeFlags) connect(f cmdutil.Factory) func(string) (*contexts.Conn, error) {
	return func(name string) (*contexts.Conn, error) {
		cf := f.ForContext(name)
		client, _, err := cf.ClientSetWith(cmdutil.ClientOptions{MaxTimeout: p.Timeout})
		if err != nil {
			return nil, err
		}
		anon, _, err := cf.ClientSetWith(cmdutil.ClientOptions{MaxTimeout: p.Timeout, Anonymous: true})
		if err != nil {
			return nil, err
		}
		return &contexts.Conn{Client: client, Anonymous: anon}, nil
	}
}

// loadConfig is the merged kubeconfig and the context in use.
func loadConfig(f cmdutil.Factory) (*clientcmdapi.Config, string, error) {
	raw, err := f.RawConfig()
	if err != nil {
		return nil, "", err
	}
	if len(raw.Contexts) == 0 && len(raw.Clusters) == 0 && len(raw.AuthInfos) == 0 {
		return nil, "", &cmdutil.ExitError{Code: cmdutil.ExitCannotRun,
			Err: errors.New("the kubeconfig has no contexts, clusters or users: set KUBECONFIG or pass --kubeconfig")}
	}
	current, err := f.CurrentContext()
	if err != nil {
		return nil, "", err
	}
	return &raw, current, nil
}

// ContextsOptions holds the flags of `contexts`.
type ContextsOptions struct {
	WarnWithin string

	probe      probeFlags
	warnWithin time.Duration
	output     *cmdutil.OutputFlags
	printer    *cmdutil.Printer
	factory    cmdutil.Factory
	now        func() time.Time
	genericiooptions.IOStreams
}

// Complete builds the printer and keeps the Factory; nothing is read yet.
func (o *ContextsOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	o.factory = f
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate checks the flags; it does no I/O.
func (o *ContextsOptions) Validate() error {
	var err error
	if o.warnWithin, err = cmdutil.ParseLongDuration("warn-within", o.WarnWithin); err != nil {
		return err
	}
	return o.probe.validate()
}

// Run checks every context and prints the report; the exit code is the worst status.
func (o *ContextsOptions) Run(ctx context.Context) error {
	cfg, current, err := loadConfig(o.factory)
	if err != nil {
		return err
	}
	report := contexts.Check(ctx, cfg, contexts.Options{
		Current: current, Now: o.now(), WarnWithin: o.warnWithin, Timeout: o.probe.Timeout,
		Parallel: o.probe.Parallel, Connect: o.probe.connect(o.factory),
	})
	if err := o.printer.Print(o.Out, "ContextReport", report, func(w io.Writer) error { return printReport(w, report) }); err != nil {
		return err
	}
	switch report.Worst() {
	case contexts.StatusProblem:
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	case contexts.StatusWarning:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
	return nil
}

func printReport(w io.Writer, r *contexts.Report) error {
	fmt.Fprintln(w, "CURRENT\tNAME\tCLUSTER\tUSER\tNAMESPACE\tSERVER\tLATENCY\tVERSION\tIDENTITY\tCREDENTIAL\tCA EXPIRES\tSTATUS")
	var findings []string
	for _, c := range r.Contexts {
		mark := ""
		if c.Current {
			mark = "*"
		}
		latency := ""
		if c.LatencyMilliseconds != nil {
			latency = fmt.Sprintf("%dms", *c.LatencyMilliseconds)
		} else if c.Reachable != nil && !*c.Reachable {
			latency = "unreachable"
		}
		identity := ""
		if c.Identity != nil {
			identity = c.Identity.Username
		}
		cred := c.Credential.Type
		if cc := c.Credential.ClientCert; cc != nil {
			cred += " (" + left(cc.ExpiresInSeconds) + ")"
		}
		ca := ""
		if c.ClusterCA != nil {
			ca = left(c.ClusterCA.ExpiresInSeconds)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, c.Name, cmdutil.OrDash(c.Cluster),
			cmdutil.OrDash(c.User), cmdutil.OrDash(c.Namespace), cmdutil.OrDash(c.Server), cmdutil.OrDash(latency),
			cmdutil.OrDash(c.ServerVersion), cmdutil.OrDash(identity), cred, cmdutil.OrDash(ca), c.Status)
		for _, f := range c.Findings {
			findings = append(findings, fmt.Sprintf("%s\t%s\t%s\t%s", c.Name, f.Severity, f.Check, f.Message))
		}
	}
	for _, f := range r.Findings {
		findings = append(findings, fmt.Sprintf("-\t%s\t%s\t%s", f.Severity, f.Check, f.Message))
	}
	if len(findings) > 0 {
		tw, flush := cmdutil.NewSection(w)
		fmt.Fprintln(tw, "\nCONTEXT\tSEVERITY\tCHECK\tFINDING")
		fmt.Fprintln(tw, strings.Join(findings, "\n"))
		if err := flush(); err != nil {
			return err
		}
	}
	if len(r.UnreferencedClusters)+len(r.UnreferencedUsers) > 0 {
		tw, flush := cmdutil.NewSection(w)
		fmt.Fprintln(tw, "\nUNREFERENCED\tNAME\tSOURCE")
		for _, e := range r.UnreferencedClusters {
			fmt.Fprintf(tw, "cluster\t%s\t%s\n", e.Name, cmdutil.OrDash(e.Source))
		}
		for _, e := range r.UnreferencedUsers {
			fmt.Fprintf(tw, "user\t%s\t%s\n", e.Name, cmdutil.OrDash(e.Source))
		}
		return flush()
	}
	return nil
}

// left is a residual time as kubectl prints ages: "364d", or "expired 3d ago".
func left(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	if d <= 0 {
		return "expired " + duration.HumanDuration(-d) + " ago"
	}
	return duration.HumanDuration(d)
}
