//go:build !windows

package certs

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// LockRenewal takes the node's renewal lock: an exclusive flock on <tmp>/clusterops-certs.lock.
// It does not wait: while another `certs renew` holds it, it returns ErrRenewalRunning. The kernel
// drops the lock when the holder dies, so a killed run never leaves a stale lock behind (the file
// itself stays: removing a lock file that another process may have just opened is a race).
func LockRenewal(l Layout) (*RenewalLock, error) {
	if err := os.MkdirAll(l.TmpDir(), 0o700); err != nil {
		return nil, atomicfile.Error(l.TmpDir(), err)
	}
	path := l.renewLockPath()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, atomicfile.Error(l.displayPath(path), err) // a full disk says so
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (it holds %s): wait for it to finish, then run again",
				ErrRenewalRunning, l.displayPath(path))
		}
		return nil, fmt.Errorf("cannot lock %s: %w", l.displayPath(path), err)
	}
	return &RenewalLock{release: func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}}, nil
}
