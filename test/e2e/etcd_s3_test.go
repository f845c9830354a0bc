//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// savedJSON is `etcd snapshot save -o json`.
type savedJSON struct {
	Path     string          `json:"path"`
	Sidecar  string          `json:"sidecar"`
	Metadata snapshotSidecar `json:"metadata"`
	Pruned   []string        `json:"pruned"`
	Upload   *struct {
		Snapshot struct {
			URL      string   `json:"url"`
			Size     int64    `json:"size"`
			Parts    int      `json:"parts"`
			ETag     string   `json:"etag"`
			Checksum string   `json:"checksumSHA256"`
			Verified []string `json:"verified"`
		} `json:"snapshot"`
		Sidecar string `json:"sidecar"`
	} `json:"upload"`
}

type listJSON struct {
	Snapshots []struct {
		File     string           `json:"file"`
		State    string           `json:"state"`
		Size     int64            `json:"size"`
		Metadata *snapshotSidecar `json:"metadata"`
	} `json:"snapshots"`
}

// A snapshot saved to a real S3 server (SeaweedFS) and restored from there brings back the
// deleted objects: the file round trip, with the bucket in between.
func TestEtcdS3RoundTrip(t *testing.T) {
	s3 := harness.StartS3T(t, "etcd-backups")
	roundTrip(t, 1, s3)
}

// save --to s3:// uploads a verified snapshot and its sidecar; list, status and verify read
// the bucket; retention prunes only what the tool made; temp files are removed.
func TestEtcdS3SaveListStatusVerify(t *testing.T) {
	s3 := harness.StartS3T(t, "etcd-backups")
	ctx := context.Background()
	tmp := t.TempDir()
	awsEnv := append(s3.Env(), "TMPDIR="+tmp)
	run := func(args ...string) result {
		t.Helper()
		return runEnv(t, awsEnv, "kubectl", append([]string{"clusterops", "etcd", "snapshot"}, args...)...)
	}

	r := run("save", "--to", "s3://etcd-backups/a", "--root", env.cp.Root, "--tmp-dir", tmp, "-o", "json")
	saved := decode[savedJSON](t, r)
	name := strings.TrimPrefix(saved.Path, "s3://etcd-backups/a/")
	if r.code != 0 || saved.Upload == nil || !strings.HasPrefix(name, "etcd-snapshot-") || saved.Sidecar != saved.Path+".json" {
		t.Fatalf("save: exit %d %+v\n%s", r.code, saved, r.stderr)
	}
	up := saved.Upload.Snapshot
	if up.Size != saved.Metadata.Size || up.Parts < 1 || !strings.HasSuffix(up.ETag, fmt.Sprintf("-%d", up.Parts)) ||
		strings.Join(up.Verified, ",") != "size,etag,checksum-sha256" {
		t.Errorf("upload %+v", up)
	}
	// The object is the local snapshot byte for byte: the real etcdutl accepts it with our numbers.
	local := filepath.Join(t.TempDir(), name)
	if err := s3.Client.FGetObject(ctx, "etcd-backups", "a/"+name, local, minio.GetObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s3.Client.FGetObject(ctx, "etcd-backups", "a/"+name+".json", local+".json", minio.GetObjectOptions{}); err != nil {
		t.Fatalf("sidecar object: %v", err)
	}
	checkAgainstEtcdutl(t, local, saved.Metadata)
	assertEmptyDir(t, tmp)

	l := decode[listJSON](t, run("list", "s3://etcd-backups/a", "-o", "json"))
	if len(l.Snapshots) != 1 || l.Snapshots[0].File != saved.Path || l.Snapshots[0].State != "unchecked" ||
		l.Snapshots[0].Metadata == nil || l.Snapshots[0].Metadata.Revision != saved.Metadata.Revision {
		t.Errorf("list: %+v", l)
	}
	st := decode[ourStatus](t, run("status", saved.Path, "-o", "json"))
	if st.Revision != saved.Metadata.Revision || st.SHA256 != saved.Metadata.SHA256 || st.Sidecar != "ok" {
		t.Errorf("status: %+v", st)
	}
	r = run("verify", saved.Path, "--tmp-dir", tmp, "-o", "json")
	var v struct {
		File  string `json:"file"`
		Valid bool   `json:"valid"`
	}
	decodeInto(t, r, &v)
	if r.code != 0 || !v.Valid || v.File != saved.Path {
		t.Errorf("verify: exit %d %+v\n%s", r.code, v, r.stderr)
	}
	assertEmptyDir(t, tmp)

	// A snapshot in the bucket that does not match its sidecar: status and verify exit 2 on one line.
	data, _ := os.ReadFile(local)
	data[len(data)/2] ^= 0xff
	put(t, s3, "a/etcd-snapshot-20200101-000000.db", data)
	sidecar, _ := json.Marshal(saved.Metadata)
	put(t, s3, "a/etcd-snapshot-20200101-000000.db.json", sidecar)
	oneLineErr(t, run("status", "s3://etcd-backups/a/etcd-snapshot-20200101-000000.db"), 2, "does not match its sidecar")
	oneLineErr(t, run("verify", "s3://etcd-backups/a/etcd-snapshot-20200101-000000.db"), 2, "does not match its sidecar")
	oneLineErr(t, run("status", "s3://etcd-backups/a/missing.db"), 3, "s3://etcd-backups/a/missing.db: no such object")
	assertEmptyDir(t, tmp)

	// Retention in the bucket: --keep 1 prunes the older snapshot the tool made (and its
	// sidecar), never other keys: a look-alike without sidecar, other names, a sub-prefix.
	old := saved.Metadata
	old.Time = "2020-01-01T00:00:01Z"
	oldSidecar, _ := json.Marshal(old)
	foreign := map[string][]byte{
		"b/etcd-snapshot-20200101-000002.db":          data, // no sidecar: not ours
		"b/etcd-snapshot-manual.db":                   data,
		"b/etcd-snapshot-manual.db.json":              oldSidecar,
		"b/notes.txt":                                 []byte("keep me"),
		"b/sub/etcd-snapshot-20200101-000001.db":      data,
		"b/sub/etcd-snapshot-20200101-000001.db.json": oldSidecar,
		"bb/etcd-snapshot-20200101-000001.db":         data,
		"bb/etcd-snapshot-20200101-000001.db.json":    oldSidecar,
	}
	for k, v := range foreign {
		put(t, s3, k, v)
	}
	oldData, _ := os.ReadFile(local)
	put(t, s3, "b/etcd-snapshot-20200101-000001.db", oldData)
	put(t, s3, "b/etcd-snapshot-20200101-000001.db.json", oldSidecar)
	r = run("save", "--to", "s3://etcd-backups/b/", "--keep", "1", "--root", env.cp.Root, "--tmp-dir", tmp, "-o", "json")
	saved2 := decode[savedJSON](t, r)
	if r.code != 0 || len(saved2.Pruned) != 1 || saved2.Pruned[0] != "s3://etcd-backups/b/etcd-snapshot-20200101-000001.db" {
		t.Errorf("save --keep 1: exit %d, pruned %v\n%s", r.code, saved2.Pruned, r.stderr)
	}
	keys, err := s3.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	for k := range foreign {
		if !have[k] {
			t.Errorf("retention deleted %s, which the tool did not make", k)
		}
	}
	for _, k := range []string{"b/etcd-snapshot-20200101-000001.db", "b/etcd-snapshot-20200101-000001.db.json"} {
		if have[k] {
			t.Errorf("%s survived --keep 1", k)
		}
	}
	newKey := strings.TrimPrefix(saved2.Path, "s3://etcd-backups/")
	if !have[newKey] || !have[newKey+".json"] {
		t.Errorf("the new snapshot %s or its sidecar is missing: %v", newKey, keys)
	}
	assertEmptyDir(t, tmp)
}

// A wrong secret, an unknown bucket, an unreachable endpoint or no credentials: one line
// naming what to fix, exit 3, for save and for list.
func TestEtcdS3Errors(t *testing.T) {
	s3 := harness.StartS3T(t, "etcd-backups")
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	with := func(kv ...string) []string {
		e := append([]string{"TMPDIR=" + tmp}, s3.Env()...)
		return append(e, kv...) // later entries win
	}
	cases := []struct {
		name, url string
		env       []string
		want      string
	}{
		{"wrong secret", "s3://etcd-backups/x", with("AWS_SECRET_ACCESS_KEY=wrong"), "AWS_SECRET_ACCESS_KEY"},
		{"unknown access key", "s3://etcd-backups/x", with("AWS_ACCESS_KEY_ID=nobody"), "AWS_ACCESS_KEY_ID"},
		{"unknown bucket", "s3://no-such-bucket/x", with(), `bucket "no-such-bucket" does not exist`},
		{"unreachable endpoint", "s3://etcd-backups/x", with(fmt.Sprintf("AWS_ENDPOINT_URL_S3=http://127.0.0.1:%d", port)), "AWS_ENDPOINT_URL_S3"},
		{"no credentials", "s3://etcd-backups/x", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "TMPDIR=" + tmp}, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runEnv(t, c.env, "kubectl", "clusterops", "etcd", "snapshot", "save", "--to", c.url, "--root", env.cp.Root, "--tmp-dir", tmp)
			oneLineError(t, r, c.want)
			r = runEnv(t, c.env, "kubectl", "clusterops", "etcd", "snapshot", "list", c.url)
			oneLineError(t, r, c.want)
		})
	}
	keys, err := s3.Keys(context.Background())
	if err != nil || len(keys) != 0 {
		t.Errorf("keys after failed saves: %v %v", keys, err)
	}
	assertEmptyDir(t, tmp)
}

// An upload killed halfway (SIGKILL, while a proxy holds the rest of the upload) leaves no
// object at the final key; only an incomplete multipart upload, which a bucket lifecycle rule
// or the next abort cleans up.
func TestEtcdS3UploadKilled(t *testing.T) {
	s3 := harness.StartS3T(t, "etcd-backups")
	cp := harness.StartT(t, harness.Options{Name: "s3kill", NoKubeadmObjects: true, NoMirrorPods: true, NoControllerManager: true})
	fillEtcd(t, cp, 24)
	proxy := newHoldingProxy(t, strings.TrimPrefix(s3.Endpoint, "http://"), 12<<20)
	tmp := t.TempDir()
	awsEnv := append(s3.Env(), "AWS_ENDPOINT_URL_S3=http://"+proxy.addr)
	cmd := exec.Command(filepath.Join(env.pluginDir, "kubectl-clusterops"), "etcd", "snapshot", "save", "--to", "s3://etcd-backups/killed",
		"--root", cp.Root, "--tmp-dir", tmp, "--part-size", "5Mi", "--upload-threads", "1")
	cmd.Env = append(os.Environ(), awsEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.held:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the upload never passed 12 MiB: %s", stderr.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	proxy.close()
	ctx := context.Background()
	keys, err := s3.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		t.Errorf("object %s exists after the killed upload", k)
	}
	var incomplete []string
	for u := range s3.Client.ListIncompleteUploads(ctx, "etcd-backups", "killed/", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		incomplete = append(incomplete, u.Key)
	}
	if len(incomplete) != 1 || !strings.HasPrefix(incomplete[0], "killed/etcd-snapshot-") {
		t.Errorf("incomplete uploads %v, want the killed one (so the kill was mid-upload)", incomplete)
	}
	r := runEnv(t, s3.Env(), "kubectl", "clusterops", "etcd", "snapshot", "list", "s3://etcd-backups/killed")
	if r.code != 0 || !strings.Contains(r.stdout, "No snapshots") {
		t.Errorf("list after the kill: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func put(t *testing.T, s3 *harness.S3Server, key string, data []byte) {
	t.Helper()
	if _, err := s3.Client.PutObject(context.Background(), s3.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if es, _ := os.ReadDir(dir); len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %v", dir, names)
	}
}

// holdingProxy forwards TCP to target and, once more than limit bytes went from the client to
// the server, stops forwarding (holding the rest) and closes held.
type holdingProxy struct {
	addr  string
	l     net.Listener
	held  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	sent  int64
	limit int64
	conns []net.Conn
}

func newHoldingProxy(t *testing.T, target string, limit int64) *holdingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{addr: l.Addr().String(), l: l, held: make(chan struct{}), limit: limit}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go io.Copy(c, s)
			go p.forward(bufio.NewReader(c), s)
		}
	}()
	return p
}

func (p *holdingProxy) forward(from io.Reader, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.sent += int64(n)
			over := p.sent > p.limit
			p.mu.Unlock()
			if over {
				p.once.Do(func() { close(p.held) })
				return // hold: nothing more reaches the server
			}
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *holdingProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
