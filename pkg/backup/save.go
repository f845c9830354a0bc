package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"golang.org/x/time/rate"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// ErrStreamBroken is wrapped when the snapshot stream from the member ended with an error
// before etcd's trailing checksum arrived (the member died, restarted or became unreachable).
var ErrStreamBroken = errors.New("the snapshot stream broke")

// SnapshotSource streams a snapshot: the Maintenance API of a client connected to exactly one member.
type SnapshotSource interface {
	SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error)
}

// Metadata is the sidecar FILE.json written next to every snapshot.
type Metadata struct {
	File              string    `json:"file"`
	SHA256            string    `json:"sha256"`
	Size              int64     `json:"size"`
	Revision          int64     `json:"revision"`
	EtcdVersion       string    `json:"etcdVersion,omitempty"`
	StorageVersion    string    `json:"storageVersion,omitempty"`
	MemberName        string    `json:"memberName,omitempty"`
	MemberID          string    `json:"memberID,omitempty"`
	ClusterID         string    `json:"clusterID,omitempty"`
	Endpoint          string    `json:"endpoint,omitempty"`
	KubernetesVersion string    `json:"kubernetesVersion,omitempty"`
	Time              time.Time `json:"time"`
	DurationSeconds   float64   `json:"durationSeconds"`
}

// SaveOptions say where and how to save one snapshot.
type SaveOptions struct {
	Path      string // final path; FILE.part-RANDOM and FILE.json go next to it
	Overwrite bool
	// MaxRate limits the stream to this many bytes per second (0: no limit).
	MaxRate int64
	// Progress, when set, is called with the bytes written so far.
	Progress func(written int64)
	// Clock gives the time (for the duration, the rate limit and the sidecar).
	Clock func() time.Time
	// Metadata fields known by the caller (member, cluster, versions).
	Meta Metadata

	// afterSync, in tests, runs on the temp file once it is fsynced, before it is hashed again.
	afterSync func(tempPath string)
}

// SidecarPath is the metadata file of a snapshot.
func SidecarPath(path string) string { return path + ".json" }

// CheckTarget fails if the snapshot cannot be written at path: an existing file (without
// overwrite), or a missing directory.
func CheckTarget(path string, overwrite bool) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("directory %s does not exist: create it first", dir)
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory: give a file name, or use --dir", path)
		}
		if !overwrite {
			return fmt.Errorf("%s already exists: choose another name, or pass --overwrite", path)
		}
	}
	return nil
}

// Save streams a snapshot from src to opts.Path. It writes a new temp file FILE.part-RANDOM
// (created exclusively, never through a symlink, never shared with another save), checks the
// sha256 etcd appends against the data as it arrives, fsyncs, hashes the file again from disk
// and compares, then gives it the final name (without Overwrite, never over a file that
// appeared meanwhile) and writes the sidecar. On any error nothing is left at the final path
// (nor the temp file).
func Save(ctx context.Context, src SnapshotSource, opts SaveOptions) (meta *Metadata, err error) {
	if opts.Clock == nil {
		return nil, errors.New("backup.Save: no clock")
	}
	if err := CheckTarget(opts.Path, opts.Overwrite); err != nil {
		return nil, err
	}
	start := opts.Clock()
	f, err := atomicfile.CreateAs(opts.Path, PartPrefix(opts.Path))
	if err != nil {
		return nil, diskFullHint(err)
	}
	part := f.Name()
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := src.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the snapshot stream: %w", err)
	}
	defer resp.Snapshot.Close()

	hw := newHashingWriter()
	written, werr, rerr := pipeline(ctx, cancel, resp.Snapshot, f.File, hw, opts, start)
	if werr != nil {
		return nil, writeError(part, werr)
	}
	if rerr != nil {
		return nil, fmt.Errorf("%w after %d bytes: %w", ErrStreamBroken, written, rerr)
	}
	d, err := hw.digests()
	if err != nil {
		return nil, err
	}
	if err := d.IntegrityError(); err != nil {
		return nil, fmt.Errorf("%w: the streamed snapshot failed its check: %v", ErrIntegrity, err)
	}
	if err := f.Sync(); err != nil {
		return nil, writeError(part, err)
	}
	if opts.afterSync != nil {
		opts.afterSync(part)
	}
	if err := checkOnDisk(f.File, d); err != nil {
		return nil, err
	}
	rev, storage, err := readRevision(part)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read the revision of the streamed snapshot: %v", ErrIntegrity, err)
	}
	m := opts.Meta
	m.File = filepath.Base(opts.Path)
	m.SHA256 = d.FileSHA256
	m.Size = d.Size
	m.Revision = rev
	if storage != "" {
		m.StorageVersion = storage
	} else if resp.Version != "" {
		m.StorageVersion = resp.Version
	}
	m.Time = start.UTC()
	m.DurationSeconds = opts.Clock().Sub(start).Seconds()

	commit := f.CommitNew
	if opts.Overwrite {
		commit = f.Commit
	}
	if err := commit(); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s already exists (another save made it meanwhile): choose another name, or pass --overwrite", opts.Path)
		}
		return nil, diskFullHint(err)
	}
	if err := writeSidecar(opts.Path, &m); err != nil {
		os.Remove(opts.Path)
		return nil, err
	}
	return &m, nil
}

// PartPrefix is how the temp file of a snapshot at path starts: "FILE.part-", followed by a
// random suffix.
func PartPrefix(path string) string { return filepath.Base(path) + ".part-" }

// checkOnDisk hashes the fsynced temp file again, through f, and compares it with what the
// stream gave: a write that did not land as sent (a bad disk, a file changed under us) is not
// saved as a good snapshot.
func checkOnDisk(f *os.File, streamed digests) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading back %s: %w", f.Name(), err)
	}
	disk, err := hashReader(f, f.Name())
	if err != nil {
		return fmt.Errorf("%w: reading back %s: %v", ErrIntegrity, f.Name(), err)
	}
	if disk.Size != streamed.Size || disk.FileSHA256 != streamed.FileSHA256 {
		return fmt.Errorf("%w: the file on disk (%d bytes, sha256 %.16s...) differs from the stream (%d bytes, sha256 %.16s...): check the disk; no snapshot was saved",
			ErrIntegrity, disk.Size, disk.FileSHA256, streamed.Size, streamed.FileSHA256)
	}
	return nil
}

// writeError is atomicfile's error for path, with what to do when the disk is full.
func writeError(path string, err error) error {
	err = atomicfile.Error(path, err)
	if errors.Is(err, atomicfile.ErrDiskFull) {
		return fmt.Errorf("%w writing %s: free space or choose another --dir; no snapshot was written", atomicfile.ErrDiskFull, path)
	}
	return err
}

// diskFullHint adds what to do to an error from atomicfile when the disk is full.
func diskFullHint(err error) error {
	if errors.Is(err, atomicfile.ErrDiskFull) {
		return fmt.Errorf("%w: free space or choose another --dir; no snapshot was written", err)
	}
	return err
}

// writeSidecar writes FILE.json atomically.
func writeSidecar(path string, m *Metadata) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeError(SidecarPath(path), atomicfile.WriteFile(SidecarPath(path), append(data, '\n'), 0o600))
}

// ReadSidecar reads FILE.json of a snapshot; os.ErrNotExist when there is none.
func ReadSidecar(path string) (*Metadata, error) {
	data, err := os.ReadFile(SidecarPath(path))
	if err != nil {
		return nil, err
	}
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is not a snapshot sidecar: %w", SidecarPath(path), err)
	}
	return &m, nil
}

// readRevision reads the latest revision and storage version of a snapshot (or db) file by
// looking at the last key of etcd's "key" bucket only (a few pages, not the whole file).
func readRevision(path string) (rev int64, storage string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt database: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(schema.Meta.Name()) != nil {
			if v := schema.ReadStorageVersionFromSnapshot(tx); v != nil {
				storage = v.String()
			}
		}
		b := tx.Bucket(schema.Key.Name())
		if b == nil {
			return errors.New("no key bucket: not an etcd database")
		}
		k, _ := b.Cursor().Last()
		if k != nil {
			rev = mvcc.BytesToRev(k).Main
		}
		return nil
	})
	return rev, storage, err
}

// Streaming buffers: chunkSize bytes each, at most pipelineDepth in flight (a few MiB in all,
// whatever the snapshot size).
const (
	chunkSize     = 512 << 10
	pipelineDepth = 6
)

// pipeline copies the stream to the file and the hasher in three concurrent stages (read,
// write, hash) over a fixed set of buffers, so that hashing never holds up the stream. It
// returns the bytes read, the first write error and the first read error.
func pipeline(ctx context.Context, cancel context.CancelFunc, r io.Reader, f *os.File, hw *hashingWriter,
	opts SaveOptions, start time.Time) (written int64, werr, rerr error) {
	free := make(chan []byte, pipelineDepth)
	for i := 0; i < pipelineDepth; i++ {
		free <- make([]byte, chunkSize)
	}
	toWrite := make(chan []byte, pipelineDepth)
	toHash := make(chan []byte, pipelineDepth)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(toHash)
		for b := range toWrite {
			if werr == nil {
				if _, err := f.Write(b); err != nil {
					werr = err
					cancel() // stops the stream; the reader sees the cancellation
				}
			}
			toHash <- b
		}
	}()
	go func() {
		defer wg.Done()
		for b := range toHash {
			hw.Write(b)
			free <- b[:cap(b)]
		}
	}()
	// With a rate limit, read small pieces so that gRPC flow control holds the member back
	// (a large read would pull everything the transport window allows at once).
	readSize := chunkSize
	var limiter *rate.Limiter
	if opts.MaxRate > 0 {
		readSize = int(min(max(opts.MaxRate/8, 32<<10), chunkSize))
		limiter = rate.NewLimiter(rate.Limit(opts.MaxRate), readSize)
	}
	for {
		buf := <-free
		n, err := io.ReadFull(r, buf[:readSize])
		if n > 0 {
			written += int64(n)
			toWrite <- buf[:n]
			if opts.Progress != nil {
				opts.Progress(written)
			}
			if limiter != nil {
				_ = limiter.WaitN(ctx, n) // fails only when ctx ends, and the read below then fails too
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(toWrite)
	wg.Wait()
	if werr != nil {
		rerr = nil
	}
	return written, werr, rerr
}
