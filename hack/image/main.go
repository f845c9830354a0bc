// Command image builds the plugin's container image with go-containerregistry, the way ko does:
// no Docker, no base image. Per platform, the static binary goes in one layer (fixed mtimes, owner
// 0:0) appended to empty.Image, with the binary as entrypoint and every time in the config set to
// SOURCE_DATE_EPOCH; the platforms form one OCI image index, written as an OCI image layout. The
// same binaries and stamps give the same digest. `make image` and `make dist` run it.
//
// It is its own module, as hack/krew-manifest is: the plugin never needs go-containerregistry at
// run time (the agent only needs the image reference), and go-containerregistry would bring the
// Docker CLI, the moby client and otelhttp into the plugin's module graph.
//
//	image build -bins BUILD -out dist/image -version v0.1.0 -commit SHA -epoch 1700000000
//	image archive -layout dist/image -o image.tar [-platform linux/amd64] [-ref REF]
//	image push -layout dist/image [-ref REF]
//	image digest -layout dist/image
//
// build: BUILD holds one folder per platform, named OS-ARCH, with the binary kubectl-clusterops
// (as hack/dist lays them out). It prints the index digest and the image reference: a release
// version v1.2.3 is ghcr.io/clusterops/kubectl-clusterops:v1.2.3; a dev build has none.
//
// archive: an OCI archive for `ctr -n k8s.io images import` holding one platform's image (default:
// this machine's architecture), named REF (default: the release reference, or
// localhost/kubectl-clusterops:<version> for a dev build). hack/image-import uses it.
//
// push: remote.WriteIndex of the layout's index to REF (default: the release reference), with the
// credentials of the Docker config (docker login / crane auth login). The release process runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const binaryName = "kubectl-clusterops"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: build, archive, push or digest")
	}
	fs := flag.NewFlagSet("image "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "build":
		bins := fs.String("bins", "", "folder with one OS-ARCH folder per platform holding "+binaryName)
		out := fs.String("out", "dist/image", "the OCI image layout to write")
		version := fs.String("version", "", "the plugin version stamped in the binaries (the image tag)")
		commit := fs.String("commit", "unknown", "the source revision (an annotation)")
		epoch := fs.Int64("epoch", -1, "SOURCE_DATE_EPOCH: the image's created time and every mtime in it")
		platforms := fs.String("platforms", "linux/amd64,linux/arm64", "the platforms of the index, in order")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *bins == "" || *version == "" || *epoch < 0 {
			return errors.New("build: -bins, -version and -epoch are required")
		}
		in := buildInput{Binaries: map[string]string{}, Version: *version, Commit: *commit,
			Created: time.Unix(*epoch, 0).UTC()}
		for _, p := range strings.FieldsFunc(*platforms, func(r rune) bool { return r == ',' || r == ' ' }) {
			in.Platforms = append(in.Platforms, p)
			in.Binaries[p] = filepath.Join(*bins, strings.ReplaceAll(p, "/", "-"), binaryName)
		}
		idx, err := buildIndex(in)
		if err != nil {
			return err
		}
		if err := writeLayout(*out, idx, *version); err != nil {
			return err
		}
		return printDigest(stdout, idx, *version)
	case "archive":
		dir := fs.String("layout", "dist/image", "the OCI image layout `image build` wrote")
		out := fs.String("o", "", "the OCI archive (tar) to write")
		platform := fs.String("platform", "linux/"+runtime.GOARCH, "the platform whose image the archive holds")
		refFlag := fs.String("ref", "", "the name containerd gives the image (default: the release reference, or "+localRepository+":<version>)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("archive: -o is required")
		}
		goos, arch, ok := strings.Cut(*platform, "/")
		if !ok || goos == "" || arch == "" {
			return fmt.Errorf("archive: -platform %q: want OS/ARCH, e.g. linux/amd64", *platform)
		}
		idx, desc, err := loadLayout(*dir)
		if err != nil {
			return err
		}
		ref := *refFlag
		if ref == "" {
			if ref = desc.Annotations[annotationImageName]; ref == "" {
				ref = localRepository + ":" + tag(desc.Annotations[annotationVersion])
			}
		}
		tagRef, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("archive: -ref %q: %w", ref, err)
		}
		if err := writeArchive(*out, idx, v1.Platform{OS: goos, Architecture: arch}, tagRef); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "archive: %s\nimage: %s\n", *out, containerdName(tagRef))
		return printDigest(stdout, idx, "")
	case "push":
		dir := fs.String("layout", "dist/image", "the OCI image layout `image build` wrote")
		refFlag := fs.String("ref", "", "where to push (default: the release reference "+repository+":<version>)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		idx, desc, err := loadLayout(*dir)
		if err != nil {
			return err
		}
		ref := *refFlag
		if ref == "" {
			if ref = defaultReference(desc.Annotations[annotationVersion]); ref == "" {
				return fmt.Errorf("push: %s is a dev build (version %q) with no default reference: pass -ref",
					*dir, desc.Annotations[annotationVersion])
			}
		}
		tagRef, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("push: -ref %q: %w", ref, err)
		}
		if err := remote.WriteIndex(tagRef, idx, remote.WithContext(ctx),
			remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return err
		}
		h, err := idx.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pushed: %s@%s\n", tagRef.Name(), h)
		return nil
	case "digest":
		dir := fs.String("layout", "dist/image", "the OCI image layout `image build` wrote")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		desc, err := readLayout(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, desc.Digest)
		return nil
	}
	return fmt.Errorf("unknown command %q: want build, archive, push or digest", args[0])
}

// printDigest prints the index digest and, when version is given, the image reference.
func printDigest(w io.Writer, idx v1.ImageIndex, version string) error {
	h, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "digest: %s\n", h)
	if version == "" {
		return nil
	}
	if ref := defaultReference(version); ref != "" {
		fmt.Fprintf(w, "image: %s\n", ref)
	} else {
		fmt.Fprintf(w, "image: none: %s is a dev build (no release tag), so it has no default reference; "+
			"import it with hack/image-import, or push it under your own tag and pass --image or set CLUSTEROPS_IMAGE\n",
			strconv.Quote(version))
	}
	return nil
}
