package certs

import (
	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"

	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// backupPrefix starts the name of every backup folder Renew makes in the tmp dir:
// clusterops-backup-<UTC stamp>[-N].
const backupPrefix = "clusterops-backup-"

// ManifestFile is the list of backed-up files with their sha256, in `sha256sum -c` format.
const ManifestFile = "SHA256SUMS"

// Backup copies the cert dir and the catalogue's kubeconfigs into dir, keeping their node paths
// (dir/etc/kubernetes/pki/ca.crt ...), so that `cp -a dir/etc /` restores them. The copy is made
// in dir.partial, fsynced and renamed: dir exists only when the backup is complete. If dir already
// exists, a -N suffix is added. It returns the folder it wrote.
func Backup(l Layout, dir string) (string, error) {
	final := dir
	for i := 1; ; i++ {
		if _, err := os.Lstat(final); errors.Is(err, fs.ErrNotExist) {
			break
		}
		final = fmt.Sprintf("%s-%d", dir, i)
	}
	partial := final + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return "", err
	}
	if err := os.MkdirAll(partial, 0o700); err != nil {
		return "", atomicfile.Error(partial, err)
	}
	files, err := backupSources(l)
	if err != nil {
		os.RemoveAll(partial)
		return "", err
	}
	var sums []string
	for _, src := range files {
		rel, _ := filepath.Rel(l.Root, src)
		sum, err := copyFileSynced(src, filepath.Join(partial, rel))
		if err != nil {
			os.RemoveAll(partial)
			return "", fmt.Errorf("backing up %s: %w", l.displayPath(src), err)
		}
		sums = append(sums, sum+"  "+filepath.ToSlash(rel))
	}
	sort.Strings(sums)
	if err := atomicfile.WriteFile(filepath.Join(partial, ManifestFile), []byte(strings.Join(sums, "\n")+"\n"), 0o600); err != nil {
		os.RemoveAll(partial)
		return "", err
	}
	if err := syncTree(partial); err != nil {
		os.RemoveAll(partial)
		return "", err
	}
	if err := os.Rename(partial, final); err != nil {
		os.RemoveAll(partial)
		return "", fmt.Errorf("finishing the backup %s: %w", final, err)
	}
	return final, atomicfile.SyncDir(filepath.Dir(final))
}

// backupSources lists every regular file of the cert dir (without leftovers of interrupted writes)
// and the catalogue's kubeconfigs that exist.
func backupSources(l Layout) ([]string, error) {
	var files []string
	err := filepath.WalkDir(l.Path(l.CertDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !isLeftover(d.Name()) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the cert dir: %w", err)
	}
	for _, s := range Catalogue() {
		if s.Kind != KindKubeconfig {
			continue
		}
		p, _ := l.certPaths(s)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	return files, nil
}

func isLeftover(name string) bool {
	return strings.HasSuffix(name, newSuffix) || (strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-"))
}

func copyFileSynced(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", atomicfile.Error(dst, err)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return "", atomicfile.Error(dst, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", atomicfile.Error(dst, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", atomicfile.Error(dst, err)
	}
	if err := f.Close(); err != nil {
		return "", atomicfile.Error(dst, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return atomicfile.SyncDir(path)
		}
		return nil
	})
}

// VerifyBackup checks that every file listed in a backup's manifest is there with its checksum.
func VerifyBackup(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return 0, fmt.Errorf("%s is not a complete backup: %w", dir, err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		want, rel, ok := strings.Cut(line, "  ")
		if !ok {
			return n, fmt.Errorf("%s: bad manifest line %q", dir, line)
		}
		content, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return n, err
		}
		sum := sha256.Sum256(content)
		if hex.EncodeToString(sum[:]) != want {
			return n, fmt.Errorf("%s: %s does not match its checksum", dir, rel)
		}
		n++
	}
	return n, nil
}

// RecoverInterrupted finishes or discards what an interrupted renewal left in the cert dir: a
// new cert and key written beside the old ones are put in place when they match, and removed
// otherwise; temp files of interrupted atomic writes and partial backups are removed; static pod
// manifests an interrupted restart left parked are moved back.
func RecoverInterrupted(l Layout) error {
	var newCerts, leftovers []string
	err := filepath.WalkDir(l.Path(l.CertDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".crt"+newSuffix):
			newCerts = append(newCerts, path)
		case strings.HasSuffix(name, ".key"+newSuffix):
			if _, err := os.Stat(strings.TrimSuffix(path, ".key"+newSuffix) + ".crt" + newSuffix); err != nil {
				leftovers = append(leftovers, path) // its cert was never written: nothing was replaced
			}
		case isLeftover(name):
			leftovers = append(leftovers, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the cert dir: %w", err)
	}
	for _, crtNew := range newCerts {
		base := strings.TrimSuffix(crtNew, ".crt"+newSuffix)
		keyPath := base + ".key"
		if _, err := os.Stat(keyPath + newSuffix); err == nil {
			keyPath += newSuffix // the key was not renamed yet
		}
		certs, cerr := readCerts(crtNew)
		key, kerr := readKey(keyPath)
		if cerr != nil || kerr != nil || !KeyMatchesCert(certs[0], key) {
			leftovers = append(leftovers, crtNew)
			if strings.HasSuffix(keyPath, newSuffix) {
				leftovers = append(leftovers, keyPath)
			}
			continue
		}
		if keyPath != base+".key" {
			if err := os.Rename(keyPath, base+".key"); err != nil {
				return err
			}
		}
		if err := os.Rename(crtNew, base+".crt"); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(filepath.Dir(base)); err != nil {
			return err
		}
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, spec := range Catalogue() {
		if spec.Kind == KindKubeconfig {
			p, _ := l.certPaths(spec)
			tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*"))
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}
	partials, _ := filepath.Glob(filepath.Join(l.TmpDir(), backupPrefix+"*.partial"))
	for _, p := range partials {
		os.RemoveAll(p)
	}
	return RestoreParkedManifests(l)
}

// interruptedFiles lists, as node paths, what an interrupted --new-key renewal left in the cert dir.
func interruptedFiles(l Layout) []string {
	var out []string
	_ = filepath.WalkDir(l.Path(l.CertDir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), newSuffix) {
			out = append(out, l.displayPath(path))
		}
		return nil
	})
	return out
}

// ourBackup is one backup folder Renew made.
type ourBackup struct {
	path  string
	stamp string
	n     int
}

// ourBackups lists the complete backups Renew made in the tmp dir: real folders (not symlinks) named
// clusterops-backup-<stamp>[-N] that hold a SHA256SUMS file. Anything else there is left alone.
func ourBackups(l Layout) ([]ourBackup, error) {
	entries, err := os.ReadDir(l.TmpDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ourBackup
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), backupPrefix)
		if !ok || !e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			continue
		}
		stamp, suffix, hasN := strings.Cut(rest, "-")
		if _, err := time.Parse(backupStamp, stamp); err != nil {
			continue
		}
		n := 0
		if hasN {
			if n, err = strconv.Atoi(suffix); err != nil || n < 1 {
				continue
			}
		}
		dir := filepath.Join(l.TmpDir(), e.Name())
		if st, err := os.Lstat(filepath.Join(dir, ManifestFile)); err != nil || !st.Mode().IsRegular() {
			continue
		}
		out = append(out, ourBackup{path: dir, stamp: stamp, n: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].stamp != out[j].stamp {
			return out[i].stamp < out[j].stamp
		}
		return out[i].n < out[j].n
	})
	return out, nil
}

// PruneBackups removes the oldest of the backups Renew made in the tmp dir until keep are left
// (each one holds every CA key of the node), and returns the folders it removed. Folders that
// do not look like ours (name, SHA256SUMS) are never touched. The paths it returns are as
// RenewResult.BackupDir is: under Root.
func PruneBackups(l Layout, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("keep must be at least 1, not %d", keep)
	}
	backups, err := ourBackups(l)
	if err != nil || len(backups) <= keep {
		return nil, err
	}
	var pruned []string
	for _, b := range backups[:len(backups)-keep] {
		if err := os.RemoveAll(b.path); err != nil {
			return pruned, fmt.Errorf("removing the old backup %s: %w", l.displayPath(b.path), err)
		}
		pruned = append(pruned, b.path)
	}
	return pruned, atomicfile.SyncDir(l.TmpDir())
}
