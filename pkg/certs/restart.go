package certs

import (
	"github.com/clusterops/kubectl-clusterops/internal/atomicfile"

	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MirrorPodState identifies one incarnation of a mirror pod: the kubelet deletes the mirror pod
// when its manifest goes and creates a new one (new UID) when it comes back; a changed manifest
// also gives a new config.hash.
type MirrorPodState struct {
	UID  string
	Hash string
	// ContainerID is the running container's ID. While the API server or etcd is down the kubelet
	// cannot replace their mirror pods, so a restart of those shows only as a new container.
	ContainerID string
}

// restartedSince says whether st shows a restart since old: a new mirror pod, a new config.hash,
// or a new running container.
func (st MirrorPodState) restartedSince(old MirrorPodState) bool {
	return st.UID != "" && (st.UID != old.UID || st.Hash != old.Hash ||
		(st.ContainerID != "" && st.ContainerID != old.ContainerID))
}

// MirrorPods looks up the mirror pod of a static pod on this node. found is false when there is
// no mirror pod (no kubelet, or no API access).
type MirrorPods interface {
	MirrorPod(ctx context.Context, component string) (state MirrorPodState, found bool, err error)
}

// RestartOptions tune RestartStaticPods.
type RestartOptions struct {
	// Away is how long a manifest stays out of the manifests dir when no mirror pod can be watched
	// (the kubelet notices a removed manifest within its file-check period, 20s by default).
	Away time.Duration
	// Timeout bounds the wait for a mirror pod to go and to come back with a new config.hash.
	Timeout time.Duration
	// Poll is the interval between mirror pod lookups.
	Poll time.Duration
	// Sleep waits for d or until ctx is done (time.Sleep-like; injected so tests need no clock).
	Sleep func(ctx context.Context, d time.Duration) error
	// Mirror is nil when no API server is reachable.
	Mirror MirrorPods
	// Progress receives one line per step; may be nil.
	Progress func(format string, args ...any)
	// BeforeStop, when set, runs just before a component's manifest is moved away: before a
	// leading etcd member stops, the caller hands its leadership to another member, so that
	// the restart costs no leader election. It returns a note for the result; it cannot stop
	// the restart (a failed hand-over is a note too).
	BeforeStop func(ctx context.Context, component string) string
}

// RestartedPod is what happened to one static pod.
type RestartedPod struct {
	Component string `json:"component"`
	Manifest  string `json:"manifest"`
	// Confirmed is true when a new mirror pod (new UID or config.hash) came back.
	Confirmed bool   `json:"confirmed"`
	OldUID    string `json:"oldUID,omitempty"`
	NewUID    string `json:"newUID,omitempty"`
	OldHash   string `json:"oldHash,omitempty"`
	NewHash   string `json:"newHash,omitempty"`
	// OldContainerID and NewContainerID are the running containers before and after.
	OldContainerID string `json:"oldContainerID,omitempty"`
	NewContainerID string `json:"newContainerID,omitempty"`
	// BeforeStop is what was done just before the stop (RestartOptions.BeforeStop).
	BeforeStop string `json:"beforeStop,omitempty"`
	Note       string `json:"note,omitempty"`
}

// RestartStaticPods restarts the given static pods one at a time, the way kubeadm does during an
// upgrade: each manifest is moved out of the manifests dir into the layout's tmp dir, kept there
// until the kubelet has stopped the pod, and moved back. With a mirror pod to watch, it waits for
// the pod to come back with a new config.hash; without one it waits opts.Away.
func RestartStaticPods(ctx context.Context, l Layout, components []string, opts RestartOptions) ([]RestartedPod, error) {
	if opts.Sleep == nil {
		return nil, errors.New("internal error: RestartOptions.Sleep is not set")
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	away := parkDir(l)
	if err := os.MkdirAll(away, 0o700); err != nil {
		return nil, atomicfile.Error(away, err)
	}
	if err := RestoreParkedManifests(l); err != nil {
		return nil, err
	}
	var done []RestartedPod
	for _, component := range components {
		manifest := filepath.Join(l.ManifestsDir(), component+".yaml")
		parked := filepath.Join(away, component+".yaml")
		rp := RestartedPod{Component: component, Manifest: l.displayPath(manifest)}
		if _, err := os.Stat(manifest); errors.Is(err, fs.ErrNotExist) {
			rp.Note = "no static pod manifest; restart it by hand if it runs elsewhere"
			done = append(done, rp)
			continue
		}
		watch := false
		if opts.Mirror != nil {
			st, found, err := opts.Mirror.MirrorPod(ctx, component)
			if err == nil && found {
				watch, rp.OldUID, rp.OldHash, rp.OldContainerID = true, st.UID, st.Hash, st.ContainerID
			}
		}
		if opts.BeforeStop != nil {
			if rp.BeforeStop = opts.BeforeStop(ctx, component); rp.BeforeStop != "" {
				progress("%s: %s", component, rp.BeforeStop)
			}
		}
		progress("restarting %s: moving %s out of the manifests dir", component, rp.Manifest)
		if err := os.Rename(manifest, parked); err != nil {
			return done, fmt.Errorf("moving %s away: %w", rp.Manifest, err)
		}
		waitErr := waitGone(ctx, opts, component, watch)
		// Always put the manifest back, even when waiting failed or was interrupted.
		if err := os.Rename(parked, manifest); err != nil {
			return done, fmt.Errorf("moving %s back from %s: %w; move it back by hand", rp.Manifest, l.displayPath(parked), err)
		}
		if err := atomicfile.SyncDir(l.ManifestsDir()); err != nil {
			return done, err
		}
		if waitErr != nil {
			return done, waitErr
		}
		if watch {
			st, err := waitNewMirrorPod(ctx, opts, component, MirrorPodState{UID: rp.OldUID, Hash: rp.OldHash, ContainerID: rp.OldContainerID})
			if err != nil {
				return append(done, rp), err
			}
			rp.NewUID, rp.NewHash, rp.NewContainerID = st.UID, st.Hash, st.ContainerID
			rp.Confirmed = st.restartedSince(MirrorPodState{UID: rp.OldUID, Hash: rp.OldHash, ContainerID: rp.OldContainerID})
			if !rp.Confirmed {
				rp.Note = fmt.Sprintf("no new mirror pod within %s; check the kubelet on this node", opts.Timeout)
			}
		} else {
			rp.Note = fmt.Sprintf("no mirror pod to watch: the manifest was away for %s", opts.Away)
		}
		progress("restarted %s (%s)", component, map[bool]string{true: "confirmed by a new mirror pod", false: "not confirmed"}[rp.Confirmed])
		done = append(done, rp)
	}
	return done, nil
}

func waitGone(ctx context.Context, opts RestartOptions, component string, watch bool) error {
	if !watch {
		return opts.Sleep(ctx, opts.Away)
	}
	for waited := time.Duration(0); waited < opts.Timeout; waited += opts.Poll {
		// Gone, or the API server itself stopped answering (restarting kube-apiserver or etcd does
		// that): the kubelet has acted on the removed manifest. Keep it away one more poll.
		if _, found, err := opts.Mirror.MirrorPod(ctx, component); err != nil || !found {
			return opts.Sleep(ctx, opts.Poll)
		}
		if err := opts.Sleep(ctx, opts.Poll); err != nil {
			return err
		}
	}
	return nil // the kubelet may keep the mirror pod; go on and watch its hash
}

func waitNewMirrorPod(ctx context.Context, opts RestartOptions, component string, old MirrorPodState) (MirrorPodState, error) {
	var last MirrorPodState
	for waited := time.Duration(0); waited <= opts.Timeout; waited += opts.Poll {
		st, found, err := opts.Mirror.MirrorPod(ctx, component)
		if err == nil && found {
			last = st
			if st.restartedSince(old) {
				return st, nil
			}
		}
		if err := opts.Sleep(ctx, opts.Poll); err != nil {
			return last, err
		}
	}
	return last, nil
}

func parkDir(l Layout) string { return filepath.Join(l.TmpDir(), "clusterops-restart") }

// RestoreParkedManifests moves back every manifest that an interrupted restart left parked in the
// tmp dir, unless the manifests dir already has one of that name.
func RestoreParkedManifests(l Layout) error {
	parked, _ := filepath.Glob(filepath.Join(parkDir(l), "*.yaml"))
	for _, p := range parked {
		dst := filepath.Join(l.ManifestsDir(), filepath.Base(p))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.Rename(p, dst); err != nil {
			return fmt.Errorf("moving the parked manifest %s back: %w", l.displayPath(p), err)
		}
	}
	if len(parked) > 0 {
		return atomicfile.SyncDir(l.ManifestsDir())
	}
	return nil
}
