package rbac

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// RBACAuditOptions holds the flags of `rbac audit`.
type RBACAuditOptions struct {
	FailOn        string
	IncludeSystem bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	client  *apiClient
	failOn  rbac.Severity
	genericiooptions.IOStreams
}

// auditLong lists every check from rbac.CheckInfos.
func auditLong() string {
	var b strings.Builder
	b.WriteString(`Check every Role, ClusterRole and binding for risky permissions and broken
bindings, and report each finding with a severity (high, medium, low). Every check that
applies is reported (a "*" rule is also secrets-read, pods-exec-attach, ...):

`)
	for _, id := range rbac.AllChecks {
		info := rbac.CheckInfos[id]
		fmt.Fprintf(&b, "  %-37s %s [%s]\n", id, info.Short, info.Severity)
	}
	b.WriteString(`
Built-in roles and bindings are skipped unless --include-system: the API server's bootstrap
objects (label kubernetes.io/bootstrapping=rbac-defaults, with a name the API server uses)
and kubeadm's own. A binding someone made to a built-in role (edit, admin, cluster-admin,
...) is judged by what that role grants, and a role or binding with a system: name that is
not built in is audited and reported (reserved-system-name). Rules bound through a Role or
RoleBinding are judged in their namespace: cluster-scoped parts grant nothing there.
docs/guide/rbac.md maps each check to kubescape, rbac-police, KubiScan and rbac-tool.

Exit codes: 0 no findings (or --fail-on none); 1 findings, none at or above --fail-on;
2 findings at or above --fail-on (default high); 3 bad input, unreachable or forbidden
cluster (you need list on roles, clusterroles and bindings).`)
	return b.String()
}

// NewCmdRBACAudit returns `rbac audit`.
func NewCmdRBACAudit(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACAuditOptions{FailOn: "high", output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "audit",
		Short: "Find risky permissions and broken bindings, with a severity",
		Long:  auditLong(),
		Example: `  # Risky permissions, high severity first
  kubectl clusterops rbac audit

  # For CI: exit 2 on medium or high findings
  kubectl clusterops rbac audit --fail-on medium -o json

  # Only the names of objects with high findings
  kubectl clusterops rbac audit -o jsonpath='{range .findings[?(@.severity=="high")]}{.object.name}{"\n"}{end}'`,
		Args: cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	cmd.Flags().StringVar(&o.FailOn, "fail-on", o.FailOn, "Exit 2 when a finding has this severity or a higher one: high, medium, low or none.")
	cmd.Flags().BoolVar(&o.IncludeSystem, "include-system", false, "Also audit the built-in system roles and bindings.")
	o.output.AddFlags(cmd)
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdRBACAudit)
	return cmd
}

// Complete builds the printer and the client; it sends no request.
func (o *RBACAuditOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return cmdutil.UsageError(cmd.CommandPath(), err)
	}
	o.client, err = newAPIClient(f, cmdutil.ClientOptions{})
	return err
}

// Validate checks --fail-on; it does no I/O.
func (o *RBACAuditOptions) Validate() error {
	if strings.EqualFold(o.FailOn, "none") {
		o.failOn = ""
		return nil
	}
	sev, err := rbac.ParseSeverity(o.FailOn)
	if err != nil {
		return fmt.Errorf("invalid --fail-on %q: use high, medium, low or none", o.FailOn)
	}
	o.failOn = sev
	return nil
}

// Run loads the RBAC objects, audits them and prints the findings.
func (o *RBACAuditOptions) Run(ctx context.Context) error {
	snap, err := rbac.LoadSnapshot(ctx, o.client.kube.RbacV1())
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	served, err := rbac.NewResolver(o.client.discovery).ServedGroups()
	if err != nil {
		return cmdutil.FriendlyError(err, o.client.server)
	}
	opts := rbac.AuditOptions{IncludeSystem: o.IncludeSystem, ServedGroups: served}
	if all, err := rbac.NewResolver(o.client.discovery).Resources(false); err == nil {
		opts.ClusterScoped = rbac.ScopeFromDiscovery(all)
	}
	res := rbac.Audit(snap, opts)
	err = o.printer.Print(o.Out, "RBACAudit", res, func(w io.Writer) error {
		if len(res.Findings) == 0 {
			fmt.Fprintf(w, "No findings (%d roles, %d cluster roles, %d role bindings, %d cluster role bindings checked).\n",
				res.Checked["Role"], res.Checked["ClusterRole"], res.Checked["RoleBinding"], res.Checked["ClusterRoleBinding"])
			return nil
		}
		fmt.Fprintln(w, "SEVERITY\tCHECK\tOBJECT\tBOUND TO\tMESSAGE")
		for _, f := range res.Findings {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.Check, f.Object, boundTo(f.Subjects), f.Message)
		}
		fmt.Fprintf(w, "\n%d high, %d medium, %d low\n", res.Summary["high"], res.Summary["medium"], res.Summary["low"])
		return nil
	})
	if err != nil {
		return err
	}
	worst := 0
	for _, f := range res.Findings {
		worst = max(worst, f.Severity.Rank())
	}
	switch {
	case worst == 0 || strings.EqualFold(o.FailOn, "none"):
		return nil
	case o.failOn != "" && worst >= o.failOn.Rank():
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	default:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
}

func boundTo(subjects []rbac.Subject) string {
	if len(subjects) == 0 {
		return "-"
	}
	var names []string
	for i, s := range subjects {
		if i == 2 {
			names = append(names, fmt.Sprintf("+%d more", len(subjects)-2))
			break
		}
		names = append(names, s.Kind+":"+subjectName(s))
	}
	return strings.Join(names, ",")
}
