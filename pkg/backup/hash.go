package backup

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// etcd appends the sha256 of the database to every snapshot it streams; a snapshot file is
// the bolt database followed by those 32 bytes. The database size is a multiple of 512, so a
// file with the hash has size % 512 == 32 (etcd's own check, client/v3/snapshot).
const integrityHashSize = sha256.Size

func hasIntegrityHash(size int64) bool { return size%512 == integrityHashSize }

// hashingWriter hashes a snapshot stream in one pass: the database part (everything but the
// last 32 bytes) into content, and keeps the last 32 bytes (etcd's integrity hash).
type hashingWriter struct {
	content hash.Hash
	tail    [integrityHashSize]byte
	n       int // bytes held in tail
	total   int64
}

func newHashingWriter() *hashingWriter { return &hashingWriter{content: sha256.New()} }

func (w *hashingWriter) Write(p []byte) (int, error) {
	w.total += int64(len(p))
	if len(p) >= integrityHashSize {
		w.content.Write(w.tail[:w.n])
		w.content.Write(p[:len(p)-integrityHashSize])
		copy(w.tail[:], p[len(p)-integrityHashSize:])
		w.n = integrityHashSize
		return len(p), nil
	}
	var buf [2 * integrityHashSize]byte
	all := append(append(buf[:0], w.tail[:w.n]...), p...)
	if over := len(all) - integrityHashSize; over > 0 {
		w.content.Write(all[:over])
		all = all[over:]
	}
	w.n = copy(w.tail[:], all)
	return len(p), nil
}

// digests holds what a hashing pass over a snapshot found.
type digests struct {
	Size          int64
	FileSHA256    string // sha256 of the whole file (the sidecar's checksum)
	ContentSHA256 string // sha256 of the database part
	Appended      string // the 32 bytes etcd appended, hex
}

// IntegrityOK says whether the file carries etcd's hash and it matches the database.
func (d digests) IntegrityError() error {
	if !hasIntegrityHash(d.Size) {
		return fmt.Errorf("no etcd integrity hash at the end (size %d is not a 512-byte multiple plus 32): the file is truncated, or is a copied data-dir db rather than a snapshot", d.Size)
	}
	if d.ContentSHA256 != d.Appended {
		return fmt.Errorf("etcd integrity hash mismatch: the file says %.16s..., its contents hash to %.16s...: the snapshot is corrupt", d.Appended, d.ContentSHA256)
	}
	return nil
}

func (w *hashingWriter) digests() (digests, error) {
	d := digests{Size: w.total}
	if w.n < integrityHashSize {
		return d, fmt.Errorf("snapshot too short (%d bytes)", w.total)
	}
	d.ContentSHA256 = hex.EncodeToString(w.content.Sum(nil))
	d.Appended = hex.EncodeToString(w.tail[:])
	state, err := w.content.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return d, err
	}
	full := sha256.New()
	if err := full.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return d, err
	}
	full.Write(w.tail[:])
	d.FileSHA256 = hex.EncodeToString(full.Sum(nil))
	return d, nil
}

// hashFile hashes a snapshot file.
func hashFile(path string) (digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return digests{}, err
	}
	defer f.Close()
	return hashReader(f, path)
}

// hashReader hashes a snapshot read from r; name is for errors.
func hashReader(r io.Reader, name string) (digests, error) {
	w := newHashingWriter()
	if _, err := io.CopyBuffer(w, r, make([]byte, 1<<20)); err != nil {
		return digests{}, fmt.Errorf("reading %s: %w", name, err)
	}
	d, err := w.digests()
	if err != nil {
		return d, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// ErrIntegrity marks a snapshot that failed an integrity check.
var ErrIntegrity = errors.New("snapshot integrity")
