package cmdutil

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// ImageRepository is where the release process pushes the plugin's image (see README, "Container
// image"); a release's default agent image is ImageRepository:<version>.
const ImageRepository = "ghcr.io/clusterops/kubectl-clusterops"

// ImageEnv overrides the default agent image (mirrors, air-gapped clusters); --image overrides it.
const ImageEnv = "CLUSTEROPS_IMAGE"

var (
	// releaseRe and describeRe decide which versions are releases. hack/image/ref.go (its own
	// module) applies the same rule to name the image it builds: keep the two in step.
	releaseRe  = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	describeRe = regexp.MustCompile(`-[0-9]+-g[0-9a-f]{4,}(-dirty)?$`)

	// imageRefRe is the image reference grammar of github.com/distribution/reference:
	// [DOMAIN[:PORT]/]PATH[/PATH...][:TAG][@ALGORITHM:HEX].
	imageRefRe = regexp.MustCompile(`^` +
		`(?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
		`(?::[\w][\w.-]{0,127})?` +
		`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)
)

// isRelease reports whether version is a release tag (v1.2.3, v1.2.3-rc.1): not v0.0.0-* (a dev
// build, or make dist's v0.0.0-<commit>), not git describe's commits-after-a-tag form
// (v1.2.3-4-gabcdef0), not -dirty.
func isRelease(version string) bool {
	return releaseRe.MatchString(version) && !strings.HasPrefix(version, "v0.0.0") &&
		!describeRe.MatchString(version) && !strings.HasSuffix(version, "-dirty")
}

// AgentImage is the image of the agent pods: the --image flag, else $CLUSTEROPS_IMAGE, else
// ImageRepository:<version> for a release build. A dev build has no default image: it returns an
// ExitCannotRun error saying to pass --image or set CLUSTEROPS_IMAGE, as it does for a value that
// is not an image reference.
func AgentImage(flag string) (string, error) {
	return agentImage(flag, os.Getenv(ImageEnv), gitVersion)
}

func agentImage(flag, env, version string) (string, error) {
	for _, src := range []struct{ name, value string }{{"--image", flag}, {ImageEnv, env}} {
		if src.value == "" {
			continue
		}
		if !imageRefRe.MatchString(src.value) {
			return "", &ExitError{Code: ExitCannotRun, Err: fmt.Errorf(
				"%s %q is not an image reference: want [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. %s:v1.2.3",
				src.name, src.value, ImageRepository)}
		}
		return src.value, nil
	}
	if !isRelease(version) {
		return "", &ExitError{Code: ExitCannotRun, Err: fmt.Errorf(
			"kubectl-clusterops %s is a dev build (no release tag), so it has no default agent image: "+
				"pass --image or set %s (build one with make image)", version, ImageEnv)}
	}
	return ImageRepository + ":" + version, nil
}
