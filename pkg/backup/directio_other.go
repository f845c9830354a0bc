//go:build !linux

package backup

import (
	"errors"
	"os"
)

// setDirect: direct I/O is used on Linux only; elsewhere the snapshot is written buffered.
func setDirect(*os.File, bool) error { return errors.New("direct I/O: not on this platform") }

// mapBuffers returns n aligned buffers of size bytes each, from the heap.
func mapBuffers(n, size int) (bufs [][]byte, release func()) { return heapBuffers(n, size), func() {} }
