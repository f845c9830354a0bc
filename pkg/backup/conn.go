// Package backup takes, inspects, verifies and restores etcd snapshots of a
// kubeadm-style control plane, and reports the health of the etcd members.
// Restore and the snapshot status use etcd's own code (go.etcd.io/etcd/etcdutl/v3).
package backup

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Conn says how to reach etcd, as etcdctl's --endpoints --cacert --cert --key.
type Conn struct {
	Endpoints   []string
	CACert      string
	Cert        string
	Key         string
	DialTimeout time.Duration
	// Discovered is true when the endpoints came from the node's etcd manifest;
	// other members are then looked up with MemberList.
	Discovered bool
}

// ManifestRelPath is where kubeadm writes the etcd static pod manifest, relative to the node root.
const ManifestRelPath = "etc/kubernetes/manifests/etcd.yaml"

// NodePath maps an absolute path of the node (as written in a manifest) to this machine.
func NodePath(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

// ReadEtcdManifest reads the etcd static pod manifest of the node at root.
func ReadEtcdManifest(root string) (*corev1.Pod, error) {
	return readPodManifest(NodePath(root, "/"+ManifestRelPath))
}

// readPodManifest reads a static pod manifest.
func readPodManifest(path string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		if err := yaml.Unmarshal(data, &pod); err != nil {
			return nil, fmt.Errorf("%s is not a pod manifest: %w", path, err)
		}
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("%s has no container", path)
	}
	return &pod, nil
}

// ManifestFlag returns the value of --name=value in the etcd container's command and args.
func ManifestFlag(pod *corev1.Pod, name string) (string, bool) {
	c := pod.Spec.Containers[0]
	for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
		if v, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// DiscoverConn finds the endpoints and client certificates of the local etcd member of the
// kubeadm node at root: endpoints from --listen-client-urls / --advertise-client-urls of the
// etcd manifest (a loopback URL first), the CA from --trusted-ca-file, and the
// healthcheck-client (or apiserver-etcd-client) certificate. Fields already set in given win.
func DiscoverConn(root string, given Conn) (Conn, error) {
	c := given
	pod, err := ReadEtcdManifest(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, fmt.Errorf("no etcd manifest at %s: this is not a kubeadm control-plane node (or pass --root); give --endpoints --cacert --cert --key",
				NodePath(root, "/"+ManifestRelPath))
		}
		return c, err
	}
	if len(c.Endpoints) == 0 {
		var loop, other []string
		for _, flag := range []string{"listen-client-urls", "advertise-client-urls"} {
			v, _ := ManifestFlag(pod, flag)
			for _, u := range strings.Split(v, ",") {
				u = strings.TrimSpace(u)
				if u == "" || contains(loop, u) || contains(other, u) {
					continue
				}
				if pu, err := url.Parse(u); err == nil && (pu.Hostname() == "127.0.0.1" || pu.Hostname() == "localhost" || pu.Hostname() == "::1") {
					loop = append(loop, u)
				} else {
					other = append(other, u)
				}
			}
		}
		c.Endpoints = append(loop, other...)
		if len(c.Endpoints) == 0 {
			return c, fmt.Errorf("the etcd manifest has no --listen-client-urls or --advertise-client-urls; give --endpoints")
		}
		c.Discovered = true
	}
	pki := NodePath(root, "/etc/kubernetes/pki")
	if c.CACert == "" {
		if v, ok := ManifestFlag(pod, "trusted-ca-file"); ok {
			c.CACert = NodePath(root, v)
		} else {
			c.CACert = filepath.Join(pki, "etcd", "ca.crt")
		}
	}
	if c.Cert == "" && c.Key == "" {
		for _, pair := range [][2]string{
			{filepath.Join(pki, "etcd", "healthcheck-client.crt"), filepath.Join(pki, "etcd", "healthcheck-client.key")},
			{filepath.Join(pki, "apiserver-etcd-client.crt"), filepath.Join(pki, "apiserver-etcd-client.key")},
		} {
			if fileExists(pair[0]) && fileExists(pair[1]) {
				c.Cert, c.Key = pair[0], pair[1]
				break
			}
		}
		if c.Cert == "" {
			return c, fmt.Errorf("no etcd client certificate in %s (healthcheck-client or apiserver-etcd-client); give --cert and --key", pki)
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Validate checks the connection settings without contacting etcd.
func (c Conn) Validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("no etcd endpoint: give --endpoints, or --root of a kubeadm control-plane node")
	}
	for _, e := range c.Endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("invalid etcd endpoint %q: use a URL such as https://127.0.0.1:2379", e)
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("--cert and --key go together: give both or neither")
	}
	for flag, p := range map[string]string{"--cacert": c.CACert, "--cert": c.Cert, "--key": c.Key} {
		if p != "" && !fileExists(p) {
			return fmt.Errorf("%s %s: no such file", flag, p)
		}
	}
	return nil
}

// flowControlWindow fixes gRPC's flow-control windows at 1 MiB (per stream and per connection).
// Without it gRPC estimates the bandwidth-delay product and grows the window up to 16 MiB: while
// a snapshot streams faster than the disk takes it, gRPC then buffers that much more data, and
// the heap (twice the live data, by GOGC) grew with the snapshot's size: peak RSS 51 MiB at
// 256 MiB and 54 MiB at 1 GiB. 1 MiB in flight is 3 ms of a 300 MiB/s stream: it does not hold
// back loopback or a LAN (issue 21).
var flowControlWindow = []grpc.DialOption{grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(1 << 20)}

// ClientConfig builds the etcd client configuration for the given endpoints
// (all of c.Endpoints when none are given).
func (c Conn) ClientConfig(endpoints ...string) (clientv3.Config, error) {
	if len(endpoints) == 0 {
		endpoints = c.Endpoints
	}
	timeout := c.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	cfg := clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          timeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
		DialOptions:          flowControlWindow,
	}
	if c.CACert != "" || c.Cert != "" {
		info := transport.TLSInfo{TrustedCAFile: c.CACert, CertFile: c.Cert, KeyFile: c.Key, Logger: zap.NewNop()}
		tlsCfg, err := info.ClientConfig()
		if err != nil {
			return cfg, fmt.Errorf("loading the etcd client certificates: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	return cfg, nil
}

// New connects a client to the given endpoints (all of c.Endpoints when none are given).
func (c Conn) New(endpoints ...string) (*clientv3.Client, error) {
	cfg, err := c.ClientConfig(endpoints...)
	if err != nil {
		return nil, err
	}
	return clientv3.New(cfg)
}
