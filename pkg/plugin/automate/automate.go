// Package automate is the `automate` command group: scheduled etcd snapshots and certificate
// renewal installed as CronJobs that run this plugin's own image, their status, and their removal.
package automate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

const automateLong = `Maintenance that runs in the cluster, on this plugin's own image, with nothing on the nodes
but what the kubelet already runs:

  etcd-backup    scheduled etcd snapshots (from a healthy follower), verified, kept on the node
                 or uploaded to S3-compatible object storage, pruned by your retention
  cert-renewal   renewal of the kubeadm certificates that expire soon, one control-plane node at
                 a time, with backups and a health check after each node's restarts
  status         the last run of each, the age of the newest snapshot, the soonest expiry, the next
                 run; exit codes and Prometheus metrics for alerting
  remove         removes exactly what automate installed

Everything installed carries app.kubernetes.io/managed-by=kubectl-clusterops and
clusterops.io/automation-name=NAME; an object of the same name without them is refused (one line,
exit 3) unless --take-over. Each automation has its own ServiceAccount whose Role reaches only
its own status ConfigMap, its own CronJobs (read), Events (create) and, for cert-renewal, its own
Lease.

The image is --image, $` + cmdutil.ImageEnv + `, or the release's ` + cmdutil.ImageRepository + `:<version>;
the CronJobs keep the image they were installed with: run the command again after an upgrade.`

// NewCmdAutomate returns the `automate` group.
func NewCmdAutomate(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("automate", "Scheduled etcd backups and certificate renewal, run in the cluster", automateLong)
	cmd.Example = `  # Snapshots every 6 hours into a node directory, keeping 7
  kubectl clusterops automate etcd-backup --to /var/backups/etcd --keep 7

  # ... or into a bucket, with credentials from a Secret
  kubectl clusterops automate etcd-backup --to s3://backups/prod-etcd --s3-secret etcd-backup-s3

  # Renew what expires within 30 days, weekly, node by node
  kubectl clusterops automate cert-renewal

  kubectl clusterops automate status
  kubectl clusterops automate remove etcd-backup`
	cmd.AddCommand(NewCmdEtcdBackup(f, streams, false), NewCmdCertRenewal(f, streams), NewCmdStatus(f, streams),
		NewCmdRemove(f, streams), NewCmdRun(f, streams))
	return cmd
}

// installFlags are the flags both installers share.
type installFlags struct {
	Name, Schedule, Image, DryRun string
	TakeOver                      bool
	Deadline                      time.Duration
	APIServerPort                 int

	namespace string
	client    kubernetes.Interface
	server    string
	printer   *cmdutil.Printer
	output    *cmdutil.OutputFlags
}

func (i *installFlags) addFlags(cmd *cobra.Command, name, schedule string, deadline time.Duration) {
	i.Name, i.Schedule, i.Deadline, i.DryRun, i.output = name, schedule, deadline, "none", cmdutil.NewOutputFlags()
	cmd.Flags().StringVar(&i.Name, "name", i.Name, "Name of the automation: its CronJob(s), ServiceAccount, Role, status ConfigMap.")
	cmd.Flags().StringVar(&i.Schedule, "schedule", i.Schedule, "Cron schedule (five fields, UTC unless the CronJob controller runs elsewhere).")
	cmd.Flags().StringVar(&i.Image, "image", "", "This plugin's image for the jobs (default "+cmdutil.ImageRepository+":<version>, or $"+cmdutil.ImageEnv+").")
	cmd.Flags().DurationVar(&i.Deadline, "deadline", i.Deadline, "activeDeadlineSeconds of each run: the kubelet stops it then.")
	cmd.Flags().BoolVar(&i.TakeOver, "take-over", false, "Replace objects of the same names that kubectl-clusterops did not make.")
	cmd.Flags().StringVar(&i.DryRun, "dry-run", i.DryRun, `"client": print the objects, touch nothing; "server": the API server checks them, nothing is saved; "none".`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().IntVar(&i.APIServerPort, "apiserver-port", 0, "The port kube-apiserver listens on on the control-plane nodes, which the jobs talk to (default: the kubernetes Endpoints' port, 6443 with --dry-run=client).")
	i.output.AddFlags(cmd)
}

func (i *installFlags) complete(f cmdutil.Factory) error {
	var err error
	if i.printer, err = i.output.ToPrinter(); err != nil {
		return err
	}
	if i.Image, err = cmdutil.AgentImage(i.Image); err != nil {
		return err
	}
	i.namespace = namespace(f)
	if i.DryRun == "client" {
		return nil
	}
	if i.client, err = f.ClientSet(); err != nil {
		return err
	}
	i.server = f.Server()
	return nil
}

// apiserverPort is --apiserver-port, or the port of the kubernetes Endpoints (the control-plane
// nodes' own), or 6443.
func (i *installFlags) apiserverPort(ctx context.Context) int {
	if i.APIServerPort > 0 {
		return i.APIServerPort
	}
	if i.client == nil {
		return 6443
	}
	ep, err := i.client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err == nil {
		for _, p := range ep.Ports {
			if p.Port != nil && p.Name != nil && *p.Name == "https" {
				return int(*p.Port)
			}
		}
	}
	return 6443
}

func (i *installFlags) validate() error {
	if errs := validation.IsDNS1123Label(i.Name); len(errs) > 0 || len(i.Name) > 40 {
		return fmt.Errorf("invalid --name %q: use a DNS label of at most 40 characters (lowercase letters, digits, '-')", i.Name)
	}
	if _, err := cron.ParseStandard(i.Schedule); err != nil {
		return fmt.Errorf("invalid --schedule %q: use a cron expression of five fields, e.g. \"0 */6 * * *\" (%s)", i.Schedule, cmdutil.OneLine(err.Error()))
	}
	if i.APIServerPort < 0 || i.APIServerPort > 65535 {
		return fmt.Errorf("invalid --apiserver-port %d", i.APIServerPort)
	}
	if i.Deadline < time.Minute {
		return fmt.Errorf("--deadline %s is too short: use at least 1m", i.Deadline)
	}
	switch i.DryRun {
	case "none", "client", "server":
	default:
		return fmt.Errorf("invalid --dry-run %q: use client, server or none", i.DryRun)
	}
	return nil
}

// install applies (or prints) the objects and prints what changed.
func (i *installFlags) install(ctx context.Context, out io.Writer, kind string, objs automate.Objects, hint string) error {
	if i.DryRun == "client" {
		return i.printer.PrintObject(out, objectList(objs))
	}
	changes, err := automate.Install(ctx, i.client, objs, i.TakeOver, i.DryRun == "server")
	if errors.Is(err, automate.ErrForeign) {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: errors.New(cmdutil.OneLine(err.Error()))}
	}
	if err != nil {
		return cmdutil.FriendlyError(err, i.server)
	}
	return i.printer.Print(out, "AutomationInstall", struct {
		Automation string            `json:"automation"`
		Name       string            `json:"name"`
		Namespace  string            `json:"namespace"`
		Changes    []automate.Change `json:"changes"`
	}{kind, i.Name, i.namespace, changes}, func(w io.Writer) error {
		for _, c := range changes {
			fmt.Fprintf(w, "%s/%s %s\n", strings.ToLower(c.Kind), c.Name, c.Action)
		}
		if hint != "" && i.DryRun == "none" {
			fmt.Fprintln(w, hint)
		}
		return nil
	})
}

// objectList is the objects as a v1 List, for --dry-run=client.
func objectList(o automate.Objects) *corev1.List {
	l := &corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	add := func(obj runtime.Object, apiVersion, kind string) {
		obj.GetObjectKind().SetGroupVersionKind(schemaGVK(apiVersion, kind))
		l.Items = append(l.Items, runtime.RawExtension{Object: obj})
	}
	add(o.ServiceAccount, "v1", "ServiceAccount")
	add(o.Role, "rbac.authorization.k8s.io/v1", "Role")
	add(o.RoleBinding, "rbac.authorization.k8s.io/v1", "RoleBinding")
	add(o.ConfigMap, "v1", "ConfigMap")
	if o.Lease != nil {
		add(o.Lease, "coordination.k8s.io/v1", "Lease")
	}
	for _, cj := range o.CronJobs {
		add(cj, "batch/v1", "CronJob")
	}
	return l
}

// controlPlaneNodes lists the nodes with the control-plane role.
func controlPlaneNodes(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: agent.LabelControlPlane})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	return names, nil
}

// checkS3Secret fails when the Secret the job will read its credentials from is missing or has no
// access key pair (only the key names are looked at).
func checkS3Secret(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf(
			"secret %s/%s not found: create it with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL_S3, AWS_REGION for a non-AWS store), or fix --s3-secret", ns, name)}
	}
	if err != nil {
		return err
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if _, ok := s.Data[k]; !ok {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("secret %s/%s has no key %s: the job reads its S3 credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", ns, name, k)}
		}
	}
	return nil
}

// namespace is -n, or kube-system (where the control plane's own objects live).
func namespace(f cmdutil.Factory) string {
	ns, explicit, err := f.Namespace()
	if err != nil || !explicit {
		return agent.DefaultNamespace
	}
	return ns
}
