package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Two runs on the same inputs, with different file mtimes and in different
// folders, give identical archives and manifests; the archives hold sorted
// entries owned by 0 with the fixed mtime, and gzip has no name or time.
func TestDistIsReproducible(t *testing.T) {
	template, err := filepath.Abs("../../plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for i := range 2 {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{
			"bin/linux-amd64/kubectl-clusterops":       "ELF linux",
			"bin/windows-arm64/kubectl-clusterops.exe": "MZ windows",
			"README.md": "readme", "LICENSE": "license",
		})
		touch := time.Now().Add(time.Duration(i) * time.Hour)
		for _, f := range []string{"README.md", "LICENSE"} {
			if err := os.Chtimes(filepath.Join(src, f), touch, touch); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(t.TempDir(), "dist")
		t.Chdir(src)
		if err := run([]string{"-template", template, "-bins", "bin", "-out", out, "-version", "v1.2.3",
			"-epoch", "1700000000", "-platforms", "linux/amd64,windows/arm64"}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	for _, name := range []string{"kubectl-clusterops_v1.2.3_linux_amd64.tar.gz", "kubectl-clusterops_v1.2.3_windows_arm64.zip", "plugins.yaml", "SHA256SUMS"} {
		a, errA := os.ReadFile(filepath.Join(outs[0], name))
		b, errB := os.ReadFile(filepath.Join(outs[1], name))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs (%v, %v)", name, errA, errB)
		}
	}

	f, err := os.Open(filepath.Join(outs[0], "kubectl-clusterops_v1.2.3_linux_amd64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header has name %q / mtime %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.ModTime.Unix() != 1700000000 {
			t.Errorf("%s: uid %d gid %d uname %q mtime %v", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		if h.Name == "kubectl-clusterops" && h.Mode != 0o755 {
			t.Errorf("binary mode %o", h.Mode)
		}
	}
	if strings.Join(names, ",") != "LICENSE,README.md,kubectl-clusterops" {
		t.Errorf("tar entries %v", names)
	}
	zr, err := zip.OpenReader(filepath.Join(outs[0], "kubectl-clusterops_v1.2.3_windows_arm64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if !zf.Modified.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("zip %s mtime %v", zf.Name, zf.Modified)
		}
	}

	p, err := readManifest(filepath.Join(outs[0], "plugins.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Version != "v1.2.3" || len(p.Spec.Platforms) != 2 || p.Spec.Platforms[1].Bin != "kubectl-clusterops.exe" ||
		!strings.HasSuffix(p.Spec.Platforms[0].URI, "/v1.2.3/kubectl-clusterops_v1.2.3_linux_amd64.tar.gz") {
		t.Errorf("rendered manifest: %+v", p.Spec)
	}
	if data, _ := os.ReadFile(filepath.Join(outs[0], "plugins.yaml")); bytes.Contains(data, []byte("creationTimestamp")) {
		t.Errorf("manifest has creationTimestamp:\n%s", data)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ from, to, want string }{
		"long short description": {"shortDescription: Day-2 operations for kubeadm-style clusters",
			"shortDescription: Day-2 operations for kubeadm-style clusters and much more", "at most 50"},
		"wrong name":       {"name: clusterops", "name: cluster-ops", `metadata.name must be "clusterops"`},
		"unknown field":    {"homepage:", "homepag:", "unknown field"},
		"wide description": {"  description: |\n", "  description: |\n    " + strings.Repeat("x", 81) + "\n", "wrap it at 80"},
	}
	for name, c := range cases {
		path := filepath.Join(dir, "p.yaml")
		bad := strings.Replace(string(good), c.from, c.to, 1)
		if bad == string(good) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := run([]string{"-check", path}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
	if err := run([]string{"-check", "../../plugins.yaml"}); err != nil {
		t.Errorf("the repository's plugins.yaml: %v", err)
	}
	if err := run([]string{"-template", "../../plugins.yaml", "-bins", dir, "-version", "1.0"}); err == nil ||
		!strings.Contains(err.Error(), "semantic version") {
		t.Errorf("bad version: %v", err)
	}
}
