package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Snapshot states in `snapshot list`.
const (
	StateVerified  = "verified"  // sha256 matches the sidecar and etcd's integrity hash
	StateUnchecked = "unchecked" // --quick: size matches the sidecar, not hashed
	StateNoSidecar = "no-sidecar"
	StateCorrupt   = "corrupt"
)

// Entry is one snapshot in a backup directory.
type Entry struct {
	File   string    `json:"file"`
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Size   int64     `json:"size"`
	Meta   *Metadata `json:"metadata,omitempty"`
	// Time is the sidecar's time, or the file's modification time without one.
	Time time.Time `json:"time"`
}

// List lists the snapshots (*.db files) of dir, newest first, with their sidecar and state.
// Unless quick, every file is hashed and checked against its sidecar and etcd's integrity hash.
func List(dir string, quick bool) ([]Entry, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such directory", dir)
		}
		return nil, err
	}
	var out []Entry
	for _, de := range entries {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".db") || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		info, err := de.Info()
		if err != nil {
			continue
		}
		e := Entry{File: path, Size: info.Size(), Time: info.ModTime().UTC()}
		m, merr := ReadSidecar(path)
		if merr == nil {
			e.Meta, e.Time = m, m.Time
		}
		switch {
		case merr != nil && !errors.Is(merr, os.ErrNotExist):
			e.State, e.Detail = StateCorrupt, merr.Error()
		case m != nil && m.Size != info.Size():
			e.State, e.Detail = StateCorrupt, fmt.Sprintf("size %d, the sidecar says %d", info.Size(), m.Size)
		case quick && m != nil:
			e.State = StateUnchecked
		case quick:
			e.State = StateNoSidecar
		default:
			e.State, e.Detail = checkFile(path, m)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func checkFile(path string, m *Metadata) (string, string) {
	d, err := hashFile(path)
	if err != nil {
		return StateCorrupt, err.Error()
	}
	if err := d.IntegrityError(); err != nil {
		return StateCorrupt, err.Error()
	}
	if m == nil {
		return StateNoSidecar, "etcd's integrity hash matches; no sidecar to compare with"
	}
	if m.SHA256 != d.FileSHA256 {
		return StateCorrupt, "sha256 differs from the sidecar"
	}
	return StateVerified, ""
}

// SnapshotName is the file name `snapshot save --dir` gives a snapshot taken at now.
func SnapshotName(prefix string, now time.Time) string {
	return prefix + "-" + now.UTC().Format("20060102-150405") + ".db"
}

// IsSnapshotName reports whether name is exactly what SnapshotName gives for prefix at some time:
// prefix "etcd" matches etcd-20260102-030405.db, not etcd-prod-20260102-030405.db (the "etcd-prod"
// series) nor etcd-29012345.db (a scheduled job's snapshot).
func IsSnapshotName(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return false
	}
	stamp, ok := strings.CutSuffix(rest, ".db")
	if !ok {
		return false
	}
	_, err := time.Parse("20060102-150405", stamp)
	return err == nil
}

// Retention says which snapshots to keep; a snapshot is kept when any rule keeps it.
type Retention struct {
	Keep       int           // the newest N
	KeepWithin time.Duration // those taken within this duration before now
}

// Prune deletes the snapshots of dir named as SnapshotName names them for prefix (with their sidecars) that the retention
// does not keep. Only snapshots with a sidecar are considered (files this tool wrote); protect
// is never deleted. It returns the deleted files.
func Prune(dir, prefix string, r Retention, now time.Time, protect string) ([]string, error) {
	if r.Keep <= 0 && r.KeepWithin <= 0 {
		return nil, nil
	}
	entries, err := List(dir, true)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range pruneSelect(entries, prefix, r, now, protect) {
		if err := os.Remove(e.File); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		os.Remove(SidecarPath(e.File))
		removed = append(removed, e.File)
	}
	return removed, nil
}

// pruneSelect picks, from entries listed newest first, the snapshots the retention does not
// keep: only those named as SnapshotName names them for prefix and with a sidecar (files this
// tool wrote); protect (an Entry.File) is always kept.
func pruneSelect(entries []Entry, prefix string, r Retention, now time.Time, protect string) []Entry {
	var out []Entry
	kept := 0
	for _, e := range entries { // newest first
		if e.Meta == nil || !IsSnapshotName(prefix, e.File[strings.LastIndex(e.File, "/")+1:]) {
			continue
		}
		keep := e.File == protect ||
			(r.Keep > 0 && kept < r.Keep) ||
			(r.KeepWithin > 0 && now.Sub(e.Time) <= r.KeepWithin)
		if keep {
			kept++
			continue
		}
		out = append(out, e)
	}
	return out
}
