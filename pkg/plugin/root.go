// Package plugin is the root of kubectl-clusterops' command layer: it wires the command groups
// together and does nothing else. Each group is a package below it (pkg/plugin/<group>), each
// command built with the kubectl Options pattern (NewCmdX, XOptions with Complete/Validate/Run) on
// the shared plumbing in pkg/plugin/cmdutil. Domain logic lives in the domain packages; nothing
// here exits the process or writes to os.Stdout.
package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/automate"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cluster"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/completion"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/contexts"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/etcd"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/rbac"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/staticpods"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/upgrade"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/user"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/version"
)

const rootLong = `kubectl clusterops groups the day-2 work of a kubeadm-style Kubernetes cluster.
It uses your current kubeconfig and accepts every kubectl global flag
(--kubeconfig, --context, -n, --as, --request-timeout, ...).

Command groups:
  user        Onboard a person: key, CSR, signed certificate, kubeconfig credentials and
              context, RBAC binding, verification
  rbac        Roles and bindings from templates, access matrix, who-can, risky-permission audit
  certs       Expiry of every control-plane certificate and kubeconfig, renewal, CA status
  upgrade     Upgrade plan: versions, version-skew policy, minor-by-minor path, deprecated APIs,
              drain blockers
  etcd        Snapshot save / status / verify / restore, retention, member health
  automate    Scheduled etcd backups (node or S3) and certificate renewal, run in the cluster
  staticpods  Static pod manifests vs mirror pods: drift and health
  cluster     Architecture overview: control-plane health, nodes, CoreDNS, kube-proxy, CNI,
              pod/service CIDRs, NetworkPolicy support
  agent       Agent pods: node-level commands run on nodes with --node/--control-plane, no SSH
  contexts    Every kubeconfig context checked at once; prune what no longer works
The commands available in this build are listed below.

Exit codes:
  0  success, or a check found nothing to report
  1  a check found warnings
  2  a check found a problem (expired, violated, unhealthy)
  3  the command could not run (bad input, unreachable or forbidden cluster)`

const rootExample = `  # Show the plugin's version and the version of the cluster it talks to
  kubectl clusterops version

  # Use another kubeconfig context, as with any kubectl command
  kubectl clusterops version --context prod

  # Set up tab completion through kubectl (1.26 or later)
  kubectl clusterops completion kubectl-plugin --install`

// NewCmdRoot returns the root command with every command group attached. Each call builds a fresh,
// independent command tree. The root only wires the groups together: each group lives in its own
// package under pkg/plugin, built by NewCmdX(f cmdutil.Factory, streams).
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewRootCommand(streams, "Day-2 operations for kubeadm-style Kubernetes clusters", rootLong,
		version.NewCmdVersion,
		completion.NewCmdCompletion,
		certs.NewCmdCerts,
		rbac.NewCmdRBAC,
		user.NewCmdUser,
		etcdWithScheduleAlias,
		upgrade.NewCmdUpgrade,
		staticpods.NewCmdStaticPods,
		cluster.NewCmdCluster,
		automate.NewCmdAutomate,
		agent.NewCmdAgent,
		contexts.NewCmdContexts,
	)
	cmd.Example = rootExample
	return cmd
}

// etcdWithScheduleAlias is the etcd group with the old `etcd snapshot schedule`, now an alias of
// `automate etcd-backup` (wired here: a group never imports another).
func etcdWithScheduleAlias(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := etcd.NewCmdEtcd(f, streams)
	if snapshot, _, err := cmd.Find([]string{"snapshot"}); err == nil && snapshot != cmd {
		snapshot.AddCommand(automate.NewCmdEtcdBackup(f, streams, true))
	}
	return cmd
}
