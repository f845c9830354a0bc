package certs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestartBeforeStop: the hook runs for each component while its manifest is still in
// place (etcd must hand its leadership over while it still runs), its note is kept, and every
// manifest is back afterwards.
func TestRestartBeforeStop(t *testing.T) {
	l := DefaultLayout(t.TempDir())
	if err := os.MkdirAll(l.ManifestsDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"etcd", "kube-apiserver"} {
		if err := os.WriteFile(filepath.Join(l.ManifestsDir(), c+".yaml"), []byte("kind: Pod\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	before := func(_ context.Context, component string) string {
		if _, err := os.Stat(filepath.Join(l.ManifestsDir(), component+".yaml")); err != nil {
			t.Errorf("BeforeStop(%s) ran after the manifest was moved: %v", component, err)
		}
		calls = append(calls, component)
		if component == "etcd" {
			return "handed the etcd leadership to cp2 first"
		}
		return ""
	}
	var slept []time.Duration
	res, err := RestartStaticPods(context.Background(), l, []string{"etcd", "kube-apiserver"}, RestartOptions{
		Away: 20 * time.Second, Timeout: time.Minute, Poll: time.Second, BeforeStop: before,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != "etcd" || calls[1] != "kube-apiserver" {
		t.Errorf("BeforeStop calls %v, want etcd then kube-apiserver", calls)
	}
	if len(res) != 2 || res[0].BeforeStop != "handed the etcd leadership to cp2 first" || res[1].BeforeStop != "" {
		t.Errorf("results %+v", res)
	}
	if len(slept) != 2 {
		t.Errorf("slept %v, want the away time once per component", slept)
	}
	for _, c := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(l.ManifestsDir(), c+".yaml")); err != nil {
			t.Errorf("%s manifest not back: %v", c, err)
		}
	}
}
