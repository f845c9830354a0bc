// Package kubeconfigfile edits kubeconfig files the way every kubectl-clusterops command that
// writes one must: under our folder flock and clientcmd's FILE.lock, as data (so clusters, users,
// contexts, extensions, preferences and fields no Go type knows stay as they were), checked by
// clientcmd before it is written, and written atomically at the target of a symlink with the
// file's owner kept.
package kubeconfigfile

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
)

// ErrNoChange, returned by an edit function, ends Edit without writing; Edit returns it too.
var ErrNoChange = errors.New("no change")

// EditOptions say how Edit locks and writes.
type EditOptions struct {
	Lock LockOptions
	// Perm is the mode of the written file; 0 keeps the mode the file has.
	Perm os.FileMode
	// BeforeWrite, when set, is given the file's content as read under the lock, before the
	// edited file replaces it (a backup); an error stops the write.
	BeforeWrite func(target string, original []byte) error
}

// Edit locks, reads, edits and atomically rewrites the kubeconfig at path. It holds our folder
// flock and clientcmd's PATH.lock (so kubectl config ... waits for us, and we for it), writes at
// the target of a symlinked path (the link stays), with the owner and group the file had (a sudo
// run leaves the user's file theirs). The edited document must still load with clientcmd, or
// nothing is written.
func Edit(path string, opts EditOptions, edit func(doc map[string]any) error) error {
	unlock, err := Lock(path, opts.Lock)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the kubeconfig %s: %v", path, errors.Unwrap(err))
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s is not valid YAML (%v): fix it first", path, err)
	}
	if err := edit(doc); err != nil {
		return err
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := clientcmd.Load(out); err != nil { // never write a file clientcmd cannot read
		return fmt.Errorf("internal error: the edited kubeconfig does not parse (%v); %s was not changed", err, path)
	}
	if opts.BeforeWrite != nil {
		target, err := atomicfile.Resolve(path)
		if err != nil {
			return fmt.Errorf("cannot follow the kubeconfig symlink %s: %v", path, err)
		}
		if err := opts.BeforeWrite(target, data); err != nil {
			return err
		}
	}
	perm := opts.Perm
	if perm == 0 {
		st, err := os.Stat(path) // the target's mode when path is a symlink
		if err != nil {
			return fmt.Errorf("cannot read the mode of %s: %v", path, errors.Unwrap(err))
		}
		perm = st.Mode().Perm()
	}
	return atomicfile.WriteFileWith(path, out, atomicfile.Options{Perm: perm, KeepOwner: true, FollowSymlink: true})
}

// ToGeneric is cfg as clientcmd writes it, decoded into plain maps and lists.
func ToGeneric(cfg *clientcmdapi.Config) (map[string]any, error) {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, err
	}
	doc := map[string]any{}
	return doc, yaml.Unmarshal(data, &doc)
}

// First is the first element of a list, or nil.
func First(v any) any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return nil
}

// SetNamed replaces the entry called name in doc[list] ("clusters", "users", "contexts") or
// appends it.
func SetNamed(doc map[string]any, list, name string, entry any) {
	items, _ := doc[list].([]any)
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			items[i] = entry
			doc[list] = items
			return
		}
	}
	doc[list] = append(items, entry)
}

// RemoveNamed removes every entry called name from doc[list] and reports whether there was one.
func RemoveNamed(doc map[string]any, list, name string) bool {
	items, _ := doc[list].([]any)
	kept := items[:0:0]
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == len(items) {
		return false
	}
	doc[list] = kept
	return true
}
