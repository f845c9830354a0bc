package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Check results.
const (
	CheckOK      = "ok"
	CheckWarning = "warning"
	CheckFailed  = "failed"
)

// Check is one step of a verification.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
}

// Verification is the result of `snapshot verify`.
type Verification struct {
	File     string  `json:"file"`
	Valid    bool    `json:"valid"`
	Revision int64   `json:"revision,omitempty"`
	TotalKey int     `json:"totalKey,omitempty"`
	Checks   []Check `json:"checks"`
}

// Worst is the worst result of the checks.
func (v *Verification) Worst() string {
	w := CheckOK
	for _, c := range v.Checks {
		if c.Result == CheckFailed {
			return CheckFailed
		}
		if c.Result == CheckWarning {
			w = CheckWarning
		}
	}
	return w
}

// Verify checks a snapshot end to end: the sha256 against the sidecar, etcd's own integrity
// hash, the bolt database (etcdutl status), then a real restore with etcd's code into a temp
// dir under tmpDir whose database is opened and compared with the snapshot. The temp dir is
// removed. Problems are reported as failed checks, not as an error.
func Verify(path, tmpDir string) (*Verification, error) {
	v := &Verification{File: path}
	add := func(name, result, detail string) { v.Checks = append(v.Checks, Check{name, result, detail}) }
	defer func() { v.Valid = v.Worst() != CheckFailed }()
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%s: no such snapshot file", path)
	}
	d, err := hashFile(path)
	if err != nil {
		add("integrity-hash", CheckFailed, err.Error())
		return v, nil
	}
	switch m, err := ReadSidecar(path); {
	case errors.Is(err, os.ErrNotExist):
		add("sidecar", CheckWarning, "no "+filepath.Base(SidecarPath(path))+": the sha256 cannot be compared with the one recorded at save time")
	case err != nil:
		add("sidecar", CheckFailed, err.Error())
	case m.SHA256 != d.FileSHA256:
		add("sidecar", CheckFailed, fmt.Sprintf("sha256 %s differs from the sidecar's %s", d.FileSHA256, m.SHA256))
	case m.Size != d.Size:
		add("sidecar", CheckFailed, fmt.Sprintf("size %d differs from the sidecar's %d", d.Size, m.Size))
	default:
		add("sidecar", CheckOK, "sha256 "+d.FileSHA256)
	}
	if err := d.IntegrityError(); err != nil {
		add("integrity-hash", CheckFailed, err.Error())
		return v, nil
	}
	add("integrity-hash", CheckOK, "etcd's appended sha256 matches")
	st, err := etcdutlStatus(path)
	if err != nil {
		add("database", CheckFailed, err.Error())
		return v, nil
	}
	v.Revision, v.TotalKey = st.Revision, st.TotalKey
	add("database", CheckOK, fmt.Sprintf("revision %d, %d keys", st.Revision, st.TotalKey))

	tmp, err := os.MkdirTemp(tmpDir, "clusterops-verify-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temp dir for the test restore: %w (use --tmp-dir)", err)
	}
	defer os.RemoveAll(tmp)
	dataDir := filepath.Join(tmp, "data")
	if err := etcdutlRestore(RestoreOptions{Snapshot: path, Name: "verify", PeerURLs: []string{"http://localhost:2380"},
		InitialCluster: "verify=http://localhost:2380", InitialClusterToken: "verify"}, dataDir); err != nil {
		add("restore", CheckFailed, err.Error())
		return v, nil
	}
	add("restore", CheckOK, "etcd's restore wrote a data dir")
	rs, err := etcdutlStatus(RestoredDB(dataDir))
	switch {
	case err != nil:
		add("open", CheckFailed, "the restored database does not open: "+err.Error())
	case rs.Revision != st.Revision || rs.TotalKey != st.TotalKey:
		add("open", CheckFailed, fmt.Sprintf("the restored database has revision %d and %d keys, the snapshot %d and %d",
			rs.Revision, rs.TotalKey, st.Revision, st.TotalKey))
	default:
		add("open", CheckOK, fmt.Sprintf("restored database opens: revision %d, %d keys", rs.Revision, rs.TotalKey))
	}
	return v, nil
}
