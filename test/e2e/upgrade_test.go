//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// upgradePlanJSON is the part of `upgrade plan -o json` the tests read.
type upgradePlanJSON struct {
	Kind         string `json:"kind"`
	upgrade.Plan `json:",inline"`
}

func planJSON(t *testing.T, r result) upgradePlanJSON {
	t.Helper()
	var p upgradePlanJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("upgrade plan -o json is not JSON (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return p
}

const deviceClassV1beta1 = `apiVersion: resource.k8s.io/v1beta1
kind: DeviceClass
metadata:
  name: gpu.example.com
spec:
  selectors:
  - cel:
      expression: device.driver == "gpu.example.com"
`

// A kubeadm control plane (real kubeadm-config, mirror pods) with kubelets at v1.34, v1.36 and
// v1.37, a PodDisruptionBudget the real disruption controller computes to 0 allowed disruptions,
// a bare pod with emptyDir data, an API removed by the next hop requested for real, and objects
// written with removed API versions. The plan names each of them.
func TestUpgradePlan(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "upgrade"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kc := cp.AdminKubeconfig

	// v1.37.2 serves no deprecated API by default (no alpha/beta group versions are enabled), so
	// enable one that v1.38 removes, as an admin would with --runtime-config.
	if out := run(t, "kubectl", "api-versions", "--kubeconfig", kc); strings.Contains(out.stdout, "beta") {
		t.Logf("note: the default v1.37.2 apiserver serves beta APIs:\n%s", out.stdout)
	}
	if err := cp.SetAPIServerFlag(ctx, "runtime-config", "resource.k8s.io/v1beta1=true"); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "deviceclass.yaml")
	if err := os.WriteFile(manifest, []byte(deviceClassV1beta1), 0o600); err != nil {
		t.Fatal(err)
	}
	// The real kubectl apply: a real request to the deprecated API (the metric), and a stored
	// object whose managedFields and last-applied annotation name resource.k8s.io/v1beta1.
	if r := run(t, "kubectl", "apply", "-f", manifest, "--kubeconfig", kc); r.code != 0 {
		t.Fatalf("kubectl apply of a resource.k8s.io/v1beta1 DeviceClass failed: %s", r.stderr)
	}

	for _, n := range []harness.NodeSpec{{Name: "w134", KubeletVersion: "v1.34.5"}, {Name: "w136", KubeletVersion: "v1.36.1"}, {Name: "w137", KubeletVersion: "v1.37.2"}} {
		if _, err := cp.AddNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	c := cp.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.WaitDefaultServiceAccount(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	container := []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}
	for _, name := range []string{"db-0", "db-1"} {
		if _, err := cp.AddRunningPod(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "db"}},
			Spec: corev1.PodSpec{NodeName: "w136", Containers: container}}); err != nil {
			t.Fatal(err)
		}
	}
	// The real ReplicaSet controller adopts the two pods (they become its replicas).
	if _, err := c.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: corev1.PodSpec{Containers: container}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets("shop").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.AddRunningPod(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: "shop"},
		Spec: corev1.PodSpec{NodeName: "w137", Containers: container,
			Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}); err != nil {
		t.Fatal(err)
	}
	// An Ingress whose manifest was last applied as extensions/v1beta1 (removed in v1.22).
	lastApplied := `{"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"web","namespace":"shop"},"spec":{"backend":{"serviceName":"web","servicePort":80}}}`
	if _, err := c.NetworkingV1().Ingresses("shop").Create(ctx, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{upgrade.LastAppliedAnnotation: lastApplied}},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait for the real controllers: adoption by the ReplicaSet, and the disruption controller's status.
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pdb, err := c.PolicyV1().PodDisruptionBudgets("shop").Get(ctx, "db", metav1.GetOptions{})
		if err != nil || pdb.Status.ObservedGeneration < 1 || pdb.Status.CurrentHealthy != 2 {
			return false, nil
		}
		pod, err := c.CoreV1().Pods("shop").Get(ctx, "db-0", metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(pod) != nil && pdb.Status.DisruptionsAllowed == 0, nil
	}); err != nil {
		pdb, _ := c.PolicyV1().PodDisruptionBudgets("shop").Get(ctx, "db", metav1.GetOptions{})
		t.Fatalf("the disruption controller did not report 0 allowed disruptions for 2 healthy adopted pods: %+v", pdb.Status)
	}

	// v1.38.1 is not released yet (the built-in table ends at v1.37.2): a table file stands in.
	releases := filepath.Join(t.TempDir(), "releases.txt")
	if err := os.WriteFile(releases, []byte("v1.37.2\nv1.38.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "json", "--kubeconfig", kc)
	p := planJSON(t, r)
	if r.code != 1 || p.Status != upgrade.StatusWarnings {
		t.Errorf("exit %d status %s, want 1 warnings", r.code, p.Status)
	}
	if p.Kind != "UpgradePlan" || p.ClusterVersion != "v1.37.2" || p.Target != "v1.38.1" {
		t.Errorf("kind %s clusterVersion %s target %s", p.Kind, p.ClusterVersion, p.Target)
	}
	if p.Kubeadm == nil || p.Kubeadm.ClusterName != "upgrade" || p.Kubeadm.KubernetesVersion != "v1.37.2" {
		t.Errorf("kubeadm-config = %+v", p.Kubeadm)
	}
	wantCP := upgrade.ControlPlaneNode{Node: cp.NodeName, APIServer: "v1.37.2", ControllerManager: "v1.37.2", Scheduler: "v1.37.2", Etcd: etcdTag(t, cp)}
	if len(p.ControlPlane) != 1 || p.ControlPlane[0] != wantCP {
		t.Errorf("controlPlane = %+v, want [%+v]", p.ControlPlane, wantCP)
	}
	kubelets := map[string][]string{}
	for _, cv := range p.Components {
		if cv.Component == "kubelet" {
			kubelets[cv.Version] = cv.Nodes
		}
	}
	if !slices.Equal(kubelets["v1.34.5"], []string{"w134"}) || !slices.Equal(kubelets["v1.36.1"], []string{"w136"}) ||
		!slices.Equal(kubelets["v1.37.2"], []string{cp.NodeName, "w137"}) {
		t.Errorf("kubelet versions = %v", kubelets)
	}
	if len(p.Violations) != 0 {
		t.Errorf("violations = %+v", p.Violations)
	}
	if len(p.Hops) != 1 {
		t.Fatalf("hops = %+v", p.Hops)
	}
	h := p.Hops[0]
	if h.From != "v1.37.2" || h.To != "v1.38.1" || h.Steps[0].Kind != "snapshot" {
		t.Errorf("hop = %s -> %s, first step %+v", h.From, h.To, h.Steps[0])
	}
	steps := map[string]upgrade.Step{}
	for _, s := range h.Steps {
		steps[s.Kind] = s
	}
	if s := steps["workers-first"]; !slices.Equal(s.Nodes, []string{"w134"}) {
		t.Errorf("workers-first = %+v, want w134 (v1.34 is 4 minors behind v1.38)", s)
	}
	if s := steps["control-plane"]; !slices.Equal(s.Nodes, []string{cp.NodeName}) || !slices.Contains(s.Commands, "kubeadm upgrade apply v1.38.1") {
		t.Errorf("control-plane step = %+v", s)
	}
	if s := steps["workers"]; !slices.Equal(s.Nodes, []string{"w134", "w136", "w137"}) {
		t.Errorf("workers step = %+v", s)
	}
	var apis []string
	for _, a := range p.RemovedAPIs {
		apis = append(apis, strings.Join([]string{a.Source, a.APIVersion, a.Resource, a.Object, a.Manager, a.Hop}, " "))
	}
	wantAPIs := []string{
		"last-applied-annotation extensions/v1beta1 ingresses shop/web  removed",
		"apiserver-metric resource.k8s.io/v1beta1 deviceclasses   v1.38.1",
		"last-applied-annotation resource.k8s.io/v1beta1 deviceclasses gpu.example.com  v1.38.1",
		"managedFields resource.k8s.io/v1beta1 deviceclasses gpu.example.com kubectl-client-side-apply v1.38.1",
	}
	if !slices.Equal(apis, wantAPIs) {
		t.Errorf("removedAPIs =\n%s\nwant\n%s", strings.Join(apis, "\n"), strings.Join(wantAPIs, "\n"))
	}
	drains := map[string]upgrade.NodeDrain{}
	for _, d := range p.DrainBlockers {
		drains[d.Node] = d
	}
	if d := drains["w136"]; len(d.PDBs) != 1 || d.PDBs[0].PDB != "shop/db" || !slices.Equal(d.PDBs[0].Pods, []string{"db-0", "db-1"}) || len(d.BarePods) != 0 {
		t.Errorf("w136 drain = %+v, want PDB shop/db over db-0, db-1 and no bare pod (adopted)", d)
	}
	if d := drains["w137"]; !slices.Equal(d.BarePods, []string{"shop/debug"}) || !slices.Equal(d.EmptyDirPods, []string{"shop/debug"}) {
		t.Errorf("w137 drain = %+v", d)
	}
	if _, ok := drains["w134"]; ok || len(p.DrainBlockers) != 2 {
		t.Errorf("drain blockers = %+v, want only w136 and w137", p.DrainBlockers)
	}
	if len(p.MissingFacts) != 0 {
		t.Errorf("missing facts as cluster-admin: %+v", p.MissingFacts)
	}

	text := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "--kubeconfig", kc)
	for _, want := range []string{"Hop 1: v1.37.2 -> v1.38.1", "kubectl clusterops etcd snapshot save", "REMOVED APIS IN USE", "apiserver-metric",
		"DRAIN BLOCKERS", "shop/db(db-0,db-1)", "Status: warnings (exit 1)"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("table output lacks %q", want)
		}
	}
	md := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "markdown", "--kubeconfig", kc)
	if md.code != 1 || !strings.Contains(md.stdout, "## Hop 1: v1.37.2 -> v1.38.1") || !strings.Contains(md.stdout, "- [ ] Clear the drain of `w136`") {
		t.Errorf("markdown runbook (exit %d) lacks the hop or the drain item", md.code)
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct{ to, want string }{
			{"v1.36.0", "older than the cluster (v1.37.2)"},
			{"v1.40.0", "go generate ./pkg/upgrade"},
			{"next", "is not a version"},
		} {
			r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--to", tc.to, "--kubeconfig", kc)
			if r.code != 3 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
				t.Errorf("--to %s: exit %d, stderr %q, stdout %q; want exit 3, one line containing %q", tc.to, r.code, r.stderr, r.stdout, tc.want)
			}
		}
	})

	t.Run("forbidden reads", func(t *testing.T) {
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "upgrade-viewer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "viewer"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "json", "--as", "viewer", "--kubeconfig", kc)
		p := planJSON(t, r)
		var facts []string
		for _, m := range p.MissingFacts {
			facts = append(facts, m.Fact)
		}
		joined := strings.Join(facts, "\n")
		if r.code != 1 || !strings.Contains(joined, "nodes (kubelet") || !strings.Contains(joined, "/metrics") {
			t.Errorf("exit %d, missing facts %v: want nodes and /metrics listed", r.code, facts)
		}
		if p.ClusterVersion != "v1.37.2" || len(p.ControlPlane) != 1 || p.Target != "v1.38.1" {
			t.Errorf("the plan must still be made from the readable facts: %+v", p.Plan.ControlPlane)
		}
	})

	t.Run("violation", func(t *testing.T) {
		if _, err := cp.AddNode(ctx, harness.NodeSpec{Name: "w133", KubeletVersion: "v1.33.9"}); err != nil {
			t.Fatal(err)
		}
		r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "json", "--kubeconfig", kc)
		p := planJSON(t, r)
		found := false
		for _, v := range p.Violations {
			found = found || (v.Rule == "kubelet-too-old" && slices.Equal(v.Nodes, []string{"w133"}))
		}
		if r.code != 2 || !found {
			t.Errorf("exit %d violations %+v: want 2 and kubelet-too-old on w133", r.code, p.Violations)
		}
		if err := c.CoreV1().Nodes().Delete(ctx, "w133", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("mixed HA apiservers", func(t *testing.T) {
		// A second control-plane node whose static pods run v1.35.0: its mirror pods are made
		// from the real kubeadm manifests with the image tag changed.
		node, err := cp.AddNode(ctx, harness.NodeSpec{Name: "cp-old", KubeletVersion: "v1.35.0", ControlPlane: true})
		if err != nil {
			t.Fatal(err)
		}
		var made []string
		for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			data, err := os.ReadFile(cp.ManifestPath(comp))
			if err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(t.TempDir(), comp+".yaml")
			if err := os.WriteFile(old, []byte(strings.ReplaceAll(string(data), ":v1.37.2", ":v1.35.0")), 0o600); err != nil {
				t.Fatal(err)
			}
			pod, err := cp.MirrorPod(ctx, node, old)
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, pod.Name)
		}
		r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "json", "--kubeconfig", kc)
		p := planJSON(t, r)
		var rules []string
		for _, v := range p.Violations {
			rules = append(rules, v.Rule)
		}
		if r.code != 2 || !slices.Contains(rules, "apiserver-ha-skew") || p.ClusterVersion != "v1.35.0" || len(p.ControlPlane) != 2 {
			t.Errorf("exit %d, clusterVersion %s, controlPlane %+v, violations %v: want 2, v1.35.0, two nodes, apiserver-ha-skew",
				r.code, p.ClusterVersion, p.ControlPlane, rules)
		}
		for _, name := range made {
			if err := c.CoreV1().Pods("kube-system").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.CoreV1().Nodes().Delete(ctx, "cp-old", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("not kubeadm", func(t *testing.T) {
		if err := c.CoreV1().ConfigMaps("kube-system").Delete(ctx, "kubeadm-config", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r := run(t, "kubectl", "clusterops", "upgrade", "plan", "--releases", releases, "-o", "json", "--kubeconfig", kc)
		p := planJSON(t, r)
		if p.Kubeadm != nil || !strings.Contains(strings.Join(p.Notes, " "), "not managed by kubeadm") || strings.Contains(r.stdout, "kubeadm upgrade apply") {
			t.Errorf("without kubeadm-config: kubeadm %+v notes %v", p.Kubeadm, p.Notes)
		}
		if len(p.Hops) != 1 {
			t.Errorf("it must still plan: %+v", p.Hops)
		}
	})
}

// etcdTag is the image tag in the etcd manifest kubeadm wrote.
func etcdTag(t *testing.T, cp *harness.ControlPlane) string {
	pod, err := harness.ReadManifest(cp.ManifestPath("etcd"))
	if err != nil {
		t.Fatal(err)
	}
	img := pod.Spec.Containers[0].Image
	return img[strings.LastIndexByte(img, ':')+1:]
}
