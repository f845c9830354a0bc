package agent

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestPodIsMinimal(t *testing.T) {
	read := Job{Command: "certs check", Args: []string{"certs", "check", "--root", "/host"}, Deadline: 5 * time.Minute,
		Mounts: []Mount{{Path: "/etc/kubernetes"}, {Path: "/var/lib/kubelet/pki", Optional: true}}}
	p := Pod(read, PodSpec{Node: "cp-1", Namespace: "kube-system", Image: "img:v1", Version: "v1", RunID: "r", Now: now})
	s := p.Spec
	c := s.Containers[0]
	switch {
	case s.NodeName != "cp-1" || len(s.Tolerations) != 1 || s.Tolerations[0].Operator != corev1.TolerationOpExists || s.Tolerations[0].Key != "":
		t.Errorf("not pinned to the node, or not tolerating every taint: %+v", s)
	case s.HostNetwork || *s.AutomountServiceAccountToken || *s.ActiveDeadlineSeconds != 300 || s.RestartPolicy != corev1.RestartPolicyNever:
		t.Errorf("pod spec: %+v", s)
	case *c.SecurityContext.Privileged || *c.SecurityContext.AllowPrivilegeEscalation || len(c.SecurityContext.Capabilities.Add) != 0 || *s.SecurityContext.RunAsUser != 0:
		t.Errorf("security context: %+v", c.SecurityContext)
	case !IsAgentPod(p) || p.Annotations[AnnotationExpires] != "2026-12-02T12:05:00Z" || p.Annotations[AnnotationNode] != "cp-1":
		t.Errorf("labels/annotations: %v %v", p.Labels, p.Annotations)
	case strings.Join(c.Args, " ") != "agent run --cli-version v1 -- certs check --root /host":
		t.Errorf("args: %v", c.Args)
	}
	volumes := map[string]*corev1.HostPathVolumeSource{}
	for _, v := range s.Volumes {
		volumes[v.Name] = v.HostPath
	}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("mount %s names no volume", m.Name)
		}
		if m.Name != "tmp" && (!m.ReadOnly || volumes[m.Name] == nil || "/host"+volumes[m.Name].Path != m.MountPath) {
			t.Errorf("a check mounts %s read-write or from another path: %+v", m.MountPath, volumes[m.Name])
		}
	}
	write := read
	write.Mounts = []Mount{{Path: "/etc/kubernetes", Write: true}, {Path: "/var/lib/kubelet/pki", Optional: true}}
	write.Idle, write.HostNetwork = true, true
	p = Pod(write, PodSpec{Node: "cp-1", Image: "img:v1", Version: "v1", Now: now})
	c = p.Spec.Containers[0]
	if c.Args[0] != "agent" || c.Args[1] != "serve" || !p.Spec.HostNetwork || len(c.SecurityContext.Capabilities.Add) == 0 {
		t.Errorf("idle writer: %v %+v", c.Args, c.SecurityContext)
	}
	rw := map[string]bool{}
	for _, m := range c.VolumeMounts {
		rw[m.MountPath] = !m.ReadOnly
	}
	if !rw["/host/etc/kubernetes"] || rw["/host/var/lib/kubelet/pki"] {
		t.Errorf("writer mounts: %v", rw)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	var log bytes.Buffer
	log.WriteString("some runtime noise\n")
	in := &Envelope{AgentVersion: "v1", ExitCode: 2, Stdout: []byte(`{"a":1}` + "\n"), Stderr: "warning\n"}
	if err := in.Write(&log); err != nil {
		t.Fatal(err)
	}
	out, err := ParseEnvelope(log.Bytes())
	if err != nil || out.ExitCode != 2 || string(out.Stdout) != string(in.Stdout) || out.AgentVersion != "v1" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := ParseEnvelope([]byte("killed\n")); !errors.Is(err, ErrNoResult) {
		t.Errorf("no result line: %v", err)
	}
}

func agentPod(name string, phase corev1.PodPhase, expires time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system",
		Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelComponent: ComponentAgent},
		Annotations: map[string]string{AnnotationExpires: expires.Format(time.RFC3339)}},
		Status: corev1.PodStatus{Phase: phase}}
}

func TestGCRemovesOnlyLeftovers(t *testing.T) {
	foreign := agentPod("foreign", corev1.PodSucceeded, now.Add(-time.Hour))
	foreign.Labels = map[string]string{LabelManagedBy: "someone-else", LabelComponent: ComponentAgent}
	client := fake.NewClientset(
		agentPod("done", corev1.PodSucceeded, now.Add(time.Hour)),
		agentPod("failed", corev1.PodFailed, now.Add(time.Hour)),
		agentPod("expired", corev1.PodRunning, now.Add(-time.Minute)),
		agentPod("running", corev1.PodRunning, now.Add(time.Minute)),
		foreign,
	)
	removed, err := GC(context.Background(), client, "kube-system", now, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range removed {
		names = append(names, r.Name+":"+r.Why)
	}
	if strings.Join(names, ",") != "done:finished,expired:expired,failed:finished" {
		t.Errorf("removed %v", names)
	}
	left, _ := client.CoreV1().Pods("kube-system").List(context.Background(), metav1.ListOptions{})
	if len(left.Items) != 2 {
		t.Errorf("left %d pods, want running and foreign", len(left.Items))
	}
	if removed, _ := GC(context.Background(), client, "kube-system", now, true); len(removed) != 1 || removed[0].Name != "running" {
		t.Errorf("--all removed %+v", removed)
	}
}

func TestCreateRefusalsAreOneLine(t *testing.T) {
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}})
	client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x",
			errors.New(`violates PodSecurity "restricted:latest": hostPath volumes (volume "host-0")`))
	})
	r := &Runner{Client: client, Namespace: "apps", Image: "img", Version: "v1", RunID: "r"}
	_, err := r.RunOn(context.Background(), "n1", Job{Command: "certs check", Deadline: time.Minute})
	var psa *PodSecurityError
	if !errors.As(err, &psa) || psa.Level != "restricted" || !strings.Contains(err.Error(), "--agent-namespace") || strings.Contains(err.Error(), "\n") {
		t.Errorf("%v", err)
	}
	if pe := pullError(&corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied\nfor x"}}}}}}, "img:v9", "n1"); pe == nil ||
		!strings.Contains(pe.Error(), "img:v9") || !strings.Contains(pe.Error(), "--image") || strings.Contains(pe.Error(), "\n") {
		t.Errorf("pull error: %v", pe)
	}
}

func TestResolveMarksNotReadyNodes(t *testing.T) {
	node := func(name string, status corev1.ConditionStatus, cp bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
		if cp {
			n.Labels[LabelControlPlane] = ""
		}
		return n
	}
	client := fake.NewClientset(node("cp-1", corev1.ConditionTrue, true), node("cp-2", corev1.ConditionUnknown, true), node("w-1", corev1.ConditionTrue, false))
	ts, err := Resolve(context.Background(), client, Selection{ControlPlane: true})
	if err != nil || len(ts) != 2 || !ts[0].Ready || ts[1].Ready || !strings.Contains(ts[1].NotReady, "unreachable") {
		t.Errorf("%+v %v", ts, err)
	}
	var nf *NoSuchNodeError
	if _, err := Resolve(context.Background(), client, Selection{Names: []string{"nope"}}); !errors.As(err, &nf) {
		t.Errorf("unknown node: %v", err)
	}
}
