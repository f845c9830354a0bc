// Command mkimage writes a single-layer OCI image archive holding one static binary, for
// `ctr -n k8s.io images import`. The real-node tier builds its control-plane images this way,
// with no registry and no Docker engine.
//
//	mkimage -name registry.k8s.io/kube-apiserver:v1.37.2 -binary PATH [-path /usr/local/bin/kube-apiserver] [-entrypoint ...] -o FILE.tar
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"time"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

func main() {
	name := flag.String("name", "", "image reference, e.g. registry.k8s.io/pause:3.10.1")
	binary := flag.String("binary", "", "static binary to put in the image")
	inPath := flag.String("path", "", "path of the binary in the image (default /usr/local/bin/<base name>)")
	entrypoint := flag.String("entrypoint", "", "entrypoint (default: none; static pods give a command)")
	out := flag.String("o", "", "output archive")
	flag.Parse()
	if *name == "" || *binary == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -name, -binary and -o are required")
		os.Exit(2)
	}
	if *inPath == "" {
		*inPath = "/usr/local/bin/" + path.Base(*binary)
	}
	if err := run(*name, *binary, *inPath, *entrypoint, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(name, binary, inPath, entrypoint, out string) error {
	epoch := time.Unix(0, 0).UTC()
	layer, err := layerTar(binary, strings.TrimPrefix(inPath, "/"), epoch)
	if err != nil {
		return err
	}
	layerDigest := digest(layer)
	cfg := map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": epoch.Format(time.RFC3339),
		"config": map[string]any{"Env": []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	}
	if entrypoint != "" {
		cfg["config"].(map[string]any)["Entrypoint"] = []string{entrypoint}
	}
	cfgJSON, _ := json.Marshal(cfg)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digest(cfgJSON), Size: int64(len(cfgJSON))},
		"layers": []descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: layerDigest, Size: int64(len(layer))}},
	})
	tag := name[strings.LastIndex(name, ":")+1:]
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digest(manifest), Size: int64(len(manifest)),
			Annotations: map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
			Platform:    map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
		}},
	})
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/sha256/" + strings.TrimPrefix(digest(cfgJSON), "sha256:"), cfgJSON},
		{"blobs/sha256/" + strings.TrimPrefix(digest(manifest), "sha256:"), manifest},
		{"blobs/sha256/" + strings.TrimPrefix(layerDigest, "sha256:"), layer},
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, file := range files {
		if err := tw.WriteHeader(&tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(file.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}

// layerTar is the image's only layer: the binary at inPath, plus /tmp and /etc/ssl/certs.
func layerTar(binary, inPath string, epoch time.Time) ([]byte, error) {
	src, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"tmp/", "etc/", "etc/ssl/", "etc/ssl/certs/"}
	for dir := path.Dir(inPath); dir != "." && dir != "/"; dir = path.Dir(dir) {
		dirs = append(dirs, dir+"/")
	}
	seen := map[string]bool{}
	for i := len(dirs) - 1; i >= 0; i-- { // parents first
		d := dirs[i]
		if seen[d] {
			continue
		}
		seen[d] = true
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: inPath, Mode: 0o755, Size: st.Size(), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, src); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
