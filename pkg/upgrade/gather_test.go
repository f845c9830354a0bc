package upgrade

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func mirrorPod(component, node, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: component + "-" + node, Namespace: "kube-system",
			Labels: map[string]string{"component": component, "tier": "control-plane"}, Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: component, Image: image}}},
	}
}

// Edge cases of the gatherer a real cluster cannot easily show: a forbidden node list, a
// non-kubeadm ConfigMap, stored objects in the metadata client, and a metric body.
func TestGather(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		mirrorPod("kube-apiserver", "cp1", "registry.k8s.io/kube-apiserver:v1.37.2"),
		mirrorPod("etcd", "cp1", "registry.k8s.io/etcd:3.7.0-0"),
		mirrorPod("kube-apiserver", "cp2", "registry.k8s.io/kube-apiserver:v1.36.4"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: "kube-system"},
			Data: map[string]string{"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.2\nclusterName: prod\netcd:\n  external:\n    endpoints: [https://10.0.0.1:2379]\n"}},
	)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
	})
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	old := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop",
			Annotations:   map[string]string{LastAppliedAnnotation: `{"apiVersion":"networking.k8s.io/v1beta1","kind":"Ingress"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm", APIVersion: "extensions/v1beta1"}, {Manager: "kubectl", APIVersion: "networking.k8s.io/v1"}}},
	}
	meta := metadatafake.NewSimpleMetadataClient(scheme, old)
	body := `apiserver_requested_deprecated_apis{group="resource.k8s.io",removed_release="1.38",resource="deviceclasses",subresource="",version="v1beta1"} 1` + "\n"
	f, err := Gather(context.Background(), Sources{Client: client, Metadata: meta, PageSize: 1,
		Metrics: func(context.Context) ([]byte, error) { return []byte(body), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Missing) != 1 || !strings.Contains(f.Missing[0].Fact, "nodes") {
		t.Errorf("missing = %+v, want the forbidden nodes", f.Missing)
	}
	if len(f.ControlPlane) != 2 || f.ControlPlane[0] != (ControlPlaneNode{Node: "cp1", APIServer: "v1.37.2", Etcd: "3.7.0-0"}) || f.ControlPlane[1].APIServer != "v1.36.4" {
		t.Errorf("control plane = %+v", f.ControlPlane)
	}
	if f.Kubeadm == nil || f.Kubeadm.ClusterName != "prod" || !f.Kubeadm.ExternalEtcd {
		t.Errorf("kubeadm = %+v", f.Kubeadm)
	}
	if len(f.DeprecatedRequests) != 1 || f.DeprecatedRequests[0].RemovedRelease != "1.38" {
		t.Errorf("metric = %+v", f.DeprecatedRequests)
	}
	var got []string
	for _, o := range f.StoredObjects {
		got = append(got, o.Source+" "+o.APIVersion+" "+o.Manager)
	}
	if strings.Join(got, ";") != "last-applied-annotation networking.k8s.io/v1beta1 ;managedFields extensions/v1beta1 helm" {
		t.Errorf("stored = %v", got)
	}
	// The plan still comes out, with the HA skew of the two apiservers.
	p, err := MakePlan(f, Options{Releases: BuiltinReleases()})
	if err != nil {
		t.Fatal(err)
	}
	if p.ClusterVersion != "v1.36.4" || p.Status != StatusWarnings {
		t.Errorf("plan: cluster %s status %s", p.ClusterVersion, p.Status)
	}
}

func TestGatherNotKubeadmAndUnreachable(t *testing.T) {
	f, err := Gather(context.Background(), Sources{Client: fake.NewClientset()})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kubeadm != nil || len(f.Missing) != 0 {
		t.Errorf("no kubeadm-config must mean not kubeadm, not a missing fact: %+v %+v", f.Kubeadm, f.Missing)
	}
	bad := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: "kube-system"},
		Data: map[string]string{"ClusterConfiguration": "kubernetesVersion: [oops"}})
	f, err = Gather(context.Background(), Sources{Client: bad})
	if err != nil || f.Kubeadm != nil || len(f.Missing) != 1 {
		t.Errorf("a broken ClusterConfiguration: err %v kubeadm %+v missing %+v", err, f.Kubeadm, f.Missing)
	}
}

// The pod, budget and DaemonSet fields the drain rules read come from the objects' own fields.
func TestGatherDrainFacts(t *testing.T) {
	now := metav1.Now()
	always := policyv1.AlwaysAllow
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kruise-a", Namespace: "shop", DeletionTimestamp: &now, Finalizers: []string{"x"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps.kruise.io/v1alpha1", Kind: "DaemonSet", Name: "agent", Controller: ptr.To(true)}}},
			Spec:   corev1.PodSpec{NodeName: "w1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "waiting", Namespace: "shop"}, Spec: corev1.PodSpec{NodeName: "w1"},
			Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Generation: 3},
			Spec:   policyv1.PodDisruptionBudgetSpec{UnhealthyPodEvictionPolicy: &always},
			Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, CurrentHealthy: 4, DesiredHealthy: 5, DisruptionsAllowed: 0}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.37.2"}}}}}},
	)
	f, err := Gather(context.Background(), Sources{Client: client, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	pods := map[string]PodFacts{}
	for _, p := range f.Pods {
		pods[p.Name] = p
	}
	if k := pods["kruise-a"]; k.ControllerAPIVersion != "apps.kruise.io/v1alpha1" || k.ControllerKind != "DaemonSet" || !k.Deleting || k.NotReady || k.Pending {
		t.Errorf("kruise-a = %+v", k)
	}
	if w := pods["waiting"]; !w.Pending || !w.NotReady || w.Deleting {
		t.Errorf("waiting = %+v", w)
	}
	if len(f.PDBs) != 1 || f.PDBs[0] != (PDBFacts{Namespace: "shop", Name: "db", Generation: 3, ObservedGeneration: 2, CurrentHealthy: 4, DesiredHealthy: 5, AlwaysAllow: true}) {
		t.Errorf("pdbs = %+v", f.PDBs)
	}
	if !f.DaemonSetsRead || len(f.DaemonSets) != 1 || f.DaemonSets[0].Images["kube-proxy"] != "registry.k8s.io/kube-proxy:v1.37.2" {
		t.Errorf("daemonsets = %+v (read %v)", f.DaemonSets, f.DaemonSetsRead)
	}
}

// kube-proxy versions come from the image of the kube-proxy pod on each node (DaemonSet or
// static), never from status.nodeInfo.kubeProxyVersion.
func TestGatherKubeProxy(t *testing.T) {
	dsPod := func(name, node, image string, edit ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-proxy"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "kube-proxy", Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "kube-proxy", Image: image}}}}
		for _, e := range edit {
			e(p)
		}
		return p
	}
	now := metav1.Now()
	node := func(name, kubelet string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet, KubeProxyVersion: kubelet}}}
	}
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		node("w1", "v1.37.2"), node("w2", "v1.37.2"), node("w3", "v1.37.2"), node("w4", "v1.37.2"),
		dsPod("kube-proxy-a", "w1", "registry.k8s.io/kube-proxy:v1.33.0"),
		// a rollout: the older of two kube-proxy pods counts
		dsPod("kube-proxy-b", "w2", "registry.k8s.io/kube-proxy:v1.37.2"),
		dsPod("kube-proxy-b2", "w2", "registry.k8s.io/kube-proxy:v1.36.1"),
		// a static kube-proxy
		mirrorPod("kube-proxy", "w3", "registry.k8s.io/kube-proxy:v1.35.4"),
		// not a kube-proxy: another namespace, a terminating pod, an unbound pod
		dsPod("kube-proxy-x", "w4", "registry.k8s.io/kube-proxy:v1.30.0", func(p *corev1.Pod) { p.Namespace = "shop" }),
		dsPod("kube-proxy-y", "w4", "registry.k8s.io/kube-proxy:v1.30.0", func(p *corev1.Pod) { p.DeletionTimestamp, p.Finalizers = &now, []string{"x"} }),
		dsPod("kube-proxy-z", "", "registry.k8s.io/kube-proxy:v1.30.0"),
		// a kube-proxy on a node the node list does not have
		dsPod("kube-proxy-c", "w9", "registry.k8s.io/kube-proxy:v1.34.0"),
	)
	f, err := Gather(context.Background(), Sources{Client: client, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range f.Nodes {
		got[n.Name] = n.KubeProxy + " (" + n.KubeProxySource + ")"
	}
	want := map[string]string{
		"w1": "v1.33.0 (pod image (DaemonSet kube-system/kube-proxy))", "w2": "v1.36.1 (pod image (DaemonSet kube-system/kube-proxy))",
		"w3": "v1.35.4 (pod image (static pod))", "w4": " ()", "w9": "v1.34.0 (pod image (DaemonSet kube-system/kube-proxy))",
	}
	if len(got) != len(want) {
		t.Errorf("nodes = %v, want %v", got, want)
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s kube-proxy = %q, want %q", n, got[n], w)
		}
	}
	v, _ := checkSkew(&Facts{APIServerVersion: "v1.37.2", Nodes: f.Nodes})
	if r := rules(v); !slices.Equal(r, []string{"kube-proxy-kubelet-skew:w1", "kube-proxy-too-old:w1"}) {
		t.Errorf("violations = %v: kube-proxy v1.33.0 on a v1.37.2 kubelet must be named", r)
	}
}
