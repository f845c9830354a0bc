//go:build e2enode

package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type (
	expiry       = harness.CertExpiry
	expiryReport = harness.CertExpiryReport
)

func kubeadmExpiration(t *testing.T) expiryReport {
	t.Helper()
	out, err := exec.Command(filepath.Join(env.bin, "kubeadm"), "certs", "check-expiration", "-o", "json",
		"--kubeconfig", env.node.AdminKubeconfig).Output()
	if err != nil {
		t.Fatalf("kubeadm certs check-expiration: %v\n%s", err, out)
	}
	var r expiryReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func ourCheck(t *testing.T) expiryReport {
	t.Helper()
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "certs", "check", "--root", "/", "--source", "node", "-o", "json")
	var rep expiryReport
	if r.Code > 1 || json.Unmarshal([]byte(r.Stdout), &rep) != nil {
		t.Fatalf("certs check on /: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	return rep
}

// certs check on the real node agrees with the real kubeadm, and also reports the kubelet's certs.
func testCertsCheckOnTheRealNode(t *testing.T) {
	kubeadm, ours := kubeadmExpiration(t), ourCheck(t)
	for _, m := range harness.KubeadmMismatches(kubeadm, ours, "") {
		t.Error(m)
	}
	byName := map[string]expiry{}
	for _, c := range append(ours.Certificates, ours.CAs...) {
		byName[c.Name] = c
	}
	for _, name := range []string{"kubelet-client", "kubelet-serving"} {
		if c, ok := byName[name]; !ok || c.NotAfter == nil || c.Missing {
			t.Errorf("%s (the kubelet's own cert under /var/lib/kubelet/pki) is not reported: %+v", name, c)
		}
	}
}

// certs renew all --restart-static-pods on the real node: the kubelet restarts each static pod, the
// API server then serves the renewed cert, and admin.conf still works.
func testCertsRenewAllRestartsStaticPods(t *testing.T) {
	ctx := context.Background()
	// A restart shows as a new running container (the kubelet cannot replace the mirror pods of
	// etcd and kube-apiserver while they are down, so their UIDs may stay).
	running := func(c string) string {
		pod, err := env.node.MirrorPod(ctx, c)
		if err != nil || len(pod.Status.ContainerStatuses) == 0 || pod.Status.ContainerStatuses[0].State.Running == nil {
			return ""
		}
		return pod.Status.ContainerStatuses[0].ContainerID
	}
	before := map[string]string{}
	for _, c := range components {
		if before[c] = running(c); before[c] == "" {
			t.Fatalf("%s is not running before the renewal", c)
		}
	}
	time.Sleep(1100 * time.Millisecond) // renewed certs start at a later second than the old ones
	// Four static pods, one at a time, each away until the kubelet has stopped it: minutes.
	slow := env.cli
	slow.Timeout = 12 * time.Minute
	r := slow.Run(t, nil, "kubectl", "clusterops", "certs", "renew", "all", "--root", "/", "--restart-static-pods",
		"--node-name", env.node.NodeName, "--restart-timeout", "4m", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("certs renew all: exit %d\n%s", r.Code, r.Stderr)
	}
	var out struct {
		Restarted []certs.RestartedPod `json:"restarted"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("renew -o json: %v\n%s", err, r.Stdout)
	}
	for _, rp := range out.Restarted {
		t.Logf("%s: confirmed=%v uid %s -> %s, config.hash %s -> %s, container %s -> %s %s", rp.Component, rp.Confirmed,
			rp.OldUID, rp.NewUID, rp.OldHash, rp.NewHash, rp.OldContainerID, rp.NewContainerID, rp.Note)
		if !rp.Confirmed {
			t.Errorf("%s: the restart was not confirmed by a new mirror pod: %s", rp.Component, rp.Note)
		}
	}
	for _, c := range components {
		now := running(c)
		for deadline := time.Now().Add(2 * time.Minute); (now == "" || now == before[c]) && time.Now().Before(deadline); now = running(c) {
			time.Sleep(2 * time.Second)
		}
		if now == "" || now == before[c] {
			t.Errorf("%s: no new running container after the renewal (before %s, now %q)", c, before[c], now)
		}
	}
	// The API server serves the renewed cert.
	apiserver := readCertFile(t, "/etc/kubernetes/pki/apiserver.crt")
	conn, err := tls.Dial("tcp", "127.0.0.1:6443", &tls.Config{InsecureSkipVerify: true}) // only reading the served cert
	if err != nil {
		t.Fatal(err)
	}
	served := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !served.NotAfter.Equal(apiserver.NotAfter) || served.SerialNumber.Cmp(apiserver.SerialNumber) != 0 {
		t.Errorf("the API server serves serial %v (NotAfter %v), the renewed file has %v (%v)", served.SerialNumber, served.NotAfter, apiserver.SerialNumber, apiserver.NotAfter)
	}
	// admin.conf, renewed too, still works; kubeadm sees the new dates.
	if r := env.cli.Run(t, nil, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes"); r.Code != 0 {
		t.Errorf("the renewed admin.conf: %s", r.Stderr)
	}
	for _, k := range kubeadmExpiration(t).Certificates {
		if k.Name == "apiserver" && !k.ExpirationDate.Equal(apiserver.NotAfter) {
			t.Errorf("kubeadm sees apiserver expiring %v, want the renewed %v", k.ExpirationDate, apiserver.NotAfter)
		}
	}
	if _, err := env.node.Client.CoreV1().Nodes().Get(ctx, env.node.NodeName, metav1.GetOptions{}); err != nil {
		t.Errorf("the node's API after the renewal: %v", err)
	}
}

func readCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := certs.ParseCertsPEM(data)
	if err != nil || len(cs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	return cs[0]
}
