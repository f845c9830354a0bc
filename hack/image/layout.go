package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// annotationManagedBy on the layout's index.json entry marks a layout this tool wrote and may replace.
	annotationManagedBy = "app.kubernetes.io/managed-by"
	managedBy           = "kubectl-clusterops"
	// annotationImageName is the name containerd gives an imported image (ctr images import).
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationVersion   = "org.opencontainers.image.version"
)

// layoutAnnotations are the annotations of the image index's entry in the layout's index.json.
func layoutAnnotations(version string) map[string]string {
	a := map[string]string{annotationManagedBy: managedBy, annotationRefName: tag(version), annotationVersion: version}
	if ref := defaultReference(version); ref != "" {
		a[annotationImageName] = ref
	}
	return a
}

// writeLayout writes idx as the only entry of an OCI image layout at dir, with layout.Write. It
// builds the layout beside dir and renames it into place, so a failure leaves dir as it was; an
// existing dir is replaced only when it is empty or a layout this tool wrote.
func writeLayout(dir string, idx v1.ImageIndex, version string) (err error) {
	if err := replaceable(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(layoutAnnotations(version))); err != nil {
		return err
	}
	// layout.Write leaves files 0777 or 0600 (umask permitting): make them all 0644, dirs 0755.
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.Rename(old, dir)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(tmp, dir)
}

// replaceable fails unless dir is absent, an empty directory, or a layout this tool wrote.
func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if desc, err := readLayout(dir); err == nil && desc.Annotations[annotationManagedBy] == managedBy {
		return nil
	}
	return fmt.Errorf("%s exists and is not an image layout written by hack/image: not replacing it", dir)
}

// readLayout returns the descriptor of the one image index in the layout at dir.
func readLayout(dir string) (v1.Descriptor, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := root.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		return v1.Descriptor{}, fmt.Errorf("%s: want one image index in index.json, found %d entries", dir, len(m.Manifests))
	}
	return m.Manifests[0], nil
}

// loadLayout returns the image index of a layout writeLayout wrote, and its index.json entry.
func loadLayout(dir string) (v1.ImageIndex, v1.Descriptor, error) {
	desc, err := readLayout(dir)
	if err != nil {
		return nil, desc, err
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, desc, err
	}
	idx, err := root.ImageIndex(desc.Digest)
	return idx, desc, err
}

// writeArchive writes an OCI archive (a tar of an image layout) for `ctr images import`: its
// index.json names ref and points at the whole image index (so containerd records the same digest
// as the layout and the registry), and it holds the blobs of one platform's image only, as a pull
// of that platform would. Entries are sorted, owned by 0, with mtime 0.
func writeArchive(out string, idx v1.ImageIndex, platform v1.Platform, ref name.Tag) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var img v1.Image
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == platform.OS && d.Platform.Architecture == platform.Architecture {
			if img, err = idx.Image(d.Digest); err != nil {
				return err
			}
		}
	}
	if img == nil {
		return fmt.Errorf("the image has no %s/%s manifest", platform.OS, platform.Architecture)
	}

	type blob struct {
		size int64
		open func() (io.ReadCloser, error)
	}
	blobs := map[string]blob{}
	addRaw := func(raw []byte) {
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		blobs["blobs/sha256/"+h.Hex] = blob{int64(len(raw)), func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(raw)), nil
		}}
	}
	for _, raw := range []func() ([]byte, error){idx.RawManifest, img.RawManifest, img.RawConfigFile} {
		b, err := raw()
		if err != nil {
			return err
		}
		addRaw(b)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		blobs["blobs/sha256/"+h.Hex] = blob{size, l.Compressed}
	}

	desc, err := partial.Descriptor(idx)
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{annotationImageName: containerdName(ref), annotationRefName: ref.TagStr()}
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: []v1.Descriptor{*desc}})
	if err != nil {
		return err
	}
	addFile := func(name string, data []byte) {
		blobs[name] = blob{int64(len(data)), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	}
	addFile("index.json", index)
	addFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))

	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return writeFileAtomic(out, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		epoch := time.Unix(0, 0)
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
				return err
			}
		}
		for _, n := range names {
			b := blobs[n]
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: b.size, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
				return err
			}
			rc, err := b.open()
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
		}
		return tw.Close()
	})
}

// containerdName is the name containerd (and the kubelet) use for ref: fully qualified, with
// docker.io rather than go-containerregistry's index.docker.io.
func containerdName(ref name.Tag) string {
	if ref.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + ref.RepositoryStr() + ":" + ref.TagStr()
	}
	return ref.Name()
}

// writeFileAtomic writes out through a temporary file beside it, renamed into place when write
// succeeded; on failure nothing is left behind.
func writeFileAtomic(out string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
