package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
)

// snapshotBytes builds a tiny etcd-like bolt db (one key at revision 42) plus etcd's appended sha256.
func snapshotBytes(t *testing.T) []byte {
	t.Helper()
	return snapshotAt(t, 42)
}

// snapshotAt is snapshotBytes with the key at revision rev.
func snapshotAt(t *testing.T, rev int64) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(schema.Key.Name())
		if err != nil {
			return err
		}
		return b.Put(mvcc.RevToBytes(mvcc.Revision{Main: rev}, mvcc.NewRevBytes()), []byte("x"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	return append(data, sum[:]...)
}

type fakeSource struct {
	r   io.Reader
	err error
}

func (f fakeSource) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &clientv3.SnapshotResponse{Snapshot: io.NopCloser(f.r), Version: "3.7.0"}, nil
}

type breakingReader struct {
	data []byte
	at   int
}

func (b *breakingReader) Read(p []byte) (int, error) {
	if b.at >= len(b.data)/2 {
		return 0, errors.New("rpc error: code = Unavailable")
	}
	n := copy(p, b.data[b.at:len(b.data)/2])
	b.at += n
	return n, nil
}

func TestSave(t *testing.T) {
	snap := snapshotBytes(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	opts := SaveOptions{Path: path, Clock: time.Now, Meta: Metadata{MemberName: "m1"}}
	m, err := Save(context.Background(), fakeSource{r: bytes.NewReader(snap)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(snap)
	if m.Revision != 42 || m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(snap)) || m.MemberName != "m1" {
		t.Errorf("metadata %+v", m)
	}
	if got, _ := ReadSidecar(path); got == nil || got.SHA256 != m.SHA256 {
		t.Errorf("sidecar %+v", got)
	}
	if _, err := Save(context.Background(), fakeSource{r: bytes.NewReader(snap)}, opts); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("existing target: %v", err)
	}

	for name, src := range map[string]SnapshotSource{
		"broken stream":   fakeSource{r: &breakingReader{data: snap}},
		"no stream":       fakeSource{err: errors.New("connection refused")},
		"bad hash":        fakeSource{r: bytes.NewReader(append(append([]byte{}, snap[:len(snap)-1]...), snap[len(snap)-1]^1))},
		"truncated":       fakeSource{r: bytes.NewReader(snap[:len(snap)-100])},
		"flipped in db":   fakeSource{r: bytes.NewReader(flip(snap, 5000))},
		"shorter than 32": fakeSource{r: bytes.NewReader(snap[:10])},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
		_, err := Save(context.Background(), src, SaveOptions{Path: p, Clock: time.Now})
		if err == nil {
			t.Errorf("%s: saved", name)
		}
		assertNothingLeft(t, name, p)
	}
}

// assertNothingLeft checks that a failed save of p left no file, temp file or sidecar.
func assertNothingLeft(t *testing.T, what, p string) {
	t.Helper()
	left, _ := filepath.Glob(p + "*")
	for _, l := range left {
		t.Errorf("%s: %s left behind", what, l)
	}
}

func flip(b []byte, at int) []byte {
	c := append([]byte{}, b...)
	c[at] ^= 0x10
	return c
}

// The one-pass hashing writer gives the same digests as hashing the parts, whatever the chunking.
func TestHashingWriterChunking(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		data := make([]byte, 32+rng.Intn(5000))
		rng.Read(data)
		w := newHashingWriter()
		for rest := data; len(rest) > 0; {
			n := 1 + rng.Intn(min(len(rest), 70))
			w.Write(rest[:n])
			rest = rest[n:]
		}
		d, err := w.digests()
		if err != nil {
			t.Fatal(err)
		}
		full := sha256.Sum256(data)
		content := sha256.Sum256(data[:len(data)-32])
		if d.FileSHA256 != hex.EncodeToString(full[:]) || d.ContentSHA256 != hex.EncodeToString(content[:]) ||
			d.Appended != hex.EncodeToString(data[len(data)-32:]) || d.Size != int64(len(data)) {
			t.Fatalf("case %d: digests differ", i)
		}
	}
}

func TestRegistryKey(t *testing.T) {
	for key, want := range map[string][2]string{
		"/registry/configmaps/kube-system/coredns":         {"configmaps", "kube-system"},
		"/registry/namespaces/default":                     {"namespaces", ""},
		"/registry/apiregistration.k8s.io/apiservices/v1.": {"apiservices.apiregistration.k8s.io", ""},
		"/registry/example.com/widgets/ns1/w1":             {"widgets.example.com", "ns1"},
		"/registry/ranges/serviceips":                      {"ranges", ""},
		"/registry/services/specs/default/kubernetes":      {"services", "default"},
		"/registry/services/endpoints/default/kubernetes":  {"endpoints", "default"},
		"/registry/minions/node-1":                         {"nodes", ""},
	} {
		res, ns, ok := RegistryKey(key)
		if !ok || res != want[0] || ns != want[1] {
			t.Errorf("%s: %s %s %v, want %v", key, res, ns, ok, want)
		}
	}
	if _, _, ok := RegistryKey("/other/thing"); ok {
		t.Error("a non-/registry key was counted")
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	var files []string
	for d := 1; d <= 5; d++ {
		ts := time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC)
		p := filepath.Join(dir, SnapshotName("etcd-snapshot", ts))
		os.WriteFile(p, []byte("x"), 0o600)
		writeSidecar(p, &Metadata{Time: ts, Size: 1})
		files = append(files, p)
	}
	other := filepath.Join(dir, "mine-20260101-000000.db")
	os.WriteFile(other, []byte("x"), 0o600)
	writeSidecar(other, &Metadata{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Size: 1})
	removed, err := Prune(dir, "etcd-snapshot", Retention{Keep: 2, KeepWithin: 8 * 24 * time.Hour}, now, files[0])
	if err != nil {
		t.Fatal(err)
	}
	// Kept: the 2 newest (5th, 4th), those within 8 days (3rd, 2nd: Jan 2 and later), and the protected 1st.
	if len(removed) != 0 {
		t.Errorf("removed %v", removed)
	}
	removed, _ = Prune(dir, "etcd-snapshot", Retention{Keep: 2}, now, "")
	if len(removed) != 3 || removed[0] != files[2] {
		t.Errorf("keep 2 removed %v", removed)
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("a file of another prefix was pruned")
	}
	if _, err := os.Stat(SidecarPath(files[0])); err == nil {
		t.Error("the sidecar of a pruned snapshot was left")
	}
}

func TestPickSnapshotMember(t *testing.T) {
	ms := &Members{Members: []Member{
		{Name: "a", IsLeader: true, Healthy: true},
		{Name: "b", Healthy: false},
		{Name: "c", Healthy: true, IsLearner: true},
		{Name: "d", Healthy: true},
	}}
	if m, _ := PickSnapshotMember(ms); m == nil || m.Name != "d" {
		t.Errorf("picked %+v, want the healthy voting follower d", m)
	}
	ms.Members[3].Healthy = false
	if m, _ := PickSnapshotMember(ms); m == nil || m.Name != "a" {
		t.Errorf("picked %+v, want the leader a", m)
	}
	ms.Members[0].Healthy = false
	if _, err := PickSnapshotMember(ms); err == nil {
		t.Error("no healthy member, but one was picked")
	}
}

// The bucket's retention picks as the directory's: only our names with a sidecar, newest kept.
func TestPruneSelect(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	meta := &Metadata{}
	e := func(name string, age time.Duration, m *Metadata) Entry {
		return Entry{File: "s3://b/p/" + name, Time: now.Add(-age), Meta: m}
	}
	entries := []Entry{ // newest first
		e("etcd-snapshot-20261202-120000.db", 0, meta),
		e("etcd-snapshot-20261202-110000.db", time.Hour, meta),
		e("etcd-snapshot-manual.db", 2*time.Hour, meta),
		e("etcd-snapshot-20261202-090000.db", 3*time.Hour, nil),
		e("etcd-snapshot-20261201-120000.db", 24*time.Hour, meta),
		e("other-20261201-110000.db", 25*time.Hour, meta),
	}
	var got []string
	for _, x := range pruneSelect(entries, "etcd-snapshot", Retention{Keep: 1}, now, "") {
		got = append(got, x.File)
	}
	want := "s3://b/p/etcd-snapshot-20261202-110000.db s3://b/p/etcd-snapshot-20261201-120000.db"
	if strings.Join(got, " ") != want {
		t.Errorf("keep 1: %v, want %s", got, want)
	}
	got = nil
	for _, x := range pruneSelect(entries, "etcd-snapshot", Retention{KeepWithin: 2 * time.Hour}, now, "s3://b/p/etcd-snapshot-20261201-120000.db") {
		got = append(got, x.File)
	}
	if len(got) != 0 {
		t.Errorf("keep-within 2h with the old one protected: %v", got)
	}
}
