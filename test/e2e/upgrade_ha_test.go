//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// A kubeadm HA control plane in the middle of an upgrade from v1.36.5 to v1.37.2: the harness's
// control-plane node (real kubeadm static pods, v1.37.2) has been through `kubeadm upgrade
// apply` and its kubelet upgraded; two more control-plane nodes still run v1.36.5 static pods
// (mirror pods made from the real kubeadm manifests with the older tag) and v1.36.5 kubelets;
// kubeadm left the kube-proxy DaemonSet at v1.36.5 (it skips the addons until every control
// plane is upgraded). The plan has no violation, shows the first node done, and goes on with
// `kubeadm upgrade node` on the other two, then the addons with the last one.
func TestUpgradePlanHAMidUpgrade(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "ha"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kc := cp.AdminKubeconfig
	for _, name := range []string{"cp-b", "cp-c"} {
		node, err := cp.AddNode(ctx, harness.NodeSpec{Name: name, KubeletVersion: "v1.36.5", ControlPlane: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			data, err := os.ReadFile(cp.ManifestPath(comp))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), ":v1.37.2") {
				t.Fatalf("%s manifest has no v1.37.2 image", comp)
			}
			old := filepath.Join(t.TempDir(), comp+".yaml")
			if err := os.WriteFile(old, []byte(strings.ReplaceAll(string(data), ":v1.37.2", ":v1.36.5")), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := cp.MirrorPod(ctx, node, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	cps := []string{cp.NodeName, "cp-b", "cp-c"}
	slices.Sort(cps)
	rollKubeProxy(ctx, t, cp, "registry.k8s.io/kube-proxy:v1.36.5", cps)
	releases := filepath.Join(t.TempDir(), "releases.txt")
	if err := os.WriteFile(releases, []byte("v1.36.5\nv1.37.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--to", "v1.37.2", "--releases", releases, "-o", "json", "--kubeconfig", kc)
	p := planJSON(t, r)
	if r.code == 2 || len(p.Violations) != 0 {
		t.Fatalf("exit %d, violations %+v: a half-upgraded kubeadm HA control plane is within policy\n%s", r.code, p.Violations, r.stderr)
	}
	if p.ClusterVersion != "v1.36.5" || len(p.ControlPlane) != 3 || len(p.Hops) != 1 {
		t.Fatalf("clusterVersion %s, controlPlane %+v, hops %d", p.ClusterVersion, p.ControlPlane, len(p.Hops))
	}
	var got []string
	for _, s := range p.Hops[0].Steps {
		if s.Kind == "control-plane" || s.Kind == "addons" {
			got = append(got, s.Kind+" "+strings.Join(s.Nodes, ",")+": "+strings.Join(s.Commands, "; "))
		}
	}
	var want []string
	for _, n := range cps {
		if n == cp.NodeName {
			want = append(want, "control-plane "+n+": ")
			continue
		}
		want = append(want, "control-plane "+n+": kubeadm upgrade node; kubectl drain "+n+" --ignore-daemonsets --delete-emptydir-data; "+
			"upgrade the kubelet and kubectl packages to v1.37.2 and restart the kubelet; kubectl uncordon "+n)
	}
	want = append(want, "addons : each node's kubeadm upgrade upgrades that node's etcd; CoreDNS and kube-proxy are upgraded by the last one (on "+cps[2]+
		"), once every kube-apiserver runs v1.37.2: kubeadm skips the addons until then; check with: kubectl -n kube-system get deploy/coredns ds/kube-proxy -o jsonpath='{..image}'")
	if !slices.Equal(got, want) {
		t.Errorf("steps =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, s := range p.Hops[0].Steps {
		if slices.Equal(s.Nodes, []string{cp.NodeName}) && !strings.Contains(s.Title, "already upgraded") {
			t.Errorf("%s is upgraded: %+v", cp.NodeName, s)
		}
		for _, c := range s.Commands {
			if strings.HasPrefix(c, "kubeadm upgrade apply") {
				t.Errorf("kubeadm upgrade apply has run already: %+v", s)
			}
		}
	}
	if p.Status == upgrade.StatusViolated {
		t.Errorf("status %s", p.Status)
	}
}
