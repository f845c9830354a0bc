package contexts

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"github.com/clusterops/kubectl-clusterops/internal/kubeconfigfile"
)

// Kinds of kubeconfig entries, with the list they live in.
const (
	KindContext = "context"
	KindCluster = "cluster"
	KindUser    = "user"
)

var lists = map[string]string{KindContext: "contexts", KindCluster: "clusters", KindUser: "users"}

// Removal is one entry a prune removes, from the file the merged entry comes from (as kubectl
// config delete-context, delete-cluster and delete-user do).
type Removal struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Reason string   `json:"reason"`
	Files  []string `json:"files"`
}

// Plan is what a prune removes; printed with kind "ContextPrunePlan".
type Plan struct {
	Removals []Removal `json:"removals"`
	// CurrentContextCleared is the current context when the prune removes it: current-context is
	// emptied where it names it.
	CurrentContextCleared string `json:"currentContextCleared,omitempty"`
	// Files are the kubeconfig files that change.
	Files []string `json:"files"`
	// Backups are the copies written before each file was replaced (after Apply).
	Backups []string `json:"backups,omitempty"`
	DryRun  bool     `json:"dryRun"`
}

// PlanPrune plans the removal of the dangling contexts, the contexts in unreachable (server
// name, by context), and then of every cluster and user that no remaining context names. cfg is
// the merged kubeconfig; files is the loading precedence (files that do not exist are skipped).
func PlanPrune(cfg *clientcmdapi.Config, files []string, unreachable map[string]string) (*Plan, error) {
	inFile := map[string]*clientcmdapi.Config{}
	var existing []string
	for _, f := range files {
		c, err := clientcmd.LoadFromFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read the kubeconfig %s: %v", f, err)
		}
		inFile[f] = c
		existing = append(existing, f)
	}
	p := &Plan{Removals: []Removal{}, Files: []string{}}
	gone := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Contexts)) {
		reason := ""
		if d := Dangling(cfg, cfg.Contexts[name]); d != "" {
			reason = "dangling: it " + d
		} else if server, ok := unreachable[name]; ok {
			reason = fmt.Sprintf("unreachable: its server %s did not answer", server)
		}
		if reason != "" {
			gone[name] = true
			p.Removals = append(p.Removals, Removal{Kind: KindContext, Name: name, Reason: reason})
		}
	}
	before, beforeUsers := Unreferenced(cfg, nil)
	clusters, users := Unreferenced(cfg, gone)
	p.unreferenced(KindCluster, clusters, before, cfg, gone, func(c *clientcmdapi.Context) string { return c.Cluster })
	p.unreferenced(KindUser, users, beforeUsers, cfg, gone, func(c *clientcmdapi.Context) string { return c.AuthInfo })
	if gone[cfg.CurrentContext] {
		p.CurrentContextCleared = cfg.CurrentContext
	}
	changed := map[string]bool{}
	for i := range p.Removals {
		r := &p.Removals[i]
		// The file the merged entry comes from, as clientcmd.ModifyConfig deletes it
		// (k8s.io/client-go/tools/clientcmd/config.go:295-347, LocationOfOrigin): a shadowed
		// entry of the same name in a later file is left alone.
		if f := origin(cfg, r.Kind, r.Name); inFile[f] != nil && has(inFile[f], r.Kind, r.Name) {
			r.Files = append(r.Files, f)
			changed[f] = true
		}
	}
	for _, f := range existing {
		if p.CurrentContextCleared != "" && inFile[f].CurrentContext == p.CurrentContextCleared {
			changed[f] = true
		}
		if changed[f] {
			p.Files = append(p.Files, f)
		}
	}
	return p, nil
}

func (p *Plan) unreferenced(kind string, now, before []Entry, cfg *clientcmdapi.Config, gone map[string]bool,
	field func(*clientcmdapi.Context) string) {
	wasUnused := map[string]bool{}
	for _, e := range before {
		wasUnused[e.Name] = true
	}
	for _, e := range now {
		reason := "unreferenced: no context names it"
		if !wasUnused[e.Name] {
			var by []string
			for _, name := range slices.Sorted(maps.Keys(gone)) {
				if field(cfg.Contexts[name]) == e.Name {
					by = append(by, name)
				}
			}
			reason = "unreferenced once the pruned context " + strings.Join(by, ", ") + " is gone"
		}
		p.Removals = append(p.Removals, Removal{Kind: kind, Name: e.Name, Reason: reason})
	}
}

func origin(c *clientcmdapi.Config, kind, name string) string {
	switch kind {
	case KindContext:
		return c.Contexts[name].LocationOfOrigin
	case KindCluster:
		return c.Clusters[name].LocationOfOrigin
	}
	return c.AuthInfos[name].LocationOfOrigin
}

func has(c *clientcmdapi.Config, kind, name string) bool {
	switch kind {
	case KindContext:
		return c.Contexts[name] != nil
	case KindCluster:
		return c.Clusters[name] != nil
	}
	return c.AuthInfos[name] != nil
}

// Apply carries out the plan, file by file: each file is edited as data under clientcmd's lock
// and ours (kubeconfigfile.Edit), keeping its mode, owner and every field the prune does not
// remove, after a backup of its content as read under the lock (FILE.clusterops-backup-TIME,
// mode 0600, next to the symlink's target, never replacing a file). It records the backups.
func Apply(p *Plan, now time.Time) error { return apply(p, now, kubeconfigfile.DefaultLock()) }

func apply(p *Plan, now time.Time, lock kubeconfigfile.LockOptions) error {
	for _, f := range p.Files {
		err := kubeconfigfile.Edit(f, kubeconfigfile.EditOptions{Lock: lock, BeforeWrite: func(target string, data []byte) error {
			b, err := backup(target, data, now)
			if err == nil {
				p.Backups = append(p.Backups, b)
			}
			return err
		}}, func(doc map[string]any) error {
			changed := false
			for _, r := range p.Removals {
				if slices.Contains(r.Files, f) && kubeconfigfile.RemoveNamed(doc, lists[r.Kind], r.Name) {
					changed = true
				}
			}
			if p.CurrentContextCleared != "" && doc["current-context"] == p.CurrentContextCleared {
				doc["current-context"] = ""
				changed = true
			}
			if !changed {
				return kubeconfigfile.ErrNoChange
			}
			return nil
		})
		if err != nil && !errors.Is(err, kubeconfigfile.ErrNoChange) {
			return fmt.Errorf("pruning %s: %w", f, err)
		}
	}
	return nil
}

// backup writes data to TARGET.clusterops-backup-TIME, mode 0600, never over an existing file.
func backup(target string, data []byte, now time.Time) (string, error) {
	base := target + ".clusterops-backup-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 1; ; i++ {
		f, err := atomicfile.CreateAs(name, "."+filepath.Base(name)+".tmp-")
		if err != nil {
			return "", err
		}
		if _, err := f.Write(data); err != nil {
			f.Abort()
			return "", atomicfile.Error(name, err)
		}
		err = f.CommitNew()
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", fmt.Errorf("backing up the kubeconfig before the prune: %w", err)
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}
