package harness

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SetAPIServerFlag adds (or replaces) a --flag=value in the kube-apiserver manifest on disk and
// restarts kube-apiserver from it, as a kubelet would after a manifest edit.
func (cp *ControlPlane) SetAPIServerFlag(ctx context.Context, flag, value string) error {
	path := cp.ManifestPath("kube-apiserver")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	prefix := "    - --" + flag + "="
	out := make([]string, 0, len(lines)+1)
	done := false
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			continue
		}
		out = append(out, l)
		if strings.TrimSpace(l) == "- kube-apiserver" && !done {
			out = append(out, prefix+value)
			done = true
		}
	}
	if !done {
		return fmt.Errorf("no '- kube-apiserver' command line in %s", path)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		return err
	}
	cp.StopAPIServer()
	if err := cp.StartAPIServer(ctx); err != nil {
		return err
	}
	// kube-controller-manager exits when it loses its leader lease while the apiserver is down;
	// a kubelet would restart it.
	if cm := cp.ControllerManager; cm != nil {
		if exited, _ := cm.Exited(); exited {
			return cp.StartControllerManager(ctx)
		}
	}
	return nil
}

// WaitDefaultServiceAccount waits until the service account controller has created the
// namespace's "default" ServiceAccount, which pod admission requires.
func (cp *ControlPlane) WaitDefaultServiceAccount(ctx context.Context, namespace string) error {
	for {
		if _, err := cp.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no default ServiceAccount in %s: %w", namespace, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
