package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Networking is the networking section of the overview.
type Networking struct {
	CNI             CNI             `json:"cni"`
	NetworkPolicies NetworkPolicies `json:"networkPolicies"`
	// PodSubnets is the cluster pod subnet (one per IP family), and where it was read.
	PodSubnets      []string       `json:"podSubnets"`
	PodSubnetSource string         `json:"podSubnetSource,omitempty"`
	NodePodCIDRs    []NodePodCIDRs `json:"nodePodCIDRs"`
	Overlaps        []Overlap      `json:"overlaps"`
	PodIPAM         []PoolUsage    `json:"podIPAM"`
	ServiceCIDRs    []ServiceCIDR  `json:"serviceCIDRs"`
	ServiceIPAM     []PoolUsage    `json:"serviceIPAM"`
}

// CNI is what was detected of the CNI plugin, and whether it enforces NetworkPolicy.
type CNI struct {
	// Plugin is the CNI in use: the first DaemonSet detection, else the first config file.
	Plugin            string         `json:"plugin,omitempty"`
	Detected          []CNIDetection `json:"detected"`
	EnforcesPolicy    string         `json:"enforcesNetworkPolicy"` // yes | no | unknown
	EnforcementSource string         `json:"enforcementSource,omitempty"`
	// ConfigsFrom is the node whose /etc/cni/net.d an agent pod read (--node); ConfigsError
	// says why it could not, when it could not.
	ConfigsFrom  string `json:"configsFrom,omitempty"`
	ConfigsError string `json:"configsError,omitempty"`
}

// NetworkPolicies counts the NetworkPolicy objects.
type NetworkPolicies struct {
	Count      int      `json:"count"`
	Namespaces []string `json:"namespaces"`
}

// NodePodCIDRs is a node's spec.podCIDRs and whether they lie inside the pod subnet.
type NodePodCIDRs struct {
	Node        string   `json:"node"`
	PodCIDRs    []string `json:"podCIDRs"`
	InPodSubnet bool     `json:"inPodSubnet"`
}

// Overlap is two ranges that must not overlap and do.
type Overlap struct {
	A     string `json:"a"` // "node x" or "service CIDR kubernetes"
	CIDRA string `json:"cidrA"`
	B     string `json:"b"`
	CIDRB string `json:"cidrB"`
}

// PoolUsage is how much of an address pool is used: node ranges of a pod subnet, or service IPs.
type PoolUsage struct {
	Pool string `json:"pool"`
	// Unit is "node ranges /24" or "service IPs".
	Unit     string  `json:"unit"`
	Used     int64   `json:"used"`
	Capacity int64   `json:"capacity"`
	Percent  float64 `json:"percent"`
}

// ServiceCIDR is a networking.k8s.io/v1 ServiceCIDR (or kubeadm's serviceSubnet when the API has none).
type ServiceCIDR struct {
	Name   string   `json:"name"`
	CIDRs  []string `json:"cidrs"`
	Ready  string   `json:"ready,omitempty"` // status of the Ready condition
	Source string   `json:"source"`
}

func (c *collector) networking(ctx context.Context) {
	n := &c.s.Networking
	n.PodSubnets, n.NodePodCIDRs, n.Overlaps, n.PodIPAM = []string{}, []NodePodCIDRs{}, []Overlap{}, []PoolUsage{}
	n.ServiceCIDRs, n.ServiceIPAM = []ServiceCIDR{}, []PoolUsage{}
	c.detectCNI(ctx)
	c.policies(ctx)
	serviceSubnet := c.podSubnets(ctx)
	c.nodeCIDRs()
	c.serviceCIDRs(ctx, serviceSubnet)
}

func (c *collector) detectCNI(ctx context.Context) {
	cni := &c.s.Networking.CNI
	cni.Detected = []CNIDetection{}
	dss, err := c.in.Client.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if c.readErr("DaemonSets", err) {
		sort.Slice(dss.Items, func(i, j int) bool {
			return dss.Items[i].Namespace+dss.Items[i].Name < dss.Items[j].Namespace+dss.Items[j].Name
		})
		for _, ds := range dss.Items {
			name := cniFromDaemonSet(ds.Name)
			if name == "" {
				continue
			}
			d := CNIDetection{Name: name, Source: "DaemonSet " + ds.Namespace + "/" + ds.Name,
				Ready: fmt.Sprintf("%d/%d", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled)}
			cni.Detected = append(cni.Detected, d)
			if ds.Status.NumberReady < ds.Status.DesiredNumberScheduled {
				c.problem(SeverityProblem, "networking", "CNI %s: %s pods ready in %s: pods on nodes without a ready agent get no network", name, d.Ready, d.Source)
			}
		}
	}
	if c.in.Root != "" {
		dir := filepath.Join(c.in.Root, CNIDirectory)
		files, err := ReadCNIConfigs(dir, CNIDirectory)
		if err != nil {
			c.problem(SeverityWarning, "networking", "no CNI config read under --root: %s", strings.Join(strings.Fields(err.Error()), " "))
		}
		cni.Detected = append(cni.Detected, files...)
	}
	if nc := c.in.NodeCNI; nc != nil {
		cni.ConfigsFrom = nc.Node
		if nc.Err != "" {
			cni.ConfigsError = nc.Err
			c.problem(SeverityWarning, "networking", "the CNI configs of node %s were not read: %s", nc.Node, nc.Err)
		}
		cni.Detected = append(cni.Detected, nc.Detected...)
	}
	if len(cni.Detected) == 0 {
		c.problem(SeverityWarning, "networking", "no CNI plugin detected (no known DaemonSet; give --node NAME or --control-plane to read %s on a node through an agent pod, or --root on the node)", CNIDirectory)
		cni.EnforcesPolicy = "unknown"
		return
	}
	cni.Plugin = cni.Detected[0].Name
	seen := map[string]bool{}
	for _, d := range cni.Detected {
		seen[d.Name] = true
	}
	// Calico installed for policy next to flannel is canal, whatever its DaemonSets are called.
	if seen["calico"] && seen["flannel"] {
		cni.Plugin = "canal"
	}
	cni.EnforcesPolicy, cni.EnforcementSource = PolicyEnforcement(cni.Plugin)
}

func (c *collector) policies(ctx context.Context) {
	np := &c.s.Networking.NetworkPolicies
	np.Namespaces = []string{}
	list, err := c.in.Client.NetworkingV1().NetworkPolicies(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if !c.readErr("NetworkPolicies", err) {
		return
	}
	ns := map[string]bool{}
	for _, p := range list.Items {
		np.Count++
		if !ns[p.Namespace] {
			ns[p.Namespace] = true
			np.Namespaces = append(np.Namespaces, p.Namespace)
		}
	}
	sort.Strings(np.Namespaces)
	cni := c.s.Networking.CNI
	switch {
	case np.Count == 0:
	case cni.EnforcesPolicy == "no":
		c.problem(SeverityProblem, "networking", "%d NetworkPolicies exist (namespaces %s) but the CNI %s does not enforce them: they protect nothing (source: %s)",
			np.Count, strings.Join(np.Namespaces, ", "), cni.Plugin, cni.EnforcementSource)
	case cni.EnforcesPolicy != "yes":
		c.problem(SeverityWarning, "networking", "%d NetworkPolicies exist but whether the CNI (%s) enforces them is unknown", np.Count, orText(cni.Plugin, "not detected"))
	}
}

// podSubnets reads the cluster pod subnet from kubeadm-config (falling back to the
// controller-manager's --cluster-cidr) and returns kubeadm's serviceSubnet.
func (c *collector) podSubnets(ctx context.Context) string {
	n := &c.s.Networking
	cm, err := c.in.Client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if !c.readErr("ConfigMap kube-system/kubeadm-config", err) {
		return ""
	}
	var cfg struct {
		Networking struct {
			PodSubnet     string `json:"podSubnet"`
			ServiceSubnet string `json:"serviceSubnet"`
		} `json:"networking"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["ClusterConfiguration"]), &cfg); err != nil {
		c.problem(SeverityWarning, "networking", "ConfigMap kube-system/kubeadm-config: ClusterConfiguration is not valid YAML")
		return ""
	}
	if cfg.Networking.PodSubnet != "" {
		n.PodSubnets = splitList(cfg.Networking.PodSubnet)
		n.PodSubnetSource = "ConfigMap kube-system/kubeadm-config (networking.podSubnet)"
	}
	return cfg.Networking.ServiceSubnet
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// nodeMaskSize is the size of the range each node gets from a pod subnet: the
// controller-manager's --node-cidr-mask-size(-ipv4|-ipv6) when its mirror pod says, else the
// prefix length the nodes have, else the defaults /24 (IPv4) and /64 (IPv6).
func (c *collector) nodeMaskSize(subnet netip.Prefix, nodePrefixes []netip.Prefix) int {
	family := "ipv4"
	def := 24
	if subnet.Addr().Is6() {
		family, def = "ipv6", 64
	}
	if v, ok := c.kcmFlags["--node-cidr-mask-size-"+family]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	if v, ok := c.kcmFlags["--node-cidr-mask-size"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	for _, p := range nodePrefixes {
		if subnet.Contains(p.Addr()) {
			return p.Bits()
		}
	}
	return def
}
