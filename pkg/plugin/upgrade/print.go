package upgrade

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
)

// maxListed is how many node names a table cell shows before "(+N more)".
const maxListed = 5

func shortList(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	if len(items) <= maxListed {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s (+%d more)", strings.Join(items[:maxListed], ","), len(items)-maxListed)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var exitOf = map[string]int{upgrade.StatusClean: cmdutil.ExitOK, upgrade.StatusWarnings: cmdutil.ExitWarnings, upgrade.StatusViolated: cmdutil.ExitProblems}

// printPlanTable writes kubeadm-style sections; w is a tab writer.
func printPlanTable(w io.Writer, p *upgrade.Plan) error {
	ew := &errWriter{w: w}
	kubeadm := "not kubeadm"
	if p.Kubeadm != nil {
		kubeadm = fmt.Sprintf("kubeadm, cluster %q", p.Kubeadm.ClusterName)
	}
	ew.printf("Cluster version:\t%s (%s)\n", p.ClusterVersion, kubeadm)
	ew.printf("Target:\t%s\n", dash(p.Target))
	var avail []string
	for _, a := range p.AvailableTargets {
		avail = append(avail, a.Kind+" "+a.Version)
	}
	ew.printf("Available:\t%s (%s)\n", dash(strings.Join(avail, ", ")), p.Releases)
	ew.section()
	ew.printf("\nCOMPONENT\tVERSION\tCOUNT\tNODES\tSOURCE\n")
	for _, c := range p.Components {
		ew.printf("%s\t%s\t%d\t%s\t%s\n", c.Component, c.Version, c.Count, shortList(c.Nodes), c.Source)
	}
	findings := func(title string, fs []upgrade.Finding) {
		if len(fs) == 0 {
			return
		}
		ew.section()
		ew.printf("\n%s\nRULE\tCOMPONENT\tVERSION\tNODES\tMESSAGE\n", title)
		for _, f := range fs {
			ew.printf("%s\t%s\t%s\t%s\t%s\n", f.Rule, f.Component, dash(f.Version), shortList(f.Nodes), f.Message)
		}
	}
	findings("SKEW POLICY VIOLATIONS (before any hop)", p.Violations)
	findings("WARNINGS", p.Warnings)
	if len(p.Hops) > 0 {
		ew.section()
		ew.printf("\nUPGRADE PATH\n")
	}
	for i, h := range p.Hops {
		ew.printf("Hop %d: %s -> %s\n", i+1, h.From, h.To)
		for j, s := range h.Steps {
			ew.printf("  %d. %s\n", j+1, s.Title)
			if len(s.Nodes) > 0 {
				ew.printf("       nodes: %s\n", shortList(s.Nodes))
			}
			for _, c := range s.Commands {
				ew.printf("       $ %s\n", c)
			}
		}
	}
	if len(p.RemovedAPIs) > 0 {
		ew.section()
		ew.printf("\nREMOVED APIS IN USE\nSOURCE\tAPI VERSION\tRESOURCE\tOBJECT\tREMOVED IN\tHOP\tUSE INSTEAD\n")
		for _, a := range p.RemovedAPIs {
			obj := a.Object
			if a.Manager != "" {
				obj += " (manager " + a.Manager + ")"
			}
			res := a.Resource
			if a.Subresource != "" {
				res += "/" + a.Subresource
			}
			ew.printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Source, a.APIVersion, res, dash(obj), a.RemovedIn, a.Hop, useInstead(a))
		}
	}
	if len(p.DrainBlockers) > 0 {
		ew.section()
		ew.printf("\nDRAIN BLOCKERS\nNODE\tPDB (0 DISRUPTIONS ALLOWED)\tBARE PODS\tEMPTYDIR PODS\tDAEMONSETS STAYING\tMULTIPLE PDBS\tORPHANED DAEMONSET PODS\n")
		for _, d := range p.DrainBlockers {
			var pdbs, multi []string
			for _, b := range d.PDBs {
				pdbs = append(pdbs, b.PDB+"("+strings.Join(b.Pods, ",")+")")
			}
			for _, m := range d.MultiplePDBs {
				multi = append(multi, m.Pod+"("+strings.Join(m.PDBs, ",")+")")
			}
			ew.printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Node, shortList(pdbs), shortList(d.BarePods), shortList(d.EmptyDirPods), shortList(d.DaemonSets),
				shortList(multi), shortList(d.OrphanedDaemonSetPods))
		}
	}
	if len(p.DaemonSets) > 0 {
		ew.section()
		ew.printf("\nDAEMONSETS (stay on their nodes during drains)\nDAEMONSET\tNODES\n")
		for _, d := range p.DaemonSets {
			ew.printf("%s\t%d\n", d.DaemonSet, d.Nodes)
		}
	}
	if len(p.MissingFacts) > 0 {
		ew.section()
		ew.printf("\nFACTS THAT COULD NOT BE READ (planned from the rest)\n")
		for _, m := range p.MissingFacts {
			ew.printf("  - %s: %s\n", m.Fact, m.Reason)
		}
	}
	for _, n := range p.Notes {
		ew.printf("\nNote: %s\n", n)
	}
	ew.printf("\nStatus: %s (exit %d)\n", p.Status, exitOf[p.Status])
	ew.flush()
	return ew.err
}

// printPlanMarkdown writes the plan as a runbook checklist for a change ticket.
func printPlanMarkdown(w io.Writer, p *upgrade.Plan) error {
	ew := &errWriter{w: w}
	ew.printf("# Kubernetes upgrade: %s -> %s\n\n", p.ClusterVersion, dash(p.Target))
	ew.printf("Plan status: **%s**. Releases: %s.\n", p.Status, p.Releases)
	if p.Kubeadm != nil {
		ew.printf("kubeadm cluster %q (ClusterConfiguration kubernetesVersion %s).\n", p.Kubeadm.ClusterName, p.Kubeadm.KubernetesVersion)
	}
	ew.printf("\n## Current versions\n\n| Component | Version | Count | Nodes |\n|---|---|---|---|\n")
	for _, c := range p.Components {
		ew.printf("| %s | %s | %d | %s |\n", c.Component, c.Version, c.Count, shortList(c.Nodes))
	}
	ew.printf("\n## Before you start\n\n")
	for _, f := range p.Violations {
		ew.printf("- [ ] Fix skew violation `%s`: %s (nodes: %s)\n", f.Rule, f.Message, shortList(f.Nodes))
	}
	for _, f := range p.Warnings {
		ew.printf("- [ ] Check `%s`: %s\n", f.Rule, f.Message)
	}
	for _, a := range p.RemovedAPIs {
		what := "requests to"
		if a.Object != "" {
			what = "object " + a.Object + " written with"
		}
		ew.printf("- [ ] Migrate %s `%s` %s (removed in %s, source: %s) to `%s`\n", what, a.APIVersion, a.Resource, a.RemovedIn, a.Source, useInstead(a))
	}
	for _, d := range p.DrainBlockers {
		var parts []string
		for _, b := range d.PDBs {
			parts = append(parts, "PDB "+b.PDB+" allows 0 disruptions ("+strings.Join(b.Pods, ", ")+"): "+b.Reason)
		}
		for _, m := range d.MultiplePDBs {
			parts = append(parts, "pod "+m.Pod+" is selected by more than one PDB ("+strings.Join(m.PDBs, ", ")+"): eviction refuses it")
		}
		if len(d.OrphanedDaemonSetPods) > 0 {
			parts = append(parts, "pods of DaemonSets that no longer exist (drain needs --force) "+strings.Join(d.OrphanedDaemonSetPods, ", "))
		}
		if len(d.BarePods) > 0 {
			parts = append(parts, "bare pods "+strings.Join(d.BarePods, ", "))
		}
		if len(d.EmptyDirPods) > 0 {
			parts = append(parts, "emptyDir data in "+strings.Join(d.EmptyDirPods, ", "))
		}
		ew.printf("- [ ] Clear the drain of `%s`: %s\n", d.Node, strings.Join(parts, "; "))
	}
	for _, m := range p.MissingFacts {
		ew.printf("- [ ] Could not read %s: %s\n", m.Fact, m.Reason)
	}
	for i, h := range p.Hops {
		ew.printf("\n## Hop %d: %s -> %s\n\n", i+1, h.From, h.To)
		for _, s := range h.Steps {
			ew.printf("- [ ] %s\n", s.Title)
			if len(s.Nodes) > 0 {
				ew.printf("  - nodes: %s\n", strings.Join(s.Nodes, ", "))
			}
			for _, c := range s.Commands {
				ew.printf("  - `%s`\n", c)
			}
		}
	}
	for _, n := range p.Notes {
		ew.printf("\n> %s\n", n)
	}
	ew.flush()
	return ew.err
}

type errWriter struct {
	w   io.Writer
	tw  *tabwriter.Writer
	err error
}

// section starts a new tab-aligned block: each section aligns its own columns (kubectl's tab
// writer remembers column widths across flushes, so every section gets its own).
func (e *errWriter) section() {
	e.flush()
	e.tw = tabwriter.NewWriter(e.w, 0, 8, 3, ' ', 0)
}

func (e *errWriter) flush() {
	if e.tw != nil && e.err == nil {
		e.err = e.tw.Flush()
	}
	e.tw = nil
}

func (e *errWriter) printf(format string, a ...any) {
	if e.tw == nil {
		e.section()
	}
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.tw, format, a...)
	}
}

// useInstead is the replacement of a removed API, with its note when it has one.
func useInstead(a upgrade.APIFinding) string {
	switch {
	case a.Note == "":
		return dash(a.Replacement)
	case a.Replacement == "":
		return "none: " + a.Note
	}
	return a.Replacement + " (" + a.Note + ")"
}
