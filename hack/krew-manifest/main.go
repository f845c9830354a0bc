// Command krew-manifest packs the release archives of kubectl-clusterops and
// renders their Krew plugin manifest with krew's own types
// (sigs.k8s.io/krew/pkg/index). `make dist` (hack/dist) runs it after the
// cross builds. It is its own module because krew v0.4.3 pins an old
// k8s.io/apimachinery that the plugin's module must not be held back to.
//
//	krew-manifest -template plugins.yaml -bins BUILD -out dist -version v0.1.0 \
//	    -epoch 1700000000 -files LICENSE,README.md
//	krew-manifest -check plugins.yaml      # only check a manifest
//
// BUILD holds one folder per platform, named OS-ARCH, with the binary
// (kubectl-clusterops, or kubectl-clusterops.exe on windows). The archives are
// OUT/kubectl-clusterops_VERSION_OS_ARCH.tar.gz (.zip on windows) and the
// manifest is OUT/plugins.yaml; OUT/SHA256SUMS lists every archive.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const binaryName = "kubectl-clusterops"

// osArch is one release platform.
type osArch struct{ OS, Arch string }

func (p osArch) String() string { return p.OS + "/" + p.Arch }

func (p osArch) binary() string {
	if p.OS == "windows" {
		return binaryName + ".exe"
	}
	return binaryName
}

func (p osArch) archive(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", binaryName, version, p.OS, p.Arch, ext)
}

func parsePlatforms(s string) ([]osArch, error) {
	var out []osArch
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		goos, arch, ok := strings.Cut(f, "/")
		if !ok || goos == "" || arch == "" {
			return nil, fmt.Errorf("platform %q: want OS/ARCH, e.g. linux/amd64", f)
		}
		out = append(out, osArch{OS: goos, Arch: arch})
	}
	if len(out) == 0 {
		return nil, errors.New("no platforms given")
	}
	return out, nil
}

const defaultPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "krew-manifest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("krew-manifest", flag.ContinueOnError)
	check := fs.String("check", "", "only check this manifest (texts always; platforms if it has any) and exit")
	template := fs.String("template", "plugins.yaml", "manifest whose metadata, descriptions, caveats and homepage are used")
	bins := fs.String("bins", "", "folder with one OS-ARCH folder per platform holding the binary")
	out := fs.String("out", "dist", "output folder for the archives, plugins.yaml and SHA256SUMS")
	version := fs.String("version", "", "release version, v-prefixed semver (spec.version)")
	uriBase := fs.String("uri-base", "https://github.com/clusterops/kubectl-clusterops/releases/download/{{version}}",
		"URL folder of the published archives; {{version}} is replaced")
	epoch := fs.Int64("epoch", 0, "mtime (seconds since 1970, SOURCE_DATE_EPOCH) of every archive entry")
	extra := fs.String("files", "LICENSE,README.md", "comma-separated files put next to the binary in every archive")
	platforms := fs.String("platforms", defaultPlatforms, "comma-separated OS/ARCH list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want, err := parsePlatforms(*platforms)
	if err != nil {
		return err
	}
	if *check != "" {
		p, err := readManifest(*check)
		if err != nil {
			return err
		}
		if err := checkText(p); err != nil {
			return fmt.Errorf("%s:\n%w", *check, err)
		}
		if len(p.Spec.Platforms) > 0 {
			if err := checkRelease(p, want); err != nil {
				return fmt.Errorf("%s:\n%w", *check, err)
			}
		}
		return nil
	}
	if *bins == "" || *version == "" {
		return errors.New("-bins and -version are required (or -check FILE)")
	}
	if !semverRE.MatchString(*version) {
		return fmt.Errorf("-version %q is not a v-prefixed semantic version such as v0.1.0 (krew requires one)", *version)
	}
	p, err := readManifest(*template)
	if err != nil {
		return err
	}
	if err := checkText(p); err != nil {
		return fmt.Errorf("%s:\n%w", *template, err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	mtime := time.Unix(*epoch, 0).UTC()
	base := strings.TrimSuffix(strings.ReplaceAll(*uriBase, "{{version}}", *version), "/")
	p.Spec.Version = *version
	p.Spec.Platforms = nil
	var sums strings.Builder
	for _, oa := range want {
		files := []archiveFile{{Name: oa.binary(), Path: filepath.Join(*bins, oa.OS+"-"+oa.Arch, oa.binary()), Mode: 0o755}}
		for _, f := range strings.Split(*extra, ",") {
			if f = strings.TrimSpace(f); f != "" {
				files = append(files, archiveFile{Name: filepath.Base(f), Path: f, Mode: 0o644})
			}
		}
		name := oa.archive(*version)
		path := filepath.Join(*out, name)
		if err := writeArchive(path, files, mtime); err != nil {
			return err
		}
		sha, err := fileSHA256(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", sha, name)
		p.Spec.Platforms = append(p.Spec.Platforms, platform(oa, base+"/"+name, sha, files))
	}
	if err := checkRelease(p, want); err != nil {
		return err
	}
	if err := writeManifest(filepath.Join(*out, "plugins.yaml"), p); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(sums.String())
	return nil
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
