package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A symlink planted at the temp names an attacker can predict is never followed: the file it
// points at is untouched and the link stays as it was.
func TestSaveDoesNotFollowAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(victim, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "snap.db")
	planted := []string{path + ".part", path + ".part-", filepath.Join(dir, "."+filepath.Base(path)+".tmp-")}
	for _, p := range planted {
		if err := os.Symlink(victim, p); err != nil {
			t.Fatal(err)
		}
	}
	snap := snapshotBytes(t)
	if _, err := Save(context.Background(), fakeSource{r: bytes.NewReader(snap)}, SaveOptions{Path: path, Clock: time.Now}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:x:0:0\n" {
		t.Errorf("the snapshot was written through a planted symlink into %s", victim)
	}
	for _, p := range planted {
		if target, err := os.Readlink(p); err != nil || target != victim {
			t.Errorf("the planted symlink %s was changed: %q %v", p, target, err)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, snap) {
		t.Error("the snapshot is not at its path")
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("the snapshot is not a regular 0600 file: %v %v", fi.Mode(), err)
	}
}

// barrierSource hands out its snapshot only when every save in the test has called it, that is
// once each has created its temp file; the first to pass lists the temp files in dir.
type barrierSource struct {
	data    []byte
	arrived *sync.WaitGroup
	dir     string
	seen    *[]string
	once    *sync.Once
}

func (b barrierSource) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	b.arrived.Done()
	b.arrived.Wait()
	b.once.Do(func() { *b.seen, _ = filepath.Glob(filepath.Join(b.dir, "*.part*")) })
	return fakeSource{r: bytes.NewReader(b.data)}.SnapshotWithVersion(ctx)
}

// concurrentSaves runs one Save per path at the same time, each streaming its own snapshot, and
// returns their errors and the temp files that existed while all of them were streaming.
func concurrentSaves(t *testing.T, dir string, paths []string, snaps [][]byte) ([]error, []string) {
	t.Helper()
	var arrived, done sync.WaitGroup
	arrived.Add(len(paths))
	var seen []string
	var once sync.Once
	errs := make([]error, len(paths))
	for i, p := range paths {
		done.Add(1)
		go func() {
			defer done.Done()
			src := barrierSource{data: snaps[i], arrived: &arrived, dir: dir, seen: &seen, once: &once}
			_, errs[i] = Save(context.Background(), src, SaveOptions{Path: p, Clock: time.Now})
		}()
	}
	done.Wait()
	return errs, seen
}

// Two saves at once, to different files in one directory, each get a temp file of their own, named
// after their file, and each file holds its own snapshot.
func TestConcurrentSavesToDifferentFilesDoNotShareATempFile(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")}
	snaps := [][]byte{snapshotAt(t, 7), snapshotAt(t, 8)}
	errs, temps := concurrentSaves(t, dir, paths, snaps)
	if len(temps) != 2 || !strings.HasPrefix(filepath.Base(temps[0]), "a.db.part-") || !strings.HasPrefix(filepath.Base(temps[1]), "b.db.part-") {
		t.Errorf("temp files while both streamed: %v, want one a.db.part-* and one b.db.part-*", temps)
	}
	for i, p := range paths {
		if errs[i] != nil {
			t.Errorf("%s: %v", p, errs[i])
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, snaps[i]) {
			t.Errorf("%s does not hold its own snapshot", p)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.part*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// Two saves at once to the same file (two --dir runs in the same second): each streams into its
// own temp file; one wins, the other says the file exists, and the file matches its sidecar.
func TestConcurrentSavesToOneFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "etcd-snapshot-20260101-000000.db")
	snaps := [][]byte{snapshotAt(t, 7), snapshotAt(t, 8)}
	errs, temps := concurrentSaves(t, dir, []string{p, p}, snaps)
	if len(temps) != 2 || temps[0] == temps[1] {
		t.Errorf("temp files while both streamed: %v, want two", temps)
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), "already exists") {
				t.Errorf("the losing save: %v, want 'already exists'", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("errors %v: want exactly one save to fail", errs)
	}
	got, _ := os.ReadFile(p)
	d, err := hashFile(p)
	m, serr := ReadSidecar(p)
	if err != nil || serr != nil || m.SHA256 != d.FileSHA256 || (!bytes.Equal(got, snaps[0]) && !bytes.Equal(got, snaps[1])) {
		t.Errorf("the file and its sidecar disagree: %v %v %+v", err, serr, m)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.part*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// A byte that changes on disk after the stream was checked (a bad disk, a file changed under us)
// is found by the second hash, from disk, and nothing is saved.
func TestSaveHashesTheFileOnDiskAgain(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.db")
	snap := snapshotBytes(t)
	hooked := 0
	_, err := Save(context.Background(), fakeSource{r: bytes.NewReader(snap)}, SaveOptions{Path: p, Clock: time.Now,
		afterSync: func(temp string) {
			hooked++
			f, err := os.OpenFile(temp, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte{snap[5000] ^ 0x10}, 5000); err != nil {
				t.Fatal(err)
			}
		}})
	if hooked != 1 || !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "differs from the stream") {
		t.Errorf("hook ran %d times; err %v, want the on-disk mismatch", hooked, err)
	}
	assertNothingLeft(t, "a byte flipped on disk", p)

	// The same hook that changes nothing: saved.
	_, err = Save(context.Background(), fakeSource{r: bytes.NewReader(snap)}, SaveOptions{Path: p, Clock: time.Now,
		afterSync: func(string) {}})
	if err != nil {
		t.Errorf("an unchanged file: %v", err)
	}
}
