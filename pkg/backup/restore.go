package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// RestoreOptions say how to restore a snapshot into a new data dir, as etcdutl snapshot restore.
type RestoreOptions struct {
	Snapshot            string
	DataDir             string
	Name                string
	InitialCluster      string
	PeerURLs            []string
	InitialClusterToken string
	// RevisionBump raises the restored revision and marks it compacted (etcdutl's --bump-revision
	// and --mark-compacted), so that API server watch caches and clients see the restore instead of
	// waiting for a revision the restored etcd never reaches. 0 leaves the revision as it was.
	RevisionBump uint64
}

// Restored is the result of a restore.
type Restored struct {
	Snapshot       string   `json:"snapshot"`
	DataDir        string   `json:"dataDir"`
	Name           string   `json:"name"`
	InitialCluster string   `json:"initialCluster"`
	PeerURLs       []string `json:"peerURLs"`
	Revision       int64    `json:"revision"`
	TotalKey       int      `json:"totalKey"`
	// Manifest is set when the etcd static pod manifest was pointed at DataDir.
	Manifest *ManifestUpdate `json:"manifest,omitempty"`
	// APIServer says what --stop-apiserver did with kube-apiserver; EtcdRevision is the revision
	// etcd served on the restored data once it restarted.
	APIServer    string `json:"apiServer,omitempty"`
	EtcdRevision int64  `json:"etcdRevision,omitempty"`
	// Node is the node restored on, through an agent pod (--node).
	Node string `json:"node,omitempty"`
	// NextSteps are the exact steps left for the admin.
	NextSteps []string `json:"nextSteps,omitempty"`
}

func (o *RestoreOptions) defaults() {
	if o.Name == "" {
		o.Name = "default"
	}
	if len(o.PeerURLs) == 0 {
		o.PeerURLs = []string{"http://localhost:2380"}
	}
	if o.InitialCluster == "" {
		var parts []string
		for _, u := range o.PeerURLs {
			parts = append(parts, o.Name+"="+u)
		}
		o.InitialCluster = strings.Join(parts, ",")
	}
	if o.InitialClusterToken == "" {
		o.InitialClusterToken = "etcd-cluster"
	}
}

// CheckDataDir fails unless dir can be the target of a restore: it must not exist or be an
// empty directory, and its parent must exist.
func CheckDataDir(dir string) error {
	if dir == "" {
		return errors.New("no --data-dir: give the new etcd data directory to restore into")
	}
	parent := filepath.Dir(dir)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fmt.Errorf("the parent directory %s of --data-dir does not exist: create it first", parent)
	}
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("--data-dir %s is a file", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("--data-dir %s is not empty: restore into a new directory (etcd's data is never overwritten)", dir)
	}
	return nil
}

// Restore checks the snapshot (etcd's integrity hash, the sidecar, the database) and restores
// it with etcd's own restore code into a hidden directory next to DataDir, which is renamed to
// DataDir only when the restore succeeded. A failed restore leaves nothing at DataDir.
func Restore(opts RestoreOptions) (*Restored, error) {
	opts.defaults()
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := CheckDataDir(dataDir); err != nil {
		return nil, err
	}
	st, err := SnapshotStatus(opts.Snapshot, false)
	if err != nil {
		return nil, err
	}
	if st.Sidecar != "ok" && st.Sidecar != "missing" {
		return nil, fmt.Errorf("%w: %s: sidecar %s", ErrIntegrity, opts.Snapshot, st.Sidecar)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dataDir), "."+filepath.Base(dataDir)+".restoring-")
	if err != nil {
		return nil, fmt.Errorf("cannot write next to %s: %w", dataDir, err)
	}
	if err := etcdutlRestore(opts, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("etcd restore of %s failed: %w", opts.Snapshot, err)
	}
	if _, err := os.Stat(dataDir); err == nil {
		if err := os.Remove(dataDir); err != nil { // empty, checked above
			os.RemoveAll(tmp)
			return nil, err
		}
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := atomicfile.SyncDir(filepath.Dir(dataDir)); err != nil {
		return nil, err
	}
	return &Restored{
		Snapshot: opts.Snapshot, DataDir: dataDir, Name: opts.Name, InitialCluster: opts.InitialCluster,
		PeerURLs: opts.PeerURLs, Revision: st.Revision, TotalKey: st.TotalKey,
	}, nil
}

func etcdutlRestore(opts RestoreOptions, dir string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt snapshot: %v", r)
		}
	}()
	return snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        opts.Snapshot,
		Name:                opts.Name,
		OutputDataDir:       dir,
		PeerURLs:            opts.PeerURLs,
		InitialCluster:      opts.InitialCluster,
		InitialClusterToken: opts.InitialClusterToken,
		RevisionBump:        opts.RevisionBump,
		MarkCompacted:       opts.RevisionBump > 0,
	})
}

// RestoredDB is the bolt database inside a restored data dir.
func RestoredDB(dataDir string) string { return filepath.Join(dataDir, "member", "snap", "db") }
