package staticpods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ManifestsDir is where kubeadm puts the static pod manifests on a node, relative to its root.
const ManifestsDir = "/etc/kubernetes/manifests"

// ErrNoManifestsDir is returned when the manifests directory does not exist.
var ErrNoManifestsDir = errors.New("manifests directory not found")

// ManifestFile is one file of a manifests directory: a pod, or the reason it is not one.
type ManifestFile struct {
	Path  string
	Pod   *corev1.Pod
	Error string
}

// ReadManifestsDir reads every file the kubelet would read from dir: regular files whose names do
// not start with "." (the kubelet skips hidden files and subdirectories), in name order.
func ReadManifestsDir(dir string) ([]ManifestFile, error) {
	raws, err := ReadRawDir(dir)
	if err != nil {
		return nil, err
	}
	return ParseRawFiles(dir, raws), nil
}

// RawFile is one file of a manifests dir as read, before parsing: what an agent pod sends back.
type RawFile struct {
	Name  string `json:"name"`
	Data  []byte `json:"data,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxManifestSize bounds one file: a static pod manifest is a few KiB.
const maxManifestSize = 4 << 20

// ReadRawDir reads the files the kubelet would read from dir (see ReadManifestsDir), unparsed.
func ReadRawDir(dir string) ([]RawFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoManifestsDir, dir)
	}
	if err != nil {
		return nil, err
	}
	var files []RawFile
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		rf := RawFile{Name: e.Name()}
		if info, err := e.Info(); err == nil && info.Size() > maxManifestSize {
			rf.Error = fmt.Sprintf("%d bytes: too large for a static pod manifest", info.Size())
		} else if rf.Data, err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			rf.Error = err.Error()
		}
		files = append(files, rf)
	}
	return files, nil
}

// ParseRawFiles parses files read from dir, in name order.
func ParseRawFiles(dir string, raws []RawFile) []ManifestFile {
	files := make([]ManifestFile, 0, len(raws))
	for _, r := range raws {
		path := filepath.Join(dir, r.Name)
		if r.Error != "" {
			files = append(files, ManifestFile{Path: path, Error: r.Error})
			continue
		}
		pod, err := ParseManifest(r.Data)
		mf := ManifestFile{Path: path, Pod: pod}
		if err != nil {
			mf.Error = err.Error()
		}
		files = append(files, mf)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// ParseManifest decodes a static pod manifest (YAML or JSON) the way the kubelet accepts it: one
// object of kind Pod, apiVersion v1, with a name and at least one container. The error is one
// line that says what is wrong.
func ParseManifest(data []byte) (*corev1.Pod, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errors.New("empty file: not a pod manifest")
	}
	var typeMeta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &typeMeta); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", oneLine(err.Error()))
	}
	if typeMeta.Kind != "Pod" || typeMeta.APIVersion != "v1" {
		return nil, fmt.Errorf("not a pod manifest: apiVersion %q kind %q (want v1 Pod)", typeMeta.APIVersion, typeMeta.Kind)
	}
	pod := &corev1.Pod{}
	if err := yaml.Unmarshal(data, pod); err != nil {
		return nil, fmt.Errorf("not a valid Pod: %s", oneLine(err.Error()))
	}
	if pod.Name == "" {
		return nil, errors.New("not a valid Pod: metadata.name is empty")
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, errors.New("not a valid Pod: spec.containers is empty")
	}
	return pod, nil
}

// oneLine folds a possibly multi-line message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
