package backup

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// Status is what `snapshot status` reports. Hash, Revision, TotalKey, TotalSize and Version
// are etcdutl's own numbers (etcdutl snapshot status -w json), computed by etcdutl's code.
type Status struct {
	File      string `json:"file"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
	Version   string `json:"version"`
	// Integrity is "ok" when etcd's appended sha256 matches the data.
	Integrity string `json:"integrity"`
	// Sidecar is "ok", "missing" or what did not match.
	Sidecar  string          `json:"sidecar"`
	Contents []ContentsCount `json:"contents,omitempty"`
}

// ContentsCount is the number of live Kubernetes objects of one resource in one namespace.
type ContentsCount struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Count     int    `json:"count"`
}

// SnapshotStatus checks a snapshot file and reports its status: the file must carry etcd's
// integrity hash and it must match (a truncated or modified file fails), then etcdutl's
// status code checks the bolt database and counts keys. With contents, the live keys under
// /registry are counted by resource and namespace.
func SnapshotStatus(path string, contents bool) (*Status, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a snapshot file", path)
	}
	d, err := hashFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntegrity, err)
	}
	if err := d.IntegrityError(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIntegrity, path, err)
	}
	s := &Status{File: path, SHA256: d.FileSHA256, Size: d.Size, Integrity: "ok", Sidecar: "ok"}
	if m, err := ReadSidecar(path); err != nil {
		s.Sidecar = "missing"
		if !errors.Is(err, os.ErrNotExist) {
			s.Sidecar = err.Error()
		}
	} else if m.SHA256 != d.FileSHA256 || m.Size != d.Size {
		s.Sidecar = fmt.Sprintf("mismatch: the sidecar says sha256 %.16s... size %d", m.SHA256, m.Size)
	}
	es, err := etcdutlStatus(path)
	if err != nil {
		return s, fmt.Errorf("%w: %s: %v", ErrIntegrity, path, err)
	}
	s.Hash, s.Revision, s.TotalKey, s.TotalSize, s.Version = es.Hash, es.Revision, es.TotalKey, es.TotalSize, es.Version
	if contents {
		if s.Contents, err = countContents(path); err != nil {
			return s, fmt.Errorf("%w: %s: %v", ErrIntegrity, path, err)
		}
	}
	return s, nil
}

// etcdutlStatus runs etcdutl's snapshot status code (bolt integrity check, hash, keys), turning a
// panic of the database code on a corrupt file into an error.
func etcdutlStatus(path string) (st snapshot.Status, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt database: %v", r)
		}
	}()
	st, err = snapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		err = errors.New(strings.Join(strings.Fields(err.Error()), " "))
	}
	return st, err
}

// countContents counts the live keys under /registry by resource and namespace, from the
// latest revision of every key (a tombstone deletes).
func countContents(path string) (out []ContentsCount, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt database: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	live := map[string]bool{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(schema.Key.Name())
		if b == nil {
			return errors.New("no key bucket")
		}
		return b.ForEach(func(k, v []byte) error {
			var kv mvccpb.KeyValue
			if err := proto.Unmarshal(v, &kv); err != nil {
				return err
			}
			if mvcc.IsTombstone(k) {
				delete(live, string(kv.Key))
			} else {
				live[string(kv.Key)] = true
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	counts := map[ContentsCount]int{}
	for key := range live {
		res, ns, ok := RegistryKey(key)
		if !ok {
			continue
		}
		counts[ContentsCount{Resource: res, Namespace: ns}]++
	}
	for k, n := range counts {
		k.Count = n
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Namespace < out[j].Namespace
	})
	return out, nil
}

// RegistryKey splits a kube-apiserver etcd key: /registry/<resource>/<namespace>/<name>,
// /registry/<resource>/<name> (cluster-scoped), with a group segment first for API groups
// that are stored under their group name (/registry/<group>/<resource>/...).
func RegistryKey(key string) (resource, namespace string, ok bool) {
	rest, ok := strings.CutPrefix(key, "/registry/")
	if !ok {
		return "", "", false
	}
	seg := strings.Split(rest, "/")
	if len(seg) >= 3 && strings.Contains(seg[0], ".") {
		seg = append([]string{seg[1] + "." + seg[0]}, seg[2:]...)
	}
	// kube-apiserver's legacy storage names.
	switch seg[0] {
	case "minions":
		seg[0] = "nodes"
	case "services":
		if len(seg) == 4 && seg[1] == "endpoints" {
			seg = append([]string{"endpoints"}, seg[2:]...)
		} else if len(seg) == 4 && seg[1] == "specs" {
			seg = append([]string{"services"}, seg[2:]...)
		}
	}
	switch {
	case len(seg) == 3:
		return seg[0], seg[1], true
	case len(seg) > 3: // an extra path segment: the namespace precedes the name
		return seg[0], seg[len(seg)-2], true
	default:
		return seg[0], "", true
	}
}
