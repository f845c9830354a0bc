package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// APIServerParkRelDir is where a restore parks kube-apiserver's manifest while it switches etcd,
// relative to the node root: the dir in which `certs renew` parks static pod manifests while it
// restarts them (pkg/certs parkDir), so that a manifest a killed run left there is put back by
// the next renewal or restart, as well as by the next restore.
const APIServerParkRelDir = "etc/kubernetes/tmp/clusterops-restart"

// ParkedAPIServer is kube-apiserver's manifest moved out of the manifests dir.
type ParkedAPIServer struct {
	Manifest, Parked string
	// Address is host:port of the API server's secure port on this node (from its manifest).
	Address string
	back    bool
}

// ParkAPIServer moves kube-apiserver's manifest out of the manifests dir of the node at root,
// so that the kubelet stops it. A manifest an earlier run left parked is put back first. nil
// (and no error) when there is no manifest: kube-apiserver was stopped by hand.
func ParkAPIServer(root string) (*ParkedAPIServer, error) {
	manifest := NodePath(root, "/"+APIServerManifestRelPath)
	dir := NodePath(root, "/"+APIServerParkRelDir)
	p := &ParkedAPIServer{Manifest: manifest, Parked: filepath.Join(dir, filepath.Base(manifest)), Address: "127.0.0.1:6443"}
	if _, err := os.Lstat(p.Parked); err == nil {
		if _, err := os.Lstat(manifest); errors.Is(err, fs.ErrNotExist) {
			leftover := *p
			if err := leftover.Unpark(); err != nil {
				return nil, err
			}
		}
	}
	pod, err := readPodManifest(manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	port, host := "6443", "127.0.0.1"
	for _, c := range pod.Spec.Containers {
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			var v string
			if n, _ := fmt.Sscanf(a, "--secure-port=%s", &v); n == 1 {
				port = v
			}
			if n, _ := fmt.Sscanf(a, "--bind-address=%s", &v); n == 1 && v != "0.0.0.0" && v != "::" {
				host = v
			}
		}
	}
	p.Address = net.JoinHostPort(host, port)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, atomicfile.Error(dir, err)
	}
	if err := os.Rename(manifest, p.Parked); err != nil {
		return nil, fmt.Errorf("stopping kube-apiserver: moving its manifest away: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(manifest)); err != nil {
		_ = p.Unpark()
		return nil, err
	}
	return p, nil
}

// Unpark puts the manifest back; the kubelet starts kube-apiserver again. Calling it twice is
// safe.
func (p *ParkedAPIServer) Unpark() error {
	if p == nil || p.back {
		return nil
	}
	if err := os.Rename(p.Parked, p.Manifest); err != nil {
		return fmt.Errorf("starting kube-apiserver again: moving %s back to %s: %w; move it back by hand", p.Parked, p.Manifest, err)
	}
	p.back = true
	return atomicfile.SyncDir(filepath.Dir(p.Manifest))
}

// WaitStopped waits until nothing accepts connections at the API server's address any more
// (the kubelet has stopped it: it checks the manifests dir every 20s by default, then gives the
// pod its grace period), for at most timeout.
func (p *ParkedAPIServer) WaitStopped(ctx context.Context, timeout, poll time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", p.Address)
		if err != nil && ctx.Err() == nil {
			return nil
		}
		if conn != nil {
			conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver still accepts connections at %s %s after its manifest left the manifests dir", p.Address, timeout)
		case <-time.After(poll):
		}
	}
}
