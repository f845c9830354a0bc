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
	"syscall"
	"time"
	"unsafe"

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
	// KubernetesVersion, when set, gives Meta.KubernetesVersion once the snapshot is saved (the
	// caller asks the API server while the snapshot streams).
	KubernetesVersion func() string

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
	sf := newSnapshotFile(f.File)
	bufs, release := mapBuffers(pipelineDepth, chunkSize)
	defer release()
	written, werr, rerr := pipeline(ctx, cancel, resp.Snapshot, sf, hw, bufs, opts)
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
	if err := checkOnDisk(f.File, sf.canDIO, bufs, d); err != nil {
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
	if opts.KubernetesVersion != nil {
		m.KubernetesVersion = opts.KubernetesVersion()
	}

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
// saved as a good snapshot. With direct I/O (dio) it reads what is on the disk, not what the page
// cache holds; a second goroutine reads ahead while this one hashes.
func checkOnDisk(f *os.File, dio bool, bufs [][]byte, streamed digests) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading back %s: %w", f.Name(), err)
	}
	if dio && setDirect(f, true) != nil {
		dio = false
	}
	disk, err := hashReadAhead(f, dio, bufs)
	if err != nil {
		return fmt.Errorf("%w: reading back %s: %v", ErrIntegrity, f.Name(), err)
	}
	if disk.Size != streamed.Size || disk.FileSHA256 != streamed.FileSHA256 {
		return fmt.Errorf("%w: the file on disk (%d bytes, sha256 %.16s...) differs from the stream (%d bytes, sha256 %.16s...): check the disk; no snapshot was saved",
			ErrIntegrity, disk.Size, disk.FileSHA256, streamed.Size, streamed.FileSHA256)
	}
	return nil
}

// hashReadAhead hashes f from its offset to its end, reading the next chunk while it hashes
// this one, over bufs (aligned, of a multiple of dioAlign bytes). With dio, f is open O_DIRECT: every read is of a whole aligned buffer at an aligned
// offset (the last one returns short at the end of the file).
func hashReadAhead(f *os.File, dio bool, bufs [][]byte) (digests, error) {
	type chunk struct {
		b   []byte
		err error
	}
	free := make(chan []byte, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	full := make(chan chunk, len(bufs))
	stop := make(chan struct{})
	defer func() { // the reader is done with bufs before they are reused or unmapped
		close(stop)
		for range full {
		}
	}()
	go func() {
		defer close(full)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := f.Read(b)
			if dio && err == nil && n%dioAlign != 0 {
				// A short direct read ends at the end of the file (the size is compared with
				// the stream's); another read would start at an unaligned offset.
				err = io.EOF
			}
			full <- chunk{b: b[:n], err: err}
			if err != nil {
				return
			}
		}
	}()
	w := newHashingWriter()
	for c := range full {
		if len(c.b) > 0 {
			w.Write(c.b)
			free <- c.b[:cap(c.b)]
		}
		if c.err == io.EOF {
			break
		}
		if c.err != nil {
			return digests{}, c.err
		}
	}
	return w.digests()
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

// Streaming buffers: chunkSize bytes each, at most pipelineDepth in flight (4 MiB in all,
// whatever the snapshot size). Each is aligned for direct I/O. Smaller chunks save resident
// memory but cost throughput, because each direct write waits for the disk: measured at 1 GiB
// (issue 21), 256 KiB chunks gave 46-48 MiB peak RSS at 0.83-0.89x etcdctl's throughput, 512 KiB
// 49-50 MiB and slower than 1 MiB, 1 MiB 49-52 MiB at 0.90-0.99x (1.0 and above in earlier runs).
const (
	chunkSize     = 1 << 20
	pipelineDepth = 4
	// dioAlign is the alignment of buffers, offsets and lengths for O_DIRECT (open(2): the
	// logical block size, 512 or 4096 on Linux file systems).
	dioAlign = 4096
)

// heapBuffers returns n size-byte buffers from the heap, each dioAlign-aligned.
func heapBuffers(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		b := make([]byte, size+dioAlign)
		off := 0
		if r := int(uintptr(unsafe.Pointer(&b[0])) & (dioAlign - 1)); r != 0 {
			off = dioAlign - r
		}
		bufs[i] = b[off : off+size : off+size]
	}
	return bufs
}

// snapshotFile writes the snapshot with direct I/O where the file system allows it: full,
// aligned chunks go from the buffer to the disk with no page-cache copy (the copy and the
// dirty pages cost the stream CPU, and the fsync at the end then has nothing left to write);
// the unaligned tail, and everything on a file system without O_DIRECT, is written buffered.
type snapshotFile struct {
	f      *os.File
	direct bool // O_DIRECT is on now
	canDIO bool // the file system took O_DIRECT (the read-back uses it too)
}

func newSnapshotFile(f *os.File) *snapshotFile {
	ok := setDirect(f, true) == nil
	return &snapshotFile{f: f, direct: ok, canDIO: ok}
}

func (w *snapshotFile) Write(b []byte) (int, error) {
	total := len(b)
	if w.direct {
		if n := len(b) &^ (dioAlign - 1); n > 0 {
			m, err := w.f.Write(b[:n])
			b = b[m:]
			if err != nil && !errors.Is(err, syscall.EINVAL) {
				return total - len(b), err
			}
		}
		if len(b) > 0 { // the tail, or a file system that took the flag but not the write
			w.direct = false
			if err := setDirect(w.f, false); err != nil {
				return total - len(b), err
			}
		}
	}
	if len(b) > 0 {
		if _, err := w.f.Write(b); err != nil {
			return total - len(b), err
		}
	}
	return total, nil
}

// pipeline copies the stream to the file and the hasher in three concurrent stages (read,
// write, hash) over a fixed set of buffers handed from stage to stage (never copied), so that
// neither the disk nor the hash holds up the stream. It returns the bytes read, the first write
// error and the first read error.
func pipeline(ctx context.Context, cancel context.CancelFunc, r io.Reader, w io.Writer, hw *hashingWriter,
	bufs [][]byte, opts SaveOptions) (written int64, werr, rerr error) {
	free := make(chan []byte, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	toWrite := make(chan []byte, len(bufs))
	toHash := make(chan []byte, len(bufs))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(toHash)
		for b := range toWrite {
			if werr == nil {
				if _, err := w.Write(b); err != nil {
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
	// (a large read would pull everything the transport window allows at once). A piece is a
	// multiple of dioAlign, so that only the last one is written buffered.
	readSize := len(bufs[0])
	var limiter *rate.Limiter
	if opts.MaxRate > 0 {
		readSize = int(min(max(opts.MaxRate/8, 32<<10), int64(readSize))) &^ (dioAlign - 1)
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
