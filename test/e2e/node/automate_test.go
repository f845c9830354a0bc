//go:build e2enode

package node

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// automationObjects lists what automate installs in kube-system (by kind, name and
// resourceVersion), leaving out what changes on its own (controllers' leader Leases, the
// kubelet's and the control plane's own ConfigMaps are stable; leader Leases are not).
func automationObjects(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	c := env.node.Client
	var out []string
	add := func(kind, name, rv string) { out = append(out, kind+"/"+name+"@"+rv) }
	sas, err1 := c.CoreV1().ServiceAccounts("kube-system").List(ctx, metav1.ListOptions{})
	roles, err2 := c.RbacV1().Roles("kube-system").List(ctx, metav1.ListOptions{})
	rbs, err3 := c.RbacV1().RoleBindings("kube-system").List(ctx, metav1.ListOptions{})
	cms, err4 := c.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{})
	cjs, err5 := c.BatchV1().CronJobs("kube-system").List(ctx, metav1.ListOptions{})
	jobs, err6 := c.BatchV1().Jobs("kube-system").List(ctx, metav1.ListOptions{})
	leases, err7 := c.CoordinationV1().Leases("kube-system").List(ctx, metav1.ListOptions{})
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range sas.Items {
		add("sa", o.Name, o.ResourceVersion)
	}
	for _, o := range roles.Items {
		add("role", o.Name, o.ResourceVersion)
	}
	for _, o := range rbs.Items {
		add("rolebinding", o.Name, o.ResourceVersion)
	}
	for _, o := range cms.Items {
		add("configmap", o.Name, "")
	}
	for _, o := range cjs.Items {
		add("cronjob", o.Name, o.ResourceVersion)
	}
	for _, o := range jobs.Items {
		add("job", o.Name, "")
	}
	for _, o := range leases.Items {
		if !strings.HasPrefix(o.Name, "kube-") && !strings.HasPrefix(o.Name, "apiserver-") { // leader and identity Leases renew all the time
			add("lease", o.Name, o.ResourceVersion)
		}
	}
	sort.Strings(out)
	return out
}

// runJob runs `kubectl create job --from=cronjob/CJ NAME` and waits for it to finish; it
// returns whether it succeeded and its pod's log.
func runJob(t *testing.T, cronJob, name string, timeout time.Duration) (bool, string) {
	t.Helper()
	if r := env.cli.Run(t, nil, "kubectl", "create", "job", "-n", "kube-system", "--from=cronjob/"+cronJob, name); r.Code != 0 {
		t.Fatalf("create job: %s", r.Stderr)
	}
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		j, err := env.node.Client.BatchV1().Jobs("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range j.Status.Conditions {
				if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
					logs := env.cli.Run(t, nil, "kubectl", "logs", "-n", "kube-system", "job/"+name)
					return c.Type == batchv1.JobComplete, logs.Stdout + logs.Stderr
				}
			}
		}
		if time.Now().After(deadline) {
			logs := env.cli.Run(t, nil, "kubectl", "logs", "-n", "kube-system", "job/"+name)
			t.Fatalf("job %s did not finish within %s (%v)\n%s%s", name, timeout, err, logs.Stdout, logs.Stderr)
		}
		time.Sleep(2 * time.Second)
	}
}

type automateStatus struct {
	Automations []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		LastRun *struct {
			Succeeded  bool     `json:"succeeded"`
			NothingDue bool     `json:"nothingDue"`
			Message    string   `json:"message"`
			Renewed    []string `json:"renewed"`
			Pruned     []string `json:"pruned"`
		} `json:"lastRun"`
		NewestSnapshot *struct {
			Location string `json:"location"`
			SHA256   string `json:"sha256"`
		} `json:"newestSnapshot"`
		SoonestExpiry *struct {
			Name     string    `json:"name"`
			NotAfter time.Time `json:"notAfter"`
		} `json:"soonestExpiry"`
	} `json:"automations"`
}

func statusOf(t *testing.T, name string) (int, automateStatus) {
	t.Helper()
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "status", "-o", "json")
	var st automateStatus
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("automate status -o json: exit %d %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	for _, a := range st.Automations {
		if a.Name == name && a.LastRun != nil {
			return r.Code, st
		}
	}
	t.Fatalf("automate status has no run of %s:\n%s", name, r.Stdout)
	return 0, st
}

// automate etcd-backup on the real kubelet: the CronJob runs this plugin's image; each run
// saves a snapshot with its sidecar that real etcdutl accepts; retention keeps the newest 2 of
// the automation's own and never touches a snapshot saved by hand in the same directory;
// automate status shows the run; automate remove leaves kube-system as it was.
func testAutomateEtcdBackupNode(t *testing.T) {
	ref := imageRef(t)
	dir := "/var/lib/etcd/clusterops-e2e-backups" // below /var/lib/etcd: node-down removes it
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hand := env.cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "save", "--root", "/", "--dir", dir, "-o", "json")
	if hand.Code != 0 {
		t.Fatalf("hand-made snapshot: %s", hand.Stderr)
	}
	before := automationObjects(t)
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "etcd-backup", "--to", dir, "--keep", "2", "--image", ref)
	if r.Code != 0 {
		t.Fatalf("automate etcd-backup: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "remove", "etcd-backup")
		}
	})
	for i := 1; i <= 3; i++ {
		ok, logs := runJob(t, "etcd-backup", "etcd-backup-e2e-"+string(rune('0'+i)), 5*time.Minute)
		if !ok {
			t.Fatalf("run %d failed:\n%s", i, logs)
		}
		time.Sleep(1100 * time.Millisecond) // snapshot names have a one-second resolution
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*"))
	var ours, others []string
	for _, e := range entries {
		if strings.HasPrefix(filepath.Base(e), "etcd-backup-") {
			ours = append(ours, e)
		} else {
			others = append(others, e)
		}
	}
	var handSaved struct{ Path, Sidecar string }
	json.Unmarshal([]byte(hand.Stdout), &handSaved)
	if len(ours) != 4 || len(others) != 2 || others[0] != handSaved.Path || others[1] != handSaved.Sidecar {
		t.Fatalf("after 3 runs with --keep 2: ours %v, others %v (want 2 snapshots + 2 sidecars, and the hand-made %s with its sidecar)", ours, others, handSaved.Path)
	}
	code, st := statusOf(t, "etcd-backup")
	var newest string
	for _, a := range st.Automations {
		if a.Name == "etcd-backup" {
			if !a.LastRun.Succeeded || a.State != "ok" || a.NewestSnapshot == nil || len(a.LastRun.Pruned) != 1 {
				t.Errorf("status: %+v", a)
			} else {
				newest = a.NewestSnapshot.Location
			}
		}
	}
	if code != 0 {
		t.Errorf("automate status: exit %d", code)
	}
	if newest == "" || !strings.HasPrefix(newest, dir+"/etcd-backup-") {
		t.Fatalf("newest snapshot %q", newest)
	}
	if s := env.cli.Run(t, nil, "etcdutl", "snapshot", "status", newest, "-w", "json"); s.Code != 0 {
		t.Errorf("etcdutl snapshot status %s: exit %d %s", newest, s.Code, s.Stderr)
	}
	if r := env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "remove", "etcd-backup"); r.Code != 0 {
		t.Fatalf("automate remove: exit %d %s", r.Code, r.Stderr)
	}
	removed = true
	waitGone(t, before)
}

// waitGone waits until kube-system lists what it listed before automate (Jobs and their pods
// go with background deletion).
func waitGone(t *testing.T, before []string) {
	t.Helper()
	var after []string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if after = automationObjects(t); strings.Join(after, ",") == strings.Join(before, ",") {
			return
		}
	}
	t.Errorf("after automate remove, kube-system differs:\nbefore %v\nafter  %v", before, after)
}

// automate cert-renewal on the real kubelet: with the certificates renewed to expire within the
// window first, a run through `create job --from` renews them (the real kube-apiserver then
// serves the new certificate), and a second run the same day does nothing and says so.
func testAutomateCertRenewalNode(t *testing.T) {
	ref := imageRef(t)
	if r := env.cli.Run(t, nil, "kubectl", "clusterops", "certs", "renew", "all", "--root", "/", "--validity", "20d"); r.Code != 0 {
		t.Fatalf("short renewal: %s", r.Stderr)
	}
	short := readCertFile(t, "/etc/kubernetes/pki/apiserver.crt")
	if time.Until(short.NotAfter) > 21*24*time.Hour {
		t.Fatalf("apiserver.crt expires %v after the short renewal", short.NotAfter)
	}
	before := automationObjects(t)
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "cert-renewal", "--within", "30d", "--image", ref)
	if r.Code != 0 {
		t.Fatalf("automate cert-renewal: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "remove", "cert-renewal")
		}
	})
	cj := "cert-renewal-" + env.node.NodeName
	ok, logs := runJob(t, cj, "cert-renewal-e2e-1", 15*time.Minute)
	t.Logf("first run:\n%s", logs)
	if !ok {
		t.Fatal("the first cert-renewal run failed")
	}
	renewed := readCertFile(t, "/etc/kubernetes/pki/apiserver.crt")
	if time.Until(renewed.NotAfter) < 300*24*time.Hour {
		t.Fatalf("apiserver.crt expires %v after the automated renewal", renewed.NotAfter)
	}
	waitControlPlaneReady(t)
	apiserverServesTheFile(t)
	_, st := statusOf(t, "cert-renewal")
	for _, a := range st.Automations {
		if a.Name == "cert-renewal" && (!a.LastRun.Succeeded || a.LastRun.NothingDue || len(a.LastRun.Renewed) == 0 || a.SoonestExpiry == nil) {
			t.Errorf("status after the first run: %+v", a.LastRun)
		}
	}
	ok, logs = runJob(t, cj, "cert-renewal-e2e-2", 5*time.Minute)
	if !ok || !strings.Contains(logs, "nothing to renew") {
		t.Fatalf("second run: ok=%v\n%s", ok, logs)
	}
	if again := readCertFile(t, "/etc/kubernetes/pki/apiserver.crt"); again.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Error("the second run renewed again")
	}
	_, st = statusOf(t, "cert-renewal")
	for _, a := range st.Automations {
		if a.Name == "cert-renewal" && !a.LastRun.NothingDue {
			t.Errorf("status after the second run: %+v", a.LastRun)
		}
	}
	if r := env.cli.Run(t, nil, "kubectl", "clusterops", "automate", "remove", "cert-renewal"); r.Code != 0 {
		t.Fatalf("automate remove: exit %d %s", r.Code, r.Stderr)
	}
	removed = true
	waitGone(t, before)
}
