// Command startup-bench pairs kubectl-clusterops with kubectl on the commands that only start up:
// `--help`, `version --client` and a completion call, run alternately RUNS times each, and prints
// the median wall time and the peak RSS (getrusage of the child, ru_maxrss: the binary's
// file-backed pages included) of both, side by side. bench/startup/run.sh builds the binaries and
// the 50-context kubeconfig and runs it.
//
//	go run ./bench/startup -plugin bin/kubectl-clusterops -kubectl PATH/kubectl -kubeconfig FILE -runs 20
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

type pair struct {
	name         string
	plugin, kube []string
}

func main() {
	plugin := flag.String("plugin", "bin/kubectl-clusterops", "the plugin binary")
	kubectl := flag.String("kubectl", "kubectl", "the kubectl binary")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig for the completion calls (50 contexts)")
	runs := flag.Int("runs", 20, "runs per command and tool")
	flag.Parse()
	kc := []string{"--kubeconfig", *kubeconfig}
	pairs := []pair{
		{"--help", []string{*plugin, "--help"}, []string{*kubectl, "--help"}},
		{"version --client", []string{*plugin, "version", "--client"}, []string{*kubectl, "version", "--client"}},
		{"__complete ... --context ''", append([]string{*plugin, "__complete", "version", "--context", ""}, kc...),
			append([]string{*kubectl, "__complete", "get", "pods", "--context", ""}, kc...)},
		{"kubectl __complete clusterops ...", append([]string{*kubectl, "__complete", "clusterops", "version", "--context", ""}, kc...),
			nil},
	}
	fmt.Printf("runs: %d per command and tool, alternating; %d cores\n", *runs, numCPU())
	fmt.Printf("%-34s %16s %16s %8s %14s %14s\n", "COMMAND", "CLUSTEROPS_MS", "KUBECTL_MS", "RATIO", "CLUSTEROPS_MiB", "KUBECTL_MiB")
	for _, p := range pairs {
		var pt, kt []float64
		var pm, km int64
		for range *runs {
			d, m, err := run(p.plugin)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%v: %v\n", p.plugin, err)
				os.Exit(1)
			}
			pt, pm = append(pt, d), max(pm, m)
			if p.kube != nil {
				if d, m, err = run(p.kube); err != nil {
					fmt.Fprintf(os.Stderr, "%v: %v\n", p.kube, err)
					os.Exit(1)
				}
				kt, km = append(kt, d), max(km, m)
			}
		}
		if p.kube == nil {
			fmt.Printf("%-34s %16.1f %16s %8s %14.1f %14s\n", p.name, median(pt), "-", "-", float64(pm)/1024, "-")
			continue
		}
		fmt.Printf("%-34s %16.1f %16.1f %7.2fx %14.1f %14.1f\n", p.name, median(pt), median(kt), median(pt)/median(kt),
			float64(pm)/1024, float64(km)/1024)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load: %s", b)
	}
}

// run runs argv with its output discarded; it returns the wall time in ms and the peak RSS in KiB.
func run(argv []string) (float64, int64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, err
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return ms, rss, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func numCPU() int {
	n, _ := exec.Command("nproc").Output()
	var c int
	fmt.Sscan(string(n), &c)
	return c
}
