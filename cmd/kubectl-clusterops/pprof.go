//go:build pprof

package main

// Built with -tags pprof (bench/etcd/run.sh PROFILE=1 does), the plugin writes a CPU profile to
// $CLUSTEROPS_CPUPROFILE and an allocation profile to $CLUSTEROPS_MEMPROFILE. Release builds
// have none of this.

import (
	"os"
	"runtime"
	"runtime/pprof"
)

func init() {
	if p := os.Getenv("CLUSTEROPS_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 64 << 10
		prev := atExit
		atExit = func() {
			prev()
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}
	if p := os.Getenv("CLUSTEROPS_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return
		}
		prev := atExit
		atExit = func() {
			pprof.StopCPUProfile()
			f.Close()
			prev()
		}
	}
}
