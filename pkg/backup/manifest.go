package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ManifestUpdate is an edit of the etcd static pod manifest.
type ManifestUpdate struct {
	Path       string `json:"path"`
	Backup     string `json:"backup"`
	OldDataDir string `json:"oldDataDir"`
	NewDataDir string `json:"newDataDir"`
}

// NodePathOf turns a path on this machine into the path the node's manifests use: relative to
// root. It fails when the path is outside root.
func NodePathOf(root, local string) (string, error) {
	if root == "" || root == "/" {
		return local, nil
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absRoot, local)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the node root %s: restore into a directory under it", local, root)
	}
	return "/" + rel, nil
}

// PointManifestAt points the etcd static pod manifest of the node at root to a new data dir
// (given as a path on this machine): the --data-dir flag, and the hostPath volume and volume
// mount that held the old one. The original is first copied to
// <root>/etc/kubernetes/tmp/clusterops-etcd-manifest-<time>/etcd.yaml; the new manifest is
// written to a hidden temp file and renamed over the old one.
func PointManifestAt(root, dataDir string, now time.Time) (*ManifestUpdate, error) {
	path := NodePath(root, "/"+ManifestRelPath)
	orig, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the etcd manifest: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	newDir, err := NodePathOf(root, dataDir)
	if err != nil {
		return nil, err
	}
	pod, err := ReadEtcdManifest(root)
	if err != nil {
		return nil, err
	}
	oldDir, ok := ManifestFlag(pod, "data-dir")
	if !ok {
		return nil, fmt.Errorf("%s has no --data-dir flag: edit it by hand", path)
	}
	if err := setDataDir(pod, oldDir, newDir); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := yaml.Marshal(pod)
	if err != nil {
		return nil, err
	}
	backupDir := NodePath(root, "/etc/kubernetes/tmp/clusterops-etcd-manifest-"+now.UTC().Format("20060102-150405"))
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the manifest backup dir: %w", err)
	}
	backup := filepath.Join(backupDir, "etcd.yaml")
	if err := atomicfile.WriteFile(backup, orig, st.Mode().Perm()); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, data, st.Mode().Perm()); err != nil {
		return nil, err
	}
	return &ManifestUpdate{Path: path, Backup: backup, OldDataDir: oldDir, NewDataDir: newDir}, nil
}

func setDataDir(pod *corev1.Pod, oldDir, newDir string) error {
	c := &pod.Spec.Containers[0]
	for _, list := range [][]string{c.Command, c.Args} {
		for i, arg := range list {
			if strings.HasPrefix(arg, "--data-dir=") {
				list[i] = "--data-dir=" + newDir
			}
		}
	}
	clean := filepath.Clean(oldDir)
	var volume string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.HostPath != nil && filepath.Clean(v.HostPath.Path) == clean {
			v.HostPath.Path = newDir
			volume = v.Name
		}
	}
	if volume == "" {
		return fmt.Errorf("no hostPath volume holds the data dir %s: edit the manifest by hand", oldDir)
	}
	for i := range pod.Spec.Containers {
		for j := range pod.Spec.Containers[i].VolumeMounts {
			m := &pod.Spec.Containers[i].VolumeMounts[j]
			if m.Name == volume && filepath.Clean(m.MountPath) == clean {
				m.MountPath = newDir
			}
		}
	}
	return nil
}

// APIServerManifestRelPath is where kubeadm writes the kube-apiserver static pod manifest,
// relative to the node root.
const APIServerManifestRelPath = "etc/kubernetes/manifests/kube-apiserver.yaml"

// ErrAPIServerRunning means --update-manifest was refused because kube-apiserver's manifest is
// still in the manifests dir: the kubelet runs it, and it would write to the etcd being swapped.
var ErrAPIServerRunning = errors.New("kube-apiserver is still running on this node")

// CheckAPIServerStopped returns ErrAPIServerRunning (with the steps to stop it) while the
// kube-apiserver manifest of the node at root is in the manifests dir. Switching etcd to a
// restored data dir under a running kube-apiserver serves the restored state to clients and
// controllers that hold newer state, and lets it write into the new etcd before the rest of the
// restore is done: the Kubernetes docs ask to stop every API server first
// (https://kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/#restoring-an-etcd-cluster).
func CheckAPIServerStopped(root string) error {
	_, err := os.Lstat(NodePath(root, "/"+APIServerManifestRelPath))
	switch {
	case err == nil:
		return fmt.Errorf("%w (/%s is in place): stop it first with "+
			"'mv /%s /etc/kubernetes/' (on every control-plane node), or pass --force-while-apiserver-running",
			ErrAPIServerRunning, APIServerManifestRelPath, APIServerManifestRelPath)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("cannot tell whether kube-apiserver runs: %w", err)
	}
}

// RestoreSteps are the steps that remain after a restore into dataDir (a node path) on a
// kubeadm node, when the manifest was (updated) or was not edited yet, and this node's
// kube-apiserver manifest was (apiserverStopped) or was not out of the manifests dir.
func RestoreSteps(nodeDataDir string, updated, apiserverStopped bool) []string {
	stop := "Stop kube-apiserver: mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/kube-apiserver.yaml (on every control-plane node)"
	if updated && apiserverStopped {
		stop = "Check that kube-apiserver is stopped on every other control-plane node too (its manifest out of /etc/kubernetes/manifests)"
	}
	steps := []string{stop}
	if !updated {
		steps = append(steps,
			"Point etcd at the restored data: in /etc/kubernetes/manifests/etcd.yaml set --data-dir="+nodeDataDir+
				" and the hostPath path and mountPath of the etcd-data volume to "+nodeDataDir+
				" (or rerun with --update-manifest, which keeps a backup of the manifest)")
	}
	steps = append(steps,
		"Wait for the kubelet to restart etcd, then check it: kubectl clusterops etcd members",
		"Start kube-apiserver again: mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/",
		"Restart kube-controller-manager, kube-scheduler and the kubelets so that they drop cached state")
	return steps
}
