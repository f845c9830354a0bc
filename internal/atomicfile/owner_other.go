//go:build !unix

package atomicfile

// keepOwner is a no-op where files have no POSIX owner.
func (f *File) keepOwner() error { return nil }
