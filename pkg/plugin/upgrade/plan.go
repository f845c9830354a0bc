package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
)

// NewCmdUpgrade returns the `upgrade` command group.
func NewCmdUpgrade(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := cmdutil.NewGroupCommand("upgrade", "Plan a Kubernetes upgrade: versions, skew policy, path, removed APIs, drain blockers",
		"Plan a Kubernetes upgrade of a kubeadm-style cluster. The commands only read the cluster.")
	cmd.Example = `  # The path to the latest patch of the next minor, with every check
  kubectl clusterops upgrade plan

  # A runbook for a change ticket
  kubectl clusterops upgrade plan -o markdown > upgrade-runbook.md`
	cmd.AddCommand(NewCmdUpgradePlan(f, streams))
	return cmd
}

// UpgradePlanOptions holds the flags and clients of `upgrade plan`.
type UpgradePlanOptions struct {
	To             string
	ReleasesFile   string
	Online         bool
	KubectlVersion string
	ChunkSize      int64
	HelmReleases   bool
	Trace          bool

	output   *cmdutil.OutputFlags
	printer  *cmdutil.Printer
	markdown bool
	releases *upgrade.Releases
	sources  upgrade.Sources
	server   string
	timeout  time.Duration
	// fetch reads a URL for --online (replaced in tests).
	fetch upgrade.Getter

	genericiooptions.IOStreams
}

const upgradePlanLong = `Plan the upgrade of the cluster to --to (default: the newest patch of the next minor,
else of the current minor), one minor at a time, checked against the Kubernetes
version-skew policy:
  - kubelet and kube-proxy: never newer than kube-apiserver, at most 3 minors older
    (2 for a version below 1.25); on a kubeadm control-plane node the kubelet talks to its
    own node's kube-apiserver and is compared with that one (so a half-upgraded HA control
    plane is no violation, and its plan goes on with kubeadm upgrade node);
  - kube-proxy: within 3 minors, older or newer, of the kubelet on its node (2 below 1.25);
    its version is the image tag of its pod on each node (the kube-system/kube-proxy
    DaemonSet or a static pod) and of the DaemonSet's template, never the deprecated
    status.nodeInfo.kubeProxyVersion;
  - kube-controller-manager and kube-scheduler: within [apiserver-1, apiserver];
  - cloud-controller-manager (a static pod, or a DaemonSet's or Deployment's pod, found by
    container name or image): within [apiserver-1, apiserver] of every apiserver; a tag more
    than 3 minors behind is a warning (some providers number it on their own);
  - kubectl: within one minor of kube-apiserver (a warning: it is the client's skew);
  - HA kube-apiservers: within one minor of each other.
For each hop it lists, in order: an etcd snapshot, the control-plane nodes one at a time with
their kubeadm commands (kubeadm upgrade apply on the first, kubeadm upgrade node on the others;
each upgrades its node's etcd, and CoreDNS and kube-proxy move with the last one), kubeadm's
etcd and CoreDNS versions for that minor, and the worker nodes that must move before the next
hop. Without kubeadm and with several control-plane nodes, every kube-apiserver comes first,
then the controller-managers and schedulers, then the control-plane kubelets. Every drain is
printed with --ignore-daemonsets --delete-emptydir-data. It also lists the APIs each hop removes that are
in use, labelled by source: "apiserver-metric" (apiserver_requested_deprecated_apis: some
client requested it), "managedFields" or "last-applied-annotation" (a stored object was
written with it), "helm release NAME (NAMESPACE, revision N)" (the manifest of the latest
deployed revision of a Helm 3 release has it: the next helm upgrade fails on it; read from the
release Secrets, --helm-releases=false to skip); and what would block each node's drain,
judged as the eviction subresource and kubectl drain judge it: pods a PodDisruptionBudget refuses now (Pending pods,
pods being deleted, and not-Ready pods the budget lets go are not listed), pods selected by
more than one PodDisruptionBudget, bare pods, pods of a DaemonSet that no longer exists,
emptyDir data; and which DaemonSets stay.

Facts are read with paginated lists (--chunk-size) and metadata-only lists. Target versions
come from a release table built into the binary, from --releases FILE (one version a line),
or with --online from the official stable markers at dl.k8s.io. Without --online the command
never touches the network beyond the cluster. Facts that cannot be read (forbidden) are
listed and the plan is made from the rest.

Exit codes:
  0  the plan is clean
  1  warnings: removed APIs in use, drain blockers, facts that could not be read, ...
  2  the version-skew policy is already violated, or the target cannot be reached
  3  the command could not run: bad --to, bad --releases, unreachable cluster`

const upgradePlanExample = `  # Plan to the newest patch of the next minor
  kubectl clusterops upgrade plan

  # Plan a path over several minors, as a checklist for a change ticket
  kubectl clusterops upgrade plan --to v1.40.1 --releases releases.txt -o markdown

  # Only the removed APIs in use, as JSON
  kubectl clusterops upgrade plan -o jsonpath='{.removedAPIs}'`

// NewCmdUpgradePlan returns `upgrade plan`.
func NewCmdUpgradePlan(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UpgradePlanOptions{output: cmdutil.NewOutputFlags(), ChunkSize: 500, HelmReleases: true, IOStreams: streams, fetch: httpFetch}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:     "plan [--to vX.Y.Z]",
		Short:   "Plan the upgrade path, checked against the version-skew policy",
		Long:    upgradePlanLong,
		Example: upgradePlanExample,
		Args:    cmdutil.UsageArgs(cobra.NoArgs),
	}, f, o)
	flags := cmd.Flags()
	flags.StringVar(&o.To, "to", "", "Target version, e.g. v1.38.2 (default: the newest patch of the next minor).")
	flags.StringVar(&o.ReleasesFile, "releases", "", "Release table to use instead of the built-in one: one version a line.")
	flags.BoolVar(&o.Online, "online", false, "Also read the official stable-1.N markers from https://dl.k8s.io (the only network access besides the cluster).")
	flags.StringVar(&o.KubectlVersion, "kubectl-version", "", "The kubectl client version to check (default: ask the kubectl on PATH).")
	flags.Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "Objects per list request.")
	flags.BoolVar(&o.HelmReleases, "helm-releases", o.HelmReleases, "Read the Helm 3 release Secrets (type helm.sh/release.v1) for removed APIs in the latest deployed revision of each release; --helm-releases=false skips them (and reading Secrets).")
	flags.BoolVar(&o.Trace, "trace", false, "Print how long each fact took to read, to stderr.")
	_ = flags.MarkHidden("trace")
	o.output.AddFlags(cmd)
	out := flags.Lookup("output")
	out.Usage += " Also: markdown (a runbook checklist)."
	cmdutil.AddFleetFlags(cmd, f, streams, NewCmdUpgradePlan)
	return cmd
}

// Complete builds the printer, reads the release table and builds the clients through the
// Factory. It contacts no cluster.
func (o *UpgradePlanOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	var err error
	if o.output.Format() == "markdown" {
		o.markdown = true
	} else if o.printer, err = o.output.ToPrinter(); err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("%s (or markdown, for a runbook checklist)", err)}
	}
	o.releases = upgrade.BuiltinReleases()
	if o.ReleasesFile != "" {
		data, err := os.ReadFile(o.ReleasesFile)
		if err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("cannot read --releases: %s; pass a file with one version a line, such as v1.37.2", cmdutil.OneLine(err.Error()))}
		}
		if o.releases, err = upgrade.ParseReleases(data, o.ReleasesFile); err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
		}
	}
	// The lists are paginated: a higher client-side rate limit than client-go's default of 5
	// requests a second.
	client, config, err := f.ClientSetWith(cmdutil.ClientOptions{QPS: 100, Burst: 200, Protobuf: true})
	if err != nil {
		return err
	}
	meta, err := f.MetadataWith(cmdutil.ClientOptions{QPS: 100, Burst: 200})
	if err != nil {
		return err
	}
	o.server = config.Host
	// The whole plan is bounded by --request-timeout, or by 2 minutes when it is not set.
	if o.timeout = config.Timeout; o.timeout <= 0 {
		o.timeout = 2 * time.Minute
	}
	o.sources = upgrade.Sources{
		Client: client, Metadata: meta, PageSize: o.ChunkSize, KubectlVersion: o.KubectlVersion, Helm: o.HelmReleases,
		Metrics: func(ctx context.Context) ([]byte, error) {
			return client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		},
		Describe: func(err error) string { return cmdutil.FriendlyError(err, o.server).Error() },
	}
	if o.Trace {
		var mu sync.Mutex
		o.sources.Trace = func(task string, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(o.ErrOut, "trace: %-22s %s\n", task, took.Round(time.Millisecond))
		}
	}
	return nil
}

// Validate checks the flags; it does no I/O.
func (o *UpgradePlanOptions) Validate() error {
	if o.To != "" {
		if _, err := utilversion.ParseSemantic(o.To); err != nil {
			return fmt.Errorf("--to %q is not a version: write it as vMAJOR.MINOR.PATCH, for example v1.38.2", o.To)
		}
	}
	if o.ChunkSize <= 0 {
		return fmt.Errorf("--chunk-size must be a positive number, got %d", o.ChunkSize)
	}
	if o.KubectlVersion != "" {
		if _, err := utilversion.ParseSemantic(o.KubectlVersion); err != nil {
			return fmt.Errorf("--kubectl-version %q is not a version such as v1.37.2", o.KubectlVersion)
		}
	}
	return nil
}

// Run gathers the facts, plans and prints. The exit status follows the plan's status.
func (o *UpgradePlanOptions) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	kubectl := make(chan string, 1)
	if o.sources.KubectlVersion == "" {
		go func() { kubectl <- kubectlClientVersion(ctx) }()
	} else {
		kubectl <- o.sources.KubectlVersion
	}
	start := time.Now()
	facts, err := upgrade.Gather(ctx, o.sources)
	if o.sources.Trace != nil {
		o.sources.Trace("gather (all)", time.Since(start))
	}
	if err != nil {
		return cmdutil.FriendlyError(err, o.server)
	}
	if facts.KubectlVersion = <-kubectl; facts.KubectlVersion == "" {
		facts.Missing = append(facts.Missing, upgrade.MissingFact{Fact: "kubectl client version",
			Reason: "no kubectl on PATH answered `kubectl version --client`; pass --kubectl-version"})
	}
	hint := "refresh the built-in table with `go generate ./pkg/upgrade` (or `go run ./hack/gen-releases -online`) and rebuild, pass --releases FILE, or use --online"
	if o.Online {
		if err := o.addOnline(ctx, facts); err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: fmt.Errorf("--online: %s", cmdutil.OneLine(err.Error()))}
		}
	}
	start = time.Now()
	plan, err := upgrade.MakePlan(facts, upgrade.Options{Target: o.To, Releases: o.releases, RefreshHint: hint})
	if o.sources.Trace != nil {
		o.sources.Trace("plan", time.Since(start))
		start = time.Now()
		defer func() { o.sources.Trace("print", time.Since(start)) }()
	}
	if err != nil { // an *upgrade.InputError (a bad --to for this cluster), or no cluster version: exit 3
		return &cmdutil.ExitError{Code: cmdutil.ExitCannotRun, Err: err}
	}
	if o.markdown {
		err = printPlanMarkdown(o.Out, plan)
	} else {
		err = o.printer.Print(o.Out, "UpgradePlan", plan, func(w io.Writer) error { return printPlanTable(w, plan) })
	}
	if err != nil {
		return err
	}
	switch plan.Status {
	case upgrade.StatusViolated:
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems}
	case upgrade.StatusWarnings:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
	return nil
}

func (o *UpgradePlanOptions) addOnline(ctx context.Context, facts *upgrade.Facts) error {
	from := uint(0)
	major := uint(1)
	if v, err := utilversion.ParseSemantic(facts.APIServerVersion); err == nil {
		major, from = v.Major(), v.Minor()
	}
	online, err := upgrade.FetchStableMarkers(ctx, o.fetch, major, from)
	if err != nil {
		return err
	}
	o.releases.Merge(online)
	o.releases.Source += " + online stable markers"
	return nil
}

func httpFetch(ctx context.Context, url string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return body, true, err
}

// kubectlClientVersion asks the kubectl on PATH for its version ("" if there is none).
func kubectlClientVersion(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, path, "version", "--client", "-o", "json").Output()
	if err != nil {
		return ""
	}
	var v struct {
		ClientVersion struct {
			GitVersion string `json:"gitVersion"`
		} `json:"clientVersion"`
	}
	if json.Unmarshal(out, &v) != nil {
		return ""
	}
	return v.ClientVersion.GitVersion
}
