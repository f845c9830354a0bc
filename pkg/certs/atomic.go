package certs

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFileAtomic writes data to path so that a reader (or a crash) sees either the old file or
// the whole new one: a temp file in the same directory, fsync, chmod, rename, fsync of the
// directory. A full disk gives an error that says so; the old file is left as it was.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return writeError(path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return writeError(path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return writeError(path, err)
	}
	if err = tmp.Sync(); err != nil {
		return writeError(path, err)
	}
	if err = tmp.Close(); err != nil {
		return writeError(path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return writeError(path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func writeError(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("writing %s: the disk is full (%w); free some space and run the command again, "+
			"nothing was replaced", path, err)
	}
	return fmt.Errorf("writing %s: %w", path, err)
}

// WritePrivateKeyFile writes key as PEM to path, mode 0600, atomically.
func WritePrivateKeyFile(path string, key crypto.Signer) error {
	data, err := EncodePrivateKeyPEM(key)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o600)
}
