//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// namespaceObjects lists, by kind and name with their resourceVersion, what automate may touch in ns.
func namespaceObjects(t *testing.T, c kubernetes.Interface, ns string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	add := func(kind string, items []metav1.Object) {
		for _, o := range items {
			if o.GetName() == "default" || o.GetName() == "kube-root-ca.crt" { // made by controllers for every namespace
				continue
			}
			out = append(out, kind+"/"+o.GetName()+"@"+o.GetResourceVersion())
		}
	}
	sas, err1 := c.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
	roles, err2 := c.RbacV1().Roles(ns).List(ctx, metav1.ListOptions{})
	rbs, err3 := c.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{})
	cms, err4 := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	cjs, err5 := c.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{})
	ls, err6 := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range sas.Items {
		add("sa", []metav1.Object{&sas.Items[i]})
	}
	for i := range roles.Items {
		add("role", []metav1.Object{&roles.Items[i]})
	}
	for i := range rbs.Items {
		add("rolebinding", []metav1.Object{&rbs.Items[i]})
	}
	for i := range cms.Items {
		add("configmap", []metav1.Object{&cms.Items[i]})
	}
	for i := range cjs.Items {
		add("cronjob", []metav1.Object{&cjs.Items[i]})
	}
	for i := range ls.Items {
		if !strings.HasPrefix(ls.Items[i].Name, "kube-") && !strings.HasPrefix(ls.Items[i].Name, "apiserver-") { // leader leases renew all the time
			add("lease", []metav1.Object{&ls.Items[i]})
		}
	}
	sort.Strings(out)
	return out
}

// automate etcd-backup and cert-renewal against the real API server: the rendered objects are
// accepted (server dry-run), installed, updated in place, refused over a foreign object of the
// same name (unchanged, one line, exit 3), taken over only with --take-over; bad input is one
// line and exit 3 with nothing created; `automate remove` leaves the namespace exactly as it was
// (same objects, same resourceVersions). The jobs themselves run on the real-node tier.
func TestAutomateInstallRemove(t *testing.T) {
	cp := env.cp
	ctx := context.Background()
	kc := []string{"--kubeconfig", cp.AdminKubeconfig}
	image := []string{"--image", "localhost/kubectl-clusterops:v0.0.0-e2e"}
	ns := "automate-e2e"
	if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	before := namespaceObjects(t, cp.Client, ns)
	args := func(a ...string) []string {
		if a[0] == "etcd-backup" || a[0] == "cert-renewal" {
			a = append(a, image...)
		}
		return append(append([]string{"clusterops", "automate"}, a...), append(kc, "-n", ns)...)
	}

	// Rendered objects are what the API server accepts.
	r := run(t, "kubectl", args("etcd-backup", "--dry-run=client", "-o", "yaml", "--keep", "3")...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	file := filepath.Join(t.TempDir(), "objects.yaml")
	os.WriteFile(file, []byte(r.stdout), 0o600)
	if a := run(t, "kubectl", "apply", "--dry-run=server", "-f", file, "--kubeconfig", cp.AdminKubeconfig); a.code != 0 {
		t.Fatalf("the API server rejects the rendered objects: %s", a.stderr)
	}
	var list corev1.List
	if err := yaml.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Items) != 5 {
		t.Fatalf("rendered list: %v, %d items", err, len(list.Items))
	}
	if after := namespaceObjects(t, cp.Client, ns); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("--dry-run=client changed the namespace")
	}

	// Install, install again (configured), cert-renewal on the harness's control-plane node.
	if r = run(t, "kubectl", args("etcd-backup", "--keep", "3")...); r.code != 0 || !strings.Contains(r.stdout, "cronjob/etcd-backup created") ||
		!strings.Contains(r.stderr, "a lost node loses its snapshots") {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, "kubectl", args("etcd-backup", "--keep", "5", "--schedule", "0 3 * * *")...); r.code != 0 || !strings.Contains(r.stdout, "cronjob/etcd-backup configured") {
		t.Fatalf("second install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cj, err := cp.Client.BatchV1().CronJobs(ns).Get(ctx, "etcd-backup", metav1.GetOptions{})
	if err != nil || cj.Spec.Schedule != "0 3 * * *" || !strings.Contains(strings.Join(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " "), "--keep 5") {
		t.Fatalf("updated cronjob: %v", err)
	}
	nodes, err := cp.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "node-role.kubernetes.io/control-plane"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) > 0 {
		if r = run(t, "kubectl", args("cert-renewal", "--within", "60d")...); r.code != 0 || !strings.Contains(r.stdout, "lease/cert-renewal-lock created") {
			t.Fatalf("cert-renewal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	} else {
		oneLineError(t, run(t, "kubectl", args("cert-renewal")...), "no node has the node-role.kubernetes.io/control-plane label")
	}

	// A foreign object of an automation's name: refused, unchanged; --take-over replaces it.
	foreign := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "5 5 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "theirs:1"}}}}}}}}
	created, err := cp.Client.BatchV1().CronJobs(ns).Create(ctx, foreign, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oneLineError(t, run(t, "kubectl", args("etcd-backup", "--name", "nightly")...), "is not made by this automation")
	if got, err := cp.Client.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}); err != nil || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("the refused install changed the foreign CronJob: %v", err)
	}
	if _, err := cp.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "nightly", metav1.GetOptions{}); err == nil {
		t.Fatal("the refused install created a ServiceAccount")
	}
	oneLineError(t, run(t, "kubectl", args("remove", "nightly")...), "not installed")
	if _, err := cp.Client.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}); err != nil {
		t.Fatalf("remove deleted a foreign CronJob: %v", err)
	}
	cp.Client.BatchV1().CronJobs(ns).Delete(ctx, "nightly", metav1.DeleteOptions{})

	// Bad input: one line, exit 3, nothing created.
	mid := namespaceObjects(t, cp.Client, ns)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"etcd-backup", "--name", "b1", "--schedule", "hourly"}, "--schedule"},
		{[]string{"etcd-backup", "--name", "b2", "--to", "s3://bucket/p"}, "--s3-secret"},
		{[]string{"etcd-backup", "--name", "b3", "--to", "s3://bucket/p", "--s3-secret", "missing"}, "secret " + ns + "/missing not found"},
		{[]string{"etcd-backup", "--name", "b4", "--to", "relative/dir"}, "absolute directory"},
		{[]string{"cert-renewal", "--name", "c1", "--within", "soon"}, "--within"},
		{[]string{"cert-renewal", "--name", "c2", "--nodes", "no-such-node"}, "not a control-plane node"},
		{[]string{"remove", "never-installed"}, "not installed"},
	} {
		oneLineError(t, run(t, "kubectl", args(c.args...)...), c.want)
	}
	if after := namespaceObjects(t, cp.Client, ns); strings.Join(after, ",") != strings.Join(mid, ",") {
		t.Errorf("bad input changed the namespace:\n%v\n%v", mid, after)
	}

	// Status before any run: never-run, exit 0.
	if r = run(t, "kubectl", args("status")...); r.code != 0 || !strings.Contains(r.stdout, "never-run") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// remove leaves the namespace as it was.
	for _, name := range []string{"etcd-backup", "cert-renewal"} {
		if len(nodes.Items) == 0 && name == "cert-renewal" {
			continue
		}
		if r = run(t, "kubectl", args("remove", name)...); r.code != 0 {
			t.Fatalf("remove %s: exit %d %s", name, r.code, r.stderr)
		}
	}
	if after := namespaceObjects(t, cp.Client, ns); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("after remove the namespace differs:\nbefore %v\nafter  %v", before, after)
	}

	// The old name still works: one line about the change, and it renders.
	r = run(t, "kubectl", "clusterops", "etcd", "snapshot", "schedule", "--keep", "3", "--image", "localhost/x:v1", "--kubeconfig", cp.AdminKubeconfig)
	if r.code != 0 || !strings.Contains(r.stderr, "is now `kubectl clusterops automate etcd-backup`") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stdout, "kind: CronJob") {
		t.Errorf("alias: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
