// Command kubectl-clusterops is a kubectl plugin: `kubectl clusterops ...`.
package main

import (
	"context"
	"errors"
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

// atExit runs before the program exits (the pprof build tag writes its profiles there).
var atExit = func() {}

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
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		if sig, ok := <-signals; ok {
			name, ok := map[os.Signal]string{os.Interrupt: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[sig]
			if !ok {
				name = sig.String()
			}
			cancel(fmt.Errorf("interrupted by %s", name))
		}
	}()
	err := plugin.NewCmdRoot(streams).ExecuteContext(ctx)
	signal.Stop(signals)
	close(signals)
	atExit()
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && err.Error() != "" {
			// The command stopped because of the signal: say so rather than "context canceled",
			// and keep anything else it had to report (a clean-up that failed).
			msg := cause.Error()
			if !errors.Is(err, context.Canceled) {
				msg += ": " + err.Error()
			}
			err = &cmdutil.ExitError{Code: cmdutil.ExitCode(err), Err: errors.New(msg)}
		}
		if msg := err.Error(); msg != "" { // an ExitError without Err has already reported
			fmt.Fprintf(os.Stderr, "error: %s\n", msg)
		}
		os.Exit(cmdutil.ExitCode(err))
	}
}
