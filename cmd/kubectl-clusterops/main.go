// Command kubectl-clusterops is a kubectl plugin: `kubectl clusterops ...`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
)

func main() {
	// client-go logs through klog to stderr; our errors are one line each, so klog stays quiet.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	// Ctrl-C, `timeout` (SIGTERM) and a closed terminal (SIGHUP) all cancel the context, so a
	// cron job that is killed cleans up (temp files, half-written snapshots, test pods) like Ctrl-C.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := plugin.NewCmdRoot(streams).ExecuteContext(ctx)
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" { // an ExitError without Err has already reported
			fmt.Fprintf(os.Stderr, "error: %s\n", msg)
		}
		os.Exit(cmdutil.ExitCode(err))
	}
}
