package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entrypoint is where the plugin binary sits in the image, and the image's entrypoint.
const entrypoint = "/kubectl-clusterops"

// sourceURL is the org.opencontainers.image.source annotation (GHCR links the package to it).
const sourceURL = "https://github.com/clusterops/kubectl-clusterops"

// buildInput is everything an image depends on. The same input gives the same bytes.
type buildInput struct {
	// Binaries maps each platform ("linux/amd64") to its static plugin binary; the index lists
	// the platforms in the order of Platforms.
	Binaries  map[string]string
	Platforms []string
	Version   string    // the plugin version stamped in the binaries
	Commit    string    // the source revision
	Created   time.Time // SOURCE_DATE_EPOCH: the config's created time and every mtime in the layer
}

// buildIndex builds the multi-platform image index the way ko does: per platform, one
// gzip-compressed layer appended to empty.Image, with a config whose every time is Created.
func buildIndex(in buildInput) (v1.ImageIndex, error) {
	if len(in.Platforms) == 0 {
		return nil, fmt.Errorf("no platforms")
	}
	created := in.Created.UTC()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range in.Platforms {
		goos, arch, ok := strings.Cut(p, "/")
		if !ok || goos != "linux" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("platform %q: the image is for linux only, e.g. linux/amd64", p)
		}
		bin, ok := in.Binaries[p]
		if !ok {
			return nil, fmt.Errorf("no binary for %s", p)
		}
		img, err := buildImage(bin, arch, in.Version, created)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: arch}},
		})
	}
	return mutate.Annotations(idx, map[string]string{
		"org.opencontainers.image.created":  created.Format(time.RFC3339),
		"org.opencontainers.image.revision": in.Commit,
		"org.opencontainers.image.source":   sourceURL,
		"org.opencontainers.image.title":    "kubectl-clusterops",
		"org.opencontainers.image.version":  in.Version,
	}).(v1.ImageIndex), nil
}

// buildImage is one platform's image: the binary in one layer, no shell, the binary as entrypoint.
func buildImage(binary, arch, version string, created time.Time) (v1.Image, error) {
	fi, err := os.Stat(binary)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", binary)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return layerTar(binary, created) },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint: []string{entrypoint},
			WorkingDir: "/",
			Labels:     map[string]string{"org.opencontainers.image.version": version},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "hack/image: " + entrypoint,
			Comment:   "kubectl-clusterops " + version,
		},
	})
}

// layerTar streams the layer: /kubectl-clusterops (0755) and an empty /tmp (1777, for os.TempDir),
// owned by 0:0 with no user or group names, every mtime = created. Nothing else: no shell, no /etc.
func layerTar(binary string, created time.Time) (io.ReadCloser, error) {
	f, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(entrypoint, "/"),
			Mode: 0o755, Size: fi.Size(), ModTime: created, Format: tar.FormatUSTAR})
		if err == nil {
			var n int64
			n, err = io.Copy(tw, f)
			if err == nil && n != fi.Size() {
				err = fmt.Errorf("%s changed while it was read", binary)
			}
		}
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777,
				ModTime: created, Format: tar.FormatUSTAR})
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}
