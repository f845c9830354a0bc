package cluster

import (
	"fmt"
	"io"
	"strings"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/clusterops/kubectl-clusterops/pkg/cluster"
)

// clusterStatusTable renders the overview grouped like the architecture, problems last.
func clusterStatusTable(st *cluster.Status) func(io.Writer) error {
	return func(out io.Writer) error {
		controlPlaneSection(out, st)
		nodesSection(out, st)
		addonsSection(out, st)
		networkingSection(out, st)
		problemsSection(out, st)
		return nil
	}
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

func joinOrDash(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, ",")
}

func endpointLine(e *cluster.Endpoint) string {
	if e == nil {
		return "not checked"
	}
	failed := []string{}
	for _, c := range e.Checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	s := fmt.Sprintf("%s (%d checks", okText(e.OK), len(e.Checks))
	if len(failed) > 0 {
		s += ", failing: " + strings.Join(failed, ", ")
	}
	s += ")"
	if e.Error != "" && len(e.Checks) == 0 {
		s += ": " + e.Error
	}
	return s
}

func controlPlaneSection(out io.Writer, st *cluster.Status) {
	cp := st.ControlPlane
	fmt.Fprintln(out, "CONTROL PLANE")
	fmt.Fprintf(out, "  API server /readyz: %s\n", endpointLine(cp.Readyz))
	fmt.Fprintf(out, "  API server /livez:  %s\n", endpointLine(cp.Livez))
	var etcd []string
	for _, c := range cp.Readyz.EtcdChecks() {
		etcd = append(etcd, c.Name+" "+okText(c.OK))
	}
	if len(etcd) > 0 {
		fmt.Fprintf(out, "  etcd checks (readyz): %s\n", strings.Join(etcd, ", "))
	}
	etcdMembers(out, cp.Etcd)
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintln(w, "  COMPONENT\tNODE\tPOD PHASE\tREADY\tRESTARTS\tIMAGE\tLEADER (LEASE)")
	for _, c := range cp.Components {
		lease := "-"
		if c.Lease != nil {
			lease = c.Lease.String()
		}
		if len(c.Pods) == 0 {
			fmt.Fprintf(w, "  %s\t-\tno mirror pod\t-\t-\t-\t%s\n", c.Name, lease)
		}
		for i, p := range c.Pods {
			if i > 0 {
				lease = ""
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%v\t%d\t%s\t%s\n", c.Name, p.Node, p.Phase, p.Ready, p.Restarts, p.Image, lease)
		}
	}
	_ = flush()
}

func nodesSection(out io.Writer, st *cluster.Status) {
	fmt.Fprintln(out, "\nNODES")
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintln(w, "  NAME\tSTATUS\tROLES\tKUBELET\tCONTAINER RUNTIME\tPOD CIDRS\tTAINTS\tPRESSURE")
	for _, n := range st.Nodes {
		status := "Ready"
		if !n.Ready {
			status = "NotReady"
		}
		if n.Unschedulable {
			status += ",SchedulingDisabled"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, status, joinOrDash(n.Roles), cmdutil.OrDash(n.KubeletVersion),
			cmdutil.OrDash(n.ContainerRuntime), joinOrDash(n.PodCIDRs), joinOrDash(n.Taints), joinOrDash(n.Pressure))
	}
	_ = flush()
}

func addonsSection(out io.Writer, st *cluster.Status) {
	a := st.Addons
	fmt.Fprintln(out, "\nADD-ONS")
	w, flush := cmdutil.NewSection(out)
	if a.CoreDNS.Found {
		fmt.Fprintf(w, "  CoreDNS\tDeployment kube-system/coredns %d/%d ready\tService %s %s\t%s\n", a.CoreDNS.Ready, a.CoreDNS.Desired,
			cmdutil.OrDash(a.CoreDNS.Service), cmdutil.OrDash(a.CoreDNS.ClusterIP), a.CoreDNS.Image)
	} else {
		fmt.Fprintln(w, "  CoreDNS\tnot found\t\t")
	}
	if a.KubeProxy.Found {
		fmt.Fprintf(w, "  kube-proxy\tDaemonSet kube-system/kube-proxy %d/%d ready\tmode %s\t%s\n", a.KubeProxy.Ready, a.KubeProxy.Desired,
			cmdutil.OrDash(a.KubeProxy.Mode), a.KubeProxy.Image)
	} else {
		fmt.Fprintf(w, "  kube-proxy\tnot found\tmode %s\t\n", cmdutil.OrDash(a.KubeProxy.Mode))
	}
	_ = flush()
}

func networkingSection(out io.Writer, st *cluster.Status) {
	n := st.Networking
	fmt.Fprintln(out, "\nNETWORKING")
	if len(n.CNI.Detected) == 0 {
		fmt.Fprintln(out, "  CNI: none detected")
	}
	for i, d := range n.CNI.Detected {
		label := "  CNI:"
		if i > 0 {
			label = "      "
		}
		ready := ""
		if d.Ready != "" {
			ready = ", " + d.Ready + " ready"
		}
		fmt.Fprintf(out, "%s %s (from %s%s)\n", label, d.Name, d.Source, ready)
	}
	switch {
	case n.CNI.ConfigsError != "":
		fmt.Fprintf(out, "  CNI configs of node %s: not read (%s)\n", cmdutil.OrDash(n.CNI.ConfigsFrom), n.CNI.ConfigsError)
	case n.CNI.ConfigsFrom != "":
		fmt.Fprintf(out, "  CNI configs read on node %s by an agent pod\n", n.CNI.ConfigsFrom)
	}
	fmt.Fprintf(out, "  NetworkPolicies: %d", n.NetworkPolicies.Count)
	if n.NetworkPolicies.Count > 0 {
		fmt.Fprintf(out, " in %s", strings.Join(n.NetworkPolicies.Namespaces, ", "))
	}
	fmt.Fprintf(out, "; enforced by %s: %s", cmdutil.OrDash(n.CNI.Plugin), n.CNI.EnforcesPolicy)
	if n.CNI.EnforcementSource != "" {
		fmt.Fprintf(out, " (source: %s)", n.CNI.EnforcementSource)
	}
	fmt.Fprintln(out)
	if len(n.PodSubnets) > 0 {
		fmt.Fprintf(out, "  Pod subnet: %s (from %s)\n", strings.Join(n.PodSubnets, ","), n.PodSubnetSource)
	} else {
		fmt.Fprintln(out, "  Pod subnet: unknown (no kubeadm-config)")
	}
	for _, s := range n.ServiceCIDRs {
		ready := ""
		if s.Ready != "" {
			ready = ", Ready=" + s.Ready
		}
		fmt.Fprintf(out, "  Service CIDR: %s (from %s%s)\n", strings.Join(s.CIDRs, ","), s.Source, ready)
	}
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintln(w, "  POOL\tUSED\tCAPACITY\tUNIT\tPERCENT")
	for _, u := range append(append([]cluster.PoolUsage{}, n.PodIPAM...), n.ServiceIPAM...) {
		fmt.Fprintf(w, "  %s\t%d\t%d\t%s\t%.1f%%\n", u.Pool, u.Used, u.Capacity, u.Unit, u.Percent)
	}
	_ = flush()
	w, flush = cmdutil.NewSection(out)
	fmt.Fprintln(w, "  NODE\tPOD CIDRS\tIN POD SUBNET")
	for _, c := range n.NodePodCIDRs {
		fmt.Fprintf(w, "  %s\t%s\t%v\n", c.Node, joinOrDash(c.PodCIDRs), c.InPodSubnet)
	}
	_ = flush()
	for _, o := range n.Overlaps {
		fmt.Fprintf(out, "  OVERLAP: %s %s and %s %s\n", o.A, o.CIDRA, o.B, o.CIDRB)
	}
}

func problemsSection(out io.Writer, st *cluster.Status) {
	fmt.Fprintln(out, "\nPROBLEMS")
	if len(st.Problems) == 0 {
		fmt.Fprintln(out, "  none: the cluster is healthy")
		return
	}
	w, flush := cmdutil.NewSection(out)
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", strings.ToUpper(p.Severity), p.Section, p.Message)
	}
	_ = flush()
	problems, warnings := 0, 0
	for _, p := range st.Problems {
		if p.Severity == cluster.SeverityProblem {
			problems++
		} else {
			warnings++
		}
	}
	fmt.Fprintf(out, "%d problem(s), %d warning(s)\n", problems, warnings)
}

func etcdMembers(out io.Writer, e cluster.EtcdStatus) {
	if !e.Checked {
		fmt.Fprintf(out, "  etcd members: %s\n", e.Reason)
		return
	}
	if e.ReadOn != "" {
		fmt.Fprintf(out, "  etcd members (asked at their own client URLs by an agent pod on %s):\n", e.ReadOn)
	} else {
		fmt.Fprintf(out, "  etcd members (from %s):\n", strings.Join(e.Endpoints, ","))
	}
	w, flush := cmdutil.NewSection(out)
	fmt.Fprintln(w, "    NAME\tID\tCLIENT URLS\tREACHABLE\tLEADER\tVERSION\tDB SIZE")
	for _, m := range e.Members {
		fmt.Fprintf(w, "    %s\t%s\t%s\t%v\t%v\t%s\t%d\n", m.Name, m.ID, joinOrDash(m.ClientURLs), m.Reachable, m.Leader, cmdutil.OrDash(m.Version), m.DBSize)
	}
	_ = flush()
}
