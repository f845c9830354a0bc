package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileReplacesWholeWithMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("got %q mode %v", b, fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp file left behind: %v", ents)
	}
}

func TestWriteFileFollowsSymlinkWhenAsked(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	os.WriteFile(target, []byte("old"), 0o600)
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileWith(link, []byte("new"), Options{Perm: 0o600, FollowSymlink: true}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a regular file")
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("target holds %q", b)
	}
	// Without the option, the link itself is replaced.
	if err := WriteFile(link, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 {
		t.Fatal("link should have been replaced")
	}
}

func TestAbortLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "snap.db")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Fatalf("temp mode %v", fi.Mode().Perm())
	}
	f.Write([]byte("partial"))
	f.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("commit after abort should fail")
	}
}

func TestTwoCreatesNeverShareATempFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "snap.db")
	a, _ := Create(p)
	b, _ := Create(p)
	defer a.Abort()
	defer b.Abort()
	if a.Name() == b.Name() {
		t.Fatal("same temp name")
	}
}

func TestErrorSaysDiskFull(t *testing.T) {
	err := Error("/x/y", &os.PathError{Op: "write", Path: "/x/y", Err: syscall.ENOSPC})
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("%v", err)
	}
	if Error("p", nil) != nil {
		t.Fatal("nil")
	}
}

// CommitNew never replaces a file, even one made after the temp file was created.
func TestCommitNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "snap.db")
	f, err := CreateAs(p, "snap.db.part-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(f.Name()), "snap.db.part-") || len(filepath.Base(f.Name())) != len("snap.db.part-")+16 {
		t.Errorf("temp name %s, want snap.db.part- and 16 random hex digits", f.Name())
	}
	f.Write([]byte("new"))
	os.WriteFile(p, []byte("theirs"), 0o600)
	if err := f.CommitNew(); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CommitNew over an existing file: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "theirs" {
		t.Errorf("the existing file was replaced: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp file left behind: %v", ents)
	}
	g, _ := CreateAs(filepath.Join(dir, "other.db"), "other.db.part-")
	g.Write([]byte("x"))
	if err := g.CommitNew(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "other.db")); string(b) != "x" {
		t.Errorf("CommitNew wrote %q", b)
	}
	if _, err := CreateAs(p, "../x-"); err == nil {
		t.Error("a prefix with a separator was accepted")
	}
}
