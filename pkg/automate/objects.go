// Package automate builds, installs, runs and reports the in-cluster maintenance automations:
// scheduled etcd snapshots (etcd-backup) and certificate renewal (cert-renewal). Each one is a set
// of objects marked with the managed-by label and the automation label: a ServiceAccount with a
// Role that reaches only the automation's own status ConfigMap, Lease and CronJobs, that
// ConfigMap, and the CronJob(s) that run this plugin's own image.
package automate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
)

// The kinds of automation.
const (
	KindEtcdBackup  = "etcd-backup"
	KindCertRenewal = "cert-renewal"
)

// Labels and annotations on every object an automation installs.
const (
	LabelManagedBy  = agent.LabelManagedBy
	ManagedBy       = agent.ManagedBy
	LabelAutomation = "clusterops.io/automation" // the kind
	LabelInstance   = "clusterops.io/automation-name"
	LabelNode       = "clusterops.io/node" // cert-renewal: the node a CronJob renews
	// AnnotationSpec records the flags an automation was installed with (for status and updates).
	AnnotationSpec = "clusterops.io/automation-spec"
	// StatusKey is the ConfigMap key holding the last run record (JSON).
	StatusKey = "last-run.json"
	// ContainerName is the CronJob pods' one container.
	ContainerName = "run"
	// S3Prefix marks an object-storage target.
	S3Prefix = "s3://"
)

// EtcdBackup is `automate etcd-backup`: a CronJob that runs `etcd snapshot save` of this plugin on
// a control-plane node (from a healthy follower when there is one), verifies the snapshot, keeps it
// in a node directory or uploads it to object storage, prunes what the retention does not keep,
// and records the run.
type EtcdBackup struct {
	Name, Namespace, Schedule, Image string
	// To is a node directory (hostPath) or s3://BUCKET/PREFIX.
	To string
	// S3Secret names the Secret whose AWS_* keys the job gets as environment (with an s3:// To).
	S3Secret   string
	Keep       int
	KeepWithin time.Duration
	// Endpoint is the etcd client URL as seen from the node (host network); the CA certificate
	// and the client pair are node paths, each mounted read-only on its own.
	Endpoint, CACert, Cert, Key string
	Deadline                    time.Duration
	// APIServerPort is the port kube-apiserver listens on on the control-plane nodes: the job
	// talks to its own node's kube-apiserver (see LocalAPIServer).
	APIServerPort int
}

// CertRenewal is `automate cert-renewal`: one CronJob per control-plane node, each renewing only
// its own node, serialized by a Lease so that two nodes never renew at once.
type CertRenewal struct {
	Name, Namespace, Schedule, Image string
	Nodes                            []string
	Within                           time.Duration
	KeepBackups                      int
	Deadline                         time.Duration
	// KubeconfigDir and CertDir are kubeadm's layout on the nodes.
	KubeconfigDir, CertDir string
	APIServerPort          int
}

// Objects is what an automation installs, in creation order.
type Objects struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	ConfigMap      *corev1.ConfigMap
	Lease          *coordinationv1.Lease // cert-renewal only
	CronJobs       []*batchv1.CronJob
}

// IsS3 reports whether to is an object-storage URL.
func IsS3(to string) bool { return strings.HasPrefix(to, S3Prefix) }

// StatusName is the automation's status ConfigMap.
func StatusName(name string) string { return name + "-status" }

// LockName is cert-renewal's Lease.
func LockName(name string) string { return name + "-lock" }

func labels(kind, name string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelAutomation: kind, LabelInstance: name,
		"app.kubernetes.io/name": "kubectl-clusterops", "app.kubernetes.io/component": kind}
}

// meta names an object of the automation instance (objName may differ from instance).
func meta(kind, instance, objName, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: objName, Namespace: ns, Labels: labels(kind, instance)}
}

// Selector selects every object of one automation instance.
func Selector(name string) string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelInstance + "=" + name
}

// base builds the ServiceAccount, the Role, its binding and the status ConfigMap. The Role lets
// the job read and update its own ConfigMap, read its own CronJobs (to name them in Events),
// create Events, and, with lease, take its own Lease; nothing else. Create on Events cannot be
// limited to names (RBAC has no resourceNames for create).
func base(kind, name, ns string, cronJobs []string, lease bool) Objects {
	m := meta(kind, name, name, ns)
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{StatusName(name)}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"cronjobs"}, ResourceNames: cronJobs, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}},
	}
	o := Objects{
		ServiceAccount: &corev1.ServiceAccount{ObjectMeta: m, AutomountServiceAccountToken: ptr.To(false)},
		ConfigMap:      &corev1.ConfigMap{ObjectMeta: meta(kind, name, StatusName(name), ns), Data: map[string]string{}},
	}
	if lease {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			ResourceNames: []string{LockName(name)}, Verbs: []string{"get", "update"}})
		o.Lease = &coordinationv1.Lease{ObjectMeta: meta(kind, name, LockName(name), ns)}
	}
	o.Role = &rbacv1.Role{ObjectMeta: m, Rules: rules}
	o.RoleBinding = &rbacv1.RoleBinding{ObjectMeta: m,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}}
	return o
}

type hostFile struct {
	name, path string
	write, dir bool
	create     bool // DirectoryOrCreate: the backup directory the admin named
}

// podTemplate is the job pod shared by both automations: this plugin's image, uid 0 (the keys
// are root's, mode 0600), not privileged, no escalation, a read-only root filesystem, the
// runtime's seccomp profile, every taint tolerated, the service account token mounted (the run
// records itself), and an emptyDir /tmp.
func podTemplate(kind, name, image string, args []string, files []hostFile, hostNetwork bool, deadline time.Duration, nodeSelector map[string]string, writes bool) corev1.PodTemplateSpec {
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, f := range files {
		t := corev1.HostPathFile
		if f.dir {
			t = corev1.HostPathDirectory
		}
		if f.create {
			t = corev1.HostPathDirectoryOrCreate
		}
		volumes = append(volumes, corev1.Volume{Name: f.name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: f.path, Type: &t}}})
		mounts = append(mounts, corev1.VolumeMount{Name: f.name, MountPath: path.Join(agent.HostRoot, f.path), ReadOnly: !f.write})
	}
	volumes = append(volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	mounts = append(mounts, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})
	caps := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	if writes {
		caps.Add = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER"}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels(kind, name)},
		Spec: corev1.PodSpec{
			ServiceAccountName:            name,
			AutomountServiceAccountToken:  ptr.To(true),
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(int64(deadline / time.Second)),
			TerminationGracePeriodSeconds: ptr.To(int64(60)),
			NodeSelector:                  nodeSelector,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			HostNetwork:                   hostNetwork,
			DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
			EnableServiceLinks:            ptr.To(false),
			PriorityClassName:             "system-cluster-critical",
			Volumes:                       volumes,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsUser: ptr.To(int64(0)), RunAsGroup: ptr.To(int64(0)), RunAsNonRoot: ptr.To(false),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: ContainerName, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{agent.Entrypoint}, Args: args, VolumeMounts: mounts,
				Env: []corev1.EnvVar{
					{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem: ptr.To(true), Capabilities: caps,
				},
			}},
		},
	}
}

func cronJob(kind, name, cjName, ns, schedule string, tmpl corev1.PodTemplateSpec, deadline time.Duration, spec string) *batchv1.CronJob {
	m := meta(kind, name, cjName, ns)
	m.Annotations = map[string]string{AnnotationSpec: spec}
	tmpl.Labels[LabelInstance] = name
	return &batchv1.CronJob{
		ObjectMeta: m,
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To(int64(600)),
			SuccessfulJobsHistoryLimit: ptr.To(int32(3)),
			FailedJobsHistoryLimit:     ptr.To(int32(3)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(kind, name)},
				Spec: batchv1.JobSpec{
					BackoffLimit:          ptr.To(int32(0)),
					ActiveDeadlineSeconds: ptr.To(int64(deadline / time.Second)),
					Template:              tmpl,
				},
			},
		},
	}
}

// Objects renders the etcd-backup automation.
func (b EtcdBackup) Objects() Objects {
	o := base(KindEtcdBackup, b.Name, b.Namespace, []string{b.Name}, false)
	files := []hostFile{{name: "etcd-ca-cert", path: b.CACert}, {name: "etcd-client-cert", path: b.Cert}, {name: "etcd-client-key", path: b.Key}}
	save := []string{"etcd", "snapshot", "save", "--endpoints", b.Endpoint,
		"--cacert", path.Join(agent.HostRoot, b.CACert), "--cert", path.Join(agent.HostRoot, b.Cert), "--key", path.Join(agent.HostRoot, b.Key),
		"--prefix", b.Name, "-o", "json"}
	if b.Keep > 0 {
		save = append(save, "--keep", strconv.Itoa(b.Keep))
	}
	if b.KeepWithin > 0 {
		save = append(save, "--keep-within", b.KeepWithin.String())
	}
	if IsS3(b.To) {
		save = append(save, "--to", b.To)
	} else {
		files = append(files, hostFile{name: "backup", path: b.To, write: true, dir: true, create: true})
		save = append(save, "--dir", path.Join(agent.HostRoot, b.To))
	}
	args := append([]string{"automate", "run", KindEtcdBackup, "--name", b.Name, "--apiserver-port", strconv.Itoa(b.APIServerPort), "--"}, save...)
	tmpl := podTemplate(KindEtcdBackup, b.Name, b.Image, args, files, true, b.Deadline,
		map[string]string{agent.LabelControlPlane: ""}, !IsS3(b.To))
	if IsS3(b.To) {
		tmpl.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: b.S3Secret}}}}
	}
	o.CronJobs = []*batchv1.CronJob{cronJob(KindEtcdBackup, b.Name, b.Name, b.Namespace, b.Schedule, tmpl, b.Deadline, b.spec())}
	return o
}

func (b EtcdBackup) spec() string {
	return fmt.Sprintf("to=%s keep=%d keep-within=%s", b.To, b.Keep, b.KeepWithin)
}

// CronJobName is the cert-renewal CronJob of node: NAME-NODE, or NAME-<hash> when that is longer
// than a CronJob name may be (52 characters).
func (c CertRenewal) CronJobName(node string) string {
	n := c.Name + "-" + node
	if len(n) <= 52 {
		return n
	}
	sum := sha256.Sum256([]byte(node))
	return c.Name + "-" + hex.EncodeToString(sum[:])[:10]
}

// Objects renders the cert-renewal automation: one CronJob per node, pinned to it. Why not one
// job that rolls through the nodes: that job would need to create pods with hostPath mounts on
// every control-plane node, which is as much as cluster-admin; a CronJob per node needs nothing
// but its own node's files, and the Lease keeps two nodes from renewing at once.
func (c CertRenewal) Objects() Objects {
	nodes := append([]string(nil), c.Nodes...)
	sort.Strings(nodes)
	var names []string
	for _, n := range nodes {
		names = append(names, c.CronJobName(n))
	}
	o := base(KindCertRenewal, c.Name, c.Namespace, names, true)
	files := []hostFile{{name: "kubernetes", path: c.KubeconfigDir, write: true, dir: true}}
	if !strings.HasPrefix(path.Clean(c.CertDir)+"/", path.Clean(c.KubeconfigDir)+"/") {
		files = append(files, hostFile{name: "pki", path: c.CertDir, write: true, dir: true})
	}
	files = append(files, hostFile{name: "kubelet-pki", path: "/var/lib/kubelet/pki", dir: true})
	for _, n := range nodes {
		args := []string{"automate", "run", KindCertRenewal, "--name", c.Name, "--apiserver-port", strconv.Itoa(c.APIServerPort), "--within", c.Within.String(),
			"--keep-backups", strconv.Itoa(c.KeepBackups), "--kubeconfig-dir", c.KubeconfigDir, "--cert-dir", c.CertDir}
		tmpl := podTemplate(KindCertRenewal, c.Name, c.Image, args, files, true, c.Deadline,
			map[string]string{corev1.LabelHostname: n}, true)
		cj := cronJob(KindCertRenewal, c.Name, c.CronJobName(n), c.Namespace, c.Schedule, tmpl, c.Deadline,
			fmt.Sprintf("within=%s keep-backups=%d", c.Within, c.KeepBackups))
		cj.Labels[LabelNode] = n
		o.CronJobs = append(o.CronJobs, cj)
	}
	return o
}
