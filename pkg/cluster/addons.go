package cluster

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Addons is the add-on section: what `kubeadm init phase addon all` installs.
type Addons struct {
	CoreDNS   CoreDNS   `json:"coreDNS"`
	KubeProxy KubeProxy `json:"kubeProxy"`
}

// CoreDNS is the kube-system/coredns Deployment and the kube-system/kube-dns Service.
type CoreDNS struct {
	Found     bool   `json:"found"`
	Image     string `json:"image,omitempty"`
	Desired   int32  `json:"desired"`
	Ready     int32  `json:"ready"`
	Available int32  `json:"available"`
	Service   string `json:"service,omitempty"`
	ClusterIP string `json:"clusterIP,omitempty"`
}

// KubeProxy is the kube-system/kube-proxy DaemonSet and its mode from the kube-proxy ConfigMap.
type KubeProxy struct {
	Found   bool   `json:"found"`
	Image   string `json:"image,omitempty"`
	Desired int32  `json:"desired"`
	Ready   int32  `json:"ready"`
	// Mode is the proxy mode: iptables, ipvs, nftables, kernelspace; "iptables" also when the
	// ConfigMap leaves it empty (the Linux default), with ModeSource saying so.
	Mode       string `json:"mode,omitempty"`
	ModeSource string `json:"modeSource,omitempty"`
}

func (c *collector) addons(ctx context.Context) {
	a := &c.s.Addons
	ns := metav1.NamespaceSystem
	d, err := c.in.Client.AppsV1().Deployments(ns).Get(ctx, "coredns", metav1.GetOptions{})
	if c.readErr("Deployment kube-system/coredns", err) {
		a.CoreDNS.Found = true
		if len(d.Spec.Template.Spec.Containers) > 0 {
			a.CoreDNS.Image = d.Spec.Template.Spec.Containers[0].Image
		}
		a.CoreDNS.Desired = 1
		if d.Spec.Replicas != nil {
			a.CoreDNS.Desired = *d.Spec.Replicas
		}
		a.CoreDNS.Ready, a.CoreDNS.Available = d.Status.ReadyReplicas, d.Status.AvailableReplicas
		if a.CoreDNS.Ready < a.CoreDNS.Desired {
			c.problem(SeverityProblem, "addons", "CoreDNS: %d of %d replicas ready: cluster DNS is degraded", a.CoreDNS.Ready, a.CoreDNS.Desired)
		}
	} else if err == nil || isNotFound(err) {
		c.problem(SeverityWarning, "addons", "CoreDNS: no Deployment kube-system/coredns (cluster DNS not installed by kubeadm, or named differently)")
	}
	svc, err := c.in.Client.CoreV1().Services(ns).Get(ctx, "kube-dns", metav1.GetOptions{})
	if c.readErr("Service kube-system/kube-dns", err) {
		a.CoreDNS.Service, a.CoreDNS.ClusterIP = "kube-system/kube-dns", svc.Spec.ClusterIP
	} else if a.CoreDNS.Found && (err == nil || isNotFound(err)) {
		c.problem(SeverityProblem, "addons", "CoreDNS: no Service kube-system/kube-dns: pods cannot reach cluster DNS")
	}

	ds, err := c.in.Client.AppsV1().DaemonSets(ns).Get(ctx, "kube-proxy", metav1.GetOptions{})
	if c.readErr("DaemonSet kube-system/kube-proxy", err) {
		kp := &a.KubeProxy
		kp.Found = true
		if len(ds.Spec.Template.Spec.Containers) > 0 {
			kp.Image = ds.Spec.Template.Spec.Containers[0].Image
		}
		kp.Desired, kp.Ready = ds.Status.DesiredNumberScheduled, ds.Status.NumberReady
		if kp.Ready < kp.Desired {
			c.problem(SeverityProblem, "addons", "kube-proxy: %d of %d pods ready: Services do not work on nodes without a ready kube-proxy", kp.Ready, kp.Desired)
		}
	} else if err == nil || isNotFound(err) {
		c.problem(SeverityWarning, "addons", "kube-proxy: no DaemonSet kube-system/kube-proxy (not installed, or replaced by the CNI)")
	}
	cm, err := c.in.Client.CoreV1().ConfigMaps(ns).Get(ctx, "kube-proxy", metav1.GetOptions{})
	if c.readErr("ConfigMap kube-system/kube-proxy", err) {
		a.KubeProxy.Mode, a.KubeProxy.ModeSource = ProxyMode(cm.Data["config.conf"])
	}
}

// ProxyMode reads the mode of a KubeProxyConfiguration (the config.conf key of kubeadm's
// kube-proxy ConfigMap).
func ProxyMode(config string) (mode, source string) {
	var cfg struct {
		Mode string `json:"mode"`
	}
	if config == "" {
		return "", "ConfigMap kube-system/kube-proxy has no config.conf"
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		return "", fmt.Sprintf("ConfigMap kube-system/kube-proxy config.conf is not valid YAML: %v", err)
	}
	if cfg.Mode == "" {
		return "iptables", "ConfigMap kube-system/kube-proxy (mode unset: the Linux default)"
	}
	return cfg.Mode, "ConfigMap kube-system/kube-proxy"
}
