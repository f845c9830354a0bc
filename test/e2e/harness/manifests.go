package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// ReadManifest reads a static pod manifest.
func ReadManifest(path string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(data, pod); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("%s: no containers", path)
	}
	return pod, nil
}

func writeManifest(path string, pod *corev1.Pod) error {
	data, err := yaml.Marshal(pod)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// flagName returns the name of a "--name=value" argument, or "" for anything else.
func flagName(arg string) string {
	if !strings.HasPrefix(arg, "--") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
	return name
}

// FlagValue returns the value of --name in a static pod's first container command.
func FlagValue(pod *corev1.Pod, name string) (string, bool) {
	for _, arg := range pod.Spec.Containers[0].Command {
		if flagName(arg) == name {
			_, v, _ := strings.Cut(arg, "=")
			return v, true
		}
	}
	return "", false
}

// setFlags sets (or adds, in name order) flags in a command line; an empty value removes the flag.
func setFlags(command []string, set map[string]string) []string {
	out := make([]string, 0, len(command)+len(set))
	seen := map[string]bool{}
	for _, arg := range command {
		name := flagName(arg)
		v, ok := set[name]
		switch {
		case name == "" || !ok:
			out = append(out, arg)
		case v != "":
			out = append(out, "--"+name+"="+v)
		}
		seen[name] = true
	}
	var extra []string
	for name, v := range set {
		if !seen[name] && v != "" {
			extra = append(extra, "--"+name+"="+v)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// rewriteManifestFlags changes flags of the manifest's first container on disk.
func rewriteManifestFlags(path string, set map[string]string, probePort int) error {
	pod, err := ReadManifest(path)
	if err != nil {
		return err
	}
	c := &pod.Spec.Containers[0]
	c.Command = setFlags(c.Command, set)
	if probePort > 0 {
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p == nil || p.HTTPGet == nil {
				continue
			}
			p.HTTPGet.Host = "127.0.0.1"
			if p.HTTPGet.Port.Type == intstr.String {
				for i := range c.Ports { // a named port: kubeadm names it probe-port
					if c.Ports[i].Name == p.HTTPGet.Port.StrVal {
						c.Ports[i].ContainerPort = int32(probePort)
					}
				}
			} else {
				p.HTTPGet.Port = intstr.FromInt32(int32(probePort))
			}
		}
	}
	return writeManifest(path, pod)
}

// processArgs turns a manifest's command into arguments for a process on this machine: absolute
// paths of the node move under root.
func processArgs(pod *corev1.Pod, root string, set map[string]string) []string {
	cmd := setFlags(pod.Spec.Containers[0].Command, set)
	args := make([]string, 0, len(cmd))
	for _, arg := range cmd[1:] {
		name := flagName(arg)
		if name != "" {
			if _, v, ok := strings.Cut(arg, "="); ok && isNodePath(v) {
				arg = "--" + name + "=" + filepath.Join(root, v)
			}
		}
		args = append(args, arg)
	}
	return args
}

func isNodePath(v string) bool {
	return strings.HasPrefix(v, "/etc/kubernetes/") || strings.HasPrefix(v, "/var/lib/")
}

// pointKubeconfig sets the server of every cluster in a kubeconfig file.
func pointKubeconfig(path, server string) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return err
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	return clientcmd.WriteToFile(*cfg, path)
}
