package cluster

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
)

// nodeCIDRs checks each node's podCIDRs against the pod subnet, against each other (overlaps)
// and counts how many node ranges of the subnet are used (exhaustion).
func (c *collector) nodeCIDRs() {
	n := &c.s.Networking
	subnets := parsePrefixes(n.PodSubnets)
	type owned struct {
		node   string
		prefix netip.Prefix
	}
	var all []owned
	var nodePrefixes []netip.Prefix
	without := 0
	for _, node := range c.s.Nodes {
		entry := NodePodCIDRs{Node: node.Name, PodCIDRs: node.PodCIDRs, InPodSubnet: len(node.PodCIDRs) > 0}
		if len(node.PodCIDRs) == 0 {
			without++
		}
		for _, s := range node.PodCIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				entry.InPodSubnet = false
				c.problem(SeverityProblem, "networking", "node %s: podCIDR %q is not a CIDR", node.Name, s)
				continue
			}
			p = p.Masked()
			all = append(all, owned{node.Name, p})
			nodePrefixes = append(nodePrefixes, p)
			if len(subnets) > 0 && !insideAny(p, subnets) {
				entry.InPodSubnet = false
				c.problem(SeverityProblem, "networking", "node %s: podCIDR %s is outside the cluster pod subnet %s", node.Name, p, strings.Join(n.PodSubnets, ","))
			}
		}
		n.NodePodCIDRs = append(n.NodePodCIDRs, entry)
	}
	for i := 0; i < len(all); i++ {
		for j := i + 1; j < len(all); j++ {
			if all[i].node != all[j].node && all[i].prefix.Overlaps(all[j].prefix) {
				n.Overlaps = append(n.Overlaps, Overlap{A: "node " + all[i].node, CIDRA: all[i].prefix.String(), B: "node " + all[j].node, CIDRB: all[j].prefix.String()})
				c.problem(SeverityProblem, "networking", "IPAM: podCIDR %s of node %s overlaps podCIDR %s of node %s: pods of the two nodes can get the same IP",
					all[i].prefix, all[i].node, all[j].prefix, all[j].node)
			}
		}
	}
	if without > 0 && len(all) > 0 {
		c.problem(SeverityWarning, "networking", "%d node(s) have no podCIDR while others have one: IPAM may have failed for them (pod subnet exhausted?)", without)
	}
	for _, s := range subnets {
		mask := c.nodeMaskSize(s, nodePrefixes)
		u := PoolUsage{Pool: s.String(), Unit: fmt.Sprintf("node ranges /%d", mask), Capacity: pow2(mask - s.Bits())}
		seen := map[netip.Prefix]bool{}
		for _, o := range all {
			if s.Contains(o.prefix.Addr()) && !seen[o.prefix] {
				seen[o.prefix] = true
				u.Used++
			}
		}
		c.usage(&u, "pod subnet")
		n.PodIPAM = append(n.PodIPAM, u)
	}
}

// usage sets the percentage and reports exhaustion (100%) as a problem and 80% as a warning.
func (c *collector) usage(u *PoolUsage, what string) {
	if u.Capacity > 0 {
		u.Percent = math.Round(float64(u.Used)/float64(u.Capacity)*1000) / 10
	}
	switch {
	case u.Capacity > 0 && u.Used >= u.Capacity:
		c.problem(SeverityProblem, "networking", "IPAM: %s %s is exhausted: %d of %d %s used", what, u.Pool, u.Used, u.Capacity, u.Unit)
	case u.Percent >= 80:
		c.problem(SeverityWarning, "networking", "IPAM: %s %s is %.1f%% used (%d of %d %s)", what, u.Pool, u.Percent, u.Used, u.Capacity, u.Unit)
	}
}

func pow2(n int) int64 {
	if n < 0 {
		return 0
	}
	if n > 62 {
		return math.MaxInt64
	}
	return int64(1) << n
}

func parsePrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func insideAny(p netip.Prefix, subnets []netip.Prefix) bool {
	for _, s := range subnets {
		if s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// serviceCIDRs reads the ServiceCIDR API (kubeadm's serviceSubnet when it has none), counts the
// Service cluster IPs in each range, and checks the ranges against the pod subnet and node ranges.
func (c *collector) serviceCIDRs(ctx context.Context, kubeadmServiceSubnet string) {
	n := &c.s.Networking
	list, err := paging.List[networkingv1.ServiceCIDR](ctx, metav1.ListOptions{}, c.in.Client.NetworkingV1().ServiceCIDRs().List)
	if c.readErr("ServiceCIDRs (networking.k8s.io/v1)", err) {
		for _, sc := range list {
			entry := ServiceCIDR{Name: sc.Name, CIDRs: sc.Spec.CIDRs, Source: "ServiceCIDR " + sc.Name}
			for _, cond := range sc.Status.Conditions {
				if cond.Type == "Ready" {
					entry.Ready = string(cond.Status)
				}
			}
			if entry.Ready == "False" {
				c.problem(SeverityProblem, "networking", "ServiceCIDR %s is not Ready", sc.Name)
			}
			n.ServiceCIDRs = append(n.ServiceCIDRs, entry)
		}
	}
	if len(n.ServiceCIDRs) == 0 && kubeadmServiceSubnet != "" {
		n.ServiceCIDRs = append(n.ServiceCIDRs, ServiceCIDR{Name: "serviceSubnet", CIDRs: splitList(kubeadmServiceSubnet),
			Source: "ConfigMap kube-system/kubeadm-config (networking.serviceSubnet)"})
	}
	var ranges []netip.Prefix
	for _, sc := range n.ServiceCIDRs {
		for _, s := range parsePrefixes(sc.CIDRs) {
			ranges = append(ranges, s)
			for _, pod := range parsePrefixes(n.PodSubnets) {
				if s.Overlaps(pod) {
					n.Overlaps = append(n.Overlaps, Overlap{A: "service CIDR " + sc.Name, CIDRA: s.String(), B: "pod subnet", CIDRB: pod.String()})
					c.problem(SeverityProblem, "networking", "IPAM: service CIDR %s (%s) overlaps the pod subnet %s", s, sc.Name, pod)
				}
			}
			for _, node := range c.s.Nodes {
				for _, p := range parsePrefixes(node.PodCIDRs) {
					if s.Overlaps(p) && !insideAny(p, parsePrefixes(n.PodSubnets)) {
						n.Overlaps = append(n.Overlaps, Overlap{A: "service CIDR " + sc.Name, CIDRA: s.String(), B: "node " + node.Name, CIDRB: p.String()})
						c.problem(SeverityProblem, "networking", "IPAM: service CIDR %s overlaps podCIDR %s of node %s", s, p, node.Name)
					}
				}
			}
		}
	}
	if len(ranges) == 0 {
		return
	}
	used := map[netip.Prefix]int64{}
	err = paging.Each(ctx, metav1.ListOptions{}, c.in.Client.CoreV1().Services(metav1.NamespaceAll).List, func(svc *corev1.Service) error {
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, ip := range ips {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				continue
			}
			for _, r := range ranges {
				if r.Contains(a) {
					used[r]++
				}
			}
		}
		return nil
	})
	if !c.readErr("Services", err) {
		return
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].String() < ranges[j].String() })
	for _, r := range ranges {
		// The network address and, for IPv4, the broadcast address are never allocated.
		capacity := pow2(r.Addr().BitLen()-r.Bits()) - 1
		if r.Addr().Is4() {
			capacity--
		}
		u := PoolUsage{Pool: r.String(), Unit: "service IPs", Used: used[r], Capacity: capacity}
		c.usage(&u, "service CIDR")
		n.ServiceIPAM = append(n.ServiceIPAM, u)
	}
}
