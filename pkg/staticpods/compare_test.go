package staticpods

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func basePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler", Namespace: "kube-system", Labels: map[string]string{"component": "kube-scheduler"}},
		Spec: corev1.PodSpec{
			HostNetwork: true, PriorityClassName: "system-node-critical",
			Containers: []corev1.Container{{
				Name:    "kube-scheduler",
				Image:   "registry.k8s.io/kube-scheduler:v1.37.2",
				Command: []string{"kube-scheduler", "--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"},
				Env:     []corev1.EnvVar{{Name: "GOMAXPROCS", Value: "2"}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"),
				}},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Path: "/livez", Port: intstr.FromString("probe-port"), Scheme: corev1.URISchemeHTTPS}},
					InitialDelaySeconds: 10, TimeoutSeconds: 15, FailureThreshold: 8,
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "kubeconfig", MountPath: "/etc/kubernetes/scheduler.conf", ReadOnly: true}},
				Ports:        []corev1.ContainerPort{{Name: "probe-port", ContainerPort: 10259}},
			}},
			Volumes: []corev1.Volume{{Name: "kubeconfig", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: "/etc/kubernetes/scheduler.conf", Type: ptr.To(corev1.HostPathFileOrCreate)}}}},
		},
	}
}

// defaulted is what the API server makes of a manifest: the defaults filled in.
func defaulted(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	c := &p.Spec.Containers[0]
	c.LivenessProbe.PeriodSeconds, c.LivenessProbe.SuccessThreshold = 10, 1
	c.Ports[0].Protocol = corev1.ProtocolTCP
	c.Ports[0].HostPort = c.Ports[0].ContainerPort
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.TerminationMessagePath = "/dev/termination-log"
	p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	return p
}

func TestComparePods(t *testing.T) {
	cases := []struct {
		name string
		edit func(m, mirror *corev1.Pod)
		want []Difference
	}{
		{name: "API defaults are no drift", edit: func(m, mirror *corev1.Pod) {}},
		{name: "quantity spelled differently is no drift", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0.1")
		}},
		{name: "unset hostPath type equals the empty type", edit: func(m, mirror *corev1.Pod) {
			m.Spec.Volumes[0].HostPath.Type = nil
			mirror.Spec.Volumes[0].HostPath.Type = ptr.To(corev1.HostPathUnset)
		}},
		{name: "changed flag", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Command[3] = "--leader-elect=false"
		}, want: []Difference{{Container: "kube-scheduler", Kind: "flag", Name: "--leader-elect", Change: Changed, Manifest: "false", Mirror: "true"}}},
		{name: "added flag, order does not matter", edit: func(m, _ *corev1.Pod) {
			c := &m.Spec.Containers[0]
			c.Command = []string{c.Command[0], "--v=4", c.Command[3], c.Command[2], c.Command[1]}
		}, want: []Difference{{Container: "kube-scheduler", Kind: "flag", Name: "--v", Change: Added, Manifest: "4"}}},
		{name: "removed flag, space-separated value", edit: func(m, mirror *corev1.Pod) {
			m.Spec.Containers[0].Command = m.Spec.Containers[0].Command[:3]
			mirror.Spec.Containers[0].Command = append(mirror.Spec.Containers[0].Command[:3], "--leader-elect", "true")
		}, want: []Difference{{Container: "kube-scheduler", Kind: "flag", Name: "--leader-elect", Change: Removed, Mirror: "true"}}},
		{name: "image", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Image = "registry.k8s.io/kube-scheduler:v1.37.3"
		}, want: []Difference{{Container: "kube-scheduler", Kind: "image", Name: "image", Change: Changed,
			Manifest: "registry.k8s.io/kube-scheduler:v1.37.3", Mirror: "registry.k8s.io/kube-scheduler:v1.37.2"}}},
		{name: "env", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GOMAXPROCS", Value: "4"}, {Name: "HTTP_PROXY", Value: "http://proxy"}}
		}, want: []Difference{
			{Container: "kube-scheduler", Kind: "env", Name: "GOMAXPROCS", Change: Changed, Manifest: "4", Mirror: "2"},
			{Container: "kube-scheduler", Kind: "env", Name: "HTTP_PROXY", Change: Added, Manifest: "http://proxy"},
		}},
		{name: "hostPath moved", edit: func(m, _ *corev1.Pod) {
			m.Spec.Volumes[0].HostPath.Path = "/etc/kubernetes/other.conf"
		}, want: []Difference{{Kind: "volume", Name: "kubeconfig", Change: Changed,
			Manifest: "hostPath /etc/kubernetes/other.conf (FileOrCreate)", Mirror: "hostPath /etc/kubernetes/scheduler.conf (FileOrCreate)"}}},
		{name: "volume mount read-only dropped", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].VolumeMounts[0].ReadOnly = false
		}, want: []Difference{{Container: "kube-scheduler", Kind: "volumeMount", Name: "/etc/kubernetes/scheduler.conf", Change: Changed,
			Manifest: "volume kubeconfig", Mirror: "volume kubeconfig (read-only)"}}},
		{name: "resources limit added", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
		}, want: []Difference{{Container: "kube-scheduler", Kind: "resources", Name: "limits.memory", Change: Added, Manifest: "512Mi"}}},
		{name: "probe threshold", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].LivenessProbe.FailureThreshold = 3
		}, want: []Difference{{Container: "kube-scheduler", Kind: "probe", Name: "livenessProbe", Change: Changed,
			Manifest: "httpGet HTTPS 127.0.0.1:probe-port/livez delay=10s timeout=15s period=10s success=1 failure=3",
			Mirror:   "httpGet HTTPS 127.0.0.1:probe-port/livez delay=10s timeout=15s period=10s success=1 failure=8"}}},
		{name: "port", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers[0].Ports[0].ContainerPort = 10260
		}, want: []Difference{{Container: "kube-scheduler", Kind: "port", Name: "probe-port", Change: Changed, Manifest: "10260/TCP hostPort 10260", Mirror: "10259/TCP hostPort 10259"}}},
		{name: "extra container", edit: func(m, _ *corev1.Pod) {
			m.Spec.Containers = append(m.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
		}, want: []Difference{{Container: "sidecar", Kind: "container", Name: "sidecar", Change: Added, Manifest: "busybox"}}},
		{name: "hostNetwork", edit: func(m, _ *corev1.Pod) {
			m.Spec.HostNetwork = false
		}, want: []Difference{
			// Without hostNetwork the API server no longer defaults hostPort.
			{Container: "kube-scheduler", Kind: "port", Name: "probe-port", Change: Changed, Manifest: "10259/TCP", Mirror: "10259/TCP hostPort 10259"},
			{Kind: "pod", Name: "hostNetwork", Change: Changed, Manifest: "false", Mirror: "true"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := basePod()
			mirror := defaulted(basePod())
			c.edit(m, mirror)
			got := ComparePods(m, mirror)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseCommandLine(t *testing.T) {
	cases := []struct {
		in   []string
		want CommandLine
	}{
		{[]string{"etcd", "--name=a", "--data-dir", "/var/lib/etcd", "--snapshot-count=10000", "-v", "extra"},
			CommandLine{Executable: "etcd", Flags: []Flag{{"--name", "a"}, {"--data-dir", "/var/lib/etcd"}, {"--snapshot-count", "10000"}, {"-v", "extra"}}}},
		{[]string{"--a", "--b=c=d", "pos", "--"}, CommandLine{Flags: []Flag{{"--a", ""}, {"--b", "c=d"}}, Args: []string{"pos", "--"}}},
		{nil, CommandLine{}},
	}
	for _, c := range cases {
		if got := ParseCommandLine(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestImageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io/kube-apiserver:v1.37.2":       "v1.37.2",
		"localhost:5000/etcd:3.6.4-0":                  "3.6.4-0",
		"localhost:5000/etcd":                          "",
		"registry.k8s.io/pause:3.10@sha256:0123456789": "3.10",
	} {
		if got := ImageVersion(in); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}
