// Command upgrade-bench times `kubectl clusterops upgrade plan` on a large cluster and compares it,
// in the same run, with `kubeadm upgrade plan` on the same cluster.
//
//	go run ./bench/upgrade -nodes 5000 -pods 20000 -runs 10
//
// It starts a real control plane (test/e2e/harness: real kubeadm, etcd, kube-apiserver v1.37.2;
// no kube-controller-manager, so that 5,000 nodes without heartbeats are not re-tainted while
// measuring), creates the nodes (kubelets at v1.35, v1.36 and v1.37), the pods (bound to nodes,
// ReplicaSet- or DaemonSet-owned, some bare, some with emptyDir) and PodDisruptionBudgets in
// parallel, then runs each command as a child process and reads its wall time and peak RSS
// (getrusage of the child). Every process it starts is stopped by pid.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

func main() {
	nodes := flag.Int("nodes", 5000, "worker nodes to create")
	pods := flag.Int("pods", 20000, "pods to create")
	runs := flag.Int("runs", 10, "timed runs of each command")
	workers := flag.Int("workers", 32, "parallel create requests")
	flag.DurationVar(&hold, "hold", 0, "keep the cluster up this long after the runs (prints its KUBECONFIG), for profiling")
	flag.Parse()
	if err := run(*nodes, *pods, *runs, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "upgrade-bench:", err)
		os.Exit(1)
	}
}

var hold time.Duration

func run(nNodes, nPods, runs, workers int) error {
	// Ctrl-C or SIGTERM ends the run (and -hold) early; the deferred Stop still stops every process.
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, 30*time.Minute)
	defer cancel()
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "upgrade-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	plugin := filepath.Join(work, "kubectl-clusterops")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", plugin, "./cmd/kubectl-clusterops")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the plugin: %v\n%s", err, out)
	}
	cp, err := harness.Start(ctx, harness.Options{Name: "bench", Dir: filepath.Join(work, "cluster"), NoControllerManager: true})
	if cp != nil {
		defer cp.Stop()
	}
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(cp.RESTConfig)
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := populate(ctx, client, nNodes, nPods, workers); err != nil {
		return err
	}
	fmt.Printf("populated %d nodes, %d pods in %s\n", nNodes, nPods, time.Since(start).Round(time.Millisecond))
	// kubeadm's CreateJob health check waits 60 s for a Job that cannot run without a kubelet,
	// unless no node is schedulable: cordon the control-plane node (the workers are created cordoned).
	if _, err := client.CoreV1().Nodes().Patch(ctx, cp.NodeName, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		return err
	}
	releases := filepath.Join(work, "releases.txt")
	if err := os.WriteFile(releases, []byte("v1.37.2\nv1.38.1\n"), 0o600); err != nil {
		return err
	}
	kubectlDir := cp.BinDir
	env := append(os.Environ(), "PATH="+kubectlDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmds := []struct {
		name string
		args []string
	}{
		{"kubectl clusterops upgrade plan -o json", []string{plugin, "upgrade", "plan", "--releases", releases, "-o", "json", "--kubeconfig", cp.AdminKubeconfig}},
		{"kubectl clusterops upgrade plan -o json --chunk-size 1000", []string{plugin, "upgrade", "plan", "--releases", releases, "-o", "json", "--chunk-size", "1000", "--kubeconfig", cp.AdminKubeconfig}},
		{"kubectl clusterops upgrade plan (table)", []string{plugin, "upgrade", "plan", "--releases", releases, "--kubeconfig", cp.AdminKubeconfig}},
		{"kubeadm upgrade plan v1.37.2", []string{filepath.Join(cp.BinDir, "kubeadm"), "upgrade", "plan", "v1.37.2", "--rootfs", cp.Root,
			"--kubeconfig", "/etc/kubernetes/admin.conf", "--ignore-preflight-errors=CreateJob,ControlPlaneNodesReady"}},
	}
	fmt.Printf("\n%-42s %6s %10s %10s %10s %12s %6s\n", "COMMAND", "RUN", "WALL", "USER", "SYS", "PEAK RSS", "EXIT")
	var summary []string
	for _, c := range cmds {
		var walls []time.Duration
		for i := 1; i <= runs; i++ {
			res, err := timed(ctx, env, c.args)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			fmt.Printf("%-58s %6d %10s %10s %10s %9.1f MiB %6d\n", c.name, i, res.wall.Round(time.Millisecond), res.user.Round(time.Millisecond),
				res.sys.Round(time.Millisecond), float64(res.maxRSSKiB)/1024, res.exit)
			walls = append(walls, res.wall)
			if i == runs {
				fmt.Printf("    output: %d bytes; last lines:\n%s\n", len(res.stdout), tail(res.stdout, 6))
			}
		}
		slices.Sort(walls)
		over := 0
		for _, w := range walls {
			if w >= 3*time.Second {
				over++
			}
		}
		summary = append(summary, fmt.Sprintf("%-58s median %s  max %s  over 3 s: %d of %d", c.name,
			walls[(len(walls)-1)/2].Round(time.Millisecond), walls[len(walls)-1].Round(time.Millisecond), over, len(walls)))
	}
	fmt.Printf("\n== summary (%d nodes, %d pods; load %s)\n", nNodes, nPods, loadavg())
	for _, l := range summary {
		fmt.Println(l)
	}
	if hold > 0 {
		fmt.Printf("holding the cluster for %s: export KUBECONFIG=%s\n", hold, cp.AdminKubeconfig)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
	}
	return nil
}

// loadavg is the 1, 5 and 15 minute load averages of this machine ("?" when unknown).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

type result struct {
	wall, user, sys time.Duration
	maxRSSKiB       int64
	exit            int
	stdout          []byte
}

func timed(ctx context.Context, env, args []string) (result, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if cmd.ProcessState == nil {
		return result{}, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := result{wall: wall, user: cmd.ProcessState.UserTime(), sys: cmd.ProcessState.SystemTime(), maxRSSKiB: ru.Maxrss,
		exit: cmd.ProcessState.ExitCode(), stdout: append(out.Bytes(), errb.Bytes()...)}
	if r.exit > 2 {
		return r, fmt.Errorf("exit %d: %s", r.exit, tail(r.stdout, 10))
	}
	return r, nil
}

func tail(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "      " + string(bytes.Join(lines, []byte("\n      ")))
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

var kubelets = []string{"v1.35.4", "v1.36.1", "v1.37.2"}

func populate(ctx context.Context, c kubernetes.Interface, nNodes, nPods, workers int) error {
	err := parallel(ctx, nNodes, workers, func(ctx context.Context, i int) error {
		v := kubelets[i%len(kubelets)]
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%05d", i), Labels: map[string]string{
			"kubernetes.io/hostname": fmt.Sprintf("node-%05d", i), "kubernetes.io/os": "linux"}},
			Spec: corev1.NodeSpec{Unschedulable: true}}
		created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: v, KubeProxyVersion: v, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "containerd://1.7.0", OSImage: "Debian GNU/Linux 12", KernelVersion: "6.1.0"}
		created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}
		_, err = c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating nodes: %w", err)
	}
	const namespaces = 20
	for i := range namespaces {
		ns := fmt.Sprintf("app-%02d", i)
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		// ServiceAccount admission needs the default ServiceAccount; there is no controller-manager.
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		for j := range 5 {
			pdb, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", j)},
				Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("100%")),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"svc": fmt.Sprintf("svc-%d", j)}}}}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: int32(j % 2)}
			if _, err := c.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	}
	err = parallel(ctx, nPods, workers, func(ctx context.Context, i int) error {
		ns := fmt.Sprintf("app-%02d", i%namespaces)
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: ns,
			Labels: map[string]string{"svc": fmt.Sprintf("svc-%d", i%7), "app": "bench"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%05d", i%nNodes), Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
		switch {
		case i%100 == 0: // bare pod
		case i%4 == 0:
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "00000000-0000-0000-0000-000000000001", Controller: ptr.To(true)}}
		default:
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: fmt.Sprintf("svc-%d", i%7), UID: "00000000-0000-0000-0000-000000000002", Controller: ptr.To(true)}}
		}
		if i%10 == 1 {
			p.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}
		_, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating pods: %w", err)
	}
	return nil
}
