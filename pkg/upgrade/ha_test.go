package upgrade

import (
	"slices"
	"strings"
	"testing"
)

// haMidUpgrade is a kubeadm HA cluster of three control-plane nodes and a worker, from v1.36.5
// to v1.37.2, after `kubeadm upgrade apply v1.37.2` and the kubelet upgrade on cp1: cp1's static
// pods and kubelet run v1.37.2, cp2 and cp3 are still at v1.36.5, and kubeadm has left the
// kube-proxy addon alone (it waits for every control-plane node).
func haMidUpgrade() *Facts {
	f := cluster([]string{"v1.37.2", "v1.36.5", "v1.36.5"}, "w1=v1.36.5")
	f.Kubeadm.KubernetesVersion = "v1.37.2" // upload-config ran on cp1
	setKubeProxy(f, "v1.36.5")
	return f
}

// A half-upgraded HA cluster is within policy: each kubeadm control-plane kubelet talks to its
// own node's apiserver. What is left is `kubeadm upgrade node` on cp2 and cp3, whose last run
// upgrades the addons, then the worker.
func TestPlanHAMidUpgrade(t *testing.T) {
	f := haMidUpgrade()
	p, err := MakePlan(f, Options{Target: "v1.37.2", Releases: table(t, "v1.36.5", "v1.37.2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Violations) != 0 || p.Status == StatusViolated {
		t.Fatalf("violations = %+v: a control-plane kubelet at its own apiserver's version is within policy", p.Violations)
	}
	if p.ClusterVersion != "v1.36.5" || !slices.Equal(hopsOf(p), []string{"v1.36.5->v1.37.2"}) {
		t.Fatalf("cluster %s hops %v", p.ClusterVersion, hopsOf(p))
	}
	var got []string
	for _, s := range p.Hops[0].Steps {
		line := s.Kind + " " + strings.Join(s.Nodes, ",")
		for _, c := range s.Commands {
			if strings.HasPrefix(c, "kubeadm") || strings.HasPrefix(c, "each node") {
				line += " | " + c
			}
		}
		got = append(got, line)
	}
	want := []string{
		"snapshot ",
		"control-plane cp1",
		"control-plane cp2 | kubeadm upgrade node",
		"control-plane cp3 | kubeadm upgrade node",
		"addons  | each node's kubeadm upgrade upgrades that node's etcd; CoreDNS and kube-proxy are upgraded by the last one (on cp3), " +
			"once every kube-apiserver runs v1.37.2: kubeadm skips the addons until then; check with: kubectl -n kube-system get deploy/coredns ds/kube-proxy -o jsonpath='{..image}'",
		"workers w1 | kubeadm upgrade node  # on NODE, with kubeadm v1.37.2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if s := p.Hops[0].Steps[1]; len(s.Commands) != 0 || !strings.Contains(s.Title, "already upgraded") {
		t.Errorf("cp1 is done: %+v", s)
	}

	// Before cp1's kubelet was upgraded: only its kubelet is left there.
	f = haMidUpgrade()
	f.Nodes[0].Kubelet = "v1.36.5"
	p, err = MakePlan(f, Options{Target: "v1.37.2", Releases: table(t, "v1.36.5", "v1.37.2")})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Hops[0].Steps[1]
	if len(p.Violations) != 0 || s.Nodes[0] != "cp1" || !strings.Contains(s.Title, "upgrade its kubelet") ||
		slices.ContainsFunc(s.Commands, func(c string) bool { return strings.HasPrefix(c, "kubeadm") }) || !slices.Contains(s.Commands, "kubectl drain cp1 --ignore-daemonsets --delete-emptydir-data") {
		t.Errorf("cp1 with an old kubelet: violations %+v, step %+v", p.Violations, s)
	}

	// Without kubeadm (kubelets behind a load balancer) cp1's kubelet is newer than the oldest
	// apiserver: that is a violation.
	f = haMidUpgrade()
	f.Kubeadm = nil
	v, _ := checkSkew(f)
	if r := rules(v); !slices.Equal(r, []string{"kubelet-too-new:cp1"}) {
		t.Errorf("not kubeadm: violations %v, want kubelet-too-new:cp1", r)
	}
}

// Without kubeadm, control-plane components and kubelets may reach any kube-apiserver (a load
// balancer): every kube-apiserver first, then controller-manager, scheduler and
// cloud-controller-manager, then the control-plane kubelets (version-skew-policy.md "Supported
// component upgrade order").
func TestPlanHANonKubeadmOrder(t *testing.T) {
	f := cluster([]string{"v1.37.2", "v1.36.5", "v1.36.5"}, "w1=v1.36.5")
	f.Kubeadm = nil
	setKubeProxy(f, "v1.36.5")
	f.Nodes[0].Kubelet = "v1.36.5"
	p, err := MakePlan(f, Options{Target: "v1.37.2", Releases: table(t, "v1.36.5", "v1.37.2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Violations) != 0 {
		t.Fatalf("violations %+v", p.Violations)
	}
	var got []string
	for _, s := range p.Hops[0].Steps {
		if s.Kind != "control-plane" {
			continue
		}
		what := "apiserver"
		switch {
		case len(s.Nodes) > 1:
			what = "controllers"
		case strings.Contains(s.Title, "its kubelet"):
			what = "kubelet"
		}
		if strings.Contains(s.Title, "already") {
			what += " done"
		}
		got = append(got, what+" "+strings.Join(s.Nodes, ",")+" "+strings.Join(s.Commands, ";"))
	}
	drain := func(n string) string {
		return "kubectl drain " + n + " --ignore-daemonsets --delete-emptydir-data;upgrade the kubelet and kubectl packages to v1.37.2 and restart the kubelet;kubectl uncordon " + n
	}
	want := []string{"apiserver done cp1 ", "apiserver cp2 ", "apiserver cp3 ", "controllers cp1,cp2,cp3 ",
		"kubelet cp1 " + drain("cp1"), "kubelet cp2 " + drain("cp2"), "kubelet cp3 " + drain("cp3")}
	if !slices.Equal(got, want) {
		t.Errorf("control-plane steps =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
