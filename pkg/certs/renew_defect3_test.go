package certs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var errKilled = errors.New("killed")

// Defect 3 (issue 14): a --new-key renewal interrupted before or between its two renames, followed by
// a plain `renew` through Renew (not RecoverInterrupted directly): the next run finishes the
// interrupted pair first, then renews for the key that is really in place, so the pair matches.
// Before the fix the next run read the half-renamed pair, and either refused ("does not match") or
// signed for the old key while recovery then installed the new one.
func TestDefect3RenewRecoversInterruptedNewKey(t *testing.T) {
	for _, step := range []string{stepNewWritten, stepKeyRenamed} {
		t.Run(step, func(t *testing.T) {
			l := minimalLayout(t)
			pki := l.Path(l.CertDir)
			oldKey, _ := os.ReadFile(filepath.Join(pki, "apiserver.key"))
			kill := func(s, name string) error {
				if s == step && name == "apiserver" {
					return errKilled
				}
				return nil
			}
			_, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, NewKey: true, interrupt: kill}, t0)
			if !errors.Is(err, errKilled) {
				t.Fatalf("the interrupted run: %v", err)
			}
			left, _ := filepath.Glob(filepath.Join(pki, "*"+newSuffix))
			if step == stepKeyRenamed {
				if ok, _ := pairMatches(t, l, "apiserver"); ok || len(left) != 1 {
					t.Fatalf("the injected kill did not leave a renamed key beside the old cert: match %v, left %v", ok, left)
				}
			}
			newKey, _ := os.ReadFile(filepath.Join(pki, "apiserver.key"+newSuffix))
			if step == stepNewWritten {
				if len(left) != 2 {
					t.Fatalf("left %v", left)
				}
			} else {
				newKey, _ = os.ReadFile(filepath.Join(pki, "apiserver.key"))
			}

			res, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, Validity: 72 * time.Hour}, t0.Add(time.Minute))
			if err != nil {
				t.Fatalf("the next plain renew: %v", err)
			}
			ok, cert := pairMatches(t, l, "apiserver")
			if !ok {
				t.Fatal("the pair does not match after the next plain renew")
			}
			if !cert.NotAfter.Equal(t0.Add(time.Minute + 72*time.Hour)) {
				t.Errorf("the next run did not renew: NotAfter %s", cert.NotAfter)
			}
			key, _ := os.ReadFile(filepath.Join(pki, "apiserver.key"))
			if string(key) != string(newKey) || string(key) == string(oldKey) {
				t.Errorf("the key in place is not the interrupted run's new key")
			}
			if left, _ := filepath.Glob(filepath.Join(pki, "*"+newSuffix)); len(left) > 0 {
				t.Errorf("left after the next run: %v", left)
			}
			if n, err := VerifyBackup(res.BackupDir); err != nil || n == 0 {
				t.Errorf("backup of the next run: %d files, %v", n, err)
			}
		})
	}
}

// Defect 3: a dry run after an interruption writes nothing and says how to finish it.
func TestDefect3DryRunAfterInterruptionSaysSo(t *testing.T) {
	l := minimalLayout(t)
	kill := func(s, _ string) error {
		if s == stepKeyRenamed {
			return errKilled
		}
		return nil
	}
	if _, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, NewKey: true, interrupt: kill}, t0); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	_, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, DryRun: true}, t0)
	if err == nil || !strings.Contains(err.Error(), "without --dry-run") || !strings.Contains(err.Error(), "/etc/kubernetes/pki/apiserver.crt"+newSuffix) {
		t.Fatalf("dry run after an interruption: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(l.Path(l.CertDir), "*"+newSuffix)); len(left) != 1 {
		t.Errorf("a dry run changed the leftovers: %v", left)
	}
}

// Defect 3: while one renewal holds the node's lock, another is refused before it reads or writes
// anything; a dry run needs no lock.
func TestDefect3RenewLock(t *testing.T) {
	l := minimalLayout(t)
	lock, err := LockRenewal(l)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(l.Path(l.CertDir), "apiserver.crt"))
	_, err = Renew(l, RenewOptions{Names: []string{"apiserver"}}, t0)
	if !errors.Is(err, ErrRenewalRunning) || !strings.Contains(err.Error(), "/etc/kubernetes/tmp/clusterops-certs.lock") {
		t.Fatalf("second renewal: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(l.Path(l.CertDir), "apiserver.crt")); string(after) != string(before) {
		t.Error("the refused renewal changed apiserver.crt")
	}
	if m, _ := filepath.Glob(filepath.Join(l.TmpDir(), backupPrefix+"*")); len(m) > 0 {
		t.Errorf("the refused renewal made a backup: %v", m)
	}
	if _, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, DryRun: true}, t0); err != nil {
		t.Errorf("dry run under the lock: %v", err)
	}
	// A caller that holds the lock passes it in.
	if _, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, Lock: lock}, t0); err != nil {
		t.Errorf("renewal with the caller's lock: %v", err)
	}
	lock.Release()
	lock.Release()
	if _, err := Renew(l, RenewOptions{Names: []string{"apiserver"}}, t0.Add(time.Second)); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// Defect 3: what is on disk after writing is read back: a pair changed under the renewal is reported.
func TestDefect3VerifyWritten(t *testing.T) {
	l := minimalLayout(t)
	store := &caStore{l: l, cache: map[string]*loadedCA{}}
	p, err := prepare(l, store, "apiserver", RenewOptions{NewKey: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.write(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.verifyWritten(l); err != nil {
		t.Fatalf("a good write: %v", err)
	}
	other, _ := GenerateKey(RSA2048, nil)
	if err := WritePrivateKeyFile(p.keyPath, other); err != nil {
		t.Fatal(err)
	}
	if err := p.verifyWritten(l); err == nil || !strings.Contains(err.Error(), "not the renewed pair") {
		t.Errorf("a changed key: %v", err)
	}
}

// Defect 12 (issue 14): cert backups hold every CA key, so a renewal keeps the last KeepBackups of
// its own backups and says which it removed; anything else in the tmp dir stays.
func TestDefect12PruneCertBackups(t *testing.T) {
	l := minimalLayout(t)
	tmp := l.TmpDir()
	foreign := []string{backupPrefix + "mine", backupPrefix + "20250101T000000Z-x", backupPrefix + "20250101T000000Z"}
	for _, d := range foreign {
		os.MkdirAll(filepath.Join(tmp, d), 0o700) // no SHA256SUMS, or not our name: not ours
	}
	os.WriteFile(filepath.Join(tmp, backupPrefix+"20250101T000000Z-x", ManifestFile), nil, 0o600)
	var made []string
	for i := range 7 {
		res, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, KeepBackups: 3}, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.BackupDir)
		want := []string(nil)
		if i >= 3 {
			want = []string{made[i-3]}
		}
		if !slices.Equal(res.PrunedBackups, want) {
			t.Errorf("run %d pruned %v, want %v", i, res.PrunedBackups, want)
		}
	}
	// Two in the same second: the -N suffix sorts after the plain name.
	res, err := Renew(l, RenewOptions{Names: []string{"apiserver"}, KeepBackups: 3}, t0.Add(6*time.Hour))
	if err != nil || !strings.HasSuffix(res.BackupDir, "-1") || !slices.Equal(res.PrunedBackups, []string{made[4]}) {
		t.Fatalf("same second: %v %s pruned %v", err, res.BackupDir, res.PrunedBackups)
	}
	backups, _ := ourBackups(l)
	var left []string
	for _, b := range backups {
		left = append(left, b.path)
	}
	if want := []string{made[5], made[6], res.BackupDir}; !slices.Equal(left, want) {
		t.Errorf("kept %v, want %v", left, want)
	}
	for _, d := range foreign {
		if _, err := os.Stat(filepath.Join(tmp, d)); err != nil {
			t.Errorf("a folder that is not our backup was touched: %s: %v", d, err)
		}
	}
	if _, err := PruneBackups(l, 0); err == nil {
		t.Error("keep 0 accepted")
	}
}
