package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/backup/objstore"
)

// Upload is what UploadSnapshot put in the bucket.
type Upload struct {
	Snapshot objstore.Uploaded `json:"snapshot"`
	Sidecar  string            `json:"sidecar"`
}

// UploadSnapshot uploads a saved local snapshot (path, with its sidecar meta) to the store
// under its own file name: the snapshot by a verified multipart upload first, then, only once
// the snapshot was verified, the sidecar. The file is hashed again before the upload and must
// still match the sidecar.
func UploadSnapshot(ctx context.Context, st *objstore.Store, path string, meta *Metadata, o objstore.UploadOptions) (*Upload, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := hashReader(f, path)
	if err != nil {
		return nil, err
	}
	if d.FileSHA256 != meta.SHA256 || d.Size != meta.Size {
		return nil, fmt.Errorf("%w: %s changed after it was saved (sha256 %.16s..., the sidecar says %.16s...); nothing uploaded", ErrIntegrity, path, d.FileSHA256, meta.SHA256)
	}
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	o.Metadata = map[string]string{"sha256": meta.SHA256, "revision": fmt.Sprint(meta.Revision)}
	up, err := st.Upload(ctx, name, f, meta.Size, o)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := st.PutSmall(ctx, name+".json", append(data, '\n'), "application/json"); err != nil {
		return nil, fmt.Errorf("the snapshot was uploaded to %s, but its sidecar was not: %w", up.URL, err)
	}
	return &Upload{Snapshot: *up, Sidecar: st.Loc.URL(name + ".json")}, nil
}

// maxSidecar bounds the size of a sidecar read from a bucket.
const maxSidecar = 1 << 20

// ListBucket lists the snapshots (*.db objects) directly under the store's prefix, newest
// first, with their sidecars. Nothing is downloaded but the sidecars: a snapshot whose size
// matches its sidecar is "unchecked" (verify one to hash it and test-restore it).
func ListBucket(ctx context.Context, st *objstore.Store) ([]Entry, error) {
	objs, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, o := range objs {
		names[o.Name] = true
	}
	var out []Entry
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, ".db") || strings.HasPrefix(o.Name, ".") {
			continue
		}
		e := Entry{File: st.Loc.URL(o.Name), Size: o.Size, Time: o.Modified}
		if !names[o.Name+".json"] {
			e.State, e.Detail = StateNoSidecar, "no sidecar in the bucket; not downloaded"
			out = append(out, e)
			continue
		}
		m, err := readBucketSidecar(ctx, st, o.Name)
		switch {
		case err != nil:
			e.State, e.Detail = StateCorrupt, err.Error()
		case m.Size != o.Size:
			e.Meta, e.Time = m, m.Time
			e.State, e.Detail = StateCorrupt, fmt.Sprintf("size %d, the sidecar says %d", o.Size, m.Size)
		default:
			e.Meta, e.Time = m, m.Time
			e.State, e.Detail = StateUnchecked, "size matches the sidecar; not downloaded"
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func readBucketSidecar(ctx context.Context, st *objstore.Store, name string) (*Metadata, error) {
	data, err := st.ReadSmall(ctx, name+".json", maxSidecar)
	if err != nil {
		return nil, err
	}
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is not a snapshot sidecar: %w", st.Loc.URL(name+".json"), err)
	}
	return &m, nil
}

// PruneBucket applies the retention to the bucket as Prune does to a directory: only objects
// named exactly as SnapshotName names them for prefix and that have a sidecar are considered;
// a pruned snapshot's sidecar goes with it; no other key is touched. protect is a file name
// never deleted. It returns the URLs deleted.
func PruneBucket(ctx context.Context, st *objstore.Store, prefix string, r Retention, now time.Time, protect string) ([]string, error) {
	if r.Keep <= 0 && r.KeepWithin <= 0 {
		return nil, nil
	}
	entries, err := ListBucket(ctx, st)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range pruneSelect(entries, prefix, r, now, st.Loc.URL(protect)) {
		name := e.File[strings.LastIndex(e.File, "/")+1:]
		if err := st.Remove(ctx, name); err != nil && !objstore.IsNotFound(err) {
			return removed, err
		}
		if err := st.Remove(ctx, name+".json"); err != nil && !objstore.IsNotFound(err) {
			return removed, err
		}
		removed = append(removed, e.File)
	}
	return removed, nil
}

// FetchSnapshot downloads the snapshot at the object URL src, and its sidecar when there is
// one, into dir (both created exclusively), hashing the stream as it arrives: the file's size
// must be the object's, and its sha256 the sidecar's (ErrIntegrity otherwise). It returns the
// local path, which the local code paths (status, verify, restore) then read as any file.
func FetchSnapshot(ctx context.Context, cfg objstore.Config, src, dir string) (string, error) {
	loc, name, err := objstore.Split(src)
	if err != nil {
		return "", err
	}
	st, err := objstore.New(cfg, loc)
	if err != nil {
		return "", err
	}
	local := filepath.Join(dir, name)
	meta, err := readBucketSidecar(ctx, st, name)
	switch {
	case objstore.IsNotFound(err):
		meta = nil
	case err != nil:
		return "", err
	default:
		if err := writeNew(SidecarPath(local), func(w io.Writer) error {
			data, err := json.MarshalIndent(meta, "", "  ")
			if err == nil {
				_, err = w.Write(append(data, '\n'))
			}
			return err
		}); err != nil {
			return "", err
		}
	}
	body, size, err := st.Open(ctx, name)
	if err != nil {
		return "", err
	}
	defer body.Close()
	hw := newHashingWriter()
	if err := writeNew(local, func(w io.Writer) error {
		_, err := io.CopyBuffer(io.MultiWriter(w, hw), body, make([]byte, 1<<20))
		return err
	}); err != nil {
		return "", fmt.Errorf("downloading %s: %w", src, err)
	}
	d, err := hw.digests()
	switch {
	case d.Size != size:
		return "", fmt.Errorf("downloading %s: got %d bytes of %d", src, d.Size, size)
	case err != nil:
		return "", fmt.Errorf("%w: %s: %v", ErrIntegrity, src, err)
	case meta != nil && (meta.SHA256 != d.FileSHA256 || meta.Size != d.Size):
		return "", fmt.Errorf("%w: %s does not match its sidecar: sha256 %.16s... (%d bytes), the sidecar says %.16s... (%d bytes)",
			ErrIntegrity, src, d.FileSHA256, d.Size, meta.SHA256, meta.Size)
	}
	return local, nil
}

// writeNew creates path exclusively (mode 0600, never through an existing file or link),
// writes it with fill and syncs it.
func writeNew(path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
