package staticpods

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// InspectFlag is one flag of a component with, when it names a cert, key or kubeconfig file,
// what that file is and when it expires (read by certs.ReadFileInfo).
type InspectFlag struct {
	Name  string           `json:"name"`
	Value string           `json:"value"`
	Files []certs.FileInfo `json:"files,omitempty"`
}

// HostPathMount is a hostPath volume and where the container mounts it.
type HostPathMount struct {
	Volume    string `json:"volume"`
	HostPath  string `json:"hostPath"`
	Type      string `json:"type,omitempty"`
	MountPath string `json:"mountPath,omitempty"`
	ReadOnly  bool   `json:"readOnly"`
}

// Port is a port the component listens on, and where that was read from.
type Port struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	Source   string `json:"source"`
	Host     string `json:"host,omitempty"`
}

// InspectResult is the result of Inspect.
type InspectResult struct {
	Component string `json:"component"`
	Node      string `json:"node"`
	// Source is "mirror pod kube-system/NAME" or "manifest /etc/kubernetes/manifests/X.yaml".
	Source     string          `json:"source"`
	Image      string          `json:"image"`
	Executable string          `json:"executable,omitempty"`
	Flags      []InspectFlag   `json:"flags"`
	Args       []string        `json:"args,omitempty"`
	HostPaths  []HostPathMount `json:"hostPaths"`
	Ports      []Port          `json:"ports"`
	// Root is the node root the referenced files were read under.
	Root string `json:"root"`
}

// InspectOptions says which component to inspect and where its files are.
type InspectOptions struct {
	Component string
	Node      string // "" when the component runs on one node only
	Root      string // node root for the referenced files and the fallback manifest; "/" on the node
	// Manifests, when not nil, are the node's manifests dir as an agent read it (the fallback
	// when the API has no mirror pod), instead of reading Root's.
	Manifests []ManifestFile
	// ReadFile, when set, reads a referenced file (a node path) instead of certs.ReadFileInfo
	// under Root: an agent pod read it on the node.
	ReadFile func(path string) certs.FileInfo
}

// ErrAmbiguousNode is returned when a component runs on more than one node and none was given.
type ErrAmbiguousNode struct {
	Component string
	Nodes     []string
}

func (e *ErrAmbiguousNode) Error() string {
	return fmt.Sprintf("%s runs on %d nodes (%s)", e.Component, len(e.Nodes), strings.Join(e.Nodes, ", "))
}

// ErrComponentNotFound is returned when neither a mirror pod nor a manifest of the component exists.
type ErrComponentNotFound struct {
	Component, Node string
	Known           []string
}

func (e *ErrComponentNotFound) Error() string {
	where := ""
	if e.Node != "" {
		where = " on node " + e.Node
	}
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("no static pod %q%s (static pods found: %s)", e.Component, where, known)
}

// Inspect shows one component: its flags as the kubelet runs them (from the mirror pod; from the
// manifest under Root when the API has no mirror pod), the expiry of every certificate a flag
// references (read under Root), its hostPath mounts and its ports.
func Inspect(ctx context.Context, client kubernetes.Interface, opts InspectOptions, now time.Time) (*InspectResult, error) {
	if opts.Node != "" {
		if err := checkNode(ctx, client, opts.Node); err != nil {
			return nil, err
		}
	}
	pods, err := mirrorPods(ctx, client, opts.Node)
	if err != nil {
		return nil, err
	}
	var found []*corev1.Pod
	known := map[string]bool{}
	for i := range pods {
		known[Component(&pods[i])] = true
		if Component(&pods[i]) == opts.Component {
			found = append(found, &pods[i])
		}
	}
	switch {
	case len(found) > 1:
		var nodes []string
		for _, p := range found {
			nodes = append(nodes, p.Spec.NodeName)
		}
		return nil, &ErrAmbiguousNode{Component: opts.Component, Nodes: nodes}
	case len(found) == 1:
		p := found[0]
		return inspectPod(p, opts, p.Spec.NodeName, "mirror pod "+p.Namespace+"/"+p.Name, now), nil
	}
	path := filepath.Join(ManifestsDir, opts.Component+".yaml")
	want := filepath.Join(opts.Root, path)
	files, err := opts.Manifests, error(nil)
	if files == nil {
		files, err = ReadManifestsDir(filepath.Join(opts.Root, ManifestsDir))
	} else {
		want = path
	}
	if err == nil {
		for _, f := range files {
			if f.Path == want && f.Pod != nil {
				return inspectPod(f.Pod, opts, opts.Node, "manifest "+path, now), nil
			}
		}
	} else if !errors.Is(err, ErrNoManifestsDir) {
		return nil, err
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	return nil, &ErrComponentNotFound{Component: opts.Component, Node: opts.Node, Known: names}
}

// referencesFile says whether a flag value is a path to a cert, key or kubeconfig worth reading.
func referencesFile(flag, value string) bool {
	if !strings.HasPrefix(value, "/") {
		return false
	}
	switch strings.ToLower(filepath.Ext(value)) {
	case ".crt", ".pem", ".key", ".pub", ".conf", ".kubeconfig", ".cert":
		return true
	}
	f := strings.ToLower(flag)
	return strings.Contains(f, "cert") || strings.Contains(f, "key") || strings.Contains(f, "kubeconfig") ||
		strings.HasSuffix(f, "-ca-file") || strings.HasSuffix(f, "ca-file")
}

// mainContainer is the component's container (named like it), else the first.
func mainContainer(pod *corev1.Pod, component string) corev1.Container {
	c := pod.Spec.Containers[0]
	for _, cc := range pod.Spec.Containers {
		if cc.Name == component {
			c = cc
		}
	}
	return c
}

// ReferencedFiles are the node paths of the certs, keys and kubeconfigs the component's flags
// name, in flag order: what inspect reads.
func ReferencedFiles(pod *corev1.Pod, component string) []string {
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	c := mainContainer(pod, component)
	var out []string
	for _, f := range ParseCommandLine(append(append([]string{}, c.Command...), c.Args...)).Flags {
		for _, part := range strings.Split(f.Value, ",") {
			if referencesFile(f.Name, part) {
				out = append(out, part)
			}
		}
	}
	return out
}

func inspectPod(pod *corev1.Pod, opts InspectOptions, node, source string, now time.Time) *InspectResult {
	component, root := opts.Component, opts.Root
	read := opts.ReadFile
	if read == nil {
		read = func(path string) certs.FileInfo { return certs.ReadFileInfo(root, path, now) }
	}
	c := mainContainer(pod, component)
	cl := ParseCommandLine(append(append([]string{}, c.Command...), c.Args...))
	res := &InspectResult{Component: component, Node: node, Source: source, Image: c.Image,
		Executable: cl.Executable, Args: cl.Args, Flags: []InspectFlag{}, HostPaths: []HostPathMount{}, Ports: []Port{}, Root: root}
	for _, f := range cl.Flags {
		fl := InspectFlag{Name: f.Name, Value: f.Value}
		for _, part := range strings.Split(f.Value, ",") {
			if referencesFile(f.Name, part) {
				fl.Files = append(fl.Files, read(part))
			}
		}
		res.Flags = append(res.Flags, fl)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		hp := HostPathMount{Volume: v.Name, HostPath: v.HostPath.Path}
		if v.HostPath.Type != nil {
			hp.Type = string(*v.HostPath.Type)
		}
		if m, ok := mounts[v.Name]; ok {
			hp.MountPath, hp.ReadOnly = m.MountPath, m.ReadOnly
		}
		res.HostPaths = append(res.HostPaths, hp)
	}
	res.Ports = ports(c, cl)
	return res
}

// ports gathers the ports a component listens on: container ports, probe ports, and flags that
// name a port (--secure-port, --port) or listen URLs (etcd's --listen-*-urls).
func ports(c corev1.Container, cl CommandLine) []Port {
	var out []Port
	index := map[string]int{}
	add := func(p Port) {
		if p.Port <= 0 {
			return
		}
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if i, ok := index[key]; ok {
			out[i].Source += ", " + p.Source
			if out[i].Host == "" {
				out[i].Host = p.Host
			}
			return
		}
		index[key] = len(out)
		out = append(out, p)
	}
	named := map[string]int32{}
	for _, p := range c.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		named[p.Name] = p.ContainerPort
		add(Port{Port: p.ContainerPort, Protocol: proto, Source: "containerPort " + p.Name})
	}
	for _, f := range cl.Flags {
		name := strings.TrimLeft(f.Name, "-")
		switch {
		case name == "secure-port" || name == "port" || strings.HasSuffix(name, "-port"):
			if n, err := strconv.Atoi(f.Value); err == nil {
				add(Port{Port: int32(n), Protocol: "TCP", Source: "flag " + f.Name})
			}
		case strings.HasPrefix(name, "listen-") && strings.HasSuffix(name, "-urls"):
			for _, u := range strings.Split(f.Value, ",") {
				if pu, err := url.Parse(u); err == nil && pu.Port() != "" {
					n, _ := strconv.Atoi(pu.Port())
					add(Port{Port: int32(n), Protocol: "TCP", Source: "flag " + f.Name, Host: pu.Hostname()})
				}
			}
		}
	}
	for i, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		name := [...]string{"livenessProbe", "readinessProbe", "startupProbe"}[i]
		if p == nil || p.HTTPGet == nil {
			continue
		}
		port := p.HTTPGet.Port
		n := port.IntVal
		if port.Type == intstr.String {
			n = named[port.StrVal]
		}
		add(Port{Port: n, Protocol: "TCP", Source: name + " " + string(p.HTTPGet.Scheme) + " " + p.HTTPGet.Path, Host: p.HTTPGet.Host})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// NodeFiles is what an agent pod reads for `staticpods inspect --node` (the hidden `agent
// files`): the node's manifests dir, and what each referenced file is.
type NodeFiles struct {
	Manifests []RawFile `json:"manifests"`
	// ManifestsError is set when the manifests dir could not be read.
	ManifestsError string           `json:"manifestsError,omitempty"`
	Files          []certs.FileInfo `json:"files"`
}
