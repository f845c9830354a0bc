package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say what control plane to start.
type Options struct {
	// Name is the kubeadm clusterName, and the name of the admin kubeconfig's cluster and context.
	Name string
	// EtcdMembers is 1 (default) or 3.
	EtcdMembers int
	// NoControllerManager leaves kube-controller-manager (and with it CSR signing) off.
	NoControllerManager bool
	// NoKubeadmObjects skips kubeadm's upload-config, mark-control-plane, bootstrap-token and addon phases.
	NoKubeadmObjects bool
	// NoMirrorPods skips creating the control-plane Node's mirror pods.
	NoMirrorPods bool
	// Dir is the work folder (node root, logs); a new temp dir when empty.
	Dir string
	// Logf receives progress lines; nil means silent.
	Logf func(format string, args ...any)
}

// EtcdMember is one etcd process of the control plane.
type EtcdMember struct {
	Name, ClientURL, PeerURL, MetricsURL, DataDir string
	Process                                       *Process
}

// ControlPlane is a running kubeadm-style control plane.
type ControlPlane struct {
	Name, NodeName, HostIP       string
	Dir, Root, LogDir, BinDir    string
	APIServerPort                int
	ControllerManagerPort        int
	SchedulerPort                int
	PodSubnet, ServiceSubnet     string
	Server                       string // https://127.0.0.1:port
	AdminKubeconfig              string // <root>/etc/kubernetes/admin.conf
	SuperAdminKubeconfig         string
	Etcd                         []*EtcdMember
	APIServer, ControllerManager *Process
	Client                       kubernetes.Interface
	RESTConfig                   *rest.Config
	logf                         func(format string, args ...any)
	mu                           sync.Mutex
	stopHeartbeats               context.CancelFunc
	heartbeatCtx                 context.Context
	heartbeats                   sync.WaitGroup
	nodes                        map[string]bool // node name -> kept healthy
}

// ManifestPath is the path of a static pod manifest of this node, e.g. ManifestPath("etcd").
func (cp *ControlPlane) ManifestPath(component string) string {
	return filepath.Join(cp.Root, "etc", "kubernetes", "manifests", component+".yaml")
}

// PKI is the node's kubeadm certificate dir.
func (cp *ControlPlane) PKI() string { return filepath.Join(cp.Root, "etc", "kubernetes", "pki") }

// EtcdEndpoints are the client URLs of every member.
func (cp *ControlPlane) EtcdEndpoints() []string {
	var eps []string
	for _, m := range cp.Etcd {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Start lays out a kubeadm node with the real kubeadm and starts etcd, kube-apiserver and
// kube-controller-manager on free 127.0.0.1 ports. Call Stop when done, also after an error.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.Name == "" {
		opts.Name = "clusterops"
	}
	if opts.EtcdMembers == 0 {
		opts.EtcdMembers = 1
	}
	if opts.EtcdMembers != 1 && opts.EtcdMembers != 3 {
		return nil, fmt.Errorf("EtcdMembers must be 1 or 3, not %d", opts.EtcdMembers)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := Binaries("kubeadm", "etcd", "kube-apiserver", "kube-controller-manager")
	if err != nil {
		return nil, err
	}
	hostIP, err := HostIPv4()
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "clusterops-"+opts.Name+"-"); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3 + 3*opts.EtcdMembers)
	if err != nil {
		return nil, err
	}
	hbCtx, hbCancel := context.WithCancel(context.Background())
	cp := &ControlPlane{
		Name: opts.Name, NodeName: opts.Name + "-control-plane", HostIP: hostIP.String(),
		Dir: dir, Root: filepath.Join(dir, "root"), LogDir: filepath.Join(dir, "logs"), BinDir: bin,
		APIServerPort: ports[0], ControllerManagerPort: ports[1], SchedulerPort: ports[2],
		PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/12",
		Server: fmt.Sprintf("https://127.0.0.1:%d", ports[0]),
		logf:   logf, heartbeatCtx: hbCtx, stopHeartbeats: hbCancel, nodes: map[string]bool{},
	}
	cp.AdminKubeconfig = filepath.Join(cp.Root, "etc", "kubernetes", "admin.conf")
	cp.SuperAdminKubeconfig = filepath.Join(cp.Root, "etc", "kubernetes", "super-admin.conf")
	for i := 0; i < opts.EtcdMembers; i++ {
		name := cp.NodeName
		dataDir := "/var/lib/etcd"
		if opts.EtcdMembers > 1 {
			name = fmt.Sprintf("%s-etcd-%d", opts.Name, i)
			if i > 0 {
				dataDir = fmt.Sprintf("/var/lib/etcd-%d", i)
			}
		}
		p := ports[3+3*i:]
		cp.Etcd = append(cp.Etcd, &EtcdMember{
			Name:       name,
			ClientURL:  fmt.Sprintf("https://127.0.0.1:%d", p[0]),
			PeerURL:    fmt.Sprintf("https://127.0.0.1:%d", p[1]),
			MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", p[2]),
			DataDir:    dataDir,
		})
	}
	for _, d := range []string{cp.Root, cp.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return cp, err
		}
	}
	logf("harness: %s in %s (binaries from %s)", cp.Name, cp.Dir, cp.BinDir)
	if err := cp.start(ctx, opts); err != nil {
		return cp, err
	}
	return cp, nil
}

func (cp *ControlPlane) start(ctx context.Context, opts Options) error {
	step := func(what string, f func() error) error {
		start := time.Now()
		err := f()
		cp.logf("harness: %s: %s", what, time.Since(start).Round(time.Millisecond))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := step("kubeadm init phases certs, kubeconfig, control-plane, etcd", func() error {
		if err := cp.layoutNode(ctx); err != nil {
			return err
		}
		return cp.localizeNode()
	}); err != nil {
		return err
	}
	if err := step("etcd ready", func() error { return cp.StartEtcd(ctx) }); err != nil {
		return err
	}
	if err := step("kube-apiserver ready", func() error { return cp.StartAPIServer(ctx) }); err != nil {
		return err
	}
	if err := step("kubeadm init phase upload-config all", func() error { return cp.uploadConfig(ctx) }); err != nil {
		return err
	}
	if err := step("control-plane node", func() error {
		_, err := cp.AddNode(ctx, NodeSpec{Name: cp.NodeName, KubeletVersion: KubernetesVersion, ControlPlane: true})
		return err
	}); err != nil {
		return err
	}
	if !opts.NoKubeadmObjects {
		if err := step("kubeadm init phases bootstrap-token, addon", func() error {
			return cp.kubeadmObjects(ctx)
		}); err != nil {
			return err
		}
	}
	if !opts.NoControllerManager {
		if err := step("kube-controller-manager leading", func() error { return cp.StartControllerManager(ctx) }); err != nil {
			return err
		}
	}
	if !opts.NoMirrorPods {
		if err := step("mirror pods", func() error { _, err := cp.AddMirrorPods(ctx, cp.NodeName); return err }); err != nil {
			return err
		}
	}
	return nil
}

// localizeNode rewrites what kubeadm wrote so that the node runs on 127.0.0.1 ports: the static
// pod manifests carry the real flags the processes run with, and every kubeconfig speaks loopback.
func (cp *ControlPlane) localizeNode() error {
	var initial, clientURLs []string
	for _, m := range cp.Etcd {
		initial = append(initial, m.Name+"="+m.PeerURL)
		clientURLs = append(clientURLs, m.ClientURL)
	}
	m0 := cp.Etcd[0]
	if err := rewriteManifestFlags(cp.ManifestPath("etcd"), map[string]string{
		"name": m0.Name, "listen-client-urls": m0.ClientURL, "advertise-client-urls": m0.ClientURL,
		"listen-peer-urls": m0.PeerURL, "initial-advertise-peer-urls": m0.PeerURL,
		"initial-cluster": strings.Join(initial, ","), "listen-metrics-urls": m0.MetricsURL,
		"data-dir": m0.DataDir,
	}, portOf(m0.MetricsURL)); err != nil {
		return err
	}
	if err := rewriteManifestFlags(cp.ManifestPath("kube-apiserver"), map[string]string{
		"advertise-address": "127.0.0.1", "bind-address": "127.0.0.1",
		"endpoint-reconciler-type": "none", "etcd-servers": strings.Join(clientURLs, ","),
	}, cp.APIServerPort); err != nil {
		return err
	}
	if err := rewriteManifestFlags(cp.ManifestPath("kube-controller-manager"), map[string]string{
		"secure-port": fmt.Sprint(cp.ControllerManagerPort), "bind-address": "127.0.0.1",
	}, cp.ControllerManagerPort); err != nil {
		return err
	}
	if err := rewriteManifestFlags(cp.ManifestPath("kube-scheduler"), map[string]string{
		"secure-port": fmt.Sprint(cp.SchedulerPort), "bind-address": "127.0.0.1",
	}, cp.SchedulerPort); err != nil {
		return err
	}
	for _, kc := range []string{"admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"} {
		if err := pointKubeconfig(filepath.Join(cp.Root, "etc", "kubernetes", kc), cp.Server); err != nil {
			return err
		}
	}
	return nil
}

func portOf(url string) int {
	var port int
	if i := strings.LastIndex(url, ":"); i >= 0 {
		fmt.Sscan(url[i+1:], &port)
	}
	return port
}

// Stop stops every process the harness started, by pid. The work folder stays.
func (cp *ControlPlane) Stop() {
	cp.stopHeartbeats()
	cp.heartbeats.Wait()
	for _, p := range cp.processes() {
		p.Stop(10 * time.Second)
	}
}

// Processes lists the processes that were started, in start order.
func (cp *ControlPlane) processes() []*Process {
	var ps []*Process
	for _, p := range []*Process{cp.ControllerManager, cp.APIServer} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	for _, m := range cp.Etcd {
		if m.Process != nil {
			ps = append(ps, m.Process)
		}
	}
	return ps
}

// Logs returns the last lines of every component's log, for a failing test's output.
func (cp *ControlPlane) Logs(lines int) string {
	var b strings.Builder
	for _, p := range cp.processes() {
		fmt.Fprintf(&b, "===== %s (pid %d, log %s), last %d lines =====\n", p.Name, p.Pid(), p.LogPath, lines)
		for _, l := range p.Tail(lines) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (cp *ControlPlane) loadClient() error {
	// The harness acts as the node's kubelet and as the installer: it uses super-admin.conf
	// (system:masters). Tests act as the cluster admin through admin.conf.
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.SuperAdminKubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cp.RESTConfig, cp.Client = cfg, client
	return nil
}
