//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// distVersion is stamped into the archives `make dist` builds for these tests, so the tests can
// tell the krew-installed plugin from the one TestMain built.
const distVersion = "v0.1.0-e2e.1"

// makeDist runs `make dist` in dir into out with fixed stamps (the same for every run).
func makeDist(t *testing.T, dir, out string, platforms ...string) {
	t.Helper()
	args := []string{"dist", "DIST=" + out, "VERSION=" + distVersion, "COMMIT=0123456789abcdef",
		"BUILD_DATE=2026-01-02T03:04:05Z", "SOURCE_DATE_EPOCH=1767323045"}
	if len(platforms) > 0 {
		args = append(args, "PLATFORMS="+strings.Join(platforms, " "))
	}
	cmd := exec.Command("make", args...)
	cmd.Dir = dir
	msg, err := cmd.CombinedOutput()
	t.Logf("$ make dist DIST=%s (in %s)\n%s", out, dir, msg)
	if err != nil {
		t.Fatalf("make dist: %v", err)
	}
}

// copySource copies the checkout's files (tracked and new, not ignored) to dst, so a second build
// runs from another path with no .git: -trimpath and the fixed stamps must make that irrelevant.
func copySource(t *testing.T, root, dst string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the worktree, or not a regular file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// The release path end to end, with the real tools: `make dist` builds six archives, renders
// plugins.yaml and writes the container image's OCI layout; a second `make dist` from a copy of the
// source in another folder gives the same bytes (and so the same image digest); krew's own validate-krew-manifest accepts the manifest; the real krew v0.4.3 installs the
// linux/amd64 archive from it; the real kubectl v1.37.2 then runs the installed plugin; and
// completion works through kubectl once kubectl_complete-clusterops is installed.
func TestKrewReleasePath(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	krewBins, err := harness.Binaries("krew", "validate-krew-manifest")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	distA := filepath.Join(work, "dist-a")
	makeDist(t, root, distA)

	var archives []string
	t.Run("six archives and a manifest", func(t *testing.T) {
		sums, err := os.ReadFile(filepath.Join(distA, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"linux_amd64.tar.gz", "linux_arm64.tar.gz", "darwin_amd64.tar.gz",
			"darwin_arm64.tar.gz", "windows_amd64.zip", "windows_arm64.zip"} {
			name := "kubectl-clusterops_" + distVersion + "_" + want
			if _, err := os.Stat(filepath.Join(distA, name)); err != nil || !strings.Contains(string(sums), name) {
				t.Errorf("%s: missing (%v) or not in SHA256SUMS", name, err)
			}
			archives = append(archives, name)
		}
		// The tar lists LICENSE, README.md and the binary, sorted, owned by 0 with the fixed mtime.
		tv := exec.Command("tar", "--numeric-owner", "--full-time", "-tvzf",
			filepath.Join(distA, "kubectl-clusterops_"+distVersion+"_linux_amd64.tar.gz"))
		out, err := tv.CombinedOutput()
		if err != nil {
			t.Fatalf("tar -t: %v\n%s", err, out)
		}
		t.Logf("tar -tv:\n%s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 3 || !strings.HasSuffix(lines[0], " LICENSE") || !strings.HasSuffix(lines[1], " README.md") ||
			!strings.HasSuffix(lines[2], " kubectl-clusterops") || !strings.HasPrefix(lines[2], "-rwxr-xr-x 0/0") ||
			!strings.Contains(lines[0], "2026-01-02 03:04:05") {
			t.Errorf("unexpected tar listing:\n%s", out)
		}
	})

	// The second build cross-compiles the two linux platforms only (the image is made of those, so
	// it is compared whole): the six-platform build is the expensive part of this test, and the
	// other four archives are built the same way. CLUSTEROPS_REPRO_ALL=1 compares all six, the
	// manifest and SHA256SUMS too.
	t.Run("make dist twice gives identical bytes", func(t *testing.T) {
		src := filepath.Join(work, "src-copy")
		copySource(t, root, src)
		distB := filepath.Join(work, "dist-b")
		compare := append(slices.Clone(archives), "plugins.yaml", "SHA256SUMS")
		if os.Getenv("CLUSTEROPS_REPRO_ALL") == "" {
			makeDist(t, src, distB, "linux/amd64", "linux/arm64")
			compare = slices.DeleteFunc(slices.Clone(archives), func(n string) bool { return !strings.Contains(n, "_linux_") })
		} else {
			makeDist(t, src, distB)
		}
		if len(compare) < 2 {
			t.Fatalf("nothing to compare: %v", compare)
		}
		for _, name := range compare {
			a, errA := os.ReadFile(filepath.Join(distA, name))
			b, errB := os.ReadFile(filepath.Join(distB, name))
			if errA != nil || errB != nil {
				t.Errorf("%s: %v %v", name, errA, errB)
			} else if !bytes.Equal(a, b) {
				t.Errorf("%s differs between the two builds", name)
			}
		}
		sums, _ := os.ReadFile(filepath.Join(distB, "SHA256SUMS"))
		t.Logf("second build SHA256SUMS (the archives compared are identical to the first's: %v):\n%s", compare, sums)

		// The container image beside the archives: the same OCI layout, byte for byte (so the same
		// index digest), with the linux/amd64 and linux/arm64 images.
		imageA := filepath.Join(distA, "image")
		sumsA, sumsB := fileSums(t, imageA), fileSums(t, filepath.Join(distB, "image"))
		if len(sumsA) != 9 { // oci-layout, index.json, the index, and per platform a manifest, a config and a layer
			t.Errorf("dist/image holds %d files, want 9: %v", len(sumsA), slices.Sorted(maps.Keys(sumsA)))
		}
		if !maps.Equal(sumsA, sumsB) {
			t.Errorf("dist/image differs between the two builds:\n%v\n%v", sumsA, sumsB)
		}
		var index struct {
			Manifests []struct {
				Digest      string            `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		raw, err := os.ReadFile(filepath.Join(imageA, "index.json"))
		if err != nil || json.Unmarshal(raw, &index) != nil || len(index.Manifests) != 1 {
			t.Fatalf("dist/image/index.json: %v\n%s", err, raw)
		}
		top := index.Manifests[0]
		wantRef := "ghcr.io/clusterops/kubectl-clusterops:" + distVersion
		if top.Annotations["io.containerd.image.name"] != wantRef {
			t.Errorf("the image of %s is named %q, want %q", distVersion, top.Annotations["io.containerd.image.name"], wantRef)
		}
		indexBlob, err := os.ReadFile(filepath.Join(imageA, "blobs", "sha256", strings.TrimPrefix(top.Digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			if !bytes.Contains(indexBlob, []byte(`"platform":{"architecture":"`+arch+`","os":"linux"}`)) {
				t.Errorf("the image index %s has no linux/%s image:\n%s", top.Digest, arch, indexBlob)
			}
		}
		t.Logf("image index digest (identical in both builds): %s", top.Digest)
	})

	tools := harness.CLI{Dirs: []string{krewBins}, Env: []string{"KUBECONFIG="}}
	t.Run("validate-krew-manifest", func(t *testing.T) {
		manifest, err := os.ReadFile(filepath.Join(distA, "plugins.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		good := filepath.Join(dir, "clusterops.yaml")
		if err := os.WriteFile(good, manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := tools.Run(t, nil, "validate-krew-manifest", "-manifest", good, "-skip-install"); r.Code != 0 {
			t.Errorf("krew rejects our manifest: exit %d\n%s", r.Code, r.Stderr)
		}
		// The validator does validate: a manifest whose sha256 is broken is rejected.
		bad := filepath.Join(dir, "broken", "clusterops.yaml")
		_ = os.MkdirAll(filepath.Dir(bad), 0o755)
		broken := strings.Replace(string(manifest), "sha256: ", "sha256: zz", 1)
		if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := tools.Run(t, nil, "validate-krew-manifest", "-manifest", bad, "-skip-install"); r.Code == 0 {
			t.Error("validate-krew-manifest accepted a broken sha256: the check proves nothing")
		}
	})

	krewRoot := filepath.Join(work, "krew-root")
	krewBin := filepath.Join(krewRoot, "bin")
	// Only krew's bin folder and the upstream binaries: the plugin kubectl finds is krew's.
	user := harness.CLI{Dirs: []string{krewBin, env.binDir, krewBins},
		// KREW_NO_UPGRADE_CHECK: krew would otherwise ask api.github.com for its latest release.
		Env: []string{"KUBECONFIG=", "KREW_ROOT=" + krewRoot, "HOME=" + work, "KREW_NO_UPGRADE_CHECK=1"}}
	t.Run("krew install and kubectl clusterops version", func(t *testing.T) {
		r := user.Run(t, nil, "krew", "install", "--manifest="+filepath.Join(distA, "plugins.yaml"),
			"--archive="+filepath.Join(distA, "kubectl-clusterops_"+distVersion+"_linux_amd64.tar.gz"))
		if r.Code != 0 {
			t.Fatalf("krew install: exit %d\n%s", r.Code, r.Stderr)
		}
		if fi, err := os.Lstat(filepath.Join(krewBin, "kubectl-clusterops")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("krew did not link kubectl-clusterops into KREW_ROOT/bin: %v", err)
		}
		// krew's receipt records the installed manifest (`krew list` needs an index, which CI cannot fetch).
		receipt, err := os.ReadFile(filepath.Join(krewRoot, "receipts", "clusterops.yaml"))
		if err != nil || !strings.Contains(string(receipt), "version: "+distVersion) {
			t.Errorf("krew receipt for clusterops %s: %v\n%s", distVersion, err, receipt)
		}
		if target, err := filepath.EvalSymlinks(filepath.Join(krewBin, "kubectl-clusterops")); err != nil ||
			!strings.Contains(target, filepath.Join("store", "clusterops", distVersion)) {
			t.Errorf("kubectl-clusterops links to %q (%v), want krew's store/clusterops/%s", target, err, distVersion)
		}
		out := user.Run(t, nil, "kubectl", "clusterops", "version", "-o", "json", "--kubeconfig", env.cp.AdminKubeconfig)
		got := parseVersion(t, result{stdout: out.Stdout, stderr: out.Stderr, code: out.Code})
		if got.ClientVersion.GitVersion != distVersion {
			t.Errorf("kubectl ran clientVersion %q, want the krew-installed %q", got.ClientVersion.GitVersion, distVersion)
		}
		if got.ServerVersion == nil || got.ServerVersion.GitVersion != harness.KubernetesVersion || got.Server != env.cp.Server {
			t.Errorf("server %q version %+v, want %s from %s", got.Server, got.ServerVersion, harness.KubernetesVersion, env.cp.Server)
		}
	})

	t.Run("completion through kubectl", func(t *testing.T) {
		words := func(r harness.Result) []string {
			var w []string
			for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
				if l != "" && !strings.HasPrefix(l, ":") {
					word, _, _ := strings.Cut(l, "\t")
					w = append(w, word)
				}
			}
			return w
		}
		// Without the helper kubectl cannot complete inside the plugin.
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "ver")); slices.Contains(got, "version") {
			t.Fatalf("completed %v without kubectl_complete-clusterops: the test below would prove nothing", got)
		}
		r := user.Run(t, nil, "kubectl", "clusterops", "completion", "kubectl-plugin", "--install")
		helper := filepath.Join(krewBin, "kubectl_complete-clusterops")
		if fi, err := os.Stat(helper); r.Code != 0 || err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("--install: exit %d, helper %v %v\n%s", r.Code, fi, err, r.Stderr)
		}
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "ver")); !slices.Equal(got, []string{"version"}) {
			t.Errorf("kubectl __complete clusterops ver: %v", got)
		}
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "completion", "")); !slices.Contains(got, "kubectl-plugin") || !slices.Contains(got, "zsh") {
			t.Errorf("kubectl __complete clusterops completion: %v", got)
		}
		kubeconfig := twoContextKubeconfig(t)
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "version", "--kubeconfig", kubeconfig, "--context", "")); !slices.Equal(got, []string{"e2e", "e2e-other"}) {
			t.Errorf("--context: %v", got)
		}
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "version", "--kubeconfig", kubeconfig, "--context", "e2e-")); !slices.Equal(got, []string{"e2e-other"}) {
			t.Errorf("--context e2e-: %v", got)
		}
		// -n lists the real cluster's namespaces.
		if got := words(user.Run(t, nil, "kubectl", "__complete", "clusterops", "version", "--kubeconfig", env.cp.AdminKubeconfig, "-n", "kube-")); !slices.Contains(got, "kube-system") || !slices.Contains(got, "kube-public") || slices.Contains(got, "default") {
			t.Errorf("-n kube-: %v", got)
		}
	})
}

// twoContextKubeconfig is the admin kubeconfig with a second context, "e2e-other", for the same cluster.
func twoContextKubeconfig(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cur := *cfg.Contexts[cfg.CurrentContext]
	for name := range cfg.Contexts {
		delete(cfg.Contexts, name)
	}
	cfg.Contexts["e2e"] = &cur
	other := cur
	cfg.Contexts["e2e-other"] = &other
	cfg.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), "contexts.conf")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
