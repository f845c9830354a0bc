//go:build e2e

package e2e

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type renewJSON struct {
	DryRun        bool     `json:"dryRun"`
	BackupDir     string   `json:"backupDir"`
	PrunedBackups []string `json:"prunedBackups"`
	Certificates  []struct {
		Name        string     `json:"name"`
		NewNotAfter *time.Time `json:"newNotAfter"`
		CSRPath     string     `json:"csrPath"`
	} `json:"certificates"`
	RestartStaticPods []string `json:"restartStaticPods"`
	Restarted         []struct {
		Component string `json:"component"`
		Confirmed bool   `json:"confirmed"`
		OldUID    string `json:"oldUID"`
		NewUID    string `json:"newUID"`
		Note      string `json:"note"`
	} `json:"restarted"`
}

func renew(t *testing.T, args ...string) (renewJSON, result) {
	t.Helper()
	r := run(t, "kubectl", append([]string{"clusterops", "certs", "renew", "-o", "json"}, args...)...)
	var out renewJSON
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("renew -o json: %v\n%s", err, r.stdout)
		}
	}
	return out, r
}

// leafCerts reads every renewable certificate of a node root by kubeadm name.
func leafCerts(t *testing.T, root string) map[string]*x509.Certificate {
	t.Helper()
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	files := map[string]string{"apiserver": "apiserver", "apiserver-etcd-client": "apiserver-etcd-client",
		"apiserver-kubelet-client": "apiserver-kubelet-client", "etcd-healthcheck-client": "etcd/healthcheck-client",
		"etcd-peer": "etcd/peer", "etcd-server": "etcd/server", "front-proxy-client": "front-proxy-client"}
	out := map[string]*x509.Certificate{}
	for name, f := range files {
		out[name] = readCert(t, filepath.Join(pki, f+".crt"))
	}
	for _, kc := range kubeconfigNames {
		out[kc] = kubeconfigCert(t, filepath.Join(root, "etc", "kubernetes", kc))
	}
	return out
}

// etcKubernetesSums are the checksums of what a renewal may change: the cert dir and kubeconfigs.
func etcKubernetesSums(t *testing.T, root string) map[string]string {
	t.Helper()
	sums := fileSums(t, filepath.Join(root, "etc", "kubernetes", "pki"))
	out := map[string]string{}
	for k, v := range sums {
		if !strings.HasPrefix(filepath.Base(k), ".") { // temp files of an interrupted atomic write
			out["pki/"+k] = v
		}
	}
	for _, kc := range append(slices.Clone(kubeconfigNames), "kubelet.conf") {
		all := fileSums(t, filepath.Join(root, "etc", "kubernetes"))
		out[kc] = all[kc]
	}
	return out
}

// renew all on a running control plane: kubeadm sees the new dates, every certificate verifies,
// subjects and SANs are unchanged, the backup holds the old files, and a real kube-apiserver
// restarted on the renewed files serves the new certificate and accepts the renewed admin.conf.
// Then --restart-static-pods restarts it through the manifest, watched by its mirror pod.
func TestCertsRenewAllOnRunningControlPlane(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "renew", NoControllerManager: true, NoKubeadmObjects: true})
	ctx := context.Background()
	before := leafCerts(t, cp.Root)
	oldSums := etcKubernetesSums(t, cp.Root)
	kubeadmBefore := kubeadmCheck(t, cp.Root)

	start := time.Now()
	out, r := renew(t, "all", "--root", cp.Root, "--validity", "400d")
	if r.code != 0 {
		t.Fatalf("renew all: exit %d: %s", r.code, r.stderr)
	}
	if len(out.Certificates) != len(kubeadmNames) || !slices.Equal(out.RestartStaticPods,
		[]string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}) {
		t.Errorf("renewed %d certificates, restart %v", len(out.Certificates), out.RestartStaticPods)
	}
	after := leafCerts(t, cp.Root)
	kubeadmAfter := kubeadmCheck(t, cp.Root)
	for i, k := range kubeadmAfter.Certificates {
		c := after[k.Name]
		if k.ExpirationDate == nil || !k.ExpirationDate.Equal(c.NotAfter) || k.ExpirationDate.Equal(*kubeadmBefore.Certificates[i].ExpirationDate) {
			t.Errorf("kubeadm after renewal: %s expires %v (file %s, before %v)", k.Name, k.ExpirationDate, c.NotAfter, kubeadmBefore.Certificates[i].ExpirationDate)
		}
		if want := start.Add(400 * 24 * time.Hour); c.NotAfter.Before(want.Add(-time.Minute)) || c.NotAfter.After(want.Add(time.Minute)) {
			t.Errorf("%s: NotAfter %s, want about %s", k.Name, c.NotAfter, want)
		}
		b := before[k.Name]
		if c.Subject.String() != b.Subject.String() || !slices.Equal(c.DNSNames, b.DNSNames) || len(c.IPAddresses) != len(b.IPAddresses) ||
			c.KeyUsage != b.KeyUsage || !slices.Equal(c.ExtKeyUsage, b.ExtKeyUsage) || c.SerialNumber.Cmp(b.SerialNumber) == 0 {
			t.Errorf("%s changed: subject %q -> %q, DNS %v -> %v, IPs %v -> %v, usage %v/%v -> %v/%v", k.Name, b.Subject, c.Subject,
				b.DNSNames, c.DNSNames, b.IPAddresses, c.IPAddresses, b.KeyUsage, b.ExtKeyUsage, c.KeyUsage, c.ExtKeyUsage)
		}
		for j := range c.IPAddresses {
			if !c.IPAddresses[j].Equal(b.IPAddresses[j]) {
				t.Errorf("%s: IP SAN %v -> %v", k.Name, b.IPAddresses[j], c.IPAddresses[j])
			}
		}
	}
	check, cr := certsCheck(t, "--root", cp.Root, "--source", "node")
	if cr.code != 0 {
		t.Errorf("certs check after renewal: exit %d", cr.code)
	}
	for _, c := range check.Certificates {
		if c.ChainVerified == nil || !*c.ChainVerified || c.KeyMatches == nil || !*c.KeyMatches {
			t.Errorf("%s after renewal: chainVerified %v keyMatches %v", c.Name, c.ChainVerified, c.KeyMatches)
		}
	}
	if bad := pairsMismatch(cp.Root); len(bad) > 0 {
		t.Errorf("mismatched pairs after renewal: %v", bad)
	}
	backup := etcKubernetesSums(t, out.BackupDir)
	for k, v := range oldSums {
		if v != "" && backup[k] != v {
			t.Errorf("backup %s: %s has %q, the old file had %q", out.BackupDir, k, backup[k], v)
		}
	}

	// A real kube-apiserver, restarted from the manifest and files on disk, serves the new cert
	// and accepts the renewed admin.conf.
	cp.StopAPIServer()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatalf("kube-apiserver on the renewed files: %v\n%s", err, cp.Logs(40))
	}
	if served := servedCert(t, cp.Server); !served.NotAfter.Equal(after["apiserver"].NotAfter) {
		t.Errorf("served certificate expires %s, renewed apiserver.crt %s", served.NotAfter, after["apiserver"].NotAfter)
	}
	if r := run(t, "kubectl", "get", "--raw", "/readyz", "--kubeconfig", cp.AdminKubeconfig); r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("the renewed admin.conf is not accepted: exit %d %s", r.code, r.stderr)
	}
	api, ar := certsCheck(t, "--source", "api", "--kubeconfig", cp.AdminKubeconfig)
	serving, _ := api.cert("apiserver (serving)")
	if ar.code != 0 || serving.NotAfter == nil || !serving.NotAfter.Equal(after["apiserver"].NotAfter) || !*serving.ChainVerified {
		t.Errorf("certs check --source api: exit %d, serving %+v", ar.code, serving)
	}
	if restarted, rr := certsCheck(t, "--root", cp.Root, "--kubeconfig", cp.AdminKubeconfig); rr.code != 0 {
		s, _ := restarted.cert("apiserver (serving)")
		t.Errorf("after the restart: exit %d, serving %+v", rr.code, s)
	}
	user, _ := api.cert("kubeconfig user kubernetes-admin")
	if user.NotAfter == nil || !user.NotAfter.Equal(after["admin.conf"].NotAfter) || !*user.KeyMatches {
		t.Errorf("certs check --source api: kubeconfig user %+v", user)
	}

	t.Run("restart-static-pods with a mirror pod", func(t *testing.T) { restartWatched(t, cp) })
	t.Run("restart-static-pods without a kubelet", func(t *testing.T) { restartUnwatched(t, cp) })
}

// restartWatched acts as the node's kubelet for kube-apiserver: when its manifest leaves the
// manifests dir it deletes the mirror pod and stops the process; when the manifest is back it
// starts kube-apiserver from it (and the renewed files) and creates a new mirror pod.
func restartWatched(t *testing.T, cp *harness.ControlPlane) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stops, starts atomic.Int32
	kubeletDone := make(chan struct{})
	go func() {
		defer close(kubeletDone)
		present := true
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			_, err := os.Stat(cp.ManifestPath("kube-apiserver"))
			switch {
			case present && err != nil:
				present = false
				// As the kubelet deletes mirror pods: at once.
				_ = cp.Client.CoreV1().Pods("kube-system").Delete(ctx, "kube-apiserver-"+cp.NodeName,
					metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
				cp.StopAPIServer()
				stops.Add(1)
			case !present && err == nil:
				present = true
				if err := cp.StartAPIServer(ctx); err != nil {
					t.Errorf("kubelet: starting kube-apiserver: %v", err)
					return
				}
				node, err := cp.Client.CoreV1().Nodes().Get(ctx, cp.NodeName, metav1.GetOptions{})
				if err == nil {
					_, err = cp.MirrorPod(ctx, node, cp.ManifestPath("kube-apiserver"))
				}
				if err != nil {
					t.Errorf("kubelet: mirror pod: %v", err)
				}
				starts.Add(1)
			}
		}
	}()
	manifest, _ := os.ReadFile(cp.ManifestPath("kube-apiserver"))
	out, r := renew(t, "apiserver", "--root", cp.Root, "--validity", "500d", "--restart-static-pods",
		"--kubeconfig", cp.AdminKubeconfig, "--node-name", cp.NodeName, "--restart-timeout", "90s")
	cancel()
	<-kubeletDone
	if r.code != 0 {
		t.Fatalf("renew --restart-static-pods: exit %d %s", r.code, r.stderr)
	}
	if len(out.Restarted) != 1 || out.Restarted[0].Component != "kube-apiserver" || !out.Restarted[0].Confirmed ||
		out.Restarted[0].NewUID == out.Restarted[0].OldUID {
		t.Errorf("restarted: %+v", out.Restarted)
	}
	if stops.Load() != 1 || starts.Load() != 1 {
		t.Errorf("the kubelet stopped kube-apiserver %d times and started it %d times, want 1 and 1", stops.Load(), starts.Load())
	}
	if now, _ := os.ReadFile(cp.ManifestPath("kube-apiserver")); string(now) != string(manifest) {
		t.Errorf("the manifest changed")
	}
	renewed := readCert(t, filepath.Join(cp.PKI(), "apiserver.crt"))
	if served := servedCert(t, cp.Server); !served.NotAfter.Equal(renewed.NotAfter) || !renewed.NotAfter.Equal(*out.Certificates[0].NewNotAfter) {
		t.Errorf("after the restart kube-apiserver serves a certificate expiring %s; renewed %s", served.NotAfter, renewed.NotAfter)
	}
}

// restartUnwatched: without API access the manifest is moved away for --restart-wait and back.
func restartUnwatched(t *testing.T, cp *harness.ControlPlane) {
	manifest, _ := os.ReadFile(cp.ManifestPath("kube-scheduler"))
	var sawGone atomic.Bool
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := os.Stat(cp.ManifestPath("kube-scheduler")); err != nil {
				sawGone.Store(true)
			}
		}
	}()
	out, r := renew(t, "scheduler.conf", "--root", cp.Root, "--restart-static-pods", "--restart-wait", "2s",
		"--server", "https://127.0.0.1:1")
	close(stop)
	<-done
	if r.code != 0 || len(out.Restarted) != 1 || out.Restarted[0].Confirmed || !strings.Contains(out.Restarted[0].Note, "no mirror pod") {
		t.Fatalf("exit %d, restarted %+v", r.code, out.Restarted)
	}
	if !sawGone.Load() {
		t.Errorf("kube-scheduler.yaml never left the manifests dir")
	}
	if now, err := os.ReadFile(cp.ManifestPath("kube-scheduler")); err != nil || string(now) != string(manifest) {
		t.Errorf("the manifest is not back as it was: %v", err)
	}
}

// --new-key: new keys (0600) for a file pair and a kubeconfig; every pair still matches and kubeadm
// reads the renewed node.
func TestCertsRenewNewKey(t *testing.T) {
	root := copyRoot(t, env.cp.Root)
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	oldKey, _ := os.ReadFile(filepath.Join(pki, "front-proxy-client.key"))
	oldAdmin := kubeconfigCert(t, filepath.Join(root, "etc", "kubernetes", "admin.conf"))
	out, r := renew(t, "front-proxy-client", "admin.conf", "--root", root, "--new-key")
	if r.code != 0 || len(out.Certificates) != 2 || !slices.Equal(out.RestartStaticPods, []string{"kube-apiserver"}) {
		t.Fatalf("exit %d %+v", r.code, out)
	}
	newKey, _ := os.ReadFile(filepath.Join(pki, "front-proxy-client.key"))
	st, _ := os.Stat(filepath.Join(pki, "front-proxy-client.key"))
	if string(newKey) == string(oldKey) || st.Mode().Perm() != 0o600 {
		t.Errorf("front-proxy-client.key: changed %v, mode %v", string(newKey) != string(oldKey), st.Mode().Perm())
	}
	admin := kubeconfigCert(t, filepath.Join(root, "etc", "kubernetes", "admin.conf"))
	if admin.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(oldAdmin.PublicKey) {
		t.Errorf("admin.conf kept its key")
	}
	if bad := pairsMismatch(root); len(bad) > 0 {
		t.Errorf("mismatched pairs: %v", bad)
	}
	if left, _ := filepath.Glob(filepath.Join(pki, "*.clusterops-new")); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	k := kubeadmCheck(t, root)
	for _, c := range k.Certificates {
		if c.Name == "front-proxy-client" && !c.ExpirationDate.Equal(*out.Certificates[0].NewNotAfter) {
			t.Errorf("kubeadm: front-proxy-client expires %v, renewed %v", c.ExpirationDate, out.Certificates[0].NewNotAfter)
		}
	}
}
