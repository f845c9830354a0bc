# Shared by hack/dist (`make dist`) and hack/build-image (`make image`): reproducible cross builds
# of the plugin and the plugin's image. Needs VERSION, COMMIT and BUILD_DATE (and SOURCE_DATE_EPOCH
# for the image); run from the repository root.
# shellcheck shell=bash

# cross_build OUT PLATFORM...: OUT/OS-ARCH/kubectl-clusterops[.exe] for each OS/ARCH, static
# (CGO off), -trimpath, -buildvcs=false, -buildid= and the version, commit and build date stamped
# in: no path or VCS state of this checkout gets in.
cross_build() {
  local out=$1 p os arch ext start=$SECONDS; shift
  local pkg=github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil
  local ldflags="-s -w -buildid= -X $pkg.gitVersion=$VERSION -X $pkg.gitCommit=$COMMIT -X $pkg.buildDate=$BUILD_DATE"
  for p in "$@"; do
    os=${p%/*} arch=${p#*/} ext=
    [ "$os" = windows ] && ext=.exe
    echo "${me:-build}: building $os/$arch" >&2
    # GOAMD64/GOARM64 pinned to the defaults so a developer's environment cannot change the code.
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOAMD64=v1 GOARM64=v8.0 GOFLAGS= \
      go build -trimpath -buildvcs=false -ldflags "$ldflags" \
      -o "$out/$os-$arch/kubectl-clusterops$ext" ./cmd/kubectl-clusterops
  done
  echo "${me:-build}: built $* in $((SECONDS - start))s" >&2
}

# build_image WORK BINS OUT PLATFORM...: the OCI image layout OUT (an index of the linux
# PLATFORMs, one layer each) from the binaries cross_build put in BINS, with hack/image (its own
# module, go-containerregistry); the tool is built into WORK. Prints the index digest and the image
# reference on stdout.
build_image() {
  local work=$1 bins=$2 out=$3; shift 3
  (cd hack/image && GOFLAGS= go build -trimpath -o "$work/image" .)
  local platforms=$*
  "$work/image" build -bins "$bins" -out "$out" -version "$VERSION" -commit "$COMMIT" \
    -epoch "$SOURCE_DATE_EPOCH" -platforms "${platforms// /,}"
}
