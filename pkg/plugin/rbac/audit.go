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

const auditLong = `Check every Role, ClusterRole and binding for risky permissions and broken
bindings, and report each finding with a severity (high, medium, low):

  wildcard                      "*" in verbs, resources, API groups or URLs (high)
  secrets-read                  get/list/watch on secrets (high; get only: medium; named: low)
  pods-exec-attach              pods/exec or pods/attach (high)
  escalate-bind-impersonate     the escalate, bind or impersonate verbs (high)
  nodes-proxy                   nodes/proxy: the kubelet API (high)
  csr-approval                  approving certificate signing requests (high; half of it: medium)
  serviceaccount-token          serviceaccounts/token create (medium)
  kube-system-pod-create        a binding that lets its subjects create pods or workloads in
                                kube-system (high)
  system-masters-binding        a binding to the group system:masters (high)
  missing-role                  a binding that names a role that does not exist (medium)
  readonly-name-grants-writes   a role named like read-only (readonly, view, viewer, reader,
                                ro, ...) that grants write verbs (high)
  unserved-api-group            a rule naming an API group the cluster does not serve, such as
                                "extensions" (low)

Built-in roles and bindings (names starting with "system:" or "kubeadm:", or labelled
kubernetes.io/bootstrapping=rbac-defaults) are skipped unless --include-system.

Exit codes: 0 no findings (or --fail-on none); 1 findings, none at or above --fail-on;
2 findings at or above --fail-on (default high); 3 bad input, unreachable or forbidden
cluster (you need list on roles, clusterroles and bindings).`

// NewCmdRBACAudit returns `rbac audit`.
func NewCmdRBACAudit(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACAuditOptions{FailOn: "high", output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "audit",
		Short: "Find risky permissions and broken bindings, with a severity",
		Long:  auditLong,
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
	res := rbac.Audit(snap, rbac.AuditOptions{IncludeSystem: o.IncludeSystem, ServedGroups: served})
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
