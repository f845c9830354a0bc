package automate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// RunOptions holds the flags of the hidden `automate run KIND`, the entry point of the
// automations' jobs (in their pods: the node at /host, the service account's credentials).
type RunOptions struct {
	Kind, Name             string
	Args                   []string
	Within                 string
	KeepBackups            int
	KubeconfigDir, CertDir string
	APIServerPort          int

	within time.Duration
	local  *rest.Config
	env    automate.Env
	genericiooptions.IOStreams
}

// NewCmdRun returns the hidden `automate run`.
func NewCmdRun(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RunOptions{Within: "30d", KeepBackups: 5, KubeconfigDir: "/etc/kubernetes", CertDir: "/etc/kubernetes/pki", IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:    "run etcd-backup|cert-renewal [-- ARGS]",
		Short:  "Run one automation in its job's pod (used by the CronJobs)",
		Hidden: true,
		Args:   cmdutil.UsageArgs(cobra.MinimumNArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.Name, "name", "", "The automation's name.")
	cmd.Flags().StringVar(&o.Within, "within", o.Within, "cert-renewal: renew what expires within this time.")
	cmd.Flags().IntVar(&o.KeepBackups, "keep-backups", o.KeepBackups, "cert-renewal: PKI backups to keep.")
	cmd.Flags().StringVar(&o.KubeconfigDir, "kubeconfig-dir", o.KubeconfigDir, "cert-renewal: kubeadm's kubeconfig dir on the node.")
	cmd.Flags().StringVar(&o.CertDir, "cert-dir", o.CertDir, "cert-renewal: kubeadm's certificate dir on the node.")
	cmd.Flags().IntVar(&o.APIServerPort, "apiserver-port", 6443, "The port of this node's kube-apiserver.")
	return cmd
}

// Complete takes the kind and the save arguments, and builds the run's environment.
func (o *RunOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Kind = args[0]
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		o.Args = args[dash:]
	}
	var err error
	if o.within, err = cmdutil.ParseLongDuration("within", o.Within); err != nil {
		return err
	}
	// Everything this run and its steps ask the API goes to this node's own kube-apiserver.
	hostIP := os.Getenv("HOST_IP")
	if hostIP == "" {
		return errors.New("HOST_IP is not set: automate run runs in an automation's job pod")
	}
	o.local = automate.LocalAPIServer(hostIP, o.APIServerPort)
	kubeconfig := filepath.Join(os.TempDir(), "clusterops-job.kubeconfig")
	if err := automate.WriteKubeconfig(o.local, kubeconfig); err != nil {
		return err
	}
	if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
		return err
	}
	client, err := f.ForKubeconfig(kubeconfig).ClientSet()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.env = automate.Env{
		Name: o.Name, Namespace: os.Getenv("POD_NAMESPACE"), Node: os.Getenv("NODE_NAME"), Pod: os.Getenv("POD_NAME"),
		Client: client, Clock: time.Now, Log: o.ErrOut,
		Exec: func(ctx context.Context, args ...string) ([]byte, []byte, int, error) {
			var stdout, stderr bytes.Buffer
			c := exec.CommandContext(ctx, self, args...)
			c.Stdout, c.Stderr = &stdout, &stderr
			err := c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return stdout.Bytes(), stderr.Bytes(), ee.ExitCode(), nil
			}
			return stdout.Bytes(), stderr.Bytes(), 0, err
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
				return nil
			}
		},
	}
	if o.env.Namespace == "" {
		o.env.Namespace = agent.DefaultNamespace
	}
	return nil
}

// Validate checks the kind and the name; it does no I/O.
func (o *RunOptions) Validate() error {
	switch {
	case o.Name == "":
		return errors.New("--name is required")
	case o.Kind == automate.KindEtcdBackup && len(o.Args) == 0:
		return errors.New("etcd-backup needs the save command after --")
	case o.Kind != automate.KindEtcdBackup && o.Kind != automate.KindCertRenewal:
		return fmt.Errorf("unknown automation %q: etcd-backup or cert-renewal", o.Kind)
	}
	return nil
}

// Run runs the automation and prints its record as JSON (also the pod's log).
func (o *RunOptions) Run(ctx context.Context) error {
	var r automate.Run
	var err error
	if o.Kind == automate.KindEtcdBackup {
		r, err = automate.EtcdBackupRun(ctx, o.env, o.Args)
	} else {
		r, err = automate.CertRenewalRun(ctx, o.env, automate.CertRenewalOptions{
			Within: o.within, KeepBackups: o.KeepBackups, KubeconfigDir: o.KubeconfigDir, CertDir: o.CertDir,
			LeaseDuration: 30 * time.Minute, HealthTimeout: 5 * time.Minute,
			Ready: automate.APIServerReady(o.local),
		})
	}
	fmt.Fprintln(o.Out, r.Message)
	if err != nil {
		return &cmdutil.ExitError{Code: 2, Err: errors.New(cmdutil.OneLine(r.Message))}
	}
	return nil
}

func timeNow() time.Time { return time.Now() }
