//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// noFollow makes an open fail on a symlink rather than follow it.
const noFollow = syscall.O_NOFOLLOW

// keepOwner gives the temp file the owner and group of the file it replaces, so that a root
// run does not turn a user's file into root's. EPERM (not root) is ignored: the file then
// keeps the caller's ownership, which is what the caller could write anyway.
func (f *File) keepOwner() error {
	fi, err := os.Stat(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, syscall.EPERM) {
		return err
	}
	return nil
}
