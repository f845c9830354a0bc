package objstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clusterops/kubectl-clusterops/internal/workpool"
)

// Upload defaults: 16 MiB parts (a 256 MiB snapshot is 16 parts; S3's limit is 10,000 parts,
// so up to 156 GiB), two parts in flight. A part is read from the file twice (once to hash,
// once to send) through small buffers: memory does not grow with the part size.
const (
	DefaultPartSize = 16 << 20
	DefaultThreads  = 2
	minPartSize     = 5 << 20 // S3's minimum for every part but the last
	maxParts        = 10000
	hashBufSize     = 256 << 10
)

// UploadOptions tune a multipart upload.
type UploadOptions struct {
	PartSize    int64 // DefaultPartSize when 0
	Threads     int   // DefaultThreads when 0
	ContentType string
	// Metadata is stored as x-amz-meta-* on the object.
	Metadata map[string]string
	// Progress, when set, is called with the bytes sent so far (from several goroutines).
	Progress func(sent int64)
}

// Uploaded says what was uploaded and how it was checked.
type Uploaded struct {
	URL      string `json:"url"`
	Size     int64  `json:"size"`
	Parts    int    `json:"parts"`
	PartSize int64  `json:"partSize"`
	// ETag is the server's; for a multipart object, the MD5 of the parts' MD5s, "-" parts.
	ETag string `json:"etag"`
	// Checksum is the composite SHA256 of the parts' SHA256s, "-" parts, as the server stores it
	// ("" when the server keeps no checksum).
	Checksum string `json:"checksumSHA256,omitempty"`
	// Verified lists what the HEAD after completion compared.
	Verified []string `json:"verified"`
}

// partSums are the sums of one part.
type partSums struct{ md5, sha256 []byte }

func (p partSums) md5Base64() string    { return base64.StdEncoding.EncodeToString(p.md5) }
func (p partSums) sha256Hex() string    { return hex.EncodeToString(p.sha256) }
func (p partSums) sha256Base64() string { return base64.StdEncoding.EncodeToString(p.sha256) }

func sumPart(data []byte) partSums {
	m, s := md5.Sum(data), sha256.Sum256(data)
	return partSums{md5: m[:], sha256: s[:]}
}

// hashSection reads a part of f and sums it.
func hashSection(f *os.File, off, n int64) (partSums, error) {
	m, s := md5.New(), sha256.New()
	w := io.MultiWriter(m, s)
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, off, n), make([]byte, hashBufSize)); err != nil {
		return partSums{}, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return partSums{md5: m.Sum(nil), sha256: s.Sum(nil)}, nil
}

// Upload puts the file f (size bytes, not changing) at name with a multipart upload, always,
// whatever the size: the object appears at name only when the upload is completed, so an
// upload killed halfway leaves nothing there (only parts of an incomplete upload, which this
// function aborts on any error it sees; a bucket lifecycle rule
// AbortIncompleteMultipartUpload cleans up after a killed process).
//
// Every part carries its SHA256 twice, as the SigV4 signed payload hash (x-amz-content-sha256)
// and as x-amz-checksum-sha256, and its MD5 as Content-MD5: the server refuses a part whose
// bytes differ. After completion a HEAD compares the size, the ETag (the MD5 of the parts'
// MD5s, "-N") and, when the server keeps it, the composite SHA256 with what was computed here.
func (s *Store) Upload(ctx context.Context, name string, f *os.File, size int64, o UploadOptions) (res *Uploaded, err error) {
	partSize := o.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	for size/partSize >= maxParts {
		partSize *= 2
	}
	if partSize < minPartSize {
		return nil, fmt.Errorf("part size %d is below S3's minimum of 5 MiB", partSize)
	}
	threads := o.Threads
	if threads <= 0 {
		threads = DefaultThreads
	}
	nparts := int((size + partSize - 1) / partSize)
	if nparts == 0 {
		nparts = 1
	}
	key := s.Loc.Key(name)
	meta := map[string]string{"x-amz-checksum-algorithm": "SHA256"}
	for k, v := range o.Metadata {
		meta[k] = v
	}
	uploadID, err := s.core.NewMultipartUpload(ctx, s.Loc.Bucket, key, minio.PutObjectOptions{
		ContentType: o.ContentType, UserMetadata: meta})
	if err != nil {
		return nil, s.explain(err, name)
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what ended the upload.
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.core.AbortMultipartUpload(actx, s.Loc.Bucket, key, uploadID)
		}
	}()

	parts := make([]minio.CompletePart, nparts)
	sums := make([]partSums, nparts)
	var (
		mu   sync.Mutex
		sent int64
	)
	err = workpool.Run(ctx, nparts, threads, func(ctx context.Context, i int) error {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		sum, err := hashSection(f, off, n)
		if err != nil {
			return err
		}
		hdr := http.Header{}
		hdr.Set("x-amz-checksum-sha256", sum.sha256Base64())
		p, err := s.core.PutObjectPart(ctx, s.Loc.Bucket, key, uploadID, i+1, io.NewSectionReader(f, off, n), n,
			minio.PutObjectPartOptions{Md5Base64: sum.md5Base64(), Sha256Hex: sum.sha256Hex(), CustomHeader: hdr, DisableContentSha256: true})
		if err != nil {
			return s.explain(err, name)
		}
		if got := strings.Trim(p.ETag, `"`); got != hex.EncodeToString(sum.md5) {
			return fmt.Errorf("%s: the server's ETag %s of part %d is not the part's MD5 %x", s.Loc.URL(name), got, i+1, sum.md5)
		}
		sums[i] = sum
		parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: p.ETag, ChecksumSHA256: sum.sha256Base64()}
		mu.Lock()
		sent += n
		if o.Progress != nil {
			o.Progress(sent)
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	info, err := s.core.CompleteMultipartUpload(ctx, s.Loc.Bucket, key, uploadID, parts, minio.PutObjectOptions{})
	if err != nil {
		return nil, s.explain(err, name)
	}
	res = &Uploaded{URL: s.Loc.URL(name), Size: size, Parts: nparts, PartSize: partSize, ETag: strings.Trim(info.ETag, `"`)}
	if err := s.verifyUploaded(ctx, name, res, sums); err != nil {
		return nil, err
	}
	return res, nil
}

// verifyUploaded HEADs the completed object and compares it with the sums of its parts.
func (s *Store) verifyUploaded(ctx context.Context, name string, res *Uploaded, sums []partSums) error {
	md5s, shas := md5.New(), sha256.New()
	for _, p := range sums {
		md5s.Write(p.md5)
		shas.Write(p.sha256)
	}
	suffix := fmt.Sprintf("-%d", len(sums))
	wantETag := hex.EncodeToString(md5s.Sum(nil)) + suffix
	wantSum := base64.StdEncoding.EncodeToString(shas.Sum(nil)) + suffix
	st, err := s.Stat(ctx, name)
	if err != nil {
		return fmt.Errorf("the upload completed, but the HEAD after it failed: %w", err)
	}
	bad := func(what, got, want string) error {
		return fmt.Errorf("%s after upload: %s %s, want %s: the object is not what was sent", s.Loc.URL(name), what, got, want)
	}
	if st.Size != res.Size {
		return bad("size", fmt.Sprint(st.Size), fmt.Sprint(res.Size))
	}
	res.Verified = append(res.Verified, "size")
	etag := strings.Trim(st.ETag, `"`)
	if etag != wantETag {
		return bad("ETag", etag, wantETag)
	}
	res.ETag = etag
	res.Verified = append(res.Verified, "etag")
	if got := st.ChecksumSHA256; got != "" {
		if !strings.Contains(got, "-") { // some servers give the part count apart
			got += suffix
		}
		if got != wantSum {
			return bad("SHA256 checksum", got, wantSum)
		}
		res.Checksum = got
		res.Verified = append(res.Verified, "checksum-sha256")
	}
	return nil
}
