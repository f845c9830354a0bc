package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
	"github.com/clusterops/kubectl-clusterops/pkg/users"
)

// NewCmdUser returns the `user` group.
func NewCmdUser(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := newGroupCommand("user", "Onboard, list and offboard people with client certificates",
		`Onboard a person end to end with one command: a private key, a client certificate signed
through the certificates API (or by the cluster CA on a control-plane node), a kubeconfig with a
context in their namespace, an RBAC binding, and a check with the new credentials of what they
can really do. List the users the cluster knows, and remove their access.`)
	cmd.Example = `  # Onboard team-readonly with read-only access to databases
  kubectl clusterops user create team-readonly -n databases --role readonly

  # Who has client certs or bindings?
  kubectl clusterops user list`
	cmd.AddCommand(NewCmdUserCreate(getter, streams), NewCmdUserList(getter, streams), NewCmdUserDelete(getter, streams))
	return cmd
}

// UserCreateOptions holds the flags of `user create`.
type UserCreateOptions struct {
	Name, Role, ClusterRole, ContextName, Output, KeyType, CACert, CAKey, Root string
	Groups                                                                     []string
	NoBinding, Merge, Overwrite, Approve, LocalCA, AllowPrivileged             bool
	Expiration, Timeout                                                        time.Duration

	opts   users.CreateOptions
	client kubernetes.Interface
	output *outputFlags
	genericiooptions.IOStreams
}

const userCreateExample = `  # Onboard team-readonly with read-only access to the namespace databases; hand them the file
  kubectl clusterops user create team-readonly -n databases --role readonly
  # -> ./team-readonly.kubeconfig (0600), checked with the new credentials

  # On a control-plane node, sign with the cluster CA instead of the certificates API
  sudo kubectl clusterops user create jane -n dev --role developer --local-ca

  # Add the user and a context to your own kubeconfig, with an existing ClusterRole
  kubectl clusterops user create ci-bot -n ci --clusterrole edit --merge --expiration 720h

  # Leave the CSR for another admin to approve, and wait up to 10 minutes
  kubectl clusterops user create bob -n shop --no-binding --approve=false --timeout 10m`

// NewCmdUserCreate returns `user create`.
func NewCmdUserCreate(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserCreateOptions{IOStreams: streams, output: newOutputFlags()}
	cmd := &cobra.Command{
		Use:   "create NAME (--role TEMPLATE | --clusterrole NAME | --no-binding) [-n NAMESPACE]",
		Short: "Create a user: key, signed client cert, kubeconfig, RBAC binding, verified access",
		Long: `Create a user with a client certificate and a kubeconfig, bind their access, and check it.

1. A new private key (--key-type) and a CSR with CN=NAME and O=each --group.
2. Signing: by default through the certificates API (signer kubernetes.io/kube-apiserver-client,
   client auth, --expiration), approved when you may (--approve=false leaves it to someone else),
   waiting --timeout for the certificate. With --local-ca (or --ca-cert/--ca-key) it is signed by
   the cluster CA on disk, as on a control-plane node. The signer may shorten the lifetime: the
   real NotAfter is reported.
3. The binding: --role TEMPLATE (a built-in template, see 'kubectl clusterops rbac template list'),
   --clusterrole NAME (a RoleBinding to an existing ClusterRole) or --no-binding, in -n.
4. A check with the new credentials: who the API server says they are, and what they may do in the
   namespace (SelfSubjectRulesReview).
5. The kubeconfig, written last: a standalone file (--output-kubeconfig, default ./NAME.kubeconfig,
   mode 0600, certs embedded) or, with --merge, a user and a context added to your kubeconfig;
   every other entry and field stays as it was.

Safety: system: names and groups (system:masters, system:nodes, ...) are refused without
--allow-privileged-group; an existing output file, kubeconfig user or context is refused without
--overwrite. After any error nothing is left behind: no file, and the CSR and the bindings this
run created are deleted. The private key is never printed.

Exit codes: 0 created and verified; 3 bad input, forbidden, denied or timed out.`,
		Example: userCreateExample,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Complete(cmd, getter); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Groups, "group", nil, "Group for the cert's O field (repeatable).")
	f.StringVar(&o.Role, "role", "", "Bind this built-in RBAC template in the namespace: "+strings.Join(rbac.TemplateNames(), ", ")+".")
	f.StringVar(&o.ClusterRole, "clusterrole", "", "Bind this existing ClusterRole in the namespace (a RoleBinding).")
	f.BoolVar(&o.NoBinding, "no-binding", false, "Create no binding.")
	f.DurationVar(&o.Expiration, "expiration", 8760*time.Hour, "Requested certificate lifetime (the signer may cap it).")
	f.StringVar(&o.KeyType, "key-type", string(certs.RSA2048), "Private key: rsa-2048, rsa-4096 or ecdsa-p256.")
	f.StringVar(&o.ContextName, "context-name", "", "Name of the new context (default NAME@CLUSTER).")
	f.StringVar(&o.Output, "output-kubeconfig", "", "Write a standalone kubeconfig here (default ./NAME.kubeconfig).")
	f.BoolVar(&o.Merge, "merge", false, "Add the user and context to the current kubeconfig instead of writing a file.")
	f.BoolVar(&o.Overwrite, "overwrite", false, "Replace an existing output file, or kubeconfig user and context.")
	f.BoolVar(&o.Approve, "approve", true, "Approve the CSR (when you may); false leaves it for someone else.")
	f.DurationVar(&o.Timeout, "timeout", time.Minute, "How long to wait for the signed certificate.")
	f.BoolVar(&o.LocalCA, "local-ca", false, "Sign with the cluster CA on disk: ROOT/etc/kubernetes/pki/ca.{crt,key}.")
	f.StringVar(&o.CACert, "ca-cert", "", "Sign locally with this CA certificate (with --ca-key).")
	f.StringVar(&o.CAKey, "ca-key", "", "Sign locally with this CA key (with --ca-cert).")
	f.StringVar(&o.Root, "root", "/", "Node root for --local-ca.")
	f.BoolVar(&o.AllowPrivileged, "allow-privileged-group", false, "Allow system: names and groups such as system:masters.")
	_ = cmd.RegisterFlagCompletionFunc("role", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return rbac.TemplateNames(), cobra.ShellCompDirectiveNoFileComp
	})
	o.output.addFlags(cmd)
	return cmd
}

// Complete resolves the cluster of the current context, the client and the options; bad input
// is reported before anything is created.
func (o *UserCreateOptions) Complete(cmd *cobra.Command, getter genericclioptions.RESTClientGetter) error {
	if _, err := o.output.toPrinter(); err != nil {
		return err
	}
	kind, name, n := users.BindNone, "", 0
	if o.Role != "" {
		kind, name, n = users.BindTemplate, o.Role, n+1
	}
	if o.ClusterRole != "" {
		kind, name, n = users.BindClusterRole, o.ClusterRole, n+1
	}
	if o.NoBinding {
		n++
	}
	if n != 1 {
		return usageError(cmd.CommandPath(), fmt.Errorf("choose exactly one of --role TEMPLATE, --clusterrole NAME and --no-binding"))
	}
	keyType, err := certs.ParseKeyType(o.KeyType)
	if err != nil {
		return err
	}
	if o.LocalCA {
		if o.CACert == "" {
			o.CACert = filepath.Join(o.Root, "etc", "kubernetes", "pki", "ca.crt")
		}
		if o.CAKey == "" {
			o.CAKey = filepath.Join(o.Root, "etc", "kubernetes", "pki", "ca.key")
		}
	}
	loader := getter.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return friendlyError(err, "")
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return friendlyError(err, "")
	}
	rc, err := getter.ToRESTConfig()
	if err != nil {
		return friendlyError(err, "")
	}
	clusterName := ""
	if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.ClusterName != nil && *cf.ClusterName != "" {
		clusterName = *cf.ClusterName
	} else {
		ctxName := raw.CurrentContext
		if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.Context != nil && *cf.Context != "" {
			ctxName = *cf.Context
		}
		if c := raw.Contexts[ctxName]; c != nil {
			clusterName = c.Cluster
		}
	}
	if clusterName == "" {
		return fmt.Errorf("no cluster in the current context: give --cluster or --context")
	}
	caData := rc.CAData
	if len(caData) == 0 && rc.CAFile != "" {
		if caData, err = os.ReadFile(rc.CAFile); err != nil {
			return fmt.Errorf("reading the cluster CA %s: %v", rc.CAFile, err)
		}
	}
	if o.ContextName == "" {
		o.ContextName = o.Name + "@" + clusterName
	}
	if o.Output == "" && !o.Merge {
		o.Output = strings.ReplaceAll(o.Name, string(os.PathSeparator), "_") + ".kubeconfig"
	}
	mergePath := loader.ConfigAccess().GetExplicitFile()
	if mergePath == "" {
		mergePath = loader.ConfigAccess().GetDefaultFilename()
	}
	o.opts = users.CreateOptions{
		Name: o.Name, Groups: o.Groups, Namespace: ns, BindKind: kind, BindName: name,
		Expiration: o.Expiration, KeyType: keyType, ContextName: o.ContextName,
		Cluster:          users.ClusterInfo{Name: clusterName, Server: rc.Host, TLSServerName: rc.ServerName, CAData: caData},
		OutputKubeconfig: o.Output, Merge: o.Merge, MergeKubeconfig: mergePath, Overwrite: o.Overwrite,
		Approve: o.Approve, SignTimeout: o.Timeout, CACert: o.CACert, CAKey: o.CAKey,
		AllowPrivilegedGroup: o.AllowPrivileged,
	}
	if err := users.ValidateCreate(o.opts); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	o.client = client
	return err
}

// Run creates the user and prints what was done and what the new credentials may do.
func (o *UserCreateOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := users.Create(ctx, o.client, o.opts, time.Now())
	if err != nil {
		return friendlyError(err, o.opts.Cluster.Server)
	}
	return o.output.print(o.Out, "UserCreation", res, func(w io.Writer) error { return printUserCreated(w, res) })
}

func printUserCreated(w io.Writer, r *users.CreateResult) error {
	groups := "-"
	if len(r.Groups) > 0 {
		groups = strings.Join(r.Groups, ",")
	}
	where := r.Kubeconfig + " (standalone, mode 0600: hand it to " + r.User + ")"
	if r.Merged {
		where = r.Kubeconfig + " (merged: user " + r.User + ", context " + r.Context + ")"
	}
	signer := r.Signer
	if r.CSR != "" {
		signer += " via CSR " + r.CSR
	}
	expiry := r.NotAfter.UTC().Format(time.RFC3339) + " (requested " + r.RequestedExpiration + ")"
	if r.CappedBySigner {
		expiry += " - the signer capped the lifetime"
	}
	fmt.Fprintf(w, "User %q (groups %s) created; context %q, namespace %q.\n", r.User, groups, r.Context, r.Namespace)
	fmt.Fprintf(w, "  kubeconfig:\t%s\n  certificate:\tsigned by %s, valid until %s\n", where, signer, expiry)
	for _, b := range r.Bindings {
		ref := ""
		if b.RoleRef != "" {
			ref = " -> " + b.RoleRef
		}
		fmt.Fprintf(w, "  binding:\t%s %s%s (%s)\n", b.Kind, strings.TrimPrefix(b.Namespace+"/"+b.Name, "/"), ref, b.Action)
	}
	if len(r.Bindings) == 0 {
		fmt.Fprintf(w, "  binding:\tnone (--no-binding)\n")
	}
	fmt.Fprintf(w, "  identity:\tthe API server sees %s, groups %s\n\n", r.Access.Identity.Username, strings.Join(r.Access.Identity.Groups, ","))
	fmt.Fprintf(w, "ACCESS IN %s (checked with the new credentials)\n", r.Namespace)
	fmt.Fprintf(w, "VERBS\tAPI GROUPS\tRESOURCES\tRESOURCE NAMES\n")
	granted := r.Access.Granted()
	for _, a := range granted {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", strings.Join(a.Verbs, ","), orDash(quoteGroups(a.APIGroups)), strings.Join(a.Resources, ","), orDash(strings.Join(a.ResourceNames, ",")))
	}
	if len(granted) == 0 {
		fmt.Fprintf(w, "-\t-\t(nothing beyond what every authenticated user may do)\t-\n")
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	return nil
}

func quoteGroups(groups []string) string {
	out := make([]string, len(groups))
	for i, g := range groups {
		if g == "" {
			g = `""`
		}
		out[i] = g
	}
	return strings.Join(out, ",")
}
