package upgrade

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Helm 3 keeps each revision of a release in a Secret of its release's namespace (helm
// pkg/storage/driver/secrets.go newSecretsObject): named sh.helm.release.v1.NAME.vREVISION, of
// type helm.sh/release.v1, labelled owner=helm, name=NAME, status=STATUS, version=REVISION, with
// data.release = base64(gzip(JSON of the release)) (pkg/storage/driver/util.go encodeRelease).
// The release's rendered manifest is what the next `helm upgrade` diffs against: a removed
// apiVersion in it breaks that upgrade even when the live object was converted long ago. That
// is what pluto's `detect-helm` and kubent's helm3 collector read.
const (
	HelmSecretType = "helm.sh/release.v1"
	// SourceHelmPrefix starts the Source of a finding from a Helm release: "helm release NAME
	// (NAMESPACE, revision N)".
	SourceHelmPrefix = "helm release "
	// maxReleaseBytes bounds one decompressed release (Secrets are at most 1 MiB; gzip of
	// rendered YAML rarely compresses more than 20x).
	maxReleaseBytes = 64 << 20
)

// HelmObject is one object of a Helm release's manifest whose apiVersion the removed-API table
// knows.
type HelmObject struct {
	Release, Namespace string // the release and its namespace
	Revision           int
	APIVersion, Kind   string
	Resource           string // the resource the kind is served as (guessed as kubectl does)
	Name               string // namespace/name or name of the object in the manifest
}

// helmRelease is the part of Helm's release JSON (helm pkg/release/release.go) that is read.
type helmRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Version   int    `json:"version"`
	Info      struct {
		Status string `json:"status"`
	} `json:"info"`
	Manifest string `json:"manifest"`
	Hooks    []struct {
		Manifest string `json:"manifest"`
	} `json:"hooks"`
}

// helmPick is the Secret that holds the newest deployed revision of one release.
type helmPick struct {
	namespace, secret string
	revision          int
}

// scanHelm finds, in the latest deployed revision of every Helm 3 release, the objects whose
// apiVersion the removed-API table knows. The Secrets are listed as metadata only, page by page
// (a release Secret can hold up to 1 MiB), the newest deployed revision of each release name is
// picked from the labels, and only those Secrets are read, one per worker at a time.
func scanHelm(ctx context.Context, src Sources) ([]HelmObject, error) {
	picks := map[string]helmPick{}
	opts := metav1.ListOptions{Limit: src.PageSize, LabelSelector: "owner=helm,status=deployed"}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	for {
		list, err := src.Metadata.Resource(gvr).Namespace(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, m := range list.Items {
			rev, err := strconv.Atoi(m.Labels["version"])
			name := m.Labels["name"]
			if err != nil || name == "" {
				continue
			}
			key := m.Namespace + "/" + name
			if old, ok := picks[key]; !ok || rev > old.revision {
				picks[key] = helmPick{namespace: m.Namespace, secret: m.Name, revision: rev}
			}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	keys := make([]string, 0, len(picks))
	for k := range picks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		out   []HelmObject
		first error
		next  = make(chan helmPick)
	)
	for range min(4, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				objs, err := readHelmRelease(ctx, src, p)
				mu.Lock()
				out = append(out, objs...)
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		next <- picks[k]
	}
	close(next)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Namespace+"/"+a.Release+"\x00"+a.Name+a.Kind < b.Namespace+"/"+b.Release+"\x00"+b.Name+b.Kind
	})
	return out, first
}

// readHelmRelease reads one release Secret and scans its manifests. A Secret that is gone (a
// newer revision replaced it meanwhile) is skipped.
func readHelmRelease(ctx context.Context, src Sources, p helmPick) ([]HelmObject, error) {
	s, err := src.Client.CoreV1().Secrets(p.namespace).Get(ctx, p.secret, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if s.Type != HelmSecretType {
		return nil, nil
	}
	rel, err := decodeHelmRelease(s)
	if err != nil {
		return nil, fmt.Errorf("helm release Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if rel.Info.Status != "deployed" {
		return nil, nil
	}
	if rel.Namespace == "" {
		rel.Namespace = s.Namespace
	}
	manifests := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		manifests = append(manifests, h.Manifest)
	}
	var out []HelmObject
	for _, m := range manifests {
		out = append(out, helmObjects(rel, m)...)
	}
	return out, nil
}

// decodeHelmRelease undoes Helm's encodeRelease: base64, then gzip (when the gzip magic is there:
// releases stored before compression are plain JSON, as decodeRelease allows), then JSON.
func decodeHelmRelease(s *corev1.Secret) (*helmRelease, error) {
	raw, ok := s.Data["release"]
	if !ok {
		return nil, errors.New("no data.release")
	}
	b, err := base64.StdEncoding.DecodeString(string(raw))
	if err != nil {
		return nil, fmt.Errorf("data.release is not base64: %w", err)
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b, 0x08}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("data.release is not gzip: %w", err)
		}
		if b, err = io.ReadAll(io.LimitReader(zr, maxReleaseBytes+1)); err != nil {
			return nil, fmt.Errorf("data.release is not gzip: %w", err)
		}
		if len(b) > maxReleaseBytes {
			return nil, fmt.Errorf("the release is larger than %d MiB decompressed", maxReleaseBytes>>20)
		}
	}
	var rel helmRelease
	if err := json.Unmarshal(b, &rel); err != nil {
		return nil, fmt.Errorf("the release is not JSON: %w", err)
	}
	return &rel, nil
}

// helmObjects splits a rendered manifest into its YAML documents and keeps those whose
// apiVersion and kind the removed-API table knows. A document that does not parse is skipped,
// as Helm itself would have refused it.
func helmObjects(rel *helmRelease, manifest string) []HelmObject {
	var out []HelmObject
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if err != nil {
			return out
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if yaml.Unmarshal(doc, &head) != nil || head.APIVersion == "" || head.Kind == "" {
			continue
		}
		gv, err := schema.ParseGroupVersion(head.APIVersion)
		if err != nil {
			continue
		}
		// The plural as kubectl and client-go guess it (Ingress -> ingresses, PodSecurityPolicy
		// -> podsecuritypolicies): every kind of the removed table follows it.
		plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(head.Kind))
		if !KnownRemoved(head.APIVersion, plural.Resource) {
			continue
		}
		name := head.Metadata.Name
		if head.Metadata.Namespace != "" {
			name = head.Metadata.Namespace + "/" + name
		}
		out = append(out, HelmObject{Release: rel.Name, Namespace: rel.Namespace, Revision: rel.Version,
			APIVersion: head.APIVersion, Kind: head.Kind, Resource: plural.Resource, Name: name})
	}
}

// helmSource is the Source of a finding from a Helm release.
func helmSource(o HelmObject) string {
	return fmt.Sprintf("%s%s (%s, revision %d)", SourceHelmPrefix, o.Release, o.Namespace, o.Revision)
}
