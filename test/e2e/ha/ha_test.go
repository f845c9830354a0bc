//go:build e2eha

package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type statusJSON struct {
	Nodes []struct {
		Name  string `json:"name"`
		Ready bool   `json:"ready"`
	} `json:"nodes"`
	ControlPlane struct {
		Components []struct {
			Name string `json:"name"`
			Pods []struct {
				Pod, Node string
				Ready     bool
			} `json:"pods"`
			Lease *struct {
				Found  bool   `json:"found"`
				Holder string `json:"holder"`
				Stale  bool   `json:"stale"`
			} `json:"lease"`
		} `json:"components"`
		Etcd struct {
			Checked bool   `json:"checked"`
			Reason  string `json:"reason"`
			ReadOn  string `json:"readOn"`
			Members []struct {
				Name      string `json:"name"`
				Reachable bool   `json:"reachable"`
				Leader    bool   `json:"leader"`
				Error     string `json:"error"`
			} `json:"members"`
		} `json:"etcd"`
	} `json:"controlPlane"`
	Problems []struct{ Severity, Section, Message string } `json:"problems"`
}

func clusterStatus(t *testing.T) (statusJSON, harness.Result) {
	t.Helper()
	var s statusJSON
	r := runJSON(t, &s, "cluster", "status", "--control-plane", "--image", env.image)
	assertNoAgentPods(t)
	return s, r
}

// cluster status from the kubeconfig alone: 4 nodes Ready, 3 etcd members asked at their own
// URLs with one leader, the three kube-apiservers behind the endpoint, and the lease holders.
func testClusterStatus(t *testing.T) {
	s, r := clusterStatus(t)
	if r.Code == 3 {
		t.Fatalf("exit 3: %s", r.Stderr)
	}
	ready := 0
	for _, n := range s.Nodes {
		if n.Ready {
			ready++
		}
	}
	if len(s.Nodes) != 4 || ready != 4 {
		t.Errorf("nodes: %+v, want 4 Ready", s.Nodes)
	}
	e := s.ControlPlane.Etcd
	leaders, reachable := 0, 0
	for _, m := range e.Members {
		if m.Reachable {
			reachable++
		}
		if m.Leader {
			leaders++
		}
	}
	if !e.Checked || len(e.Members) != 3 || reachable != 3 || leaders != 1 {
		t.Errorf("etcd: checked %v (%s), read on %s, members %+v: want 3 reachable, 1 leader", e.Checked, e.Reason, e.ReadOn, e.Members)
	}
	for _, c := range s.ControlPlane.Components {
		var nodes []string
		for _, p := range c.Pods {
			if p.Ready {
				nodes = append(nodes, p.Node)
			}
		}
		slices.Sort(nodes)
		if !slices.Equal(nodes, env.ha.ControlPlane) {
			t.Errorf("%s: Ready pods on %v, want %v", c.Name, nodes, env.ha.ControlPlane)
		}
		if c.Name == "kube-controller-manager" || c.Name == "kube-scheduler" {
			if c.Lease == nil || !c.Lease.Found || c.Lease.Stale || !slices.ContainsFunc(env.ha.ControlPlane, func(n string) bool { return strings.HasPrefix(c.Lease.Holder, n+"_") }) {
				t.Errorf("%s lease: %+v, want a fresh holder on a control-plane node", c.Name, c.Lease)
			} else {
				t.Logf("%s lease holder: %s", c.Name, c.Lease.Holder)
			}
		}
	}
	// The endpoint's backends: the kubernetes Service's endpoints are the three apiservers.
	eps, err := env.ha.Client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, sl := range eps.Items {
		for _, ep := range sl.Endpoints {
			ips = append(ips, ep.Addresses...)
		}
	}
	slices.Sort(ips)
	if want := []string{env.ha.NodeIP["cp1"], env.ha.NodeIP["cp2"], env.ha.NodeIP["cp3"]}; !slices.Equal(ips, want) {
		t.Errorf("kubernetes endpoints %v, want %v", ips, want)
	}
	for _, p := range s.Problems {
		if p.Severity == "problem" && (p.Section == "controlPlane" || p.Section == "nodes") {
			t.Errorf("problem on a healthy HA cluster: %+v", p)
		}
	}
}

// mirrorPod is a control-plane component's mirror pod on a node.
func mirrorPod(ctx context.Context, component, node string) (*corev1.Pod, error) {
	return env.ha.Client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, component+"-"+node, metav1.GetOptions{})
}

// editManifests writes new content for static pod manifests on a node and, when the test ends,
// writes the originals back with one annotation added (clusterops.io/e2e-restored), so that the
// kubelet sees a pod it has not run before and starts it. (Writing the very same content back can
// leave the kubelet on the edited pod for a while, and parking a manifest until its mirror pod is
// gone does not work for a joined control-plane node's apiserver: that node's kubelet reports only
// to its own apiserver.) It then waits until each restored pod runs and is Ready.
func editManifests(t *testing.T, node string, edit func(component string, orig []byte) []byte, components ...string) {
	t.Helper()
	dir, err := env.ha.Path(node, "/etc/kubernetes/manifests")
	if err != nil {
		t.Fatal(err)
	}
	orig := map[string][]byte{}
	for _, c := range components {
		b, err := os.ReadFile(filepath.Join(dir, c+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		orig[c] = b
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		dir, err := env.ha.Path(node, "/etc/kubernetes/manifests")
		if err != nil {
			t.Error(err)
			return
		}
		stamp := fmt.Sprint(time.Now().UnixNano())
		for _, c := range components {
			if err := harness.WriteFileAtomic(filepath.Join(dir, c+".yaml"), annotate(orig[c], stamp), 0o600); err != nil {
				t.Error(err)
			}
		}
		for _, c := range components {
			if err := waitRestored(ctx, c, node, stamp); err != nil {
				t.Errorf("restoring %s on %s: %v", c, node, err)
			}
		}
	})
	for _, c := range components {
		if err := harness.WriteFileAtomic(filepath.Join(dir, c+".yaml"), edit(c, orig[c]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const restoredAnnotation = "clusterops.io/e2e-restored"

// annotate adds the restored annotation to a kubeadm static pod manifest.
func annotate(manifest []byte, stamp string) []byte {
	s := string(manifest)
	line := "    " + restoredAnnotation + ": \"" + stamp + "\"\n"
	if strings.Contains(s, "\n  annotations:\n") {
		return []byte(strings.Replace(s, "\n  annotations:\n", "\n  annotations:\n"+line, 1))
	}
	return []byte(strings.Replace(s, "metadata:\n", "metadata:\n  annotations:\n"+line, 1))
}

// waitRestored waits until the component's mirror pod on node carries the restored annotation
// with stamp and is Running and Ready.
func waitRestored(ctx context.Context, component, node, stamp string) error {
	for {
		p, err := mirrorPod(ctx, component, node)
		if err == nil && p.Annotations[restoredAnnotation] == stamp && harness.PodReady(p) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mirror pod of %s on %s not back (Running, Ready, annotated %s): %v", component, node, stamp, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// waitPodReady waits until the component's mirror pod on node is Running and Ready (and, when
// image is not "", runs that image).
func waitPodReady(ctx context.Context, component, node, image string) error {
	for {
		p, err := mirrorPod(ctx, component, node)
		if err == nil && harness.PodReady(p) && (image == "" || p.Spec.Containers[0].Image == image) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mirror pod of %s on %s not Running and Ready: %v", component, node, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

type acrossJSON struct {
	Nodes      []string `json:"nodes"`
	Components []struct {
		Component string `json:"component"`
		Drift     []struct {
			Container, Flag string
			Values          map[string]string
		} `json:"drift"`
	} `json:"components"`
	Drifts   int      `json:"drifts"`
	Expected []string `json:"expected"`
}

// staticpods diff --across-nodes: clean on a fresh HA cluster (etcd's per-member initial
// cluster is expected, not drift), then it finds a flag that differs on cp2 only.
func testStaticPodsDiffAcrossNodes(t *testing.T) {
	var clean acrossJSON
	r := runJSON(t, &clean, "staticpods", "diff", "--across-nodes", "--image", env.image)
	if r.Code != 0 || clean.Drifts != 0 || len(clean.Nodes) != 3 {
		t.Errorf("a fresh HA control plane: exit %d, %+v\n%s", r.Code, clean, r.Stderr)
	}
	t.Logf("expected per-member differences: %v", clean.Expected)
	const flag = "--leader-elect-retry-period"
	value := fmt.Sprintf("2.%03ds", time.Now().UnixMilli()%1000)
	editManifests(t, "cp2", func(_ string, orig []byte) []byte {
		return []byte(strings.Replace(string(orig), "- --leader-elect=true", "- --leader-elect=true\n    - "+flag+"="+value, 1))
	}, "kube-scheduler")
	var d acrossJSON
	r = runJSON(t, &d, "staticpods", "diff", "--across-nodes", "--image", env.image)
	if r.Code != 1 || d.Drifts != 1 {
		t.Fatalf("exit %d, %d drifts, want 1 and 1: %+v\n%s", r.Code, d.Drifts, d, r.Stderr)
	}
	for _, c := range d.Components {
		for _, f := range c.Drift {
			want := map[string]string{"cp1": "<unset>", "cp2": value, "cp3": "<unset>"}
			if c.Component != "kube-scheduler" || f.Flag != flag || fmt.Sprint(f.Values) != fmt.Sprint(want) {
				t.Errorf("drift %s %s %v, want kube-scheduler %s %v", c.Component, f.Flag, f.Values, flag, want)
			}
		}
	}
	assertNoAgentPods(t)
}

type expiryReport = harness.CertExpiryReport

// kubeadmExpiration is `kubeadm certs check-expiration -o json` run inside a node.
func kubeadmExpiration(t *testing.T, node string) expiryReport {
	t.Helper()
	out := nodeExec(t, node, "kubeadm", "certs", "check-expiration", "-o", "json", "--kubeconfig", "/etc/kubernetes/admin.conf")
	var r expiryReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("kubeadm on %s: %v\n%s", node, err, out)
	}
	return r
}

// certsMatchKubeadm compares our report with each control-plane node's own kubeadm, certificate
// by certificate, to the second.
func certsMatchKubeadm(t *testing.T, ours expiryReport) {
	t.Helper()
	for _, n := range env.ha.ControlPlane {
		for _, m := range harness.KubeadmMismatches(kubeadmExpiration(t, n), ours, n) {
			t.Error(m)
		}
	}
}

// certs check --control-plane through the agent: 3 nodes, each equal to that node's kubeadm.
func testCertsCheckControlPlane(t *testing.T) {
	var ours expiryReport
	r := runJSON(t, &ours, "certs", "check", "--control-plane", "--image", env.image)
	if r.Code > 1 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var nodes []string
	for _, n := range ours.Nodes {
		if n.Status == "OK" {
			nodes = append(nodes, n.Name)
		}
	}
	if !slices.Equal(nodes, env.ha.ControlPlane) {
		t.Fatalf("nodes %+v, want %v OK", ours.Nodes, env.ha.ControlPlane)
	}
	certsMatchKubeadm(t, ours)
	assertNoAgentPods(t)
}

// upgrade plan on the HA cluster in the middle of an upgrade to v1.38.0. The test simulates
// `kubeadm upgrade apply v1.38.0` on cp1: it tags cp1's locally built v1.37.2 images as v1.38.0
// in cp1's containerd and points cp1's kube-apiserver, controller-manager and scheduler
// manifests at the new tag, so the real kubelet runs them and their mirror pods say v1.38.0 (the
// binaries inside are still v1.37.2). The plan then has no skew violation, shows cp1 done, and
// goes on with cp2 and cp3 in order.
func testUpgradePlanMidUpgrade(t *testing.T) {
	comps := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	for _, c := range comps {
		nodeExec(t, "cp1", "ctr", "-n", "k8s.io", "images", "tag", "--force", "registry.k8s.io/"+c+":"+harness.KubernetesVersion, "registry.k8s.io/"+c+":v1.38.0")
	}
	editManifests(t, "cp1", func(c string, orig []byte) []byte {
		return []byte(strings.Replace(string(orig), c+":"+harness.KubernetesVersion, c+":v1.38.0", 1))
	}, comps...)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	for _, c := range comps {
		if err := waitPodReady(ctx, c, "cp1", "registry.k8s.io/"+c+":v1.38.0"); err != nil {
			t.Fatal(err)
		}
	}
	releases := filepath.Join(t.TempDir(), "releases.txt")
	if err := os.WriteFile(releases, []byte(harness.KubernetesVersion+"\nv1.38.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var p struct {
		ClusterVersion string `json:"clusterVersion"`
		Violations     []any  `json:"violations"`
		Status         string `json:"status"`
		Hops           []struct {
			Steps []struct {
				Kind, Title string
				Nodes       []string
				Commands    []string
			} `json:"steps"`
		} `json:"hops"`
	}
	r := runJSON(t, &p, "upgrade", "plan", "--to", "v1.38.0", "--releases", releases, "--kubectl-version", harness.KubernetesVersion)
	if r.Code == 2 || r.Code == 3 || len(p.Violations) != 0 || p.Status == "violated" {
		t.Fatalf("exit %d, violations %+v: a half-upgraded HA control plane is within policy\n%s", r.Code, p.Violations, r.Stderr)
	}
	if p.ClusterVersion != harness.KubernetesVersion || len(p.Hops) != 1 {
		t.Fatalf("clusterVersion %s, %d hops", p.ClusterVersion, len(p.Hops))
	}
	var order []string
	for _, s := range p.Hops[0].Steps {
		if s.Kind != "control-plane" {
			continue
		}
		order = append(order, strings.Join(s.Nodes, ","))
		cmds := strings.Join(s.Commands, "; ")
		switch {
		case slices.Equal(s.Nodes, []string{"cp1"}):
			if !strings.Contains(s.Title, "already runs v1.38.0") || strings.Contains(cmds, "kubeadm upgrade") {
				t.Errorf("cp1 is upgraded: %+v", s)
			}
		case !strings.HasPrefix(cmds, "kubeadm upgrade node"):
			t.Errorf("%v: want kubeadm upgrade node (apply ran on cp1): %+v", s.Nodes, s)
		}
		t.Logf("step %s: %s: %s", s.Kind, s.Title, cmds)
	}
	if !slices.Equal(order, env.ha.ControlPlane) {
		t.Errorf("control-plane steps on %v, want %v", order, env.ha.ControlPlane)
	}
}

// cp3 loses power (its PID 1 is killed: kubelet, containerd and its static pods end with it):
// cluster status names cp3 NotReady and its etcd member unreachable, and still returns a report.
func testPowerOffCP3(t *testing.T) {
	if err := env.ha.PowerOff("cp3"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		n, err := env.ha.Client.CoreV1().Nodes().Get(ctx, "cp3", metav1.GetOptions{})
		if err == nil && !harness.NodeReady(n) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("cp3 still Ready %s after its power-off", time.Since(start))
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("cp3 NotReady %s after its power-off", time.Since(start).Round(time.Second))
	s, r := clusterStatus(t)
	if r.Code != 2 {
		t.Errorf("exit %d, want 2 (a report with problems)\n%s", r.Code, r.Stderr)
	}
	for _, n := range s.Nodes {
		if (n.Name == "cp3") == n.Ready {
			t.Errorf("node %s ready=%v", n.Name, n.Ready)
		}
	}
	leaders := 0
	for _, m := range s.ControlPlane.Etcd.Members {
		if (m.Name == "cp3") == m.Reachable {
			t.Errorf("etcd member %s reachable=%v (%s)", m.Name, m.Reachable, m.Error)
		}
		if m.Leader {
			leaders++
		}
	}
	if len(s.ControlPlane.Etcd.Members) != 3 || leaders != 1 {
		t.Errorf("etcd members %+v: want 3, one leader among the two left", s.ControlPlane.Etcd.Members)
	}
	named := false
	for _, p := range s.Problems {
		named = named || (p.Severity == "problem" && strings.Contains(p.Message, "cp3"))
	}
	if !named {
		t.Errorf("no problem names cp3: %+v", s.Problems)
	}
}

// cp3 boots again (hack/ha-up boot: new namespaces, its containerd and kubelet, the same disks):
// it turns Ready, its static pods run, and etcd has three healthy members again.
func testBootCP3Again(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	start := time.Now()
	if err := env.ha.Boot(ctx, "cp3"); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := env.ha.Client.CoreV1().Nodes().Get(ctx, "cp3", metav1.GetOptions{})
		if err == nil && harness.NodeReady(n) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("cp3 not Ready %s after its boot", time.Since(start))
		}
		time.Sleep(2 * time.Second)
	}
	for _, c := range []string{"etcd", "kube-apiserver"} {
		if err := waitPodReady(ctx, c, "cp3", ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cp3 Ready, etcd and kube-apiserver running %s after its boot", time.Since(start).Round(time.Second))
	s, r := clusterStatus(t)
	reachable := 0
	for _, m := range s.ControlPlane.Etcd.Members {
		if m.Reachable {
			reachable++
		}
	}
	if r.Code == 2 || r.Code == 3 || reachable != 3 {
		t.Errorf("after cp3's boot: exit %d, etcd members %+v\n%s", r.Code, s.ControlPlane.Etcd.Members, r.Stderr)
	}
}
