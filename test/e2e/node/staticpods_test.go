//go:build e2enode

package node

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type spList struct {
	Items []struct {
		Node, Component, Version, Phase, Hash, LastTermination string
		Ready                                                  bool
		Restarts                                               int32
	} `json:"items"`
}

type spDiff struct {
	Manifests []struct {
		File, Status string
		Differences  []struct{ Container, Kind, Name, Change, Manifest, Mirror string }
	} `json:"manifests"`
	Summary struct{ InSync, Drift, NoMirrorPod, Invalid, OrphanMirrorPods int } `json:"summary"`
}

func runJSON(t *testing.T, v any, args ...string) harness.Result {
	t.Helper()
	return env.cli.PluginJSON(t, v, args...)
}

// `staticpods list` shows the real kubelet's mirror pods, with the kubelet's own config.hash.
func testStaticPodsListRealNode(t *testing.T) {
	ctx := context.Background()
	var l spList
	if r := runJSON(t, &l, "staticpods", "list", "--node", env.node.NodeName); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	seen := map[string]bool{}
	for _, p := range l.Items {
		pod, err := env.node.MirrorPod(ctx, p.Component)
		if err != nil {
			t.Fatalf("%s: %v", p.Component, err)
		}
		seen[p.Component] = true
		if p.Hash != pod.Annotations["kubernetes.io/config.hash"] || p.Node != env.node.NodeName || p.Phase != "Running" {
			t.Errorf("%s: %+v (kubelet hash %s)", p.Component, p, pod.Annotations["kubernetes.io/config.hash"])
		}
	}
	for _, c := range components {
		if !seen[c] {
			t.Errorf("no %s in %+v", c, l.Items)
		}
	}
}

func diffRealNode(t *testing.T) (harness.Result, spDiff) {
	t.Helper()
	var d spDiff
	r := runJSON(t, &d, "staticpods", "diff", "--root", "/", "--node", env.node.NodeName)
	return r, d
}

// A flag edit in kube-scheduler.yaml is reported as exactly that flag until the kubelet has
// restarted the pod with it; then the diff is clean.
func testStaticPodsDiffRealNode(t *testing.T) {
	ctx := context.Background()
	if r, d := diffRealNode(t); r.Code != 0 || d.Summary.InSync != 4 {
		t.Fatalf("fresh node: exit %d, %+v", r.Code, d)
	}
	value, oldHash := editSchedulerFlag(t, func() {
		if r, d := diffRealNode(t); r.Code != 0 {
			t.Errorf("after the restore: exit %d, %+v", r.Code, d)
		}
	})
	r, d := diffRealNode(t)
	// The kubelet needs seconds to restart the pod: until then the mirror pod is the old one.
	if p, err := env.node.MirrorPod(ctx, "kube-scheduler"); err == nil && p.Annotations["kubernetes.io/config.hash"] == oldHash {
		if r.Code != 1 || d.Summary.Drift != 1 {
			t.Errorf("right after the edit: exit %d, %+v", r.Code, d.Summary)
		}
		for _, m := range d.Manifests {
			if m.Status == "Drift" {
				if !strings.HasSuffix(m.File, "kube-scheduler.yaml") || len(m.Differences) != 1 ||
					m.Differences[0].Name != "--leader-elect-retry-period" || m.Differences[0].Change != "added" || m.Differences[0].Manifest != value {
					t.Errorf("drift %s: %+v", m.File, m.Differences)
				}
			}
		}
	} else {
		t.Fatalf("the kubelet restarted kube-scheduler before the diff ran (%v): rerun", err)
	}
	if _, err := env.node.WaitMirrorHashChange(ctx, "kube-scheduler", oldHash, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, d := diffRealNode(t); r.Code != 0 || d.Summary.InSync != 4 {
		t.Errorf("after the kubelet restarted the pod: exit %d, %+v", r.Code, d)
	}
}

// A SIGKILL of the kube-scheduler container shows in `staticpods list` as a restart, with the
// last termination.
func testStaticPodsListShowsARestartRealNode(t *testing.T) {
	ctx := context.Background()
	restarts := func() (int32, string) {
		var l spList
		runJSON(t, &l, "staticpods", "list", "--node", env.node.NodeName)
		for _, p := range l.Items {
			if p.Component == "kube-scheduler" {
				return p.Restarts, p.LastTermination
			}
		}
		t.Fatalf("no kube-scheduler in %+v", l.Items)
		return 0, ""
	}
	before, _ := restarts()
	pod, err := env.node.MirrorPod(ctx, "kube-scheduler")
	if err != nil || len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("kube-scheduler mirror pod: %v", err)
	}
	pid := containerPid(t, strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	deadline := time.Now().Add(6 * time.Minute) // the kubelet's crash back-off caps at 5 minutes
	for time.Now().Before(deadline) {
		pod, err = env.node.MirrorPod(ctx, "kube-scheduler")
		if err == nil && len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].RestartCount > before {
			break
		}
		time.Sleep(2 * time.Second)
	}
	after, last := restarts()
	if after != before+1 || !strings.Contains(last, "exit 137") {
		t.Errorf("restarts %d -> %d (want +1), last termination %q (want exit 137)", before, after, last)
	}
}
