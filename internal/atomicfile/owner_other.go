//go:build !unix

package atomicfile

// keepOwner is a no-op where files have no POSIX owner.
func (f *File) keepOwner() error { return nil }

// noFollow is 0 where open has no O_NOFOLLOW; O_EXCL still refuses an existing name.
const noFollow = 0
