package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func waitFor(ctx context.Context, timeout time.Duration, what string, p *Process, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if done, err := p.Exited(); done {
			return fmt.Errorf("%s exited (%v) before %s; last log lines:\n%s", p.Name, err, what, strings.Join(p.Tail(40), "\n"))
		}
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s waiting for %s: %v", timeout, what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// StartEtcd starts every etcd member from the node's etcd manifest (as the kubelet would) and
// waits until each reports healthy. Member 0 runs exactly the manifest's flags.
func (cp *ControlPlane) StartEtcd(ctx context.Context) error {
	pod, err := ReadManifest(cp.ManifestPath("etcd"))
	if err != nil {
		return err
	}
	for i, m := range cp.Etcd {
		set := map[string]string{}
		if i > 0 {
			set = map[string]string{
				"name": m.Name, "listen-client-urls": m.ClientURL, "advertise-client-urls": m.ClientURL,
				"listen-peer-urls": m.PeerURL, "initial-advertise-peer-urls": m.PeerURL,
				"listen-metrics-urls": m.MetricsURL, "data-dir": m.DataDir,
			}
		} else if dd, ok := FlagValue(pod, "data-dir"); ok {
			m.DataDir = dd // the manifest may have been pointed at a restored dir
		}
		p, err := startProcess(m.Name, filepath.Join(cp.BinDir, "etcd"), processArgs(pod, cp.Root, set), cp.LogDir)
		if err != nil {
			return err
		}
		m.Process = p
	}
	for _, m := range cp.Etcd {
		m := m
		if err := waitFor(ctx, 60*time.Second, m.Name+" /health", m.Process, func() error {
			return httpHealthy(m.MetricsURL + "/health")
		}); err != nil {
			return err
		}
	}
	return nil
}

func httpHealthy(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// StopEtcd stops every etcd member.
func (cp *ControlPlane) StopEtcd() {
	for _, m := range cp.Etcd {
		if m.Process != nil {
			m.Process.Stop(10 * time.Second)
		}
	}
}

// StartAPIServer starts kube-apiserver from the node's manifest and waits for /readyz.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	pod, err := ReadManifest(cp.ManifestPath("kube-apiserver"))
	if err != nil {
		return err
	}
	p, err := startProcess("kube-apiserver", filepath.Join(cp.BinDir, "kube-apiserver"), processArgs(pod, cp.Root, nil), cp.LogDir)
	if err != nil {
		return err
	}
	cp.APIServer = p
	if err := cp.loadClient(); err != nil {
		return err
	}
	return waitFor(ctx, 90*time.Second, "kube-apiserver /readyz", p, func() error {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := cp.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return err
	})
}

// StopAPIServer stops kube-apiserver.
func (cp *ControlPlane) StopAPIServer() {
	if cp.APIServer != nil {
		cp.APIServer.Stop(15 * time.Second)
	}
}

// StartControllerManager starts kube-controller-manager from the node's manifest and waits until
// it holds its leader-election Lease.
func (cp *ControlPlane) StartControllerManager(ctx context.Context) error {
	pod, err := ReadManifest(cp.ManifestPath("kube-controller-manager"))
	if err != nil {
		return err
	}
	p, err := startProcess("kube-controller-manager", filepath.Join(cp.BinDir, "kube-controller-manager"), processArgs(pod, cp.Root, nil), cp.LogDir)
	if err != nil {
		return err
	}
	cp.ControllerManager = p
	hostname, _ := os.Hostname()
	return waitFor(ctx, 90*time.Second, "kube-controller-manager leader Lease", p, func() error {
		lease, err := cp.Client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, hostname) {
			return fmt.Errorf("lease held by %v", lease.Spec.HolderIdentity)
		}
		return nil
	})
}
