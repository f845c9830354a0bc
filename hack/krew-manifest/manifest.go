package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/krew/pkg/constants"
	"sigs.k8s.io/krew/pkg/index"
	"sigs.k8s.io/yaml"
)

const (
	pluginName          = "clusterops"
	maxShortDescription = 50
	maxColumns          = 80
)

// semverRE is krew's own rule for spec.version: a "v"-prefixed semantic version.
var semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// readManifest reads a krew plugin manifest into krew's own type. Unknown
// fields are an error, so a typo in plugins.yaml cannot slip through.
func readManifest(path string) (index.Plugin, error) {
	var p index.Plugin
	data, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return p, fmt.Errorf("%s is not a krew plugin manifest: %w", path, err)
	}
	return p, nil
}

// checkText checks the parts of the manifest a person writes: kind, name,
// homepage, a one-line short description of at most 50 characters, and a
// description and caveats wrapped at 80 columns.
func checkText(p index.Plugin) error {
	var errs []error
	if p.APIVersion != constants.CurrentAPIVersion || p.Kind != constants.PluginKind {
		errs = append(errs, fmt.Errorf("apiVersion/kind must be %s/%s, got %s/%s",
			constants.CurrentAPIVersion, constants.PluginKind, p.APIVersion, p.Kind))
	}
	if p.Name != pluginName {
		errs = append(errs, fmt.Errorf("metadata.name must be %q, got %q", pluginName, p.Name))
	}
	if !strings.HasPrefix(p.Spec.Homepage, "https://") {
		errs = append(errs, fmt.Errorf("spec.homepage must be an https:// URL, got %q", p.Spec.Homepage))
	}
	short := p.Spec.ShortDescription
	switch {
	case short == "":
		errs = append(errs, errors.New("spec.shortDescription is empty"))
	case strings.ContainsAny(short, "\r\n"):
		errs = append(errs, errors.New("spec.shortDescription must be one line"))
	case utf8.RuneCountInString(short) > maxShortDescription:
		errs = append(errs, fmt.Errorf("spec.shortDescription has %d characters, at most %d are allowed",
			utf8.RuneCountInString(short), maxShortDescription))
	}
	for field, text := range map[string]string{"description": p.Spec.Description, "caveats": p.Spec.Caveats} {
		if strings.TrimSpace(text) == "" {
			errs = append(errs, fmt.Errorf("spec.%s is empty", field))
		}
		for i, line := range strings.Split(text, "\n") {
			if n := utf8.RuneCountInString(line); n > maxColumns {
				errs = append(errs, fmt.Errorf("spec.%s line %d has %d columns, wrap it at %d", field, i+1, n, maxColumns))
			}
			if strings.TrimRight(line, " \t") != line {
				errs = append(errs, fmt.Errorf("spec.%s line %d ends in spaces (YAML would quote the whole text)", field, i+1))
			}
		}
	}
	return errors.Join(errs...)
}

// checkRelease checks what `make dist` fills in: the version and one
// platform per os/arch with a selector, uri, sha256, files and bin.
func checkRelease(p index.Plugin, want []osArch) error {
	var errs []error
	if !semverRE.MatchString(p.Spec.Version) {
		errs = append(errs, fmt.Errorf("spec.version %q is not a v-prefixed semantic version", p.Spec.Version))
	}
	seen := map[osArch]bool{}
	for i, pl := range p.Spec.Platforms {
		if pl.Selector == nil || len(pl.Selector.MatchLabels) != 2 {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: the selector must match exactly os and arch", i))
			continue
		}
		oa := osArch{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		if seen[oa] {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: %s is listed twice", i, oa))
		}
		seen[oa] = true
		if !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(pl.Sha256) {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: sha256 %q is not 64 lowercase hex digits", i, pl.Sha256))
		}
		if !strings.HasPrefix(pl.URI, "https://") {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: uri %q is not https://", i, pl.URI))
		}
		if pl.Bin != oa.binary() || len(pl.Files) == 0 {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: bin must be %q and files must be listed", i, oa.binary()))
		}
	}
	for _, oa := range want {
		if !seen[oa] {
			errs = append(errs, fmt.Errorf("spec.platforms: %s is missing", oa))
		}
	}
	return errors.Join(errs...)
}

// platform is the manifest entry for one archive.
func platform(oa osArch, uri, sha string, files []archiveFile) index.Platform {
	p := index.Platform{
		URI:      uri,
		Sha256:   sha,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"os": oa.OS, "arch": oa.Arch}},
		Bin:      oa.binary(),
	}
	for _, f := range files {
		p.Files = append(p.Files, index.FileOperation{From: f.Name, To: "."})
	}
	return p
}

// renderManifest turns p into YAML: krew's types marshalled by sigs.k8s.io/yaml
// (keys sorted, so the output is stable), without the creationTimestamp: null
// that metav1.ObjectMeta would add, and with a header comment.
func renderManifest(p index.Plugin) ([]byte, error) {
	data, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	var generic map[string]any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return nil, err
	}
	if meta, ok := generic["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	body, err := yaml.Marshal(generic)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("# Krew plugin manifest for kubectl clusterops. Edit the texts (descriptions,\n")
	out.WriteString("# caveats, homepage) here; `make dist` (hack/krew-manifest) reads them with\n")
	out.WriteString("# krew's types and renders dist/plugins.yaml with the version, URIs and\n")
	out.WriteString("# sha256s; `make release-manifest VERSION=vX.Y.Z` copies that back here.\n")
	out.Write(body)
	return out.Bytes(), nil
}

// writeManifest renders p to path (through path.part) and reads the file back
// with krew's types: it must give p again.
func writeManifest(path string, p index.Plugin) error {
	data, err := renderManifest(p)
	if err != nil {
		return err
	}
	part := path + ".part"
	if err := os.WriteFile(part, data, 0o644); err != nil {
		return err
	}
	back, err := readManifest(part)
	if err != nil {
		os.Remove(part)
		return err
	}
	if !reflect.DeepEqual(back, p) {
		os.Remove(part)
		return fmt.Errorf("the rendered manifest does not read back as the same plugin:\n%s", data)
	}
	return os.Rename(part, path)
}
