//go:build !windows

package kubeconfigfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFor serializes clusterops writers of one kubeconfig with flock on its folder: the kernel
// releases it when the process dies, so a killed run never leaves a stale lock behind.
func lockFor(path string) (func(), error) {
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("cannot open the folder of %s: %v", path, err)
	}
	if err := syscall.Flock(int(dir.Fd()), syscall.LOCK_EX); err != nil {
		dir.Close()
		return nil, fmt.Errorf("cannot lock the folder of %s: %v", path, err)
	}
	return func() {
		_ = syscall.Flock(int(dir.Fd()), syscall.LOCK_UN)
		dir.Close()
	}, nil
}

// processAlive reports whether a process with this pid exists (EPERM: it exists, not ours).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
