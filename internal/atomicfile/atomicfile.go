// Package atomicfile is the one way kubectl-clusterops writes a file that matters (keys,
// kubeconfigs, manifests, snapshots, completion scripts): a temp file in the same directory,
// created exclusively with mode 0600 (O_CREATE|O_EXCL, so a planted file or symlink at the
// temp name is never followed), written, fsynced, renamed over the target, then the directory
// fsynced. A reader, or a crash, sees the old file or the whole new one; errors are never
// dropped, and a full disk says so in plain words (ErrDiskFull).
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrDiskFull is wrapped by every error caused by ENOSPC or EDQUOT.
var ErrDiskFull = errors.New("the disk is full")

// Options change how WriteFile treats the file it replaces.
type Options struct {
	// Perm is the mode of the new file; 0 means 0600.
	Perm os.FileMode
	// KeepOwner gives the new file the owner and group of the file it replaces (as root,
	// under sudo, a user's kubeconfig stays theirs). No effect when there is no old file.
	KeepOwner bool
	// FollowSymlink writes at the target of a symlinked path, so the link stays a link.
	FollowSymlink bool
}

// WriteFile writes data to path atomically with mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileWith(path, data, Options{Perm: perm})
}

// WriteFileWith writes data to path atomically, as opts say.
func WriteFileWith(path string, data []byte, opts Options) (err error) {
	if opts.FollowSymlink {
		if path, err = Resolve(path); err != nil {
			return Error(path, err)
		}
	}
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if opts.Perm != 0 {
		if err := f.Chmod(opts.Perm); err != nil {
			return Error(path, err)
		}
	}
	if opts.KeepOwner {
		if err := f.keepOwner(); err != nil {
			return Error(path, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return Error(path, err)
	}
	return f.Commit()
}

// Resolve follows symlinks of the final path element, as WriteFileWith with FollowSymlink does
// (a dangling link resolves to its target, which is then created).
func Resolve(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return path, err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return path, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return path, fmt.Errorf("too many levels of symbolic links")
}

// File is a temp file that becomes Path on Commit. Write to it like any *os.File.
type File struct {
	*os.File
	// Path is the final name.
	Path string
	done bool
}

// Create opens a new temp file ".BASE.tmp-RANDOM", mode 0600, in path's directory, created
// exclusively.
func Create(path string) (*File, error) {
	return CreateAs(path, "."+filepath.Base(path)+".tmp-")
}

// CreateAs is Create with the temp file named prefix followed by 16 random hex digits (from
// crypto/rand, so nobody can plant a file or symlink at the name in advance). It is opened
// O_CREATE|O_EXCL|O_NOFOLLOW, mode 0600: it never follows, truncates or shares a file that
// is already there, even one created a moment before.
func CreateAs(path, prefix string) (*File, error) {
	if strings.ContainsRune(prefix, filepath.Separator) {
		return nil, fmt.Errorf("atomicfile: temp prefix %q has a path separator", prefix)
	}
	dir := filepath.Dir(path)
	for range 100 {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
		tmp, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(b[:])),
			os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, Error(path, err)
		}
		return &File{File: tmp, Path: path}, nil
	}
	return nil, Error(path, fmt.Errorf("no free temp name in %s", dir))
}

// Commit fsyncs the temp file, renames it to Path and fsyncs the directory. On error the temp
// file is removed and Path is left as it was (unless only the directory fsync failed).
func (f *File) Commit() error { return f.commit(true) }

// CommitNew is Commit that never replaces a file: when Path exists, even if it was made after
// the caller checked, it fails with an error that wraps fs.ErrExist, and the temp file is
// removed. The new name is made with link(2), which fails on an existing name; on a file
// system without hard links it falls back to a check and a rename.
func (f *File) CommitNew() error { return f.commit(false) }

func (f *File) commit(replace bool) error {
	if f.done {
		return fmt.Errorf("writing %s: already committed or aborted", f.Path)
	}
	f.done = true
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return Error(f.Path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return Error(f.Path, err)
	}
	if err := place(f.Name(), f.Path, replace); err != nil {
		os.Remove(f.Name())
		return Error(f.Path, err)
	}
	return SyncDir(filepath.Dir(f.Path))
}

// place gives the file tmp the name path: by rename, or without replace by link then unlink.
func place(tmp, path string, replace bool) error {
	if replace {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return err
	}
	// No hard links here (EPERM, ENOTSUP, ...): the best that is left is to check, then rename.
	if _, serr := os.Lstat(path); serr == nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: fs.ErrExist}
	}
	return os.Rename(tmp, path)
}

// Abort closes and removes the temp file; Path is untouched. Safe to call after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Copy streams r into a new file at path atomically with mode perm.
func Copy(path string, r io.Reader, perm os.FileMode) (n int64, err error) {
	f, err := Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if perm != 0 {
		if err := f.Chmod(perm); err != nil {
			return 0, Error(path, err)
		}
	}
	if n, err = io.Copy(f, r); err != nil {
		return n, Error(path, err)
	}
	return n, f.Commit()
}

// SyncDir fsyncs a directory so that a rename in it survives a crash. File systems that cannot
// fsync a directory (EINVAL) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Error wraps an error of writing path; a full disk (ENOSPC, EDQUOT) says so and wraps
// ErrDiskFull as well as the cause.
func Error(path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrDiskFull) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("writing %s: %w (%w); free some space and run the command again, nothing was replaced",
			path, ErrDiskFull, err)
	}
	return fmt.Errorf("writing %s: %w", path, err)
}
