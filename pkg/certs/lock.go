package certs

import (
	"errors"
	"path/filepath"
)

// ErrRenewalRunning means another `certs renew` holds this node's renewal lock.
var ErrRenewalRunning = errors.New("another certs renew is running on this node")

// RenewalLock is held while a renewal (and the static pod restarts after it) changes the node: two
// runs at once would each take the other's half-written files for an interrupted renewal.
type RenewalLock struct{ release func() }

// Release drops the lock; it is safe to call more than once and on nil.
func (k *RenewalLock) Release() {
	if k != nil && k.release != nil {
		k.release()
		k.release = nil
	}
}

// renewLockPath is the lock file, in kubeadm's tmp dir (never in the cert dir: backups copy that).
func (l Layout) renewLockPath() string { return filepath.Join(l.TmpDir(), "clusterops-certs.lock") }
