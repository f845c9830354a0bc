package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const testEpoch = 1767323045 // 2026-01-02T03:04:05Z

// fakeBins writes a BUILD folder as hack/dist lays it out, one "binary" per platform.
func fakeBins(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p, binaryName), []byte(content+" for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build runs `image build` and returns its output and the layout's index digest.
func build(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"build"}, args...), &out); err != nil {
		t.Fatalf("image build %v: %v", args, err)
	}
	return out.String(), digestLine(t, out.String())
}

func digestLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(l, "digest: "); ok {
			return d
		}
	}
	t.Fatalf("no digest line in %q", out)
	return ""
}

// tree reads every file under dir, by slash path.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// readTar reads every entry of a tar stream.
func readTar(t *testing.T, r io.Reader) []tarEntry {
	t.Helper()
	var entries []tarEntry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{h, body})
	}
}

// Two builds from the same inputs, into different folders, give the same digest and the same
// bytes; changing any input changes the digest (so the comparison can fail).
func TestBuildIsReproducible(t *testing.T) {
	bins := fakeBins(t, "plugin v0.1.0")
	common := []string{"-bins", bins, "-version", "v0.1.0", "-commit", "0123456789abcdef"}
	outA, outB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	printedA, a := build(t, append(common, "-out", outA, "-epoch", "1767323045")...)
	_, b := build(t, append(common, "-out", outB, "-epoch", "1767323045")...)
	if a != b {
		t.Fatalf("two builds from the same inputs: %s != %s", a, b)
	}
	if !strings.HasPrefix(a, "sha256:") || !strings.Contains(printedA, "image: ghcr.io/clusterops/kubectl-clusterops:v0.1.0\n") {
		t.Errorf("output:\n%s", printedA)
	}
	ta, tb := tree(t, outA), tree(t, outB)
	if len(ta) != 9 { // oci-layout, index.json, the index, per platform a manifest, a config and a layer
		t.Errorf("layout has %d files: %v", len(ta), slices.Sorted(maps.Keys(ta)))
	}
	for n, data := range ta {
		if !bytes.Equal(data, tb[n]) {
			t.Errorf("%s differs between the two builds", n)
		}
	}
	if got, err := readLayout(outA); err != nil || got.Digest.String() != a {
		t.Errorf("index.json points at %v (%v), want %s", got.Digest, err, a)
	}

	// Rebuilding over a layout we wrote replaces it.
	if _, again := build(t, append(common, "-out", outA, "-epoch", "1767323045")...); again != a {
		t.Errorf("rebuild over the layout: %s, want %s", again, a)
	}

	for name, args := range map[string][]string{
		"epoch":   append(common, "-out", t.TempDir(), "-epoch", "1767323046"),
		"version": {"-bins", bins, "-version", "v0.1.1", "-commit", "0123456789abcdef", "-out", t.TempDir(), "-epoch", "1767323045"},
		"binary":  {"-bins", fakeBins(t, "plugin v0.1.0!"), "-version", "v0.1.0", "-commit", "0123456789abcdef", "-out", t.TempDir(), "-epoch", "1767323045"},
	} {
		if _, d := build(t, args...); d == a {
			t.Errorf("another %s gives the same digest %s", name, d)
		}
	}
}

// The image: an OCI index of linux/amd64 and linux/arm64; each image has one layer holding only
// /kubectl-clusterops and /tmp, owned by 0 with the fixed mtime, and the binary as entrypoint.
func TestImageShape(t *testing.T) {
	bins := fakeBins(t, "plugin")
	out := filepath.Join(t.TempDir(), "image")
	build(t, "-bins", bins, "-version", "e8e3bb3-dirty", "-epoch", "1767323045", "-out", out)
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, desc, err := loadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Annotations[annotationImageName] != "" || desc.Annotations[annotationRefName] != "e8e3bb3-dirty" {
		t.Errorf("a dev build's layout annotations: %v", desc.Annotations)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index: %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	if im.Annotations["org.opencontainers.image.version"] != "e8e3bb3-dirty" || im.Annotations["org.opencontainers.image.created"] != "2026-01-02T03:04:05Z" {
		t.Errorf("index annotations: %v", im.Annotations)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := im.Manifests[i]
		if d.MediaType != types.OCIManifestSchema1 || d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != arch {
			t.Errorf("manifest %d: %s %+v", i, d.MediaType, d.Platform)
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		created := time.Unix(testEpoch, 0).UTC()
		if cfg.OS != "linux" || cfg.Architecture != arch || !cfg.Created.Time.Equal(created) ||
			!slices.Equal(cfg.Config.Entrypoint, []string{"/kubectl-clusterops"}) || len(cfg.Config.Cmd) != 0 ||
			len(cfg.History) != 1 || !cfg.History[0].Created.Time.Equal(created) {
			t.Errorf("%s config: %+v", arch, cfg)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
			t.Errorf("%s manifest: %+v", arch, m)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var entries []string
		for _, e := range readTar(t, rc) {
			h := e.hdr
			entries = append(entries, h.Name)
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(created) {
				t.Errorf("%s: %s owned by %d:%d (%q:%q), mtime %s", arch, h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
			}
			switch h.Name {
			case "kubectl-clusterops":
				if h.Mode != 0o755 || string(e.body) != "plugin for linux-"+arch {
					t.Errorf("%s: binary mode %o, content %q", arch, h.Mode, e.body)
				}
			case "tmp/":
				if h.Typeflag != tar.TypeDir || h.Mode != 0o1777 {
					t.Errorf("%s: tmp/ type %c mode %o", arch, h.Typeflag, h.Mode)
				}
			}
		}
		rc.Close()
		if !slices.Equal(entries, []string{"kubectl-clusterops", "tmp/"}) {
			t.Errorf("%s layer entries: %v (want only the binary and /tmp: no shell, no /etc)", arch, entries)
		}
	}
}

// A folder the tool did not write is not replaced, and a failed build leaves nothing behind.
func TestBuildRefusesForeignFolder(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "image")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"build", "-bins", fakeBins(t, "x"), "-version", "v0.1.0",
		"-epoch", "0", "-out", out}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not replacing it") {
		t.Fatalf("build over a foreign folder: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("the foreign file changed: %q %v", b, err)
	}
	// A missing binary: an error, and no temporary folder left beside the output.
	err = run(context.Background(), []string{"build", "-bins", t.TempDir(), "-version", "v0.1.0",
		"-epoch", "0", "-out", filepath.Join(parent, "other")}, io.Discard)
	if err == nil {
		t.Fatal("build without binaries succeeded")
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// The archive for ctr import: index.json names the image and points at the whole index (the
// same digest as the layout), and it carries one platform's blobs, all of them.
func TestArchive(t *testing.T) {
	bins := fakeBins(t, "plugin")
	out := filepath.Join(t.TempDir(), "image")
	_, digest := build(t, "-bins", bins, "-version", "v0.2.0-rc.1", "-epoch", "1767323045", "-out", out)
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	var printed bytes.Buffer
	if err := run(context.Background(), []string{"archive", "-layout", out, "-o", tarPath, "-platform", "linux/arm64"}, &printed); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(printed.String(), "image: ghcr.io/clusterops/kubectl-clusterops:v0.2.0-rc.1\n") || digestLine(t, printed.String()) != digest {
		t.Errorf("archive output:\n%s", printed.String())
	}

	// Unpack it and read it back as a layout.
	dir := t.TempDir()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for _, e := range readTar(t, f) {
		names = append(names, e.hdr.Name)
		if e.hdr.Typeflag == tar.TypeDir {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(e.hdr.Name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, e.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var index v1.IndexManifest
	raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(raw, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, raw)
	}
	top := index.Manifests[0]
	if top.Digest.String() != digest || top.Annotations[annotationImageName] != "ghcr.io/clusterops/kubectl-clusterops:v0.2.0-rc.1" ||
		top.Annotations[annotationRefName] != "v0.2.0-rc.1" {
		t.Errorf("index.json entry: %+v", top)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := root.ImageIndex(top.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the index and the arm64 image's blobs, the same bytes as in the layout.
	want := []string{"blobs/", "blobs/sha256/", "blobs/sha256/" + top.Digest.Hex, "index.json", "oci-layout"}
	for _, d := range im.Manifests {
		if d.Platform.Architecture != "arm64" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "blobs/sha256/"+d.Digest.Hex, "blobs/sha256/"+m.Config.Digest.Hex, "blobs/sha256/"+m.Layers[0].Digest.Hex)
		if _, err := img.Layers(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("archive entries:\n%v\nwant:\n%v", names, want)
	}
	layoutFiles := tree(t, out)
	for n, b := range tree(t, dir) {
		if strings.HasPrefix(n, "blobs/") && !bytes.Equal(b, layoutFiles[n]) {
			t.Errorf("%s differs from the layout's", n)
		}
	}

	// A dev build gets a local name; -ref overrides it.
	devOut := filepath.Join(t.TempDir(), "image")
	build(t, "-bins", bins, "-version", "e8e3bb3", "-epoch", "0", "-out", devOut)
	for ref, want := range map[string]string{"": "localhost/kubectl-clusterops:e8e3bb3", "mirror.example/ops/clusterops:test": "mirror.example/ops/clusterops:test"} {
		printed.Reset()
		if err := run(context.Background(), []string{"archive", "-layout", devOut, "-o", tarPath, "-ref", ref}, &printed); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(printed.String(), "image: "+want+"\n") {
			t.Errorf("-ref %q: %s", ref, printed.String())
		}
	}
	if err := run(context.Background(), []string{"archive", "-layout", devOut, "-o", tarPath, "-platform", "linux/s390x"}, io.Discard); err == nil {
		t.Error("an archive for a platform the image lacks succeeded")
	}
}

// The release push (remote.WriteIndex) against an in-process registry on 127.0.0.1: the registry
// then serves the same index digest, and each platform resolves to its image.
func TestPush(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of this machine
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	out := filepath.Join(t.TempDir(), "image")
	_, digest := build(t, "-bins", fakeBins(t, "plugin"), "-version", "v0.1.0", "-epoch", "1767323045", "-out", out)
	// A release build's default reference is ghcr.io: a dev build has none and must be given -ref.
	devOut := filepath.Join(t.TempDir(), "image")
	build(t, "-bins", fakeBins(t, "plugin"), "-version", "v0.0.0-e8e3bb3", "-epoch", "0", "-out", devOut)
	if err := run(context.Background(), []string{"push", "-layout", devOut}, io.Discard); err == nil || !strings.Contains(err.Error(), "no default reference") {
		t.Errorf("push of a dev build without -ref: %v", err)
	}

	ref := host + "/clusterops/kubectl-clusterops:v0.1.0"
	var printed bytes.Buffer
	if err := run(context.Background(), []string{"push", "-layout", out, "-ref", ref}, &printed); err != nil {
		t.Fatal(err)
	}
	if printed.String() != "pushed: "+ref+"@"+digest+"\n" {
		t.Errorf("push printed %q", printed.String())
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digest || desc.MediaType != types.OCIImageIndex {
		t.Errorf("the registry serves %s %s, want the index %s", desc.MediaType, desc.Digest, digest)
	}
	idx, _, err := loadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	for _, d := range im.Manifests {
		img, err := remote.Image(r, remote.WithPlatform(*d.Platform))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := img.Digest(); got != d.Digest {
			t.Errorf("%s pulls %s, want %s", d.Platform.Architecture, got, d.Digest)
		}
	}
}

func TestReferences(t *testing.T) {
	for version, want := range map[string]string{
		"v0.1.0":                    "ghcr.io/clusterops/kubectl-clusterops:v0.1.0",
		"v1.2.3-rc.1":               "ghcr.io/clusterops/kubectl-clusterops:v1.2.3-rc.1",
		"v0.1.0-e2e.1":              "ghcr.io/clusterops/kubectl-clusterops:v0.1.0-e2e.1",
		"v0.0.0-dev":                "",
		"v0.0.0-e8e3bb3":            "",
		"e8e3bb3":                   "",
		"e8e3bb3-dirty":             "",
		"v0.1.0-dirty":              "",
		"v0.1.0-3-gabc1234":         "",
		"v0.1.0-12-g0123abcd-dirty": "",
		"v1.2":                      "",
		"1.2.3":                     "",
		"v01.2.3":                   "",
		"":                          "",
	} {
		if got := defaultReference(version); got != want {
			t.Errorf("defaultReference(%q) = %q, want %q", version, got, want)
		}
	}
	for version, want := range map[string]string{"v0.1.0": "v0.1.0", "e8e3bb3-dirty": "e8e3bb3-dirty",
		"a+b/c": "a-b-c", ".x": "v.x", "": "v", strings.Repeat("x", 200): strings.Repeat("x", 128)} {
		if got := tag(version); got != want {
			t.Errorf("tag(%q) = %q, want %q", version, got, want)
		}
	}
}
