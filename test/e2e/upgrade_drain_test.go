//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// An OpenKruise-style DaemonSet: same kind name as apps/v1's, another API group.
const kruiseDaemonSetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: daemonsets.apps.kruise.io
spec:
  group: apps.kruise.io
  names: {kind: DaemonSet, listKind: DaemonSetList, plural: daemonsets, singular: daemonset}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

const kruiseDaemonSet = `apiVersion: apps.kruise.io/v1alpha1
kind: DaemonSet
metadata: {name: agent, namespace: e-kruise}
spec: {selector: {matchLabels: {app: agent}}}
`

// evictionAnswer is what the eviction subresource says for a pod, asked with dryRun=All.
type evictionAnswer struct {
	allowed bool
	code    int32 // HTTP status of a refusal
	message string
}

func dryRunEvict(ctx context.Context, cp *harness.ControlPlane, ns, name string) (evictionAnswer, error) {
	ev := &policyv1.Eviction{TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "Eviction"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	err := cp.Client.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(name).SubResource("eviction").
		Param("dryRun", metav1.DryRunAll).Body(ev).Do(ctx).Error()
	if err == nil {
		return evictionAnswer{allowed: true}, nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return evictionAnswer{}, err
	}
	return evictionAnswer{code: status.Status().Code, message: err.Error()}, nil
}

// The cases of issue 16's "It must show" list, each in a namespace of its own. For every pod,
// the blocker report of `upgrade plan` must agree with what the real eviction subresource
// answers (POST .../eviction?dryRun=All); for the cases decided by kubectl drain's own filters
// (a DaemonSet of another group, an orphaned DaemonSet pod), it must agree with the real
// `kubectl drain --dry-run=server`. The harness has no kubelet: pod status is set through the
// status subresource, and the real disruption controller (kube-controller-manager runs kubeadm's
// --controllers=*,bootstrapsigner,tokencleaner) computes the budgets' status.
func TestUpgradePlanDrainMatchesEviction(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "drain"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kc, c := cp.AdminKubeconfig, cp.Client

	cmManifest, err := os.ReadFile(cp.ManifestPath("kube-controller-manager"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cmManifest), "--controllers=*,") {
		t.Fatalf("kube-controller-manager must run its default controllers (the disruption controller among them):\n%s", cmManifest)
	}
	for _, n := range []string{"w-evict", "w-kruise", "w-orphan"} {
		if _, err := cp.AddNode(ctx, harness.NodeSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"e-empty", "e-two", "e-pending", "e-always", "e-met", "e-short", "e-kruise", "e-orphan"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cp.WaitDefaultServiceAccount(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(ns, name, node string, labels map[string]string, edit ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
		for _, e := range edit {
			e(p)
		}
		return p
	}
	add := func(p *corev1.Pod, ready bool) {
		t.Helper()
		if _, err := cp.AddPod(ctx, p, ready); err != nil {
			t.Fatal(err)
		}
	}
	pdb := func(ns, name string, minAvailable int32, sel *metav1.LabelSelector, policy *policyv1.UnhealthyPodEvictionPolicyType) {
		t.Helper()
		if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(minAvailable)), Selector: sel, UnhealthyPodEvictionPolicy: policy}},
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	app := func(v string) map[string]string { return map[string]string{"app": v} }
	appSel := func(v string) *metav1.LabelSelector { return &metav1.LabelSelector{MatchLabels: app(v)} }

	// A PDB with an empty selector selects both pods of its namespace, whatever their labels.
	add(pod("e-empty", "web-0", "w-evict", app("web")), true)
	add(pod("e-empty", "db-0", "w-evict", app("db")), true)
	pdb("e-empty", "everything", 2, &metav1.LabelSelector{}, nil)
	// A pod selected by two PDBs, each of which allows a disruption.
	add(pod("e-two", "x-0", "w-evict", app("x")), true)
	pdb("e-two", "by-app", 0, appSel("x"), nil)
	pdb("e-two", "everything", 0, &metav1.LabelSelector{}, nil)
	// A budget with no disruption allowed, short of healthy pods (so that only canIgnorePDB can
	// let a pod go), over a Ready pod, a Pending pod and a pod being deleted.
	add(pod("e-pending", "ready", "w-evict", app("p")), true)
	if _, err := c.CoreV1().Pods("e-pending").Create(ctx, pod("e-pending", "waiting", "w-evict", app("p")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	add(pod("e-pending", "leaving", "w-evict", app("p")), true)
	// Without a kubelet to confirm it, the graceful deletion of a bound pod leaves it terminating.
	if err := c.CoreV1().Pods("e-pending").Delete(ctx, "leaving", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb("e-pending", "zero", 2, appSel("p"), nil)
	// unhealthyPodEvictionPolicy AlwaysAllow, short of healthy pods: the not-Ready pod still goes.
	add(pod("e-always", "ok", "w-evict", app("a")), true)
	add(pod("e-always", "sick", "w-evict", app("a")), false)
	pdb("e-always", "always", 2, appSel("a"), ptr.To(policyv1.AlwaysAllow))
	// The default policy (IfHealthyBudget) with currentHealthy == desiredHealthy: the not-Ready pod goes.
	add(pod("e-met", "ok", "w-evict", app("m")), true)
	add(pod("e-met", "sick", "w-evict", app("m")), false)
	pdb("e-met", "met", 1, appSel("m"), nil)
	// The default policy, short of healthy pods: the not-Ready pod is refused too.
	add(pod("e-short", "ok", "w-evict", app("s")), true)
	add(pod("e-short", "sick", "w-evict", app("s")), false)
	pdb("e-short", "short", 2, appSel("s"), nil)

	// A pod of an apps.kruise.io DaemonSet, with emptyDir data.
	dir := t.TempDir()
	for name, text := range map[string]string{"crd.yaml": kruiseDaemonSetCRD, "ds.yaml": kruiseDaemonSet} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "kubectl", "apply", "-f", filepath.Join(dir, "crd.yaml"), "--kubeconfig", kc); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, "kubectl", "wait", "--for=condition=Established", "crd/daemonsets.apps.kruise.io", "--timeout=60s", "--kubeconfig", kc); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, "kubectl", "apply", "-f", filepath.Join(dir, "ds.yaml"), "--kubeconfig", kc); r.code != 0 {
		t.Fatal(r.stderr)
	}
	uid := run(t, "kubectl", "get", "daemonsets.apps.kruise.io", "agent", "-n", "e-kruise", "-o", "jsonpath={.metadata.uid}", "--kubeconfig", kc)
	if uid.code != 0 || uid.stdout == "" {
		t.Fatalf("uid of the kruise DaemonSet: %s", uid.stderr)
	}
	emptyDirVol := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	owner := func(apiVersion, name string, uid types.UID) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: "DaemonSet", Name: name, UID: uid,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		}
	}
	add(pod("e-kruise", "agent-x", "w-kruise", app("agent"), emptyDirVol, owner("apps.kruise.io/v1alpha1", "agent", types.UID(uid.stdout))), true)
	// A pod whose apps/v1 DaemonSet no longer exists. The real garbage collector deletes it; with
	// no kubelet to confirm, it stays terminating, as on a node whose kubelet is gone.
	add(pod("e-orphan", "gone-x", "w-orphan", app("gone"), owner("apps/v1", "gone", "6f0c5d2e-0000-4000-8000-000000000001")), true)

	// The budgets as the disruption controller computes them; the test checks it set up what it meant.
	wantStatus := map[string][3]int32{ // current healthy, desired healthy, disruptions allowed
		"e-empty/everything": {2, 2, 0}, "e-two/by-app": {1, 0, 1}, "e-two/everything": {1, 0, 1},
		"e-pending/zero": {1, 2, 0}, "e-always/always": {1, 2, 0}, "e-met/met": {1, 1, 0}, "e-short/short": {1, 2, 0},
	}
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ok := 0
		for _, p := range list.Items {
			w, found := wantStatus[p.Namespace+"/"+p.Name]
			if found && p.Status.ObservedGeneration == p.Generation && [3]int32{p.Status.CurrentHealthy, p.Status.DesiredHealthy, p.Status.DisruptionsAllowed} == w {
				ok++
			}
		}
		return ok == len(wantStatus), nil
	}); err != nil {
		list, _ := c.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
		for _, p := range list.Items {
			t.Logf("%s/%s: %+v", p.Namespace, p.Name, p.Status)
		}
		t.Fatalf("the disruption controller did not compute the budgets the cases need: %v", err)
	}
	if p, err := c.CoreV1().Pods("e-pending").Get(ctx, "leaving", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("e-pending/leaving must be terminating: %v", err)
	}

	r := run(t, "kubectl", "clusterops", "upgrade", "plan", "-o", "json", "--kubeconfig", kc)
	p := planJSON(t, r)
	if r.code != 1 || len(p.MissingFacts) != 0 {
		t.Fatalf("exit %d, missing facts %+v: want 1 (warnings) and every fact read\n%s", r.code, p.MissingFacts, r.stderr)
	}
	drains := map[string]upgrade.NodeDrain{}
	refusedByReport := map[string]bool{}
	for _, d := range p.DrainBlockers {
		drains[d.Node] = d
		for _, b := range d.PDBs {
			ns, _, _ := strings.Cut(b.PDB, "/")
			for _, name := range b.Pods {
				refusedByReport[ns+"/"+name] = true
			}
		}
		for _, m := range d.MultiplePDBs {
			refusedByReport[m.Pod] = true
		}
	}

	// Every pod of the cases, asked to the real eviction subresource.
	wantRefused := map[string]int32{ // pod -> HTTP status of the refusal
		"e-empty/web-0": 429, "e-empty/db-0": 429, "e-two/x-0": 500, "e-pending/ready": 429,
		"e-always/ok": 429, "e-met/ok": 429, "e-short/ok": 429, "e-short/sick": 429,
	}
	var all []string
	for _, ns := range []string{"e-empty", "e-two", "e-pending", "e-always", "e-met", "e-short", "e-kruise", "e-orphan"} {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, pd := range pods.Items {
			all = append(all, ns+"/"+pd.Name)
		}
	}
	sort.Strings(all)
	if len(all) != 14 {
		t.Fatalf("pods of the cases = %v, want 14", all)
	}
	for _, name := range all {
		ns, podName, _ := strings.Cut(name, "/")
		ans, err := dryRunEvict(ctx, cp, ns, podName)
		if err != nil {
			t.Fatalf("eviction of %s: %v", name, err)
		}
		if ans.allowed == refusedByReport[name] {
			t.Errorf("%s: the eviction API says allowed=%v (%s), the blocker report says blocked=%v", name, ans.allowed, ans.message, refusedByReport[name])
		}
		if code, refused := wantRefused[name]; refused != !ans.allowed || (refused && code != ans.code) {
			t.Errorf("%s: eviction answered allowed=%v code %d (%s); the case is built to be refused=%v with %d", name, ans.allowed, ans.code, ans.message, refused, code)
		}
	}
	if still, err := c.CoreV1().Pods("e-short").Get(ctx, "ok", metav1.GetOptions{}); err != nil || still.DeletionTimestamp != nil {
		t.Fatalf("a dry-run eviction must leave the pod alone: %v", err)
	}

	evict := drains["w-evict"]
	wantMulti := []upgrade.MultiPDBBlock{{Pod: "e-two/x-0", PDBs: []string{"e-two/by-app", "e-two/everything"}}}
	if fmt.Sprint(evict.MultiplePDBs) != fmt.Sprint(wantMulti) {
		t.Errorf("w-evict multiplePDBs = %+v, want %+v", evict.MultiplePDBs, wantMulti)
	}
	var pdbs []string
	for _, b := range evict.PDBs {
		pdbs = append(pdbs, b.PDB+"("+strings.Join(b.Pods, ",")+")")
	}
	if want := []string{"e-always/always(ok)", "e-empty/everything(db-0,web-0)", "e-met/met(ok)", "e-pending/zero(ready)", "e-short/short(ok,sick)"}; !slices.Equal(pdbs, want) {
		t.Errorf("w-evict pdbs = %v, want %v", pdbs, want)
	}

	// The kruise pod: evicted like any pod, so its emptyDir stops a drain without
	// --delete-emptydir-data; it is no DaemonSet pod that stays.
	kd := drains["w-kruise"]
	if !slices.Equal(kd.EmptyDirPods, []string{"e-kruise/agent-x"}) || len(kd.DaemonSets) != 0 || len(kd.OrphanedDaemonSetPods) != 0 {
		t.Errorf("w-kruise drain = %+v, want emptyDir e-kruise/agent-x and no DaemonSet", kd)
	}
	dr := run(t, "kubectl", "drain", "w-kruise", "--ignore-daemonsets", "--dry-run=server", "--kubeconfig", kc)
	if dr.code == 0 || !strings.Contains(dr.stderr, "local storage") || !strings.Contains(dr.stderr, "e-kruise/agent-x") {
		t.Errorf("kubectl drain w-kruise --ignore-daemonsets: exit %d, %s; want refused for local storage of e-kruise/agent-x", dr.code, dr.stderr)
	}
	if dr := run(t, "kubectl", "drain", "w-kruise", "--ignore-daemonsets", "--delete-emptydir-data", "--dry-run=server", "--kubeconfig", kc); dr.code != 0 {
		t.Errorf("kubectl drain w-kruise --delete-emptydir-data: exit %d, %s; want the kruise pod evicted", dr.code, dr.stderr)
	}

	// The orphaned pod: kubectl drain stops on it without --force, even with --ignore-daemonsets.
	if od := drains["w-orphan"]; !slices.Equal(od.OrphanedDaemonSetPods, []string{"e-orphan/gone-x"}) || len(od.DaemonSets) != 0 {
		t.Errorf("w-orphan drain = %+v, want the orphaned e-orphan/gone-x", od)
	}
	dr = run(t, "kubectl", "drain", "w-orphan", "--ignore-daemonsets", "--delete-emptydir-data", "--dry-run=server", "--kubeconfig", kc)
	if dr.code == 0 || !strings.Contains(dr.stderr, `daemonsets.apps "gone" not found`) {
		t.Errorf("kubectl drain w-orphan --ignore-daemonsets: exit %d, %s; want refused: DaemonSet gone not found", dr.code, dr.stderr)
	}
	if dr := run(t, "kubectl", "drain", "w-orphan", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--dry-run=server", "--kubeconfig", kc); dr.code != 0 {
		t.Errorf("kubectl drain w-orphan --force: exit %d, %s", dr.code, dr.stderr)
	}

	text := run(t, "kubectl", "clusterops", "upgrade", "plan", "--kubeconfig", kc)
	for _, want := range []string{"MULTIPLE PDBS", "ORPHANED DAEMONSET PODS", "e-two/x-0(e-two/by-app,e-two/everything)", "e-orphan/gone-x"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("table output lacks %q:\n%s", want, text.stdout)
		}
	}
}
