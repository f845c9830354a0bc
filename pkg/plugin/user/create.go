package user

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
	"github.com/clusterops/kubectl-clusterops/pkg/users"
)

// UserCreateOptions holds the flags of `user create`.
type UserCreateOptions struct {
	Name, Role, ClusterRole, ContextName, Output, KeyType, CACert, CAKey, Root string
	Groups                                                                     []string
	NoBinding, Merge, Overwrite, Approve, LocalCA, AllowPrivileged             bool
	Expiration, Timeout                                                        time.Duration

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer

	// From the Factory: the cluster of the current context and the kubeconfig to merge into.
	client      kubernetes.Interface
	namespace   string
	cluster     users.ClusterInfo
	caFile      string // the cluster CA when the kubeconfig names a file; Run reads it
	mergeConfig string

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
func NewCmdUserCreate(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserCreateOptions{IOStreams: streams, output: cmdutil.NewOutputFlags()}
	cmd := cmdutil.NewCommand(&cobra.Command{
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
   every other entry and field stays as it was. The merged kubeconfig is written mode 0600 (it
   now holds a private key) and keeps its owner and group (a sudo run leaves it yours); a
   symlinked kubeconfig stays a symlink and its target is written. The merge holds the lock file
   that kubectl uses (KUBECONFIG.lock, for the link and its target): it waits up to 10s while
   'kubectl config ...' holds it, and kubectl cannot change the file while the merge writes it.

Safety: system: names and groups (system:masters, system:nodes, ...) are refused without
--allow-privileged-group; an existing output file, kubeconfig user or context is refused without
--overwrite; the binding's role and binding are never ones kubectl-clusterops did not make.
After any error nothing is left behind: no file, and the CSR and the bindings this
run created are deleted. The private key is never printed.

Exit codes: 0 created and verified; 3 bad input, forbidden, denied or timed out.`,
		Example: userCreateExample,
		Args:    cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Groups, "group", nil, "Group for the cert's O field (repeatable).")
	fl.StringVar(&o.Role, "role", "", "Bind this built-in RBAC template in the namespace: "+strings.Join(rbac.TemplateNames(), ", ")+".")
	fl.StringVar(&o.ClusterRole, "clusterrole", "", "Bind this existing ClusterRole in the namespace (a RoleBinding).")
	fl.BoolVar(&o.NoBinding, "no-binding", false, "Create no binding.")
	fl.DurationVar(&o.Expiration, "expiration", 8760*time.Hour, "Requested certificate lifetime (the signer may cap it).")
	fl.StringVar(&o.KeyType, "key-type", string(certs.RSA2048), "Private key: rsa-2048, rsa-4096 or ecdsa-p256.")
	fl.StringVar(&o.ContextName, "context-name", "", "Name of the new context (default NAME@CLUSTER).")
	fl.StringVar(&o.Output, "output-kubeconfig", "", "Write a standalone kubeconfig here (default ./NAME.kubeconfig).")
	fl.BoolVar(&o.Merge, "merge", false, "Add the user and context to the current kubeconfig instead of writing a file.")
	fl.BoolVar(&o.Overwrite, "overwrite", false, "Replace an existing output file, or kubeconfig user and context.")
	fl.BoolVar(&o.Approve, "approve", true, "Approve the CSR (when you may); false leaves it for someone else.")
	fl.DurationVar(&o.Timeout, "timeout", time.Minute, "How long to wait for the signed certificate.")
	fl.BoolVar(&o.LocalCA, "local-ca", false, "Sign with the cluster CA on disk: ROOT/etc/kubernetes/pki/ca.{crt,key}.")
	fl.StringVar(&o.CACert, "ca-cert", "", "Sign locally with this CA certificate (with --ca-key).")
	fl.StringVar(&o.CAKey, "ca-key", "", "Sign locally with this CA key (with --ca-cert).")
	cmdutil.AddRootFlag(cmd, &o.Root, "/", "Node root for --local-ca.")
	fl.BoolVar(&o.AllowPrivileged, "allow-privileged-group", false, "Allow system: names and groups such as system:masters.")
	_ = cmd.RegisterFlagCompletionFunc("role", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return rbac.TemplateNames(), cobra.ShellCompDirectiveNoFileComp
	})
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes NAME and the defaults of the flags, then the printer and, from the Factory, the
// client, the namespace, the cluster of the current context and the kubeconfig a --merge goes to.
func (o *UserCreateOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name = args[0]
	if o.LocalCA {
		o.CACert = cmp.Or(o.CACert, filepath.Join(o.Root, "etc", "kubernetes", "pki", "ca.crt"))
		o.CAKey = cmp.Or(o.CAKey, filepath.Join(o.Root, "etc", "kubernetes", "pki", "ca.key"))
	}
	if o.Output == "" && !o.Merge {
		o.Output = strings.ReplaceAll(o.Name, string(os.PathSeparator), "_") + ".kubeconfig"
	}
	var err error
	if o.printer, err = o.output.ToPrinter(); err != nil {
		return err
	}
	o.mergeConfig = kubeconfigFile(f.ConfigAccess())
	if err := o.completeCluster(f); err != nil {
		return err
	}
	o.ContextName = cmp.Or(o.ContextName, o.Name+"@"+o.cluster.Name)
	return nil
}

// completeCluster resolves what the new kubeconfig points at: the cluster entry of the current
// context (or --cluster), and the server, TLS server name and CA the client config uses.
func (o *UserCreateOptions) completeCluster(f cmdutil.Factory) error {
	client, config, err := f.ClientSetWith(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	o.client = client
	o.cluster = users.ClusterInfo{Server: config.Host, TLSServerName: config.ServerName, CAData: config.CAData}
	if len(config.CAData) == 0 {
		o.caFile = config.CAFile
	}
	if o.namespace, _, err = f.Namespace(); err != nil {
		return err
	}
	o.cluster.Name, err = f.ClusterName()
	return err
}

// binding is the access the flags ask for, and how many of --role, --clusterrole and
// --no-binding were given.
func (o *UserCreateOptions) binding() (kind, name string, given int) {
	kind = users.BindNone
	if o.Role != "" {
		kind, name, given = users.BindTemplate, o.Role, given+1
	}
	if o.ClusterRole != "" {
		kind, name, given = users.BindClusterRole, o.ClusterRole, given+1
	}
	if o.NoBinding {
		given++
	}
	return kind, name, given
}

// Validate checks the flags and NAME with users.ValidateInput; it does no I/O. Run (users.Create)
// checks the output file, the kubeconfig to merge into, the CA files and the namespace before it
// creates anything.
func (o *UserCreateOptions) Validate() error {
	if _, _, given := o.binding(); given != 1 {
		return errors.New("choose exactly one of --role TEMPLATE, --clusterrole NAME and --no-binding")
	}
	opts, err := o.createOptions()
	if err != nil {
		return err
	}
	return users.ValidateInput(opts)
}

// createOptions are the options of users.Create, from the flags and what Complete resolved.
func (o *UserCreateOptions) createOptions() (users.CreateOptions, error) {
	keyType, err := certs.ParseKeyType(o.KeyType)
	if err != nil {
		return users.CreateOptions{}, err
	}
	kind, name, _ := o.binding()
	return users.CreateOptions{
		Name: o.Name, Groups: o.Groups, Namespace: o.namespace, BindKind: kind, BindName: name,
		Expiration: o.Expiration, KeyType: keyType, ContextName: o.ContextName, Cluster: o.cluster,
		OutputKubeconfig: o.Output, Merge: o.Merge, MergeKubeconfig: o.mergeConfig, Overwrite: o.Overwrite,
		Approve: o.Approve, SignTimeout: o.Timeout, CACert: o.CACert, CAKey: o.CAKey,
		AllowPrivilegedGroup: o.AllowPrivileged,
	}, nil
}

// Run creates the user and prints what was done and what the new credentials may do.
func (o *UserCreateOptions) Run(ctx context.Context) error {
	opts, err := o.createOptions()
	if err != nil {
		return err
	}
	if o.caFile != "" {
		data, err := os.ReadFile(o.caFile)
		if err != nil {
			return fmt.Errorf("reading the cluster CA %s: %v", o.caFile, err)
		}
		opts.Cluster.CAData = data
	}
	res, err := users.Create(ctx, o.client, opts, time.Now())
	if err != nil {
		return cmdutil.FriendlyError(err, opts.Cluster.Server)
	}
	return o.printer.Print(o.Out, "UserCreation", res, func(w io.Writer) error { return printUserCreated(w, res) })
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", strings.Join(a.Verbs, ","), cmdutil.OrDash(quoteGroups(a.APIGroups)), strings.Join(a.Resources, ","), cmdutil.OrDash(strings.Join(a.ResourceNames, ",")))
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
