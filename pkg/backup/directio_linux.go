package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// setDirect turns O_DIRECT on or off for f (fcntl(2) F_SETFL may change it; a file system
// that cannot do direct I/O refuses with EINVAL, and the file stays buffered).
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			ferr = err
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	}); err != nil {
		return err
	}
	return ferr
}

// mapBuffers returns n buffers of size bytes each (size a multiple of the page size), mapped
// outside the Go heap: page-aligned for direct I/O, resident only while in use, and not counted
// in the heap the garbage collector lets grow to twice its live size. release unmaps them.
func mapBuffers(n, size int) (bufs [][]byte, release func()) {
	m, err := unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return heapBuffers(n, size), func() {}
	}
	for i := range n {
		bufs = append(bufs, m[i*size:(i+1)*size:(i+1)*size])
	}
	return bufs, func() { _ = unix.Munmap(m) }
}
