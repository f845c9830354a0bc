package users

import (
	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"
	"github.com/clusterops/kubectl-clusterops/internal/kubeconfigfile"

	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// Credentials are what a kubeconfig needs for the new user.
type Credentials struct {
	ClusterName   string // the cluster entry the context points at
	Server        string
	CAData        []byte // the cluster's CA bundle (PEM)
	TLSServerName string
	UserName      string // the user entry name
	ContextName   string
	Namespace     string
	CertPEM       []byte
	KeyPEM        []byte
}

func (c Credentials) authInfo() *clientcmdapi.AuthInfo {
	return &clientcmdapi.AuthInfo{ClientCertificateData: c.CertPEM, ClientKeyData: c.KeyPEM}
}

func (c Credentials) context() *clientcmdapi.Context {
	return &clientcmdapi.Context{Cluster: c.ClusterName, AuthInfo: c.UserName, Namespace: c.Namespace}
}

// Standalone is a kubeconfig to hand to the person: the cluster's server and CA, the embedded
// cert and key, and one context with the namespace, current.
func Standalone(c Credentials) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.ClusterName] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData, TLSServerName: c.TLSServerName}
	cfg.AuthInfos[c.UserName] = c.authInfo()
	cfg.Contexts[c.ContextName] = c.context()
	cfg.CurrentContext = c.ContextName
	return cfg
}

// CheckOutputFile refuses an existing file unless overwrite, and a folder that cannot take it.
func CheckOutputFile(path string, overwrite bool) error {
	if path == "" {
		return fmt.Errorf("missing output file: give --output-kubeconfig FILE, or --merge")
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("--output-kubeconfig %s is a directory: give a file name", path)
		}
		if !overwrite {
			return fmt.Errorf("%s already exists: give another --output-kubeconfig, or --overwrite to replace it", path)
		}
	}
	return checkWritableDir(filepath.Dir(path))
}

func checkWritableDir(dir string) error {
	if st, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the folder %s does not exist: create it or choose another path", dir)
	} else if err == nil && !st.IsDir() {
		return fmt.Errorf("%s is not a folder: choose another path", dir)
	}
	f, err := os.CreateTemp(dir, ".clusterops-probe-")
	if err != nil {
		return fmt.Errorf("cannot write in %s (%v): choose a writable path", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// WriteStandalone writes the standalone kubeconfig atomically, mode 0600 (it holds a private key).
func WriteStandalone(path string, cfg *clientcmdapi.Config, overwrite bool) error {
	if err := CheckOutputFile(path, overwrite); err != nil {
		return err
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o600)
}

// CheckMerge refuses a merge that would replace an existing user or context entry (unless
// overwrite) or a kubeconfig that cannot be parsed or written.
func CheckMerge(path string, c Credentials, overwrite bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the kubeconfig %s for --merge: %v", path, errors.Unwrap(err))
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return fmt.Errorf("%s is not a valid kubeconfig (%v): fix it or use --output-kubeconfig", path, err)
	}
	if !overwrite {
		if _, ok := cfg.AuthInfos[c.UserName]; ok {
			return fmt.Errorf("the kubeconfig %s already has a user %q: give --overwrite to replace it, or another name", path, c.UserName)
		}
		if _, ok := cfg.Contexts[c.ContextName]; ok {
			return fmt.Errorf("the kubeconfig %s already has a context %q: give --overwrite to replace it, or --context-name", path, c.ContextName)
		}
	}
	if _, ok := cfg.Clusters[c.ClusterName]; !ok {
		return fmt.Errorf("the kubeconfig %s has no cluster %q to point the new context at: give --cluster", path, c.ClusterName)
	}
	target, err := atomicfile.Resolve(path) // the new file is written next to the symlink's target
	if err != nil {
		return fmt.Errorf("cannot follow the kubeconfig symlink %s: %v", path, err)
	}
	return checkWritableDir(filepath.Dir(target))
}

// Merge adds (or, with overwrite, replaces) the user and context entries in the kubeconfig at path.
// It edits the file as data, so every other cluster, user, context, extension and field it does not
// know stays as it was; the new entries are serialized by clientcmd. The write is atomic (a reader
// or a crash sees the old file or the new one) and serialized against other clusterops writers and
// against kubectl (see editKubeconfig).
func Merge(path string, c Credentials, overwrite bool) error {
	return merge(path, c, overwrite, kubeconfigfile.DefaultLock())
}

func merge(path string, c Credentials, overwrite bool, lock kubeconfigfile.LockOptions) error {
	return editKubeconfig(path, lock, func(doc map[string]any) error {
		if err := CheckMerge(path, c, overwrite); err != nil {
			return err
		}
		entries := clientcmdapi.NewConfig()
		entries.AuthInfos[c.UserName] = c.authInfo()
		entries.Contexts[c.ContextName] = c.context()
		generic, err := kubeconfigfile.ToGeneric(entries)
		if err != nil {
			return err
		}
		kubeconfigfile.SetNamed(doc, "users", c.UserName, kubeconfigfile.First(generic["users"]))
		kubeconfigfile.SetNamed(doc, "contexts", c.ContextName, kubeconfigfile.First(generic["contexts"]))
		return nil
	})
}

// RemoveUser removes the user entry userName and every context that uses it from the kubeconfig,
// but only when the entry's client cert names userName (so it is the one `user create --merge`
// wrote), and returns what it removed. A removed current-context is cleared.
func RemoveUser(path, userName string, dryRun bool) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the kubeconfig %s: %v", path, errors.Unwrap(err))
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid kubeconfig: %v", path, err)
	}
	ai, ok := cfg.AuthInfos[userName]
	if !ok {
		return nil, nil
	}
	if cs, err := certs.ParseCertsPEM(ai.ClientCertificateData); err != nil || len(cs) == 0 || cs[0].Subject.CommonName != userName {
		return nil, nil // not a cert entry for this user: not ours to remove
	}
	var contexts []string
	for name, c := range cfg.Contexts {
		if c.AuthInfo == userName {
			contexts = append(contexts, name)
		}
	}
	var removed []string
	err = editKubeconfig(path, kubeconfigfile.DefaultLock(), func(doc map[string]any) error {
		if kubeconfigfile.RemoveNamed(doc, "users", userName) {
			removed = append(removed, "kubeconfig user "+userName)
		}
		for _, name := range contexts {
			if kubeconfigfile.RemoveNamed(doc, "contexts", name) {
				removed = append(removed, "kubeconfig context "+name)
				if doc["current-context"] == name {
					doc["current-context"] = ""
				}
			}
		}
		if dryRun || len(removed) == 0 {
			return kubeconfigfile.ErrNoChange
		}
		return nil
	})
	if errors.Is(err, kubeconfigfile.ErrNoChange) {
		err = nil
	}
	return removed, err
}

// editKubeconfig edits the kubeconfig at path as kubeconfigfile.Edit does, and writes it mode
// 0600 (the file holds private keys).
func editKubeconfig(path string, lock kubeconfigfile.LockOptions, edit func(doc map[string]any) error) error {
	return kubeconfigfile.Edit(path, kubeconfigfile.EditOptions{Lock: lock, Perm: 0o600}, edit)
}
