package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

//go:generate go run ../../hack/gen-releases -in releases.txt -out zz_generated_releases.go

// Releases is a table of stable Kubernetes releases.
type Releases struct {
	versions []*utilversion.Version // sorted, oldest first
	// Source says where the table came from ("built-in table (...)", a file name, "online").
	Source string
}

// ParseReleases reads a release table: one version a line ("v1.37.2" or "1.37.2"); blank lines
// and text after "#" are ignored. Pre-releases are refused: the table lists stable releases.
func ParseReleases(data []byte, source string) (*Releases, error) {
	r := &Releases{Source: source}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		v, err := utilversion.ParseSemantic(text)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %q is not a version such as v1.37.2", source, line, text)
		}
		if v.PreRelease() != "" || v.BuildMetadata() != "" {
			return nil, fmt.Errorf("%s line %d: %q is not a stable release", source, line, text)
		}
		r.versions = append(r.versions, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", source, err)
	}
	if len(r.versions) == 0 {
		return nil, fmt.Errorf("%s lists no release: write one version a line, such as v1.37.2", source)
	}
	r.sort()
	return r, nil
}

func (r *Releases) sort() {
	slices.SortFunc(r.versions, func(a, b *utilversion.Version) int { c, _ := a.Compare(b.String()); return c })
	r.versions = slices.CompactFunc(r.versions, func(a, b *utilversion.Version) bool { return a.EqualTo(b) })
}

// BuiltinReleases is the table compiled into the binary (zz_generated_releases.go).
func BuiltinReleases() *Releases {
	r, err := ParseReleases([]byte(strings.Join(builtinReleases, "\n")), "built-in table")
	if err != nil { // the generator validated it
		panic(err)
	}
	r.Source = "built-in table (" + builtinReleasesNote + ")"
	return r
}

// Versions returns the table's versions, oldest first.
func (r *Releases) Versions() []string {
	out := make([]string, len(r.versions))
	for i, v := range r.versions {
		out[i] = "v" + v.String()
	}
	return out
}

// LatestPatch returns the newest release of major.minor, if the table has one.
func (r *Releases) LatestPatch(major, minor uint) (*utilversion.Version, bool) {
	var best *utilversion.Version
	for _, v := range r.versions {
		if v.Major() == major && v.Minor() == minor {
			best = v
		}
	}
	return best, best != nil
}

// Newest returns the newest release in the table.
func (r *Releases) Newest() *utilversion.Version { return r.versions[len(r.versions)-1] }

// Contains says whether the table lists v exactly.
func (r *Releases) Contains(v *utilversion.Version) bool {
	return slices.ContainsFunc(r.versions, func(x *utilversion.Version) bool { return x.EqualTo(v) })
}

// Merge adds the versions of other.
func (r *Releases) Merge(other *Releases) {
	r.versions = append(r.versions, other.versions...)
	r.sort()
}

// StableMarkerURL is the official marker of the newest stable release of a minor.
func StableMarkerURL(major, minor uint) string {
	return fmt.Sprintf("https://dl.k8s.io/release/stable-%d.%d.txt", major, minor)
}

// Getter fetches a URL; it returns found=false for a marker that does not exist (404).
type Getter func(ctx context.Context, url string) (body []byte, found bool, err error)

// FetchStableMarkers reads the stable-MAJOR.MINOR markers from fromMinor upwards until one is
// missing, and returns them as a table. It is only called with --online (or by the generator).
func FetchStableMarkers(ctx context.Context, get Getter, major, fromMinor uint) (*Releases, error) {
	r := &Releases{Source: "online stable markers"}
	for minor := fromMinor; minor < fromMinor+20; minor++ {
		body, found, err := get(ctx, StableMarkerURL(major, minor))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", StableMarkerURL(major, minor), err)
		}
		if !found {
			break
		}
		v, err := utilversion.ParseSemantic(strings.TrimSpace(string(body)))
		if err != nil || v.PreRelease() != "" {
			return nil, fmt.Errorf("%s: unexpected content %.40q", StableMarkerURL(major, minor), body)
		}
		r.versions = append(r.versions, v)
	}
	if len(r.versions) == 0 {
		return nil, fmt.Errorf("no stable marker found from %d.%d on", major, fromMinor)
	}
	r.sort()
	return r, nil
}
