package automate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func backupSpec(to string) EtcdBackup {
	return EtcdBackup{Name: "etcd-backup", Namespace: "kube-system", Schedule: "0 */6 * * *", Image: "img:v1", To: to, S3Secret: "s3",
		Keep: 3, Endpoint: "https://127.0.0.1:2379", CACert: "/etc/kubernetes/pki/etcd/ca.crt",
		Cert: "/etc/kubernetes/pki/etcd/healthcheck-client.crt", Key: "/etc/kubernetes/pki/etcd/healthcheck-client.key", Deadline: 30 * time.Minute,
		APIServerPort: 6443}
}

// The backup job mounts exactly the three etcd files read-only (never the CA key, never a
// directory of the PKI) and the target directory; it runs Forbid, with a deadline, on a
// control-plane node with the host network; its Role reaches only its own objects.
func TestEtcdBackupObjects(t *testing.T) {
	for _, to := range []string{"/var/backups/etcd", "s3://bucket/prefix"} {
		o := backupSpec(to).Objects()
		cj := o.CronJobs[0]
		spec := cj.Spec.JobTemplate.Spec.Template.Spec
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || *cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds != 1800 || !spec.HostNetwork {
			t.Errorf("%s: policy %s deadline %v hostNetwork %v", to, cj.Spec.ConcurrencyPolicy, cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds, spec.HostNetwork)
		}
		if _, ok := spec.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok {
			t.Errorf("%s: nodeSelector %v", to, spec.NodeSelector)
		}
		var paths []string
		for i, v := range spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			paths = append(paths, v.HostPath.Path)
			m := spec.Containers[0].VolumeMounts[i]
			isPKI := strings.HasPrefix(v.HostPath.Path, "/etc/kubernetes")
			if isPKI && (!m.ReadOnly || *v.HostPath.Type != corev1.HostPathFile) {
				t.Errorf("%s: %s mounted read-write or not as a single file", to, v.HostPath.Path)
			}
			if strings.HasSuffix(v.HostPath.Path, ".key") && !strings.HasSuffix(v.HostPath.Path, "healthcheck-client.key") {
				t.Errorf("%s: mounts key %s", to, v.HostPath.Path)
			}
		}
		want := 3
		if !IsS3(to) {
			want = 4
		}
		if len(paths) != want {
			t.Errorf("%s: host paths %v, want %d", to, paths, want)
		}
		args := strings.Join(spec.Containers[0].Args, " ")
		if !strings.Contains(args, "automate run etcd-backup --name etcd-backup --apiserver-port 6443 -- etcd snapshot save") || !strings.Contains(args, "--keep 3") {
			t.Errorf("%s: args %s", to, args)
		}
		if IsS3(to) != (len(spec.Containers[0].EnvFrom) == 1) || strings.Contains(args, "AWS_") {
			t.Errorf("%s: envFrom %v args %s", to, spec.Containers[0].EnvFrom, args)
		}
		for _, r := range o.Role.Rules {
			if len(r.ResourceNames) == 0 && !(len(r.Verbs) == 1 && r.Verbs[0] == "create" && r.Resources[0] == "events") {
				t.Errorf("%s: rule without resourceNames: %+v", to, r)
			}
		}
		for _, obj := range []metav1.Object{o.ServiceAccount, o.Role, o.RoleBinding, o.ConfigMap, cj} {
			if !ours(obj, "etcd-backup") {
				t.Errorf("%s: %s lacks our labels: %v", to, obj.GetName(), obj.GetLabels())
			}
		}
	}
}

func TestCertRenewalObjects(t *testing.T) {
	c := CertRenewal{Name: "cert-renewal", Namespace: "kube-system", Schedule: "0 3 * * 1", Image: "img:v1",
		Nodes: []string{"cp-2", "cp-1", strings.Repeat("n", 60)}, Within: 720 * time.Hour, KeepBackups: 5, Deadline: 30 * time.Minute,
		KubeconfigDir: "/etc/kubernetes", CertDir: "/etc/kubernetes/pki"}
	o := c.Objects()
	if len(o.CronJobs) != 3 || o.Lease == nil || o.CronJobs[0].Name != "cert-renewal-cp-1" || len(o.CronJobs[2].Name) > 52 {
		t.Fatalf("cronjobs %d lease %v first %s", len(o.CronJobs), o.Lease, o.CronJobs[0].Name)
	}
	for _, cj := range o.CronJobs {
		spec := cj.Spec.JobTemplate.Spec.Template.Spec
		if spec.NodeSelector[corev1.LabelHostname] != cj.Labels[LabelNode] {
			t.Errorf("%s pinned to %v, labelled %s", cj.Name, spec.NodeSelector, cj.Labels[LabelNode])
		}
	}
	leaseRule := o.Role.Rules[len(o.Role.Rules)-1]
	if leaseRule.Resources[0] != "leases" || leaseRule.ResourceNames[0] != "cert-renewal-lock" {
		t.Errorf("lease rule %+v", leaseRule)
	}
}

// Install refuses a foreign object of any of its names and writes nothing; --take-over
// replaces it; remove deletes exactly ours and leaves the foreign object and other ones alone.
func TestInstallRefusesForeignRemoveOnlyOurs(t *testing.T) {
	ctx := context.Background()
	foreign := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "etcd-backup", Namespace: "kube-system"}}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "kube-system"}}
	client := fake.NewClientset(foreign, other)
	o := backupSpec("/var/backups/etcd").Objects()
	if _, err := Install(ctx, client, o, false, false); !errors.Is(err, ErrForeign) {
		t.Fatalf("install over a foreign cronjob: %v", err)
	}
	if sas, _ := client.CoreV1().ServiceAccounts("kube-system").List(ctx, metav1.ListOptions{}); len(sas.Items) != 0 {
		t.Errorf("a refused install created %d service accounts", len(sas.Items))
	}
	if changes, err := Install(ctx, client, o, true, false); err != nil || len(changes) != 5 {
		t.Fatalf("take-over: %v %+v", err, changes)
	}
	// A second install keeps the status record.
	cm, _ := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "etcd-backup-status", metav1.GetOptions{})
	cm.Data = map[string]string{StatusKey: `{"name":"etcd-backup"}`}
	client.CoreV1().ConfigMaps("kube-system").Update(ctx, cm, metav1.UpdateOptions{})
	if _, err := Install(ctx, client, o, false, false); err != nil {
		t.Fatal(err)
	}
	if cm, _ = client.CoreV1().ConfigMaps("kube-system").Get(ctx, "etcd-backup-status", metav1.GetOptions{}); cm.Data[StatusKey] == "" {
		t.Error("reinstall dropped the status record")
	}
	changes, err := Remove(ctx, client, "kube-system", "etcd-backup", false)
	if err != nil || len(changes) != 5 {
		t.Fatalf("remove: %v %+v", err, changes)
	}
	if _, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "unrelated", metav1.GetOptions{}); err != nil {
		t.Errorf("remove deleted an unrelated configmap: %v", err)
	}
	if _, err := Remove(ctx, client, "kube-system", "etcd-backup", false); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second remove: %v", err)
	}
}

func installed(t *testing.T) *fake.Clientset {
	t.Helper()
	client := fake.NewClientset()
	if _, err := Install(context.Background(), client, backupSpec("/b").Objects(), false, false); err != nil {
		t.Fatal(err)
	}
	return client
}

func env(client *fake.Clientset, now *time.Time, exec Exec) Env {
	return Env{Name: "etcd-backup", Namespace: "kube-system", Node: "cp-1", Pod: "p", Client: client, Exec: exec,
		Clock: func() time.Time { return *now }, Log: &bytes.Buffer{},
		Sleep: func(_ context.Context, d time.Duration) error { *now = now.Add(d); return nil }}
}

// A backup run saves, verifies and records; status then reports the snapshot, exit 0; two
// intervals later exit 1; a failed run exit 2.
func TestEtcdBackupRunAndStatus(t *testing.T) {
	ctx := context.Background()
	client := installed(t)
	now := time.Date(2026, 12, 2, 6, 0, 5, 0, time.UTC)
	var calls []string
	fail := false
	exec := func(_ context.Context, args ...string) ([]byte, []byte, int, error) {
		calls = append(calls, strings.Join(args[:3], " "))
		if args[2] == "save" {
			if fail {
				return nil, []byte("error: member unreachable\n"), 3, nil
			}
			out, _ := json.Marshal(map[string]any{"path": "/host/b/etcd-backup-20261202-060005.db", "pruned": []string{"/host/b/old.db"},
				"metadata": map[string]any{"sha256": "ab", "size": 42, "revision": 7, "memberName": "cp-1", "time": now}})
			return out, nil, 0, nil
		}
		return []byte("{}"), nil, 0, nil
	}
	r, err := EtcdBackupRun(ctx, env(client, &now, exec), []string{"etcd", "snapshot", "save"})
	if err != nil || !r.Verified || r.Snapshot.Location != "/b/etcd-backup-20261202-060005.db" || r.Pruned[0] != "/b/old.db" {
		t.Fatalf("run: %v %+v", err, r)
	}
	if strings.Join(calls, ",") != "etcd snapshot save,etcd snapshot verify" {
		t.Errorf("calls %v", calls)
	}
	sts, err := Gather(ctx, client, "kube-system", now.Add(time.Hour))
	if err != nil || len(sts) != 1 || sts[0].NewestSnapshot == nil || ExitCode(sts) != 0 || sts[0].IntervalSeconds != 6*3600 {
		t.Fatalf("status: %v %+v", err, sts)
	}
	if sts, _ = Gather(ctx, client, "", now.Add(13*time.Hour)); ExitCode(sts) != 1 || sts[0].State != StateStale {
		t.Errorf("13h later: %+v", sts)
	}
	fail = true
	now = now.Add(time.Minute)
	if _, err := EtcdBackupRun(ctx, env(client, &now, exec), []string{"etcd", "snapshot", "save"}); err == nil {
		t.Fatal("a failed save did not fail the run")
	}
	sts, _ = Gather(ctx, client, "kube-system", now)
	if ExitCode(sts) != 2 || !strings.Contains(sts[0].Problem, "member unreachable") || sts[0].NewestSnapshot == nil {
		t.Errorf("after a failure: %+v", sts)
	}
	var prom bytes.Buffer
	WritePrometheus(&prom, sts, now)
	if !strings.Contains(prom.String(), `clusterops_automation_last_run_success{namespace="kube-system",name="etcd-backup",automation="etcd-backup"} 0`) {
		t.Errorf("prometheus:\n%s", prom.String())
	}
	evs, _ := client.CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{})
	if len(evs.Items) != 2 || evs.Items[1].Type != corev1.EventTypeWarning && evs.Items[0].Type != corev1.EventTypeWarning {
		t.Errorf("events: %d", len(evs.Items))
	}
}

// cert-renewal: nothing due does nothing; due certificates are renewed by name (never the
// kubelet's); a Lease held by another node makes the run wait until it is free.
func TestCertRenewalRun(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	c := CertRenewal{Name: "cert-renewal", Namespace: "kube-system", Schedule: "0 3 * * 1", Image: "i", Nodes: []string{"cp-1"},
		Within: 720 * time.Hour, KeepBackups: 5, Deadline: time.Hour, KubeconfigDir: "/etc/kubernetes", CertDir: "/etc/kubernetes/pki"}
	if _, err := Install(ctx, client, c.Objects(), false, false); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	notAfter := now.Add(400 * 24 * time.Hour)
	var renewArgs []string
	exec := func(_ context.Context, args ...string) ([]byte, []byte, int, error) {
		switch args[1] {
		case "check":
			out, _ := json.Marshal(map[string]any{"certificates": []map[string]any{
				{"name": "apiserver", "kubeadm": true, "notAfter": notAfter},
				{"name": "admin.conf", "kubeadm": true, "notAfter": notAfter.Add(time.Hour)},
				{"name": "kubelet-client-current.pem", "kubeadm": false, "notAfter": now.Add(time.Hour)},
			}})
			return out, nil, 1, nil
		case "renew":
			renewArgs = args
			notAfter = now.Add(365 * 24 * time.Hour)
			return []byte(`{"certificates":[{"name":"apiserver"}],"restarted":[{"component":"kube-apiserver"}]}`), nil, 0, nil
		}
		return []byte("{}"), nil, 0, nil
	}
	e := env(client, &now, exec)
	e.Name = "cert-renewal"
	opts := CertRenewalOptions{Within: 720 * time.Hour, KeepBackups: 5, KubeconfigDir: "/etc/kubernetes", CertDir: "/etc/kubernetes/pki",
		LeaseDuration: time.Hour, HealthTimeout: time.Minute, Ready: func(context.Context) error { return nil }}
	r, err := CertRenewalRun(ctx, e, opts)
	if err != nil || !r.NothingDue || renewArgs != nil || len(r.Kubelet) != 1 || r.Soonest.Name != "apiserver" {
		t.Fatalf("nothing due: %v %+v %v", err, r, renewArgs)
	}
	notAfter = now.Add(10 * 24 * time.Hour)
	// Another node holds the Lease for 30s more.
	l, _ := client.CoordinationV1().Leases("kube-system").Get(ctx, "cert-renewal-lock", metav1.GetOptions{})
	l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cp-2/x"), LeaseDurationSeconds: ptr.To(int32(30)), RenewTime: &metav1.MicroTime{Time: now}}
	client.CoordinationV1().Leases("kube-system").Update(ctx, l, metav1.UpdateOptions{})
	start := now
	r, err = CertRenewalRun(ctx, e, opts)
	if err != nil || r.NothingDue || len(r.Renewed) != 1 || now.Sub(start) < 30*time.Second {
		t.Fatalf("due: %v %+v waited %s", err, r, now.Sub(start))
	}
	if strings.Join(renewArgs[:4], " ") != "certs renew admin.conf apiserver" || !strings.Contains(strings.Join(renewArgs, " "), "--restart-static-pods --node-name cp-1") {
		t.Errorf("renew args %v", renewArgs)
	}
	if l, _ = client.CoordinationV1().Leases("kube-system").Get(ctx, "cert-renewal-lock", metav1.GetOptions{}); l.Spec.HolderIdentity != nil {
		t.Errorf("lease still held by %s", *l.Spec.HolderIdentity)
	}
	sts, _ := Gather(ctx, client, "kube-system", now)
	if len(sts) != 1 || sts[0].NodeRuns["cp-1"] == nil || sts[0].SoonestExpiry == nil || ExitCode(sts) != 0 {
		t.Errorf("status %+v", sts)
	}
}
