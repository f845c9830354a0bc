package etcd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/backup/objstore"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

// completeBucket resolves --to s3://BUCKET/PREFIX: the location, the credentials and endpoint
// from the AWS variables, the part size and --tmp-dir.
func (o *SnapshotSaveOptions) completeBucket() error {
	if o.Dir != "" {
		return fmt.Errorf("give either --to or --dir, not both")
	}
	loc, err := objstore.ParseLocation(o.To)
	if err != nil {
		return err
	}
	cfg, err := objstore.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if o.bucket, err = objstore.New(cfg, loc); err != nil {
		return err
	}
	q, err := resource.ParseQuantity(o.PartSize)
	if err != nil || q.Value() < 5<<20 {
		return fmt.Errorf("invalid --part-size %q: use at least 5Mi (S3's minimum part size)", o.PartSize)
	}
	o.partSize = q.Value()
	if o.Threads < 1 {
		return fmt.Errorf("--upload-threads must be at least 1")
	}
	if st, err := os.Stat(o.TmpDir); err != nil || !st.IsDir() {
		return fmt.Errorf("--tmp-dir %s does not exist: give a directory with room for the snapshot", o.TmpDir)
	}
	return nil
}

// startBucket makes the temp dir the snapshot is saved in before the upload, and checks the
// bucket with one request: a wrong secret, a missing bucket or an unreachable endpoint is
// reported before any snapshot is taken.
func (o *SnapshotSaveOptions) startBucket(ctx context.Context) error {
	var err error
	if o.tmp, err = os.MkdirTemp(o.TmpDir, "clusterops-snapshot-"); err != nil {
		return fmt.Errorf("--tmp-dir: %w", err)
	}
	o.target = filepath.Join(o.tmp, backup.SnapshotName(o.Prefix, o.start))
	return o.bucket.Check(ctx)
}

// upload puts the saved snapshot and its sidecar in the bucket.
func (o *SnapshotSaveOptions) upload(ctx context.Context, target string, meta *backup.Metadata) (*backup.Upload, error) {
	name := filepath.Base(target)
	url := o.bucket.Loc.URL(name)
	if !o.Overwrite {
		exists, err := o.bucket.Exists(ctx, name)
		if err != nil {
			return nil, err
		}
		if exists {
			return nil, fmt.Errorf("%s already exists (another save made it meanwhile): pass --overwrite to replace it", url)
		}
	}
	fmt.Fprintf(o.ErrOut, "Uploading to %s\n", url)
	bar := newProgress(o.ErrOut, meta.Size, o.now)
	up, err := backup.UploadSnapshot(ctx, o.bucket, target, meta,
		objstore.UploadOptions{PartSize: o.partSize, Threads: o.Threads, Progress: bar.update})
	bar.done(meta, err == nil)
	if err != nil {
		return nil, cmdutil.Rewrite("snapshot not uploaded to "+url+": "+err.Error(), err)
	}
	return up, nil
}

// fetchSource gives a local path for a snapshot source: src itself, or, for an s3:// URL, the
// object downloaded (with its sidecar, hash-checked) into a new temp dir under dir. cleanup
// removes that dir; callers defer it whatever happens.
func fetchSource(ctx context.Context, src, dir string) (local string, cleanup func(), err error) {
	if !objstore.IsURL(src) {
		return src, func() {}, nil
	}
	cfg, err := objstore.ConfigFromEnv(os.Getenv)
	if err != nil {
		return "", func() {}, err
	}
	tmp, err := os.MkdirTemp(dir, ".clusterops-download-")
	if err != nil {
		return "", func() {}, fmt.Errorf("cannot make a temp dir to download %s into: %w", src, err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	local, err = backup.FetchSnapshot(ctx, cfg, src, tmp)
	if err != nil {
		cleanup()
		return "", func() {}, snapshotError(err)
	}
	return local, cleanup, nil
}

// listBucket lists the snapshots of an s3:// location.
func listBucket(ctx context.Context, src string) ([]backup.Entry, error) {
	loc, err := objstore.ParseLocation(src)
	if err != nil {
		return nil, err
	}
	cfg, err := objstore.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	st, err := objstore.New(cfg, loc)
	if err != nil {
		return nil, err
	}
	return backup.ListBucket(ctx, st)
}
