//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// The full round trip on 1 and 3 members: objects saved, deleted, control plane stopped,
// restored with etcd's restore code, manifest pointed at the new dir, real etcd and
// kube-apiserver started from the on-disk manifests: the objects are back.
func TestEtcdRestoreRoundTrip(t *testing.T) {
	for _, members := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d-members", members), func(t *testing.T) { roundTrip(t, members, nil) })
	}
}

// roundTrip saves into a file, or, with s3, to the bucket (--to s3://) and restores from there.
func roundTrip(t *testing.T, members int, s3 *harness.S3Server) {
	cp := harness.StartT(t, harness.Options{Name: fmt.Sprintf("restore%d", members), EtcdMembers: members, NoKubeadmObjects: true, NoMirrorPods: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	names := []string{"restore-a", "restore-b", "restore-c"}
	for _, ns := range names {
		if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"key": ns + "-value"}}
			if _, err := cp.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	file := filepath.Join(t.TempDir(), "before.db")
	var awsEnv []string
	run := run
	if s3 != nil {
		awsEnv = s3.Env()
		run = func(t *testing.T, name string, args ...string) result {
			t.Helper()
			return runEnv(t, awsEnv, name, args...)
		}
		saved := decode[savedJSON](t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", "--to", "s3://"+s3.Bucket+"/roundtrip", "--root", cp.Root, "-o", "json"))
		if file = saved.Path; !strings.HasPrefix(file, "s3://"+s3.Bucket+"/roundtrip/etcd-snapshot-") {
			t.Fatalf("saved to %q", file)
		}
	} else if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", file, "--root", cp.Root); r.code != 0 {
		t.Fatalf("save: %s", r.stderr)
	}
	st := decode[ourStatus](t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "status", file, "--contents", "-o", "json"))
	count := 0
	for _, c := range st.Contents {
		if c.Resource == "configmaps" && strings.HasPrefix(c.Namespace, "restore-") {
			count += c.Count
		}
	}
	if count != 9 {
		t.Errorf("--contents counts %d configmaps in restore-*, want 9", count)
	}
	// Delete them, and make a change that must NOT survive the restore.
	for _, ns := range names {
		for i := 0; i < 3; i++ {
			cp.Client.CoreV1().ConfigMaps(ns).Delete(ctx, fmt.Sprintf("cm-%d", i), metav1.DeleteOptions{})
		}
		cp.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
	if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after-snapshot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if cp.ControllerManager != nil {
		cp.ControllerManager.Stop(10 * time.Second)
	}
	cp.StopAPIServer()
	cp.StopEtcd()
	// As the restore's steps say (and --update-manifest insists): kube-apiserver's manifest out.
	parkedAPIServer := filepath.Join(cp.Root, "etc", "kubernetes", "kube-apiserver.yaml")
	if err := os.Rename(cp.ManifestPath("kube-apiserver"), parkedAPIServer); err != nil {
		t.Fatal(err)
	}

	oldManifest, _ := os.ReadFile(cp.ManifestPath("etcd"))
	for i, m := range cp.Etcd {
		dataDir := filepath.Join(cp.Root, "var", "lib", fmt.Sprintf("etcd-restored-%d", i))
		args := []string{"clusterops", "etcd", "snapshot", "restore", file, "--root", cp.Root, "--data-dir", dataDir}
		if i == 0 {
			args = append(args, "--update-manifest") // name, peer URLs and initial cluster from the manifest
		} else {
			args = append(args, "--name", m.Name, "--initial-advertise-peer-urls", m.PeerURL)
		}
		r := run(t, "kubectl", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Next steps") {
			t.Fatalf("restore member %d: exit %d: %s", i, r.code, r.stderr)
		}
		if i > 0 {
			m.DataDir = fmt.Sprintf("/var/lib/etcd-restored-%d", i) // as that member's own manifest would say
		}
		// A second restore into the same, now non-empty, dir is refused.
		if i == 0 {
			oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "restore", file, "--root", cp.Root, "--data-dir", dataDir), 3, "not empty")
		}
	}
	pod, err := harness.ReadManifest(cp.ManifestPath("etcd"))
	if err != nil {
		t.Fatal(err)
	}
	if dd, _ := harness.FlagValue(pod, "data-dir"); dd != "/var/lib/etcd-restored-0" {
		t.Errorf("manifest --data-dir = %q", dd)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == "etcd-data" && (v.HostPath == nil || v.HostPath.Path != "/var/lib/etcd-restored-0") {
			t.Errorf("etcd-data volume %+v", v.HostPath)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(cp.Root, "etc", "kubernetes", "tmp", "clusterops-etcd-manifest-*", "etcd.yaml"))
	if len(backups) != 1 {
		t.Fatalf("manifest backups: %v", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != string(oldManifest) {
		t.Error("the manifest backup differs from the manifest before the restore")
	}
	if left, _ := filepath.Glob(filepath.Join(cp.Root, "etc", "kubernetes", "manifests", ".*")); len(left) > 0 {
		t.Errorf("temp files left in the manifest dir: %v", left)
	}

	if err := cp.StartEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(parkedAPIServer, cp.ManifestPath("kube-apiserver")); err != nil {
		t.Fatal(err)
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		n, err := cp.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil || n.Status.Phase != corev1.NamespaceActive || n.DeletionTimestamp != nil {
			t.Errorf("namespace %s after restore: %v %+v", ns, err, n)
		}
		for i := 0; i < 3; i++ {
			cm, err := cp.Client.CoreV1().ConfigMaps(ns).Get(ctx, fmt.Sprintf("cm-%d", i), metav1.GetOptions{})
			if err != nil || cm.Data["key"] != ns+"-value" {
				t.Errorf("configmap %s/cm-%d after restore: %v %v", ns, i, err, cm)
			}
		}
	}
	if _, err := cp.Client.CoreV1().Namespaces().Get(ctx, "after-snapshot", metav1.GetOptions{}); err == nil {
		t.Error("namespace after-snapshot, created after the snapshot, survived the restore")
	}
	ms := decode[membersJSON](t, run(t, "kubectl", "clusterops", "etcd", "members", "--root", cp.Root, "-o", "json"))
	if len(ms.Members) != members || !ms.Healthy {
		t.Errorf("members after restore: %+v", ms)
	}
	mustNotExist(t, filepath.Join(cp.Root, "var", "lib", ".clusterops-download-*")) // an s3:// download is removed
}

// Three members: the snapshot comes from a follower and agrees with etcdutl; killing the member
// being read mid-stream gives a non-zero exit and no file at the final path.
func TestEtcdThreeMembers(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "etcd3", EtcdMembers: 3, NoKubeadmObjects: true, NoMirrorPods: true, NoControllerManager: true})
	dir := t.TempDir()
	ms := decode[membersJSON](t, run(t, "kubectl", "clusterops", "etcd", "members", "--root", cp.Root, "-o", "json"))
	leaders := 0
	for _, m := range ms.Members {
		if m.IsLeader {
			leaders++
		}
	}
	if len(ms.Members) != 3 || leaders != 1 || !ms.Healthy {
		t.Fatalf("members: %+v", ms)
	}
	// move-leader: away from the leader, and etcd itself then names the new one
	var leader string
	for _, m := range ms.Members {
		if m.IsLeader {
			leader = m.Name
		}
	}
	mv := decode[backup.LeaderMove](t, run(t, "kubectl", "clusterops", "etcd", "move-leader", "--away-from", leader, "--root", cp.Root, "-o", "json"))
	if !mv.Moved || mv.From != leader || mv.To == leader || mv.To == "" {
		t.Fatalf("move-leader --away-from %s: %+v", leader, mv)
	}
	ms = decode[membersJSON](t, run(t, "kubectl", "clusterops", "etcd", "members", "--root", cp.Root, "-o", "json"))
	for _, m := range ms.Members {
		if m.IsLeader != (m.Name == mv.To) {
			t.Fatalf("after move-leader to %s: members %+v", mv.To, ms.Members)
		}
	}
	if r := run(t, "kubectl", "clusterops", "etcd", "move-leader", "--away-from", leader, "--root", cp.Root); r.code != 0 || !strings.Contains(r.stdout, "does not lead") {
		t.Errorf("move-leader --away-from %s, no longer the leader: exit %d %q %q", leader, r.code, r.stdout, r.stderr)
	}
	file := filepath.Join(dir, "snap.db")
	r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", file, "--root", cp.Root)
	if r.code != 0 || !strings.Contains(r.stderr, "follower") {
		t.Fatalf("save: exit %d, want a follower named: %s", r.code, r.stderr)
	}
	sc := readSidecar(t, file)
	if sc.MemberID == ms.Leader {
		t.Errorf("snapshot taken from the leader %s", ms.Leader)
	}
	checkAgainstEtcdutl(t, file, sc)

	// Kill the member being read. 40 MiB of data (more than gRPC may buffer, 16 MiB) and
	// --max-rate make the stream last about 20 seconds.
	fillEtcd(t, cp, 40)
	killed := filepath.Join(dir, "killed.db")
	cmd := exec.Command(filepath.Join(env.pluginDir, "kubectl-clusterops"), "etcd", "snapshot", "save", killed, "--root", cp.Root, "--max-rate", "2Mi")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc2 := bufio.NewScanner(stderr)
	var victim *harness.EtcdMember
	var lines []string
	for sc2.Scan() {
		line := sc2.Text()
		lines = append(lines, line)
		if name, ok := strings.CutPrefix(line, "Taking the snapshot from member "); ok {
			name, _, _ = strings.Cut(name, " ")
			for _, m := range cp.Etcd {
				if m.Name == name {
					victim = m
				}
			}
			break
		}
	}
	if victim == nil {
		cmd.Process.Kill()
		t.Fatalf("no member named on stderr: %v", lines)
	}
	time.Sleep(2 * time.Second)
	if parts, _ := filepath.Glob(killed + ".part-*"); len(parts) != 1 {
		t.Errorf("temp files while streaming: %v, want one killed.db.part-RANDOM", parts)
	}
	t.Logf("killing %s (pid %d) mid-snapshot", victim.Name, victim.Process.Pid())
	victim.Process.Kill()
	for sc2.Scan() {
		lines = append(lines, sc2.Text())
	}
	err = cmd.Wait()
	t.Logf("stderr: %s", strings.Join(lines, "\n"))
	if cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("exit %v, want 3", err)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "not saved") || !strings.Contains(last, victim.Name) {
		t.Errorf("last line %q should say the snapshot was not saved and name %s", last, victim.Name)
	}
	mustNotExist(t, killed, killed+".part*", killed+".json")

	// With one member down: members says so (exit 2), and save uses a healthy one.
	eps := strings.Join(cp.EtcdEndpoints(), ",")
	down := run(t, "kubectl", "clusterops", "etcd", "members", "--root", cp.Root, "--endpoints", eps, "-o", "json")
	dm := decode[membersJSON](t, down)
	for _, m := range dm.Members {
		if m.Healthy == (m.Name == victim.Name) {
			t.Errorf("member %s healthy=%v after %s was killed", m.Name, m.Healthy, victim.Name)
		}
	}
	if down.code != 2 || dm.Healthy {
		t.Errorf("members with one down: exit %d healthy %v, want 2 and false", down.code, dm.Healthy)
	}
	again := filepath.Join(dir, "again.db")
	if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", again, "--root", cp.Root, "--endpoints", eps); r.code != 0 ||
		strings.Contains(r.stderr, "member "+victim.Name+" ") {
		t.Errorf("save with one member down: exit %d\n%s", r.code, r.stderr)
	}
}

// 100 random truncations and bit flips of a real snapshot: status, verify and restore all
// detect every one, and restore leaves no data dir.
func TestEtcdCorruptionsDetected(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", good, "--root", env.cp.Root); r.code != 0 {
		t.Fatal(r.stderr)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, snapshot %d bytes", seed, len(orig))
	rng := rand.New(rand.NewSource(seed))
	bad := filepath.Join(dir, "bad.db")
	for i := 0; i < 100; i++ {
		data := append([]byte(nil), orig...)
		what := ""
		if i%2 == 0 {
			n := rng.Intn(len(data))
			data = data[:n]
			what = fmt.Sprintf("truncated to %d", n)
		} else {
			flips := 1 + rng.Intn(3)
			for f := 0; f < flips; f++ {
				off := rng.Intn(len(data))
				bit := byte(1) << rng.Intn(8)
				data[off] ^= bit
				what += fmt.Sprintf("bit %#x flipped at %d; ", bit, off)
			}
		}
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The sidecar of the good file, as if the snapshot had been damaged after saving.
		sidecar, _ := os.ReadFile(good + ".json")
		os.WriteFile(bad+".json", sidecar, 0o600)
		dataDir := filepath.Join(dir, fmt.Sprintf("restored-%d", i))
		for _, args := range [][]string{
			{"status", bad},
			{"verify", bad},
			{"restore", bad, "--data-dir", dataDir},
		} {
			r := runQuiet(t, append([]string{"etcd", "snapshot"}, args...)...)
			if r.code != 2 {
				t.Errorf("corruption %d (%s): %s exit %d, want 2\n%s%s", i, what, args[0], r.code, r.stdout, r.stderr)
			}
		}
		mustNotExist(t, dataDir)
	}
}

// fillEtcd writes mib MiB of random values straight into etcd (1 MiB per key).
func fillEtcd(t *testing.T, cp *harness.ControlPlane, mib int) {
	t.Helper()
	conn, err := backup.DiscoverConn(cp.Root, backup.Conn{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := conn.New()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	val := make([]byte, 1<<20)
	for i := 0; i < mib; i++ {
		rand.Read(val)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := cli.Put(ctx, fmt.Sprintf("/fill/%04d", i), string(val))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// runQuiet runs the plugin directly without logging (for the many corruption runs).
func runQuiet(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.pluginDir, "kubectl-clusterops"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}
