package backup

import (
	"context"
	"fmt"
	"path"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchclient "k8s.io/client-go/kubernetes/typed/batch/v1"
	"k8s.io/utils/ptr"
)

// ScheduleOptions describe the CronJob that takes scheduled snapshots on control-plane nodes.
type ScheduleOptions struct {
	Name, Namespace string
	Schedule        string
	// Image runs etcdctl: the etcd image of the static pod manifest.
	Image string
	// BackupDir is the host directory the snapshots go to.
	BackupDir string
	// Keep is how many snapshots to keep (0: keep all). Pruning runs in ShellImage after the
	// snapshot succeeded (the etcd image has no shell).
	Keep       int
	ShellImage string
	// Endpoint and the node paths of the certificates etcdctl uses.
	Endpoint, CACert, Cert, Key string
}

// CronJob renders the scheduled-snapshot CronJob: on a control-plane node (nodeSelector and
// toleration), host network, the etcd certs and the backup dir from hostPath, concurrency
// Forbid. Each run saves <BackupDir>/<job name>.db (a job name is unique per scheduled time).
func CronJob(o ScheduleOptions) *batchv1.CronJob {
	labels := map[string]string{"app.kubernetes.io/name": o.Name, "app.kubernetes.io/managed-by": "kubectl-clusterops"}
	pkiDir := path.Dir(o.CACert)
	mounts := []corev1.VolumeMount{
		{Name: "etcd-certs", MountPath: pkiDir, ReadOnly: true},
		{Name: "backup", MountPath: "/backup"},
	}
	save := corev1.Container{
		Name:  "snapshot",
		Image: o.Image,
		Command: []string{"etcdctl", "--endpoints=" + o.Endpoint, "--cacert=" + o.CACert, "--cert=" + o.Cert,
			"--key=" + o.Key, "snapshot", "save", "/backup/$(JOB_NAME).db"},
		Env: []corev1.EnvVar{{Name: "JOB_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['batch.kubernetes.io/job-name']"}}}},
		VolumeMounts: mounts,
	}
	pod := corev1.PodSpec{
		HostNetwork:       true,
		RestartPolicy:     corev1.RestartPolicyNever,
		PriorityClassName: "system-cluster-critical",
		NodeSelector:      map[string]string{"node-role.kubernetes.io/control-plane": ""},
		Tolerations: []corev1.Toleration{
			{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		},
		Volumes: []corev1.Volume{
			{Name: "etcd-certs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: pkiDir, Type: ptr.To(corev1.HostPathDirectory)}}},
			{Name: "backup", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: o.BackupDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		},
	}
	if o.Keep > 0 {
		pod.InitContainers = []corev1.Container{save}
		pod.Containers = []corev1.Container{{
			Name:  "prune",
			Image: o.ShellImage,
			Command: []string{"sh", "-c", fmt.Sprintf(
				"cd /backup && ls -1t %s-*.db | tail -n +%d | xargs -r rm -f -- && ls -l /backup", shellQuote(o.Name), o.Keep+1)},
			VolumeMounts: []corev1.VolumeMount{{Name: "backup", MountPath: "/backup"}},
		}}
	} else {
		pod.Containers = []corev1.Container{save}
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.CronJobSpec{
			Schedule:                   o.Schedule,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](1),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       pod,
					},
				},
			},
		},
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ApplyCronJob creates the CronJob, or updates the one of the same name. It returns
// "created" or "configured".
func ApplyCronJob(ctx context.Context, c batchclient.CronJobsGetter, cj *batchv1.CronJob) (string, error) {
	api := c.CronJobs(cj.Namespace)
	cur, err := api.Get(ctx, cj.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, cj, metav1.CreateOptions{})
		return "created", err
	}
	if err != nil {
		return "", err
	}
	next := cur.DeepCopy()
	next.Labels, next.Spec = cj.Labels, cj.Spec
	_, err = api.Update(ctx, next, metav1.UpdateOptions{})
	return "configured", err
}
