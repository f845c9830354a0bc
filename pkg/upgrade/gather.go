package upgrade

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/yaml"
)

// Sources are what Gather reads from. Everything is read-only.
type Sources struct {
	Client kubernetes.Interface
	// Metadata lists objects as PartialObjectMetadata for the stored-object scan (nil: skipped).
	Metadata metadata.Interface
	// Metrics returns the apiserver's /metrics text (nil: the metric check is skipped).
	Metrics func(ctx context.Context) ([]byte, error)
	// KubectlVersion is the kubectl client's gitVersion, found by the caller ("" if unknown).
	KubectlVersion string
	// Helm says to read the Helm 3 release Secrets (needs Metadata; it reads Secrets, so it
	// can be turned off).
	Helm bool
	// PageSize is the limit of each list request (default 500).
	PageSize int64
	// Trace, when set, receives how long each gathering task took.
	Trace func(task string, took time.Duration)
	// Describe turns an API error into a one-line reason for MissingFact (nil: err.Error()).
	Describe func(error) string
}

// Gather reads the cluster facts, in parallel, with paginated lists. A fact that cannot be read
// (forbidden, not served) is recorded in Facts.Missing; only an unreachable or refusing apiserver
// (the /version request fails other than by Forbidden) is an error.
func Gather(ctx context.Context, src Sources) (*Facts, error) {
	if src.PageSize <= 0 {
		src.PageSize = 500
	}
	f := &Facts{KubectlVersion: src.KubectlVersion}
	// GET /version with ctx, so that a cancelled or expired context stops it.
	info, err := discovery.ToServerVersionInterfaceWithContext(src.Client.Discovery()).ServerVersionWithContext(ctx)
	switch {
	case err == nil:
		f.APIServerVersion = info.GitVersion
	case apierrors.IsForbidden(err):
		f.Missing = append(f.Missing, MissingFact{Fact: "apiserver /version", Reason: src.describe(err)})
	default:
		return nil, err
	}
	var mu sync.Mutex
	missing := func(fact string, err error) {
		mu.Lock()
		defer mu.Unlock()
		f.Missing = append(f.Missing, MissingFact{Fact: fact, Reason: src.describe(err)})
	}
	type task struct {
		name string
		fn   func()
	}
	tasks := []task{
		{"nodes", func() {
			if err := gatherNodes(ctx, src, f); err != nil {
				missing("nodes (kubelet and kube-proxy versions)", err)
			}
		}},
		{"pods", func() {
			if err := gatherPods(ctx, src, f); err != nil {
				missing("pods (control-plane mirror pods, drain blockers)", err)
			}
		}},
		{"poddisruptionbudgets", func() {
			if err := gatherPDBs(ctx, src, f); err != nil {
				missing("poddisruptionbudgets (drain blockers)", err)
			}
		}},
		{"daemonsets", func() {
			if err := gatherDaemonSets(ctx, src, f); err != nil {
				missing("daemonsets (orphaned DaemonSet pods, kube-proxy)", err)
			}
		}},
		{"coredns", func() {
			d, err := src.Client.AppsV1().Deployments(metav1.NamespaceSystem).Get(ctx, "coredns", metav1.GetOptions{})
			switch {
			case err == nil:
				for _, c := range d.Spec.Template.Spec.Containers {
					if c.Name == "coredns" || f.CoreDNSImage == "" {
						f.CoreDNSImage = c.Image
					}
				}
			case !apierrors.IsNotFound(err):
				missing("kube-system/coredns Deployment", err)
			}
		}},
		{"kubeadm-config", func() {
			cm, err := src.Client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "kubeadm-config", metav1.GetOptions{})
			switch {
			case err == nil:
				kc, perr := parseClusterConfiguration(cm.Data["ClusterConfiguration"])
				if perr != nil {
					missing("kube-system/kubeadm-config", perr)
					return
				}
				f.Kubeadm = kc
			case !apierrors.IsNotFound(err):
				missing("kube-system/kubeadm-config", err)
			}
		}},
	}
	if src.Metrics != nil {
		tasks = append(tasks, task{"metrics", func() {
			body, err := src.Metrics(ctx)
			if err != nil {
				missing("apiserver /metrics (apiserver_requested_deprecated_apis)", err)
				return
			}
			f.DeprecatedRequests = ParseDeprecatedMetric(body)
		}})
	}
	if src.Metadata != nil {
		tasks = append(tasks, task{"stored-objects", func() {
			objs, errs := scanStored(ctx, src)
			f.StoredObjects = objs
			for _, e := range errs {
				missing(e.Fact, fmt.Errorf("%s", e.Reason))
			}
		}})
	}
	if src.Metadata != nil && src.Helm {
		tasks = append(tasks, task{"helm-releases", func() {
			objs, err := scanHelm(ctx, src)
			f.HelmObjects = objs
			if err != nil {
				missing("helm release Secrets (removed APIs in Helm releases)", err)
			}
		}})
	}
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			t.fn()
			if src.Trace != nil {
				src.Trace(t.name, time.Since(start))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	assignKubeProxies(f)
	return f, nil
}

func (s Sources) describe(err error) string {
	if s.Describe != nil {
		return s.Describe(err)
	}
	return err.Error()
}

func parseClusterConfiguration(text string) (*KubeadmConfig, error) {
	var cc struct {
		KubernetesVersion string `json:"kubernetesVersion"`
		ClusterName       string `json:"clusterName"`
		Etcd              struct {
			External *struct{} `json:"external"`
		} `json:"etcd"`
		DNS struct {
			Disabled bool `json:"disabled"`
		} `json:"dns"`
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("the ConfigMap has no ClusterConfiguration key")
	}
	if err := yaml.Unmarshal([]byte(text), &cc); err != nil {
		return nil, fmt.Errorf("its ClusterConfiguration is not valid YAML: %w", err)
	}
	return &KubeadmConfig{KubernetesVersion: cc.KubernetesVersion, ClusterName: cc.ClusterName,
		ExternalEtcd: cc.Etcd.External != nil, DNSDisabled: cc.DNS.Disabled}, nil
}

func gatherNodes(ctx context.Context, src Sources, f *Facts) error {
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Client.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range list.Items {
			n := &list.Items[i]
			_, cp := n.Labels["node-role.kubernetes.io/control-plane"]
			// status.nodeInfo.kubeProxyVersion is not read: the kubelet fills it with its own
			// version, or leaves it empty (the default since 1.33). See kubeproxy.go.
			f.Nodes = append(f.Nodes, NodeFacts{Name: n.Name, Kubelet: n.Status.NodeInfo.KubeletVersion, ControlPlane: cp})
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

// controlPlaneComponents are kubeadm's static pods, by their "component" label.
var controlPlaneComponents = map[string]bool{"kube-apiserver": true, "kube-controller-manager": true, "kube-scheduler": true, "etcd": true}

// gatherPods lists every pod, namespace by namespace on 4 workers (each namespace paginated), so
// the apiserver serves several pages at once; if namespaces cannot be listed it falls back to
// one paginated cluster-wide list.
func gatherPods(ctx context.Context, src Sources, f *Facts) error {
	var namespaces []string
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Client.CoreV1().Namespaces().List(ctx, opts)
		if err != nil {
			namespaces = []string{metav1.NamespaceAll}
			break
		}
		for _, ns := range list.Items {
			namespaces = append(namespaces, ns.Name)
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		next  = make(chan string)
		cps   = map[string]*ControlPlaneNode{}
	)
	for range min(4, len(namespaces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ns := range next {
				scan, err := listPods(ctx, src, ns)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				f.Pods = append(f.Pods, scan.pods...)
				f.KubeProxies = append(f.KubeProxies, scan.proxies...)
				f.CloudControllerManagers = append(f.CloudControllerManagers, scan.ccms...)
				for _, c := range scan.cps {
					cp, ok := cps[c.Node]
					if !ok {
						cp = &ControlPlaneNode{Node: c.Node}
						cps[c.Node] = cp
					}
					mergeControlPlane(cp, c)
				}
				mu.Unlock()
			}
		}()
	}
	for _, ns := range namespaces {
		next <- ns
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	nodes := make([]string, 0, len(cps))
	for n := range cps {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		f.ControlPlane = append(f.ControlPlane, *cps[n])
	}
	return nil
}

func mergeControlPlane(dst *ControlPlaneNode, src ControlPlaneNode) {
	for _, p := range []struct {
		d *string
		s string
	}{{&dst.APIServer, src.APIServer}, {&dst.ControllerManager, src.ControllerManager},
		{&dst.Scheduler, src.Scheduler}, {&dst.Etcd, src.Etcd}} {
		if p.s != "" {
			*p.d = p.s
		}
	}
}

// podScan is what the pods of one namespace say.
type podScan struct {
	pods []PodFacts
	// cps has the control-plane versions its kubeadm mirror pods show (one entry per mirror pod).
	cps []ControlPlaneNode
	// proxies are its kube-proxy pods (DaemonSet or static) bound to a node.
	proxies []KubeProxyFacts
	// ccms are its cloud-controller-manager pods bound to a node.
	ccms []CloudControllerManager
}

// listPods lists one namespace ("" for all), paginated.
func listPods(ctx context.Context, src Sources, namespace string) (podScan, error) {
	var out podScan
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Client.CoreV1().Pods(namespace).List(ctx, opts)
		if err != nil {
			return out, err
		}
		for i := range list.Items {
			p := &list.Items[i]
			_, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]
			if kp, ok := kubeProxyPod(p, mirror); ok {
				out.proxies = append(out.proxies, kp)
			}
			if ccm, ok := ccmPod(p, mirror); ok {
				out.ccms = append(out.ccms, ccm)
			}
			pf := PodFacts{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Labels: p.Labels, Mirror: mirror,
				Terminal: p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed,
				Pending:  p.Status.Phase == corev1.PodPending, Deleting: p.DeletionTimestamp != nil, NotReady: !podReady(p)}
			if ref := metav1.GetControllerOf(p); ref != nil {
				pf.ControllerKind, pf.ControllerName, pf.ControllerAPIVersion = ref.Kind, ref.Name, ref.APIVersion
			}
			for _, v := range p.Spec.Volumes {
				if v.EmptyDir != nil {
					pf.EmptyDir = true
				}
			}
			out.pods = append(out.pods, pf)
			comp := p.Labels["component"]
			if !mirror || p.Namespace != metav1.NamespaceSystem || !controlPlaneComponents[comp] || p.Spec.NodeName == "" {
				continue
			}
			tag := ""
			for _, c := range p.Spec.Containers {
				if c.Name == comp || tag == "" {
					tag = imageTag(c.Image)
				}
			}
			cp := ControlPlaneNode{Node: p.Spec.NodeName}
			switch comp {
			case "kube-apiserver":
				cp.APIServer = tag
			case "kube-controller-manager":
				cp.ControllerManager = tag
			case "kube-scheduler":
				cp.Scheduler = tag
			case "etcd":
				cp.Etcd = tag
			}
			out.cps = append(out.cps, cp)
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

func gatherPDBs(ctx context.Context, src Sources, f *Facts) error {
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Client.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			f.PDBs = append(f.PDBs, PDBFacts{Namespace: p.Namespace, Name: p.Name, Selector: p.Spec.Selector,
				DisruptionsAllowed: p.Status.DisruptionsAllowed, Generation: p.Generation, ObservedGeneration: p.Status.ObservedGeneration,
				CurrentHealthy: p.Status.CurrentHealthy, DesiredHealthy: p.Status.DesiredHealthy,
				AlwaysAllow: p.Spec.UnhealthyPodEvictionPolicy != nil && *p.Spec.UnhealthyPodEvictionPolicy == policyv1.AlwaysAllow})
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

// podReady is what the eviction subresource calls healthy (podutil.IsPodReady): a Ready
// condition with status True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func gatherDaemonSets(ctx context.Context, src Sources, f *Facts) error {
	var out []DaemonSetFacts
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Client.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return err
		}
		for _, ds := range list.Items {
			images := map[string]string{}
			for _, c := range ds.Spec.Template.Spec.Containers {
				images[c.Name] = c.Image
			}
			out = append(out, DaemonSetFacts{Namespace: ds.Namespace, Name: ds.Name, Images: images})
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	f.DaemonSets, f.DaemonSetsRead = out, true
	return nil
}
