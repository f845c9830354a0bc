package cluster

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
)

// Node is one node of the overview.
type Node struct {
	Name             string   `json:"name"`
	Ready            bool     `json:"ready"`
	ReadyReason      string   `json:"readyReason,omitempty"`
	Roles            []string `json:"roles"`
	KubeletVersion   string   `json:"kubeletVersion"`
	ContainerRuntime string   `json:"containerRuntime"`
	InternalIP       string   `json:"internalIP,omitempty"`
	PodCIDRs         []string `json:"podCIDRs"`
	Taints           []string `json:"taints"`
	// Pressure lists the conditions other than Ready that are True (MemoryPressure, ...).
	Pressure      []string `json:"pressure"`
	Unschedulable bool     `json:"unschedulable,omitempty"`
}

const rolePrefix = "node-role.kubernetes.io/"

func (c *collector) nodes(ctx context.Context) {
	// Page by page, keeping only the summary of each node.
	var nodes []Node
	err := paging.Each(ctx, metav1.ListOptions{}, c.in.Client.CoreV1().Nodes().List, func(node *corev1.Node) error {
		nodes = append(nodes, summarizeNode(node))
		return nil
	})
	if err != nil {
		c.readErr("nodes", err)
		return
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	if len(nodes) == 0 {
		c.problem(SeverityProblem, "nodes", "the cluster has no nodes")
	}
	for _, n := range nodes {
		c.s.Nodes = append(c.s.Nodes, n)
		if !n.Ready {
			c.problem(SeverityProblem, "nodes", "node %s is not Ready (%s)", n.Name, orText(n.ReadyReason, "no Ready condition"))
		}
		if len(n.Pressure) > 0 {
			c.problem(SeverityWarning, "nodes", "node %s reports %s", n.Name, strings.Join(n.Pressure, ", "))
		}
	}
}

func summarizeNode(node *corev1.Node) Node {
	n := Node{
		Name: node.Name, KubeletVersion: node.Status.NodeInfo.KubeletVersion,
		ContainerRuntime: node.Status.NodeInfo.ContainerRuntimeVersion, Unschedulable: node.Spec.Unschedulable,
		Roles: []string{}, PodCIDRs: []string{}, Taints: []string{}, Pressure: []string{},
	}
	for k := range node.Labels {
		if role, ok := strings.CutPrefix(k, rolePrefix); ok && role != "" {
			n.Roles = append(n.Roles, role)
		}
	}
	sort.Strings(n.Roles)
	n.PodCIDRs = append(n.PodCIDRs, node.Spec.PodCIDRs...)
	if len(n.PodCIDRs) == 0 && node.Spec.PodCIDR != "" {
		n.PodCIDRs = append(n.PodCIDRs, node.Spec.PodCIDR)
	}
	for _, t := range node.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		n.Taints = append(n.Taints, s+":"+string(t.Effect))
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && n.InternalIP == "" {
			n.InternalIP = a.Address
		}
	}
	for _, cond := range node.Status.Conditions {
		switch {
		case cond.Type == corev1.NodeReady:
			n.Ready = cond.Status == corev1.ConditionTrue
			n.ReadyReason = cond.Reason
		case cond.Status == corev1.ConditionTrue:
			n.Pressure = append(n.Pressure, string(cond.Type))
		}
	}
	return n
}
