// Command pause is the pod sandbox program of the real-node test tier: it waits for SIGTERM or
// SIGINT and exits 0. It is built statically and imported into containerd as the pause image,
// so no image is ever pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
