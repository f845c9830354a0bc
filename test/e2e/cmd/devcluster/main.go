// Command devcluster starts the e2e harness control plane for a person (`make cluster`) or for the
// demo: a kubeadm node laid out by the real kubeadm, with etcd, kube-apiserver and
// kube-controller-manager on 127.0.0.1. It runs until SIGINT or SIGTERM, then stops every process
// it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

func main() {
	name := flag.String("name", "clusterops", "cluster name")
	members := flag.Int("etcd-members", 1, "etcd members: 1 or 3")
	dir := flag.String("dir", "", "work folder (default: a new temp dir)")
	readyFile := flag.String("ready-file", "", "write the env lines here once the cluster is ready")
	quiet := flag.Bool("quiet", false, "print only the final lines")
	flag.Parse()

	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if *quiet {
		logf = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	start := time.Now()
	cp, err := harness.Start(ctx, harness.Options{Name: *name, EtcdMembers: *members, Dir: *dir, Logf: logf})
	cancel()
	if err != nil {
		if cp != nil {
			fmt.Fprintln(os.Stderr, cp.Logs(40))
			cp.Stop()
		}
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		os.Exit(1)
	}
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport CLUSTEROPS_ROOT=%s\n", cp.AdminKubeconfig, cp.Root)
	fmt.Printf("control plane %q ready in %s (kube-apiserver %s, etcd %v)\n", cp.Name, time.Since(start).Round(time.Second), cp.Server, cp.EtcdEndpoints())
	fmt.Printf("%s", env)
	fmt.Printf("# node root for on-node commands (--root): %s\n", cp.Root)
	fmt.Printf("# component logs: %s\n", cp.LogDir)
	fmt.Printf("# stop it with Ctrl-C, or: kill %d\n", os.Getpid())
	if *readyFile != "" {
		tmp := *readyFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(env), 0o644); err == nil {
			_ = os.Rename(tmp, *readyFile)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Fprintf(os.Stderr, "devcluster: stopping %s (work folder %s stays)\n", cp.Name, filepath.Clean(cp.Dir))
	cp.Stop()
}
