//go:build e2eha

package ha

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// servedSerial is the serial of the certificate an apiserver serves (only read, not trusted).
func servedSerial(addr string) string {
	conn, err := tls.DialWithDialer(&netDialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// probe is a bounded client loop: one request per 100 ms, each with a 2 s timeout; it records
// the spans of consecutive failures.
type probe struct {
	name    string
	mu      sync.Mutex
	down    bool
	since   time.Time
	outages []time.Duration
	fails   int
	total   int
	// log is when each outage began and ended, with its first error, for the test log.
	log []string
	err string
}

func (p *probe) record(err error, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total++
	switch {
	case err != nil && !p.down:
		p.down, p.since, p.err = true, now, err.Error()
		p.fails++
	case err != nil:
		p.fails++
	case p.down:
		p.down = false
		p.outages = append(p.outages, now.Sub(p.since))
		if d := now.Sub(p.since); d > time.Second {
			p.log = append(p.log, fmt.Sprintf("%s: down %s from %s (%s)", p.name, d.Round(10*time.Millisecond), p.since.Format("15:04:05.0"), p.err))
		}
	}
}

func (p *probe) isDown() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.down }

func (p *probe) longest(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := time.Duration(0)
	for _, o := range append(p.outages, func() time.Duration {
		if p.down {
			return now.Sub(p.since)
		}
		return 0
	}()) {
		l = max(l, o)
	}
	return l
}

// clientFor is a client of one address with the admin credentials and the cluster CA.
func clientFor(t *testing.T, host string) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(env.ha.Config)
	cfg.Host = "https://" + host
	cfg.Timeout = 2 * time.Second
	cfg.QPS, cfg.Burst = 100, 100
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loop(ctx context.Context, wg *sync.WaitGroup, p *probe, call func(context.Context) error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				p.record(call(ctx), time.Now())
			}
		}
	}()
}

// certs renew all --control-plane: rolling, node by node. A client loop through the load
// balancer sees at most a few seconds of errors per node, and the three apiservers are never
// down at once (each is probed at /readyz, 10 times a second). Then every apiserver serves its
// renewed certificate, and each node's kubeadm agrees with certs check.
func testCertsRenewRolling(t *testing.T) {
	before := map[string]string{}
	for _, n := range env.ha.ControlPlane {
		before[n] = servedSerial(env.ha.NodeIP[n] + ":6443")
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	lb := &probe{name: "load balancer"}
	lbClient := clientFor(t, env.ha.LB)
	loop(ctx, &wg, lb, func(ctx context.Context) error {
		_, err := lbClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	direct := map[string]*probe{}
	for _, n := range env.ha.ControlPlane {
		p := &probe{name: n}
		direct[n] = p
		c := clientFor(t, env.ha.NodeIP[n]+":6443")
		loop(ctx, &wg, p, func(ctx context.Context) error {
			_, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		})
	}
	var allDown time.Duration
	var allDownSince time.Time
	wg.Add(1)
	go func() { // the three apiservers down at the same time?
		defer wg.Done()
		for ctx.Err() == nil {
			down := true
			for _, p := range direct {
				down = down && p.isDown()
			}
			switch {
			case down && allDownSince.IsZero():
				allDownSince = time.Now()
			case !down && !allDownSince.IsZero():
				allDown = max(allDown, time.Since(allDownSince))
				allDownSince = time.Time{}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	cli := env.cli
	cli.Timeout = 30 * time.Minute
	var res struct {
		Nodes []struct {
			Node, Problem  string
			APIServerReady bool `json:"apiserverReady"`
			EtcdReady      bool `json:"etcdReady"`
			Renewal        struct {
				Restarted []struct {
					Component  string `json:"component"`
					BeforeStop string `json:"beforeStop"`
				} `json:"restarted"`
			} `json:"renewal"`
		} `json:"nodes"`
		Done []string `json:"done"`
	}
	r := cli.Run(t, nil, "kubectl", "clusterops", "certs", "renew", "all", "--control-plane", "--image", env.image, "-o", "json")
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()
	if r.Code != 0 {
		t.Fatalf("certs renew all --control-plane: exit %d after %s\n%s", r.Code, took, r.Stderr)
	}
	if err := jsonUnmarshal(r.Stdout, &res); err != nil || !slices.Equal(res.Done, env.ha.ControlPlane) {
		t.Errorf("done %v, want %v (%v)\n%s", res.Done, env.ha.ControlPlane, err, r.Stdout)
	}
	now := time.Now()
	t.Logf("rolling renewal of 3 nodes took %s", took.Round(time.Second))
	t.Logf("through the load balancer: %d requests, %d failed, longest outage %s", lb.total, lb.fails, lb.longest(now).Round(10*time.Millisecond))
	for _, n := range env.ha.ControlPlane {
		p := direct[n]
		t.Logf("%s /readyz: %d probes, %d failed, longest outage %s", n, p.total, p.fails, p.longest(now).Round(10*time.Millisecond))
	}
	for _, p := range append([]*probe{lb}, direct["cp1"], direct["cp2"], direct["cp3"]) {
		for _, l := range p.log {
			t.Log(l)
		}
	}
	// Before a leading etcd member restarts, the renewal hands its leadership to another member:
	// at least once (whichever member leads when its node's turn comes), and then no leader
	// election happens and the three apiservers are never not ready at the same time. (Without
	// the hand-over an election made all three fail /readyz together for up to 2.07 s.)
	handed := 0
	for _, n := range res.Nodes {
		for _, rp := range n.Renewal.Restarted {
			if rp.Component == "etcd" {
				t.Logf("%s etcd before its restart: %s", n.Node, rp.BeforeStop)
				if strings.Contains(rp.BeforeStop, "handed the etcd leadership to") {
					handed++
				}
			}
		}
	}
	if handed == 0 {
		t.Errorf("no node handed the etcd leadership over before its restart\n%s", r.Stdout)
	}
	if allDown > 0 || !allDownSince.IsZero() {
		t.Errorf("all three apiservers were not ready at once, for %s", allDown.Round(10*time.Millisecond))
	}
	if l := lb.longest(now); l > 10*time.Second {
		t.Errorf("the longest outage through the load balancer was %s: more than a few seconds", l)
	}
	for _, n := range env.ha.ControlPlane {
		if after := servedSerial(env.ha.NodeIP[n] + ":6443"); after == "" || after == before[n] {
			t.Errorf("%s serves serial %s, before the renewal %s", n, after, before[n])
		}
	}
	// A joined control-plane node's kubelet reports only to its own apiserver: the node just
	// renewed may still be Unknown for a while (its Lease lapsed while that apiserver restarted).
	readyAt := waitNodesReady(t, env.ha.ControlPlane, 5*time.Minute)
	t.Logf("all control-plane nodes Ready %s after the renewal ended", readyAt.Round(time.Second))
	var ours expiryReport
	if r := runJSON(t, &ours, "certs", "check", "--control-plane", "--image", env.image); r.Code > 1 {
		t.Fatalf("certs check after the renewal: exit %d\n%s", r.Code, r.Stderr)
	}
	certsMatchKubeadm(t, ours)
	for _, c := range ours.Certificates {
		if c.Name == "apiserver" && (c.NotAfter == nil || c.NotAfter.Before(start.Add(364*24*time.Hour))) {
			t.Errorf("%s apiserver cert not renewed: notAfter %v", c.Node, c.NotAfter)
		}
	}
	assertNoAgentPods(t)
}

var followerRe = regexp.MustCompile(`member (\S+) \(\S+, (follower|leader)\)`)

// etcd snapshot save from a follower through the agent, then a restore of all three members
// from that snapshot by etcd's documented procedure (the same snapshot, the same
// --initial-cluster): the objects deleted after the snapshot are back on every member.
func testEtcdSnapshotRestoreAllMembers(t *testing.T) {
	ctx := context.Background()
	cms := env.ha.Client.CoreV1().ConfigMaps("default")
	names := []string{"ha-restore-1", "ha-restore-2", "ha-restore-3"}
	for _, n := range names {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}, Data: map[string]string{"k": n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	snap := filepath.Join(t.TempDir(), "ha.db")
	var saved struct {
		Metadata struct {
			SHA256     string `json:"sha256"`
			MemberName string `json:"memberName"`
			Revision   int64  `json:"revision"`
		} `json:"metadata"`
	}
	r := runJSON(t, &saved, "etcd", "snapshot", "save", snap, "--control-plane", "--image", env.image)
	if r.Code != 0 {
		t.Fatalf("snapshot save: exit %d\n%s", r.Code, r.Stderr)
	}
	m := followerRe.FindStringSubmatch(r.Stderr)
	if m == nil || m[2] != "follower" || m[1] != saved.Metadata.MemberName {
		t.Errorf("the snapshot is not from a follower: member %q, stderr:\n%s", saved.Metadata.MemberName, r.Stderr)
	}
	t.Logf("snapshot from follower %s, revision %d", saved.Metadata.MemberName, saved.Metadata.Revision)
	if sum := fileSHA256(t, snap); sum != saved.Metadata.SHA256 {
		t.Errorf("sha256 of the file %s, the agent's %s", sum, saved.Metadata.SHA256)
	}
	if out, err := exec.Command(filepath.Join(env.bin, "etcdutl"), "snapshot", "status", snap, "-w", "json").CombinedOutput(); err != nil {
		t.Errorf("etcdutl snapshot status: %v\n%s", err, out)
	}
	assertNoAgentPods(t)
	for _, n := range names {
		if err := cms.Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	cli := env.cli
	cli.Timeout = 30 * time.Minute
	dataDir := fmt.Sprintf("/var/lib/etcd/ha-restored-%d", time.Now().Unix())
	r = cli.Run(t, nil, "kubectl", "clusterops", "etcd", "snapshot", "restore", "--control-plane", "--from", snap,
		"--data-dir", dataDir, "--update-manifest", "--stop-apiserver", "--image", env.image, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("restore --control-plane: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var restored struct {
		Items []struct {
			Node, DataDir, Name string
			InitialCluster      string `json:"initialCluster"`
		} `json:"items"`
	}
	if err := jsonUnmarshal(r.Stdout, &restored); err != nil || len(restored.Items) != 3 {
		t.Fatalf("restore: %v, %d items\n%s", err, len(restored.Items), r.Stdout)
	}
	for _, it := range restored.Items {
		if it.InitialCluster != restored.Items[0].InitialCluster || strings.Count(it.InitialCluster, "=https://") != 3 || it.DataDir != dataDir {
			t.Errorf("%s: data dir %s, --initial-cluster %q (want the same 3 members on every node)", it.Node, it.DataDir, it.InitialCluster)
		}
	}
	// Back: through the load balancer, and on every member by a local (serializable) read.
	waitCtx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	for _, n := range names {
		for {
			if _, err := cms.Get(waitCtx, n, metav1.GetOptions{}); err == nil {
				break
			}
			if waitCtx.Err() != nil {
				t.Fatalf("configmap %s not back after the restore", n)
			}
			time.Sleep(2 * time.Second)
		}
	}
	for _, node := range env.ha.ControlPlane {
		out := nodeExec(t, node, "etcdctl", "--endpoints", "https://127.0.0.1:2379", "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
			"--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key",
			"get", "--prefix", "/registry/configmaps/default/ha-restore-", "--keys-only", "--consistency=s")
		for _, n := range names {
			if !strings.Contains(string(out), "/registry/configmaps/default/"+n) {
				t.Errorf("member on %s lacks %s after the restore:\n%s", node, n, out)
			}
		}
	}
	out := nodeExec(t, "cp1", "etcdctl", "--endpoints", "https://127.0.0.1:2379", "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
		"--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key",
		"endpoint", "health", "--cluster")
	if strings.Count(string(out), "is healthy") != 3 {
		t.Errorf("etcd after the restore:\n%s", out)
	}
	for _, n := range env.ha.ControlPlane {
		for _, c := range []string{"etcd", "kube-apiserver"} {
			if err := waitPodReady(waitCtx, c, n, ""); err != nil {
				t.Error(err)
			}
		}
	}
	assertNoAgentPods(t)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// waitNodesReady waits until every node is Ready and returns how long that took.
func waitNodesReady(t *testing.T, nodes []string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, n := range nodes {
		for {
			node, err := env.ha.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err == nil && harness.NodeReady(node) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %s not Ready %s after the renewal", n, timeout)
			}
			time.Sleep(time.Second)
		}
	}
	return time.Since(start)
}
