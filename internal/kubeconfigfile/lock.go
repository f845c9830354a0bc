package kubeconfigfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// LockWait is how long a kubeconfig edit waits for FILE.lock, the lock file that kubectl and
// every other client-go program (clientcmd.ModifyConfig) create while they change FILE.
const LockWait = 10 * time.Second

// LockMarker starts the content of the FILE.lock we create; it is followed by our pid. kubectl's
// own lock files are empty.
const LockMarker = "kubectl-clusterops pid "

// LockOptions say how to wait for a held FILE.lock.
type LockOptions struct {
	Wait, Poll time.Duration
	// Waiting, in tests, is called before each wait for a held lock file.
	Waiting func(lockFile string)
}

// DefaultLock waits LockWait for a held lock file, polling every 50ms.
func DefaultLock() LockOptions { return LockOptions{Wait: LockWait, Poll: 50 * time.Millisecond} }

// Lock takes every lock a kubeconfig writer must hold: our flock on the folder (other
// clusterops runs), and clientcmd's PATH.lock for the path and, when it is a symlink, for its
// target too (kubectl locks the name it was given), in sorted order as clientcmd does. A held
// lock file is waited for up to opts.Wait.
func Lock(path string, opts LockOptions) (unlock func(), err error) {
	unlockDir, err := lockFor(path)
	if err != nil {
		return nil, err
	}
	var held []string
	unlock = func() {
		for _, l := range slices.Backward(held) {
			_ = os.Remove(l)
		}
		unlockDir()
	}
	names := []string{path}
	if target, err := atomicfile.Resolve(path); err == nil && target != path {
		names = append(names, target)
	}
	slices.Sort(names)
	for _, name := range names {
		lock := name + ".lock"
		if err := takeLockFile(lock, opts); err != nil {
			unlock()
			return nil, err
		}
		held = append(held, lock)
	}
	return unlock, nil
}

// takeLockFile creates lock exclusively, with our marker and pid in it, waiting while another
// program holds it. A lock file of ours whose process is gone (a killed run) is removed: we hold
// the folder flock, so no live clusterops run can be holding it through this folder.
func takeLockFile(lock string, opts LockOptions) error {
	deadline := time.Now().Add(opts.Wait)
	for {
		err := createLockFile(lock)
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return err
		}
		if staleLockOfOurs(lock) {
			if err := os.Remove(lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("cannot remove the stale lock file %s of a killed kubectl-clusterops run: %v", lock, err)
			}
			continue
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("the kubeconfig is locked: %s exists, so kubectl (or another program) is changing it; nothing was written: try again, or remove %s if no such program is running",
				lock, lock)
		}
		if opts.Waiting != nil {
			opts.Waiting(lock)
		}
		time.Sleep(opts.Poll)
	}
}

// createLockFile creates lock, failing with fs.ErrExist when it exists. The content is written
// to a temp file first and linked into place, so the lock never exists without our marker.
func createLockFile(lock string) error {
	f, err := atomicfile.CreateAs(lock, "."+filepath.Base(lock)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	marker := LockMarker + strconv.Itoa(os.Getpid()) + "\n"
	_, err = f.WriteString(marker)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return atomicfile.Error(lock, err)
	}
	err = os.Link(tmp, lock)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links on this file system: create it exclusively, then write the marker.
	l, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = l.WriteString(marker)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	return err
}

// staleLockOfOurs reports whether lock was made by a kubectl-clusterops process that is gone.
func staleLockOfOurs(lock string) bool {
	data, err := os.ReadFile(lock)
	if err != nil {
		return false
	}
	rest, ok := strings.CutPrefix(string(data), LockMarker)
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(rest))
	return err == nil && pid > 0 && pid != os.Getpid() && !processAlive(pid)
}
