//go:build e2enode

package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

var agentImage struct {
	once sync.Once
	ref  string
	err  error
}

var digestRe = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// makeImage runs `make image` with the node tier's plugin version into dir and returns the index
// digest it printed.
func makeImage(t *testing.T, dir string) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// This host's platform only: the node tier imports one platform, and the two-platform index is
	// proven reproducible by hack/verify-image.
	cmd := exec.Command("make", "-s", "image", "VERSION="+testVersion, "COMMIT=e2enode", "BUILD_DATE=2026-01-01T00:00:00Z",
		"SOURCE_DATE_EPOCH=1767225600", "DIST="+dir, "PLATFORMS=linux/"+runtime.GOARCH)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	d := digestRe.FindString(string(out))
	if d == "" {
		t.Fatalf("make image printed no digest:\n%s", out)
	}
	return d
}

// imageRef builds the plugin's image twice with `make image` (the digests must be equal), imports
// it into the node's containerd with hack/image-import, and returns its reference for --image.
func imageRef(t *testing.T) string {
	t.Helper()
	agentImage.once.Do(func() {
		a, b := t.TempDir(), t.TempDir()
		d1, d2 := makeImage(t, a), makeImage(t, b)
		if d1 != d2 {
			agentImage.err = fmt.Errorf("two make image runs gave %s and %s", d1, d2)
			return
		}
		t.Logf("make image, twice: the same index digest %s", d1)
		root, _ := harness.RepoRoot()
		cmd := exec.Command(filepath.Join(root, "hack", "image-import"), filepath.Join(a, "image"))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "IMAGE=localhost/kubectl-clusterops:"+testVersion)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			agentImage.err = fmt.Errorf("hack/image-import: %v\n%s", err, stderr.String())
			return
		}
		if !strings.Contains(stderr.String(), d1) {
			agentImage.err = fmt.Errorf("containerd holds another digest than make image's %s:\n%s", d1, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		agentImage.ref = lines[len(lines)-1]
	})
	if agentImage.err != nil {
		t.Fatal(agentImage.err)
	}
	return agentImage.ref
}

// agentPods lists the agent pods in every namespace, terminating ones included; ok is false
// while the API server does not answer (a renewal restarts it).
func agentPods() (pods []corev1.Pod, ok bool) {
	l, err := env.node.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: agent.Selector()})
	if err != nil {
		return nil, false
	}
	return l.Items, true
}

// assertNoAgentPods waits until no agent pod is left (a deleted pod terminates within its grace
// period) and fails if one stays.
func assertNoAgentPods(t *testing.T) {
	t.Helper()
	var left []corev1.Pod
	listed := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		pods, ok := agentPods()
		if ok && len(pods) == 0 {
			return
		}
		if ok {
			left, listed = pods, true
		}
	}
	if !listed {
		t.Errorf("the API server did not answer for 3m: agent pods not checked")
	}
	for _, p := range left {
		t.Errorf("agent pod left behind: %s/%s (%s, deleting=%v)", p.Namespace, p.Name, p.Status.Phase, p.DeletionTimestamp != nil)
	}
}

// The image `make image` built runs as the agent: `certs check --control-plane` from the
// kubeconfig equals `certs check --root /` on the node, certificate by certificate.
func testAgentCertsCheckEqualsTheNode(t *testing.T) {
	ref := imageRef(t)
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "certs", "check", "--control-plane", "--image", ref, "-o", "json")
	if r.Code > 1 {
		t.Fatalf("certs check --control-plane: exit %d\n%s", r.Code, r.Stderr)
	}
	var viaAgent, local certs.Report
	if err := json.Unmarshal([]byte(r.Stdout), &viaAgent); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.Stdout)
	}
	l := env.cli.Run(t, nil, "kubectl", "clusterops", "certs", "check", "--root", "/", "--source", "node", "-o", "json")
	if l.Code > 1 || json.Unmarshal([]byte(l.Stdout), &local) != nil {
		t.Fatalf("certs check --root /: exit %d\n%s", l.Code, l.Stderr)
	}
	if len(viaAgent.Nodes) != 1 || viaAgent.Nodes[0].Name != env.node.NodeName || viaAgent.Nodes[0].Status != certs.StatusOK {
		t.Errorf("nodes: %+v, want one OK row for %s", viaAgent.Nodes, env.node.NodeName)
	}
	key := func(c certs.Certificate) string { return c.Name + "|" + c.Path }
	want := map[string]certs.Certificate{}
	for _, c := range local.Certificates {
		want[key(c)] = c
	}
	if len(viaAgent.Certificates) != len(local.Certificates) || len(viaAgent.CAs) != len(local.CAs) {
		t.Errorf("the agent reports %d certificates and %d CAs, the node %d and %d", len(viaAgent.Certificates), len(viaAgent.CAs),
			len(local.Certificates), len(local.CAs))
	}
	for _, c := range viaAgent.Certificates {
		w, ok := want[key(c)]
		switch {
		case !ok:
			t.Errorf("%s: only in the agent's report", key(c))
		case c.Node != env.node.NodeName:
			t.Errorf("%s: node %q", c.Name, c.Node)
		case c.Status != w.Status || !sameSecond(c.NotAfter, w.NotAfter) || c.Subject != w.Subject:
			t.Errorf("%s: agent %s %v %s, node %s %v %s", c.Name, c.Status, c.NotAfter, c.Subject, w.Status, w.NotAfter, w.Subject)
		}
	}
	for i, c := range viaAgent.CAs {
		if i < len(local.CAs) && (c.Name != local.CAs[i].Name || c.Status != local.CAs[i].Status || !sameSecond(c.NotAfter, local.CAs[i].NotAfter)) {
			t.Errorf("CA %s: agent %s %v, node %s %s %v", c.Name, c.Status, c.NotAfter, local.CAs[i].Name, local.CAs[i].Status, local.CAs[i].NotAfter)
		}
	}
	t.Logf("%d certificates and %d CAs equal through the agent", len(viaAgent.Certificates), len(viaAgent.CAs))
	assertNoAgentPods(t)
}

func sameSecond(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// `staticpods diff --node N` (manifests through an agent pod) reports a flag edited in
// kube-scheduler.yaml, as `--root /` does. The kubelet restarts the pod seconds after the edit,
// so an attempt where it was faster than the agent is repeated with a new value (at most 4).
func testAgentStaticPodsDiffNode(t *testing.T) {
	ref := imageRef(t)
	ctx := context.Background()
	for attempt := 1; attempt <= 4; attempt++ {
		raced := false
		t.Run(fmt.Sprintf("attempt-%d", attempt), func(t *testing.T) {
			value, oldHash := editSchedulerFlag(t, nil)
			r := env.cli.Run(t, nil, "kubectl", "clusterops", "staticpods", "diff", "--node", env.node.NodeName, "--image", ref, "-o", "json")
			if p, err := env.node.MirrorPod(ctx, "kube-scheduler"); err != nil || p.Annotations["kubernetes.io/config.hash"] != oldHash {
				raced = true
				t.Skipf("the kubelet restarted kube-scheduler before the mirror pods were read (%v): another attempt", err)
			}
			var d spDiff
			if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || r.Code != 1 || d.Summary.Drift != 1 {
				t.Fatalf("staticpods diff --node: exit %d, %v, %+v\n%s", r.Code, err, d.Summary, r.Stderr)
			}
			for _, m := range d.Manifests {
				if m.Status == "Drift" && (!strings.HasSuffix(m.File, "kube-scheduler.yaml") || len(m.Differences) != 1 ||
					m.Differences[0].Name != "--leader-elect-retry-period" || m.Differences[0].Manifest != value) {
					t.Errorf("drift %s: %+v", m.File, m.Differences)
				}
			}
		})
		if !raced {
			break
		}
		if attempt == 4 {
			t.Errorf("the kubelet was faster than the agent in 4 attempts out of 4")
		}
	}
	assertNoAgentPods(t)
}

// `etcd snapshot save --node N` streams the snapshot over exec into a file here: its sha256 is
// the agent's, real etcdutl accepts it.
func testAgentEtcdSnapshotSaveNode(t *testing.T) {
	ref := imageRef(t)
	snap := filepath.Join(t.TempDir(), "via-agent.db")
	r := env.cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "save", snap, "--node", env.node.NodeName, "--image", ref, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("snapshot save --node: exit %d\n%s", r.Code, r.Stderr)
	}
	var saved struct {
		Metadata struct {
			SHA256   string `json:"sha256"`
			Revision int64  `json:"revision"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &saved); err != nil || saved.Metadata.SHA256 == "" {
		t.Fatalf("-o json: %v\n%s", err, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "The agent's sha256 of the stream equals the saved file's: "+saved.Metadata.SHA256) {
		t.Errorf("no both-ends hash line for %s:\n%s", saved.Metadata.SHA256, r.Stderr)
	}
	sum := env.cli.Run(t, nil, "sha256sum", snap)
	if !strings.HasPrefix(sum.Stdout, saved.Metadata.SHA256) {
		t.Errorf("sha256sum %s, sidecar %s", sum.Stdout, saved.Metadata.SHA256)
	}
	st := env.cli.Run(t, nil, "etcdutl", "snapshot", "status", snap, "-w", "json")
	var status struct {
		Revision int64 `json:"revision"`
	}
	if st.Code != 0 || json.Unmarshal([]byte(st.Stdout), &status) != nil || status.Revision != saved.Metadata.Revision {
		t.Errorf("etcdutl snapshot status: exit %d, revision %d, want %d\n%s", st.Code, status.Revision, saved.Metadata.Revision, st.Stderr)
	}
	assertNoAgentPods(t)
}

// Forbidden, Pod Security and a missing image: one line, exit 3, no pod left.
func testAgentRefusals(t *testing.T) {
	ref := imageRef(t)
	ctx := context.Background()
	ns := fmt.Sprintf("restricted-%d", time.Now().Unix())
	_, err := env.node.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.node.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"forbidden", []string{"certs", "check", "--control-plane", "--image", ref, "--as", "someone-without-rights"}, "create pods"},
		{"forbidden-exec", []string{"etcd", "snapshot", "save", filepath.Join(t.TempDir(), "x.db"), "--node", env.node.NodeName, "--image", ref, "--as", "someone-without-rights"}, "pods/exec"},
		{"pod-security", []string{"certs", "check", "--control-plane", "--image", ref, "--agent-namespace", ns}, "--agent-namespace"},
		{"no-such-image", []string{"certs", "check", "--control-plane", "--image", "localhost/clusterops-no-such-image:v0"}, "--image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.cli.Run(t, nil, "kubectl", append([]string{"clusterops"}, c.args...)...)
			// Progress lines may come first; the error is one line.
			var errs []string
			for _, l := range strings.Split(r.Stderr, "\n") {
				if strings.HasPrefix(l, "error: ") {
					errs = append(errs, l)
				}
			}
			if r.Code != 3 || len(errs) != 1 || !strings.HasSuffix(strings.TrimSpace(r.Stderr), errs[0]) || !strings.Contains(errs[0], c.want) {
				t.Errorf("exit %d, want 3 and one line naming %q:\n%s", r.Code, c.want, r.Stderr)
			}
			assertNoAgentPods(t)
		})
	}
}

// `certs renew all --control-plane` renews through the agent: the real kube-apiserver then serves
// the renewed certificate and kubeadm's check-expiration agrees.
func testAgentCertsRenewControlPlane(t *testing.T) {
	ref := imageRef(t)
	time.Sleep(1100 * time.Millisecond) // renewed certs start at a later second than the old ones
	slow := env.cli
	slow.Timeout = 15 * time.Minute
	r := slow.Run(t, nil, "kubectl", "clusterops", "certs", "renew", "all", "--control-plane", "--image", ref, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("certs renew all --control-plane: exit %d\n%s", r.Code, r.Stderr)
	}
	var out struct {
		Nodes []struct {
			Node                      string
			APIServerReady, EtcdReady bool
		} `json:"nodes"`
		Done []string `json:"done"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out.Done) != 1 || !out.Nodes[0].APIServerReady || !out.Nodes[0].EtcdReady {
		t.Fatalf("renew -o json: %v %+v\n%s", err, out, r.Stdout)
	}
	waitControlPlaneReady(t)
	apiserverServesTheFile(t)
	assertNoAgentPods(t)
}

// apiserverServesTheFile checks that kube-apiserver serves apiserver.crt as on disk, and that
// kubeadm's check-expiration sees the same date.
func apiserverServesTheFile(t *testing.T) {
	t.Helper()
	apiserver := readCertFile(t, "/etc/kubernetes/pki/apiserver.crt")
	var served string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if served = servedSerial(); served == apiserver.SerialNumber.String() {
			break
		}
	}
	if served != apiserver.SerialNumber.String() {
		t.Errorf("kube-apiserver serves serial %s, apiserver.crt has %s", served, apiserver.SerialNumber)
	}
	for _, k := range kubeadmExpiration(t).Certificates {
		if k.Name == "apiserver" && !k.ExpirationDate.Equal(apiserver.NotAfter) {
			t.Errorf("kubeadm sees apiserver expiring %v, want the renewed %v", k.ExpirationDate, apiserver.NotAfter)
		}
	}
}

// servedSerial is the serial of the certificate kube-apiserver serves on this node.
func servedSerial() string {
	conn, err := tls.Dial("tcp", "127.0.0.1:6443", &tls.Config{InsecureSkipVerify: true}) // only reading the served cert
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}
