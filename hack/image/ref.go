package main

import (
	"regexp"
	"strings"
)

// repository is where the release process pushes the image.
// Keep it and isRelease in step with pkg/plugin/cmdutil/image.go (the CLI's default image).
const repository = "ghcr.io/clusterops/kubectl-clusterops"

// localRepository names a dev build imported into a node's containerd: it has no default reference.
const localRepository = "localhost/kubectl-clusterops"

var (
	semverRe   = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	describeRe = regexp.MustCompile(`-[0-9]+-g[0-9a-f]{4,}(-dirty)?$`)
	tagBadRe   = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
)

// isRelease reports whether version is a release tag (v1.2.3, v1.2.3-rc.1), which has a default
// image: not v0.0.0-* (a dev build, or make dist's v0.0.0-<commit>), not git describe's
// commits-after-a-tag form (v1.2.3-4-gabcdef0), not -dirty.
func isRelease(version string) bool {
	return semverRe.MatchString(version) && !strings.HasPrefix(version, "v0.0.0") &&
		!describeRe.MatchString(version) && !strings.HasSuffix(version, "-dirty")
}

// defaultReference is the image reference for a release version, and "" for a dev build.
func defaultReference(version string) string {
	if !isRelease(version) {
		return ""
	}
	return repository + ":" + version
}

// tag turns any version into a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
func tag(version string) string {
	t := tagBadRe.ReplaceAllString(version, "-")
	if t == "" || t[0] == '.' || t[0] == '-' {
		t = "v" + t
	}
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
