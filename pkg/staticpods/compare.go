package staticpods

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Change says on which side a compared value is.
const (
	Changed = "changed" // on both sides, with different values
	Added   = "added"   // in the manifest only (the running pod lacks it)
	Removed = "removed" // in the mirror pod only (the manifest no longer has it)
)

// Difference is one field that differs between a manifest and its mirror pod.
type Difference struct {
	// Container is "" for pod-level fields.
	Container string `json:"container,omitempty"`
	// Kind is one of: container, image, command, flag, arg, env, volume, volumeMount, port,
	// resources, probe, pod.
	Kind string `json:"kind"`
	// Name names the field: "--secure-port", "requests.cpu", "livenessProbe", an env var...
	Name     string `json:"name"`
	Change   string `json:"change"`
	Manifest string `json:"manifest,omitempty"`
	Mirror   string `json:"mirror,omitempty"`
}

// ComparePods compares what an admin controls in a static pod: per container (matched by name)
// the image, the command line flag by flag, env, volume mounts, ports, resources and probes; per
// pod the volumes (hostPaths included), hostNetwork and priorityClassName. API defaults are
// applied to both sides first, so a manifest that leaves a probe's periodSeconds unset equals
// its mirror pod, where the API server filled in 10.
func ComparePods(manifest, mirror *corev1.Pod) []Difference {
	var diffs []Difference
	add := func(container, kind string, m, p map[string]string) {
		diffs = append(diffs, compareMaps(container, kind, m, p)...)
	}
	mc, pc := containersByName(manifest), containersByName(mirror)
	for _, name := range unionKeys(mc, pc) {
		a, b := mc[name], pc[name]
		if a == nil || b == nil {
			d := Difference{Container: name, Kind: "container", Name: name}
			if a == nil {
				d.Change, d.Mirror = Removed, b.Image
			} else {
				d.Change, d.Manifest = Added, a.Image
			}
			diffs = append(diffs, d)
			continue
		}
		add(name, "image", map[string]string{"image": a.Image}, map[string]string{"image": b.Image})
		af, bf := ParseCommandLine(append(append([]string{}, a.Command...), a.Args...)),
			ParseCommandLine(append(append([]string{}, b.Command...), b.Args...))
		add(name, "command", map[string]string{"executable": af.Executable}, map[string]string{"executable": bf.Executable})
		add(name, "flag", af.flagMap(), bf.flagMap())
		add(name, "arg", af.argMap(), bf.argMap())
		add(name, "env", envMap(a.Env), envMap(b.Env))
		add(name, "volumeMount", mountMap(a.VolumeMounts), mountMap(b.VolumeMounts))
		add(name, "port", portMap(a.Ports, manifest.Spec.HostNetwork), portMap(b.Ports, mirror.Spec.HostNetwork))
		add(name, "resources", resourceMap(a.Resources), resourceMap(b.Resources))
		add(name, "probe", probeMap(a), probeMap(b))
	}
	add("", "volume", volumeMap(manifest.Spec.Volumes), volumeMap(mirror.Spec.Volumes))
	add("", "pod", podMap(manifest), podMap(mirror))
	return diffs
}

func compareMaps(container, kind string, m, p map[string]string) []Difference {
	var out []Difference
	for _, k := range unionKeys(m, p) {
		a, inA := m[k]
		b, inB := p[k]
		d := Difference{Container: container, Kind: kind, Name: k, Manifest: a, Mirror: b}
		switch {
		case inA && inB && a == b:
			continue
		case inA && inB:
			d.Change = Changed
		case inA:
			d.Change = Added
		default:
			d.Change = Removed
		}
		out = append(out, d)
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func containersByName(pod *corev1.Pod) map[string]*corev1.Container {
	out := map[string]*corev1.Container{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		out["init:"+c.Name] = c
	}
	for i := range pod.Spec.Containers {
		out[pod.Spec.Containers[i].Name] = &pod.Spec.Containers[i]
	}
	return out
}

// CommandLine is a container's command and args split into flags and positional arguments.
type CommandLine struct {
	Executable string `json:"executable,omitempty"`
	// Flags in the order given; a flag given twice appears twice.
	Flags []Flag   `json:"flags,omitempty"`
	Args  []string `json:"args,omitempty"`
}

// Flag is one "--name=value" (or "--name value", or a bare "--name").
type Flag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParseCommandLine splits a command line. The first word is the executable when it is not a
// flag. "--name=value" is one flag; "--name value" is one flag when the next word is not a flag
// itself; any other word is a positional argument.
func ParseCommandLine(words []string) CommandLine {
	var cl CommandLine
	if len(words) > 0 && !strings.HasPrefix(words[0], "-") {
		cl.Executable, words = words[0], words[1:]
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			cl.Args = append(cl.Args, w)
			continue
		}
		name, value, hasValue := strings.Cut(w, "=")
		if !hasValue && i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") {
			value = words[i+1]
			i++
		}
		cl.Flags = append(cl.Flags, Flag{Name: name, Value: value})
	}
	return cl
}

// flagMap keys flags by name; repeated flags join their values with a newline-free " | ".
func (cl CommandLine) flagMap() map[string]string {
	m := map[string]string{}
	for _, f := range cl.Flags {
		if old, ok := m[f.Name]; ok {
			m[f.Name] = old + " | " + f.Value
		} else {
			m[f.Name] = f.Value
		}
	}
	return m
}

func (cl CommandLine) argMap() map[string]string {
	m := map[string]string{}
	for i, a := range cl.Args {
		m[fmt.Sprintf("arg[%d]", i)] = a
	}
	return m
}

func envMap(env []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "valueFrom " + compactJSON(e.ValueFrom)
		}
		m[e.Name] = v
	}
	return m
}

func mountMap(mounts []corev1.VolumeMount) map[string]string {
	m := map[string]string{}
	for _, vm := range mounts {
		v := "volume " + vm.Name
		if vm.ReadOnly {
			v += " (read-only)"
		}
		if vm.SubPath != "" {
			v += " subPath " + vm.SubPath
		}
		m[vm.MountPath] = v
	}
	return m
}

// portMap keys ports by name (or number/protocol). With hostNetwork the API server defaults
// hostPort to containerPort, so that is applied to both sides.
func portMap(ports []corev1.ContainerPort, hostNetwork bool) map[string]string {
	m := map[string]string{}
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := p.Name
		if key == "" {
			key = fmt.Sprintf("%d/%s", p.ContainerPort, proto)
		}
		v := fmt.Sprintf("%d/%s", p.ContainerPort, proto)
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
		if p.HostPort != 0 {
			v += fmt.Sprintf(" hostPort %d", p.HostPort)
		}
		m[key] = v
	}
	return m
}

func resourceMap(r corev1.ResourceRequirements) map[string]string {
	m := map[string]string{}
	for kind, list := range map[string]corev1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		for name, q := range list {
			// Canonical form: "0.25" and "250m" are the same request.
			m[kind+"."+string(name)] = q.String()
		}
	}
	return m
}

func probeMap(c *corev1.Container) map[string]string {
	m := map[string]string{}
	for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
		if p != nil {
			m[name] = DescribeProbe(p)
		}
	}
	return m
}

// DescribeProbe renders a probe with the API defaults filled in (timeout 1s, period 10s,
// success 1, failure 3, scheme HTTP), e.g. "httpGet HTTPS 127.0.0.1:6443/livez delay=10s
// timeout=15s period=10s success=1 failure=8".
func DescribeProbe(p *corev1.Probe) string {
	var action string
	switch h := p.ProbeHandler; {
	case h.HTTPGet != nil:
		scheme := h.HTTPGet.Scheme
		if scheme == "" {
			scheme = corev1.URISchemeHTTP
		}
		action = fmt.Sprintf("httpGet %s %s:%s%s", scheme, h.HTTPGet.Host, h.HTTPGet.Port.String(), h.HTTPGet.Path)
		for _, hd := range h.HTTPGet.HTTPHeaders {
			action += fmt.Sprintf(" header %s=%s", hd.Name, hd.Value)
		}
	case h.TCPSocket != nil:
		action = fmt.Sprintf("tcpSocket %s:%s", h.TCPSocket.Host, h.TCPSocket.Port.String())
	case h.Exec != nil:
		action = "exec " + strings.Join(h.Exec.Command, " ")
	case h.GRPC != nil:
		svc := ""
		if h.GRPC.Service != nil {
			svc = " service " + *h.GRPC.Service
		}
		action = fmt.Sprintf("grpc %d%s", h.GRPC.Port, svc)
	default:
		action = "no handler"
	}
	def := func(v, d int32) int32 {
		if v == 0 {
			return d
		}
		return v
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds success=%d failure=%d", action,
		p.InitialDelaySeconds, def(p.TimeoutSeconds, 1), def(p.PeriodSeconds, 10),
		def(p.SuccessThreshold, 1), def(p.FailureThreshold, 3))
}

func volumeMap(vols []corev1.Volume) map[string]string {
	m := map[string]string{}
	for _, v := range vols {
		m[v.Name] = DescribeVolume(v)
	}
	return m
}

// DescribeVolume renders a volume: "hostPath /etc/kubernetes/pki (DirectoryOrCreate)" for a
// hostPath (an unset type equals the empty type the API defaults to), compact JSON otherwise.
func DescribeVolume(v corev1.Volume) string {
	if hp := v.HostPath; hp != nil {
		t := ""
		if hp.Type != nil {
			t = string(*hp.Type)
		}
		if t == "" {
			return "hostPath " + hp.Path
		}
		return fmt.Sprintf("hostPath %s (%s)", hp.Path, t)
	}
	src := v.VolumeSource
	return compactJSON(src)
}

func podMap(p *corev1.Pod) map[string]string {
	return map[string]string{
		"hostNetwork":       fmt.Sprint(p.Spec.HostNetwork),
		"priorityClassName": p.Spec.PriorityClassName,
	}
}

func compactJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(data)
}
