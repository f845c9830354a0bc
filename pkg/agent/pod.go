// Package agent runs the plugin's node-level commands on a cluster's nodes from a kubeconfig
// alone: one short-lived Pod per node, pinned by nodeName, running the plugin's own image with
// the node's filesystem mounted under /host. The pod runs the same command with --root /host and
// -o json inside `kubectl-clusterops agent run`, which prints one result line (the command's
// stdout, stderr, exit code and the agent's version); the CLI reads it from the pod's log and
// deletes the pod. Commands that stream (etcd snapshots) run an idle pod (`agent serve`) and
// exec into it, as kubectl cp does.
//
// The pod has no service account token, no privileges beyond uid 0 with a minimal capability set,
// only the hostPath mounts the command needs (read-only unless it writes), hostNetwork only when
// it must reach etcd on the node's loopback, an activeDeadlineSeconds, and the managed-by label
// by which GC finds pods a killed CLI left behind.
package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	// LabelManagedBy and ManagedBy mark every object the plugin makes.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "kubectl-clusterops"
	// LabelComponent = ComponentAgent tells agent pods from the plugin's other objects.
	LabelComponent = "app.kubernetes.io/component"
	ComponentAgent = "agent"
	// LabelRun groups the pods of one CLI invocation.
	LabelRun = "clusterops.io/agent-run"
	// AnnotationNode, AnnotationCommand and AnnotationExpires say, for an admin reading
	// `kubectl get pods -o yaml`, where the pod runs, what it runs, and when GC may remove it.
	AnnotationNode       = "clusterops.io/node"
	AnnotationCommand    = "clusterops.io/command"
	AnnotationExpires    = "clusterops.io/expires"
	AnnotationCLIVersion = "clusterops.io/cli-version"

	// Entrypoint is the plugin binary in the image (hack/image).
	Entrypoint = "/kubectl-clusterops"
	// HostRoot is where the node's filesystem appears in the pod: the command runs with --root /host.
	HostRoot = "/host"
	// ContainerName is the agent pod's one container.
	ContainerName = "agent"
	// DefaultNamespace is --agent-namespace's default.
	DefaultNamespace = "kube-system"
)

// Mount is one host path the job needs, mounted at HostRoot+Path.
type Mount struct {
	Path  string
	Write bool
	// Optional: mount it only when it exists on the node (HostPathDirectoryOrCreate is never
	// used: the agent creates nothing on the node by mounting).
	Optional bool
}

// Job is one node-level command to run on nodes.
type Job struct {
	// Command names the job for labels and messages ("certs check").
	Command string
	// Args is the command line after the binary, run by `agent run`; empty for an idle pod.
	Args []string
	// Idle makes the pod run `agent serve` and wait to be exec'ed into.
	Idle        bool
	Mounts      []Mount
	HostNetwork bool
	// Trigger, when set, makes `agent run` wait until this file (in the pod) exists before it
	// runs the command: the CLI uploads what the command needs over exec first (RunWith).
	Trigger string
	// ResultFile, when set, makes `agent run` also write its result line to this file (a path
	// in the pod, on a read-write host mount), for a job that removes its own pod from the API.
	ResultFile string
	// Deadline is the pod's activeDeadlineSeconds: the kubelet kills it then, even when the CLI
	// that made it is gone.
	Deadline time.Duration
}

// Writes reports whether the job mounts anything read-write.
func (j Job) Writes() bool {
	for _, m := range j.Mounts {
		if m.Write {
			return true
		}
	}
	return false
}

// PodSpec is what Pod needs besides the job.
type PodSpec struct {
	Node, Namespace, Image, Version, RunID string
	Now                                    time.Time
}

// Pod is the agent pod for job on s.Node.
func Pod(job Job, s PodSpec) *corev1.Pod {
	args := []string{"agent", "serve", "--deadline", job.Deadline.String()}
	if !job.Idle {
		run := []string{"agent", "run", "--cli-version", s.Version}
		if job.Trigger != "" {
			run = append(run, "--wait-for", job.Trigger)
		}
		if job.ResultFile != "" {
			run = append(run, "--result-file", job.ResultFile)
		}
		args = append(append(run, "--"), job.Args...)
	}
	mounts := append([]Mount(nil), job.Mounts...)
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Path < mounts[j].Path })
	var volumes []corev1.Volume
	var vms []corev1.VolumeMount
	for i, m := range mounts {
		name := fmt.Sprintf("host-%d", i)
		t := corev1.HostPathDirectory
		if m.Optional {
			t = corev1.HostPathUnset
		}
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: m.Path, Type: &t}}})
		vms = append(vms, corev1.VolumeMount{Name: name, MountPath: path.Join(HostRoot, m.Path), ReadOnly: !m.Write})
	}
	volumes = append(volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	vms = append(vms, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})

	// uid 0 to read root's 0600 keys, not privileged, no escalation; the capabilities a writer
	// needs to keep owners and modes of the files it replaces, none for a reader.
	caps := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	if job.Writes() {
		caps.Add = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER"}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "clusterops-agent-",
			Namespace:    s.Namespace,
			Labels: map[string]string{
				LabelManagedBy: ManagedBy, LabelComponent: ComponentAgent, LabelRun: s.RunID,
				"app.kubernetes.io/name": "kubectl-clusterops",
			},
			Annotations: map[string]string{
				AnnotationNode:       s.Node,
				AnnotationCommand:    job.Command,
				AnnotationExpires:    s.Now.Add(job.Deadline).UTC().Format(time.RFC3339),
				AnnotationCLIVersion: s.Version,
			},
		},
		Spec: corev1.PodSpec{
			NodeName:                      s.Node,
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(int64(job.Deadline / time.Second)),
			TerminationGracePeriodSeconds: ptr.To(int64(30)),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			HostNetwork:                   job.HostNetwork,
			Volumes:                       volumes,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsUser: ptr.To(int64(0)), RunAsGroup: ptr.To(int64(0)), RunAsNonRoot: ptr.To(false),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            ContainerName,
				Image:           s.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{Entrypoint},
				Args:            args,
				VolumeMounts:    vms,
				SecurityContext: &corev1.SecurityContext{
					Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem: ptr.To(true), Capabilities: caps,
				},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}},
			}},
		},
	}
}

// RunID is a label value that groups one invocation's pods.
func RunID(now time.Time, pid int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", now.UnixNano(), pid))
	return hex.EncodeToString(sum[:])[:16]
}

// Selector selects every agent pod the plugin made.
func Selector() string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelComponent + "=" + ComponentAgent
}

// IsAgentPod reports whether pod carries both labels of Selector.
func IsAgentPod(pod *corev1.Pod) bool {
	return pod.Labels[LabelManagedBy] == ManagedBy && pod.Labels[LabelComponent] == ComponentAgent
}

// describeMounts is the mount list in one line, for messages and docs.
func describeMounts(j Job) string {
	var parts []string
	for _, m := range j.Mounts {
		mode := "ro"
		if m.Write {
			mode = "rw"
		}
		parts = append(parts, m.Path+" ("+mode+")")
	}
	return strings.Join(parts, ", ")
}
