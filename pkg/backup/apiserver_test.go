package backup

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParkAPIServer(t *testing.T) {
	root := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	manifest := filepath.Join(root, APIServerManifestRelPath)
	os.MkdirAll(filepath.Dir(manifest), 0o755)
	body := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n  - name: kube-apiserver\n    command:\n    - kube-apiserver\n    - --secure-port=" + port + "\n"
	os.WriteFile(manifest, []byte(body), 0o600)

	p, err := ParkAPIServer(root)
	if err != nil || p == nil || p.Address != "127.0.0.1:"+port {
		t.Fatalf("park: %+v, %v", p, err)
	}
	if _, err := os.Stat(manifest); !os.IsNotExist(err) {
		t.Errorf("the manifest is still in the manifests dir: %v", err)
	}
	// Still listening: not stopped.
	if err := p.WaitStopped(context.Background(), 300*time.Millisecond, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still accepts") {
		t.Errorf("wait while listening: %v", err)
	}
	ln.Close()
	if err := p.WaitStopped(context.Background(), 5*time.Second, 50*time.Millisecond); err != nil {
		t.Errorf("wait after close: %v", err)
	}
	if err := p.Unpark(); err != nil || p.Unpark() != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(manifest); string(got) != body {
		t.Errorf("unparked manifest %q", got)
	}

	// A manifest a killed run left parked is put back first, then parked again.
	os.Rename(manifest, p.Parked)
	p2, err := ParkAPIServer(root)
	if err != nil || p2 == nil {
		t.Fatalf("park after a leftover: %v", err)
	}
	if err := p2.Unpark(); err != nil {
		t.Fatal(err)
	}
	// No manifest (stopped by hand): nothing parked.
	os.Remove(manifest)
	if p3, err := ParkAPIServer(root); err != nil || p3 != nil {
		t.Errorf("no manifest: %+v, %v", p3, err)
	}
}
