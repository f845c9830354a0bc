// Package helmtest builds Helm 3 release Secrets the way Helm itself stores them, for tests.
package helmtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Release is one revision of a Helm release.
type Release struct {
	Name, Namespace string
	Revision        int
	Status          string // deployed, superseded, failed, ...
	Manifest        string
	HookManifests   []string
}

// Secret is the Secret Helm v3 writes for the release: helm pkg/storage/driver/secrets.go
// newSecretsObject (name sh.helm.release.v1.NAME.vREVISION from pkg/storage/storage.go makeKey;
// type helm.sh/release.v1; labels name, owner=helm, status, version) holding data.release =
// pkg/storage/driver/util.go encodeRelease: json.Marshal, gzip at BestCompression, base64.
func Secret(r Release) (*corev1.Secret, error) {
	hooks := []map[string]any{}
	for i, m := range r.HookManifests {
		hooks = append(hooks, map[string]any{"name": fmt.Sprintf("hook-%d", i), "kind": "Job", "manifest": m, "events": []string{"pre-upgrade"}})
	}
	// The fields of helm pkg/release/release.go Release, with their JSON names.
	js, err := json.Marshal(map[string]any{
		"name":      r.Name,
		"namespace": r.Namespace,
		"version":   r.Revision,
		"info":      map[string]any{"status": r.Status, "description": "Install complete"},
		"chart":     map[string]any{"metadata": map[string]any{"name": r.Name, "version": "0.1.0", "apiVersion": "v2"}},
		"config":    map[string]any{},
		"manifest":  r.Manifest,
		"hooks":     hooks,
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(js); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("sh.helm.release.v1.%s.v%d", r.Name, r.Revision),
			Namespace: r.Namespace,
			Labels:    map[string]string{"name": r.Name, "owner": "helm", "status": r.Status, "version": strconv.Itoa(r.Revision)},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))},
	}, nil
}
