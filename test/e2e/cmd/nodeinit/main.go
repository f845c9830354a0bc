// Command nodeinit is PID 1 of a node of the multi-node test tier (hack/ha-up): a node is a set of
// Linux namespaces (pid, mount, uts, ipc, net) made by unshare(1), with this program as its init.
// It reaps orphans (containerd's shims daemonize and are re-parented to it) and exits on SIGTERM or
// SIGINT. When it exits, the kernel kills every process of the node's pid namespace and the node's
// mounts, network namespace and veth go with them: that is the node's "power off".
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
