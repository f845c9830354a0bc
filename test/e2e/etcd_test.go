//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

// etcdutlStatus is `etcdutl snapshot status -w json` of the real etcdutl v3.7.3.
type etcdutlStatus struct {
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
	Version   string `json:"version"`
}

func realEtcdutlStatus(t *testing.T, file string) etcdutlStatus {
	t.Helper()
	bin, err := harness.Binaries("etcdutl", "etcdctl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "etcdutl"), "snapshot", "status", file, "-w", "json").Output()
	if err != nil {
		t.Fatalf("etcdutl snapshot status %s: %v", file, err)
	}
	var s etcdutlStatus
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("etcdutl output %q: %v", out, err)
	}
	return s
}

type snapshotSidecar struct {
	File              string `json:"file"`
	SHA256            string `json:"sha256"`
	Size              int64  `json:"size"`
	Revision          int64  `json:"revision"`
	EtcdVersion       string `json:"etcdVersion"`
	MemberName        string `json:"memberName"`
	MemberID          string `json:"memberID"`
	ClusterID         string `json:"clusterID"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Time              string `json:"time"`
}

type ourStatus struct {
	etcdutlStatus
	SHA256    string `json:"sha256"`
	Integrity string `json:"integrity"`
	Sidecar   string `json:"sidecar"`
	Contents  []struct {
		Resource, Namespace string
		Count               int
	} `json:"contents"`
}

type membersJSON struct {
	ClusterID string `json:"clusterID"`
	Leader    string `json:"leader"`
	Healthy   bool   `json:"healthy"`
	Members   []struct {
		Name     string `json:"name"`
		ID       string `json:"id"`
		IsLeader bool   `json:"isLeader"`
		Healthy  bool   `json:"healthy"`
		DBSize   int64  `json:"dbSize"`
		Version  string `json:"version"`
	} `json:"members"`
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	decodeInto(t, r, &v)
	return v
}

func readSidecar(t *testing.T, file string) snapshotSidecar {
	t.Helper()
	data, err := os.ReadFile(file + ".json")
	if err != nil {
		t.Fatalf("sidecar: %v", err)
	}
	var s snapshotSidecar
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// mustNotExist fails if anything matches one of the patterns (filepath.Glob: a plain path, or
// FILE.part* for the temp files of a snapshot save).
func mustNotExist(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			t.Errorf("%s exists, want nothing there", m)
		}
	}
}

func oneLineErr(t *testing.T, r result, code int, want string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code != code || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("want exit %d and one line with %q, got %d: %q", code, want, r.code, msg)
	}
}

// checkAgainstEtcdutl saves nothing: it compares our status of file with the real etcdutl's.
func checkAgainstEtcdutl(t *testing.T, file string, sidecar snapshotSidecar) ourStatus {
	t.Helper()
	st := decode[ourStatus](t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "status", file, "-o", "json"))
	real := realEtcdutlStatus(t, file)
	if st.etcdutlStatus != real {
		t.Errorf("status %+v, the real etcdutl says %+v", st.etcdutlStatus, real)
	}
	if st.Integrity != "ok" || st.Sidecar != "ok" || st.SHA256 != sidecar.SHA256 {
		t.Errorf("integrity %q sidecar %q sha256 %s (sidecar %s)", st.Integrity, st.Sidecar, st.SHA256, sidecar.SHA256)
	}
	if sidecar.Revision != real.Revision {
		t.Errorf("sidecar revision %d, etcdutl %d", sidecar.Revision, real.Revision)
	}
	return st
}

// One member, TLS with the kubeadm certs found from --root: members, save, status (= etcdutl),
// verify, list, and the refusals.
func TestEtcdSnapshotOneMember(t *testing.T) {
	cp := env.cp
	dir := t.TempDir()
	file := filepath.Join(dir, "snap.db")

	ms := decode[membersJSON](t, run(t, "kubectl", "clusterops", "etcd", "members", "--root", cp.Root, "-o", "json"))
	if len(ms.Members) != 1 || !ms.Healthy || !ms.Members[0].IsLeader || ms.Members[0].Version != "3.7.3" || ms.Members[0].DBSize == 0 {
		t.Fatalf("members: %+v", ms)
	}

	r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", file, "--root", cp.Root, "--kubeconfig", cp.AdminKubeconfig)
	if r.code != 0 || !strings.Contains(r.stderr, "from member "+cp.Etcd[0].Name) {
		t.Fatalf("save: exit %d\n%s", r.code, r.stderr)
	}
	sc := readSidecar(t, file)
	if sc.MemberID != ms.Members[0].ID || sc.ClusterID != ms.ClusterID || sc.KubernetesVersion != harness.KubernetesVersion ||
		sc.EtcdVersion != "3.7.3" || sc.File != "snap.db" || sc.Time == "" {
		t.Errorf("sidecar %+v", sc)
	}
	if st, _ := os.Stat(file); st == nil || st.Size() != sc.Size || st.Mode().Perm() != 0o600 {
		t.Errorf("file %v, sidecar size %d, want mode 0600", st, sc.Size)
	}
	st := checkAgainstEtcdutl(t, file, sc)
	if st.TotalKey < 100 {
		t.Errorf("only %d keys", st.TotalKey)
	}

	contents := decode[ourStatus](t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "status", file, "--contents", "-o", "json"))
	found := false
	for _, c := range contents.Contents {
		if c.Resource == "configmaps" && c.Namespace == "kube-system" && c.Count > 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("--contents lacks configmaps in kube-system: %+v", contents.Contents)
	}

	if v := run(t, "kubectl", "clusterops", "etcd", "snapshot", "verify", file); v.code != 0 ||
		strings.Count(v.stdout, " ok ") != 5 {
		t.Errorf("verify: exit %d, want 5 ok checks\n%s", v.code, v.stdout)
	}
	if l := run(t, "kubectl", "clusterops", "etcd", "snapshot", "list", dir); l.code != 0 || !strings.Contains(l.stdout, "verified") {
		t.Errorf("list: exit %d\n%s", l.code, l.stdout)
	}

	// Symlinks planted in a shared backup folder at the temp names that can be guessed (the old
	// FILE.part, the prefix of the new one): the save neither follows nor replaces them, so
	// nothing is written into the file they point at.
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	planted := filepath.Join(dir, "planted.db")
	links := []string{planted + ".part", planted + ".part-", filepath.Join(dir, ".planted.db.tmp-")}
	for _, l := range links {
		if err := os.Symlink(victim, l); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", planted, "--root", cp.Root); r.code != 0 {
		t.Errorf("save next to planted symlinks: exit %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the save wrote through a planted symlink into %s", victim)
	}
	for _, l := range links {
		if target, err := os.Readlink(l); err != nil || target != victim {
			t.Errorf("the planted symlink %s was changed: %q %v", l, target, err)
		}
	}
	if fi, err := os.Lstat(planted); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not a regular file: %v", planted, err)
	}
	checkAgainstEtcdutl(t, planted, readSidecar(t, planted))

	// The target exists: refused, file untouched.
	before, _ := os.ReadFile(file)
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", file, "--root", cp.Root), 3, "--overwrite")
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("the existing snapshot was changed")
	}
	if r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", file, "--root", cp.Root, "--overwrite"); r.code != 0 {
		t.Errorf("--overwrite: exit %d", r.code)
	}

	// Wrong certificates: a CA that did not sign etcd's server cert; a client cert etcd does not trust.
	bad := filepath.Join(dir, "bad.db")
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", bad, "--root", cp.Root,
		"--cacert", filepath.Join(cp.PKI(), "ca.crt")), 3, "--cacert")
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", bad, "--root", cp.Root,
		"--cert", filepath.Join(cp.PKI(), "apiserver-kubelet-client.crt"), "--key", filepath.Join(cp.PKI(), "apiserver-kubelet-client.key")), 3, "client certificate")
	// Unreachable.
	port, _ := harness.FreePort()
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", bad, "--root", cp.Root, "--dial-timeout", "2s",
		"--endpoints", "https://127.0.0.1:"+itoa(port)), 3, "cannot reach etcd")
	// Bad input.
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", "--root", cp.Root), 3, "give a FILE")
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", filepath.Join(dir, "no", "such", "x.db"), "--root", cp.Root), 3, "does not exist")
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "members", "--root", t.TempDir()), 3, "not a kubeadm control-plane node")
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "status", filepath.Join(dir, "missing.db")), 3, "no such file")
	mustNotExist(t, bad, bad+".part*", bad+".json")
}

// --dir names by time; --keep prunes older snapshots of the prefix only after the new one is saved.
func TestEtcdSnapshotDirRetention(t *testing.T) {
	cp := env.cp
	dir := t.TempDir()
	// Older snapshots of the same prefix, with sidecars, as earlier runs left them.
	for _, name := range []string{"etcd-snapshot-20200101-000000.db", "etcd-snapshot-20200102-000000.db", "etcd-snapshot-20200103-000000.db"} {
		r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", filepath.Join(dir, name), "--root", cp.Root)
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		data, _ := os.ReadFile(filepath.Join(dir, name+".json"))
		var m map[string]any
		json.Unmarshal(data, &m)
		m["time"] = name[14:18] + "-" + name[18:20] + "-" + name[20:22] + "T00:00:00Z"
		data, _ = json.Marshal(m)
		os.WriteFile(filepath.Join(dir, name+".json"), data, 0o600)
	}
	other := filepath.Join(dir, "keep-me.db")
	os.WriteFile(other, []byte("not ours"), 0o600)

	r := run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", "--dir", dir, "--root", cp.Root, "--keep", "2", "-o", "json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var saved struct {
		Path   string   `json:"path"`
		Pruned []string `json:"pruned"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &saved); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(saved.Path), "etcd-snapshot-20") || len(saved.Pruned) != 2 {
		t.Fatalf("saved %+v", saved)
	}
	mustNotExist(t, filepath.Join(dir, "etcd-snapshot-20200101-000000.db"), filepath.Join(dir, "etcd-snapshot-20200102-000000.db"),
		filepath.Join(dir, "etcd-snapshot-20200101-000000.db.json"))
	for _, keep := range []string{saved.Path, filepath.Join(dir, "etcd-snapshot-20200103-000000.db"), other} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s was deleted", keep)
		}
	}
	l := run(t, "kubectl", "clusterops", "etcd", "snapshot", "list", dir, "-o", "json")
	if l.code != 2 || !strings.Contains(l.stdout, `"corrupt"`) { // keep-me.db is not a snapshot
		t.Errorf("list: exit %d, want 2 for the non-snapshot keep-me.db\n%s", l.code, l.stdout)
	}
	time.Sleep(1100 * time.Millisecond) // --dir names have one-second resolution
	// --keep-within 1h keeps the recent ones and prunes the 2020 one.
	r = run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", "--dir", dir, "--root", cp.Root, "--keep-within", "1h", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "etcd-snapshot-20200103-000000.db") {
		t.Errorf("--keep-within 1h: exit %d, want the 2020 snapshot pruned\n%s", r.code, r.stdout)
	}
	if _, err := os.Stat(saved.Path); err != nil {
		t.Errorf("--keep-within 1h deleted the recent %s", saved.Path)
	}
	oneLineErr(t, run(t, "kubectl", "clusterops", "etcd", "snapshot", "save", filepath.Join(dir, "x.db"), "--keep", "1", "--root", cp.Root), 3, "--dir")
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
