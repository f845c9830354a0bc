package staticpods

import (
	"context"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Status of one manifest file in a DiffResult.
const (
	InSync      = "InSync"      // the mirror pod runs what the file says
	Drift       = "Drift"       // the mirror pod differs from the file (edited, not yet picked up)
	NoMirrorPod = "NoMirrorPod" // the file is a pod, but the node reports no mirror pod for it
	Invalid     = "Invalid"     // the file is not a valid pod manifest: the kubelet ignores it
)

// ManifestDiff is the comparison of one file of the manifests dir with its mirror pod.
type ManifestDiff struct {
	File        string       `json:"file"`
	Pod         string       `json:"pod,omitempty"` // namespace/name the mirror pod has or would have
	Status      string       `json:"status"`
	Error       string       `json:"error,omitempty"`
	MirrorHash  string       `json:"mirrorHash,omitempty"`
	Differences []Difference `json:"differences,omitempty"`
}

// OrphanMirrorPod is a mirror pod of the node whose manifest is not in the dir.
type OrphanMirrorPod struct {
	Pod       string `json:"pod"`
	Component string `json:"component"`
	Hash      string `json:"hash"`
}

// DiffSummary counts the findings of a DiffResult.
type DiffSummary struct {
	InSync      int `json:"inSync"`
	Drift       int `json:"drift"`
	NoMirrorPod int `json:"noMirrorPod"`
	Invalid     int `json:"invalid"`
	Orphans     int `json:"orphanMirrorPods"`
}

// DiffResult is the result of Diff.
type DiffResult struct {
	Node         string            `json:"node"`
	ManifestsDir string            `json:"manifestsDir"`
	Manifests    []ManifestDiff    `json:"manifests"`
	Orphans      []OrphanMirrorPod `json:"orphanMirrorPods"`
	Summary      DiffSummary       `json:"summary"`
}

// Clean says whether every file is a pod whose mirror pod matches it, with no orphans.
func (r *DiffResult) Clean() bool {
	s := r.Summary
	return s.Drift == 0 && s.NoMirrorPod == 0 && s.Invalid == 0 && s.Orphans == 0
}

// DiffOptions says what Diff compares.
type DiffOptions struct {
	Node string
	// Dir is the manifests dir to read; DisplayDir is how to name it (and its files) in the
	// result, e.g. /etc/kubernetes/manifests for a dir read under --root.
	Dir, DisplayDir string
	// Files, when set, are the dir's files already read (by an agent pod on the node); Dir
	// then only names them.
	Files []ManifestFile
}

// Diff compares every file of a node's manifests dir with the mirror pods the node reports. A
// file's mirror pod is the pod named <metadata.name>-<node> in the file's namespace ("default"
// when unset, as the kubelet does) that carries kubernetes.io/config.mirror.
func Diff(ctx context.Context, client kubernetes.Interface, opts DiffOptions) (*DiffResult, error) {
	display := opts.DisplayDir
	if display == "" {
		display = opts.Dir
	}
	files := opts.Files
	if files == nil {
		var err error
		if files, err = ReadManifestsDir(opts.Dir); err != nil {
			return nil, err
		}
	}
	if err := checkNode(ctx, client, opts.Node); err != nil {
		return nil, err
	}
	pods, err := mirrorPods(ctx, client, opts.Node)
	if err != nil {
		return nil, err
	}
	return diffFiles(files, pods, opts.Node, opts.Dir, display), nil
}

// diffFiles is the pure part of Diff.
func diffFiles(files []ManifestFile, pods []corev1.Pod, node, dir, display string) *DiffResult {
	res := &DiffResult{Node: node, ManifestsDir: display, Manifests: []ManifestDiff{}, Orphans: []OrphanMirrorPod{}}
	byKey := map[string]*corev1.Pod{}
	for i := range pods {
		byKey[pods[i].Namespace+"/"+pods[i].Name] = &pods[i]
	}
	matched := map[string]bool{}
	for _, f := range files {
		md := ManifestDiff{File: displayPath(f.Path, dir, display)}
		if f.Error != "" {
			md.Status, md.Error = Invalid, f.Error
			res.Summary.Invalid++
			res.Manifests = append(res.Manifests, md)
			continue
		}
		ns := f.Pod.Namespace
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		md.Pod = ns + "/" + f.Pod.Name + "-" + node
		mirror := byKey[md.Pod]
		switch {
		case mirror == nil:
			md.Status = NoMirrorPod
			res.Summary.NoMirrorPod++
		default:
			matched[md.Pod] = true
			md.MirrorHash = mirror.Annotations[AnnotationHash]
			md.Differences = ComparePods(f.Pod, mirror)
			if len(md.Differences) == 0 {
				md.Status = InSync
				res.Summary.InSync++
			} else {
				md.Status = Drift
				res.Summary.Drift++
			}
		}
		res.Manifests = append(res.Manifests, md)
	}
	for i := range pods {
		p := &pods[i]
		key := p.Namespace + "/" + p.Name
		if matched[key] {
			continue
		}
		if src := p.Annotations[AnnotationSource]; src != "" && src != "file" {
			continue // a static pod from an HTTP URL has no file to compare with
		}
		res.Orphans = append(res.Orphans, OrphanMirrorPod{Pod: key, Component: Component(p), Hash: p.Annotations[AnnotationHash]})
		res.Summary.Orphans++
	}
	return res
}

func displayPath(path, dir, display string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return filepath.Join(display, rel)
	}
	return path
}
