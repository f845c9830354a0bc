package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LastAppliedAnnotation is where `kubectl apply` keeps the manifest it last applied.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// scanStored lists, as metadata only, every resource that replaced a removed API, and records the
// objects whose managedFields or last-applied annotation still name the removed version. A
// resource the server does not serve is skipped.
func scanStored(ctx context.Context, src Sources) ([]StoredObject, []MissingFact) {
	targets := StoredScanTargets()
	var (
		mu      sync.Mutex
		objs    []StoredObject
		missing []MissingFact
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 4)
	)
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			gvr := schema.GroupVersionResource{Group: t[0], Version: t[1], Resource: t[2]}
			found, err := scanResource(ctx, src, gvr)
			mu.Lock()
			defer mu.Unlock()
			objs = append(objs, found...)
			if err != nil && !apierrors.IsNotFound(err) {
				missing = append(missing, MissingFact{Fact: "stored " + gvr.Resource + "." + gvr.Group + " (removed-API scan)", Reason: src.describe(err)})
			}
		}()
	}
	wg.Wait()
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		return a.Resource+a.Namespace+a.Name+a.Source+a.Manager < b.Resource+b.Namespace+b.Name+b.Source+b.Manager
	})
	sort.Slice(missing, func(i, j int) bool { return missing[i].Fact < missing[j].Fact })
	return objs, missing
}

func scanResource(ctx context.Context, src Sources, gvr schema.GroupVersionResource) ([]StoredObject, error) {
	var out []StoredObject
	opts := metav1.ListOptions{Limit: src.PageSize}
	for {
		list, err := src.Metadata.Resource(gvr).Namespace(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return out, err
		}
		for i := range list.Items {
			out = append(out, storedVersions(&list.Items[i], gvr)...)
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// storedVersions returns a finding per managedFields entry and per last-applied annotation that
// names an API version the removed table knows for this resource.
func storedVersions(m *metav1.PartialObjectMetadata, gvr schema.GroupVersionResource) []StoredObject {
	var out []StoredObject
	seen := map[string]bool{}
	for _, mf := range m.ManagedFields {
		if mf.APIVersion == "" || !KnownRemoved(mf.APIVersion, gvr.Resource) || seen[mf.Manager+mf.APIVersion] {
			continue
		}
		seen[mf.Manager+mf.APIVersion] = true
		out = append(out, StoredObject{Group: gvr.Group, Resource: gvr.Resource, Namespace: m.Namespace, Name: m.Name,
			APIVersion: mf.APIVersion, Source: SourceManaged, Manager: mf.Manager})
	}
	if la := m.Annotations[LastAppliedAnnotation]; la != "" {
		var head struct {
			APIVersion string `json:"apiVersion"`
		}
		if json.Unmarshal([]byte(la), &head) == nil && KnownRemoved(head.APIVersion, gvr.Resource) {
			out = append(out, StoredObject{Group: gvr.Group, Resource: gvr.Resource, Namespace: m.Namespace, Name: m.Name,
				APIVersion: head.APIVersion, Source: SourceLastApplied})
		}
	}
	return out
}

// ParseDeprecatedMetric reads the apiserver_requested_deprecated_apis series from a Prometheus
// text exposition (the apiserver's /metrics).
func ParseDeprecatedMetric(body []byte) []DeprecatedRequest {
	const name = "apiserver_requested_deprecated_apis{"
	var out []DeprecatedRequest
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		if strings.TrimSpace(line[end+1:]) == "0" {
			continue // a series that was reset
		}
		l := parseLabels(line[len(name):end])
		out = append(out, DeprecatedRequest{Group: l["group"], Version: l["version"], Resource: l["resource"],
			Subresource: l["subresource"], RemovedRelease: l["removed_release"]})
	}
	return out
}

// parseLabels parses `a="x",b="y"` with Prometheus escapes (\\, \", \n).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			break
		}
		key := strings.TrimSpace(strings.TrimLeft(s[:eq], ","))
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(s[i])
		}
		out[key] = val.String()
		s = strings.TrimLeft(s[min(i+1, len(s)):], ", ")
	}
	return out
}
