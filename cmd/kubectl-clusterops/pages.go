//go:build pages

package main

// Built with -tags pages, the plugin writes at exit, when CLUSTEROPS_PAGES is set: to that file,
// the resident pages of its own executable (from /proc/self/pagemap; bench/etcd/pages.py
// attributes them to sections and packages); to FILE.mem, the Go runtime's memory classes; to
// FILE.smaps, /proc/self/smaps. It is how issue 21 found where the file-backed RSS is. Release
// builds have none of this.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

func init() {
	p := os.Getenv("CLUSTEROPS_PAGES")
	if p == "" {
		return
	}
	prev := atExit
	atExit = func() {
		prev()
		_ = writePages(p)
		writeMemClasses(p + ".mem")
		if b, err := os.ReadFile("/proc/self/smaps"); err == nil {
			_ = os.WriteFile(p+".smaps", b, 0o644)
		}
	}
}

func writePages(path string) error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer maps.Close()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return err
	}
	defer pm.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != exe {
			continue
		}
		se := strings.SplitN(f[0], "-", 2)
		start, _ := strconv.ParseUint(se[0], 16, 64)
		end, _ := strconv.ParseUint(se[1], 16, 64)
		n := (end - start) / 4096
		buf := make([]byte, 8*n)
		if _, err := pm.ReadAt(buf, int64(start/4096*8)); err != nil {
			return err
		}
		present := 0
		for i := uint64(0); i < n; i++ {
			if binary.LittleEndian.Uint64(buf[8*i:])&(1<<63) != 0 {
				present++
				fmt.Fprintf(w, "page %s %x\n", f[1], start+i*4096)
			}
		}
		fmt.Fprintf(w, "map %s %x %x %d %d\n", f[1], start, end, n, present)
	}
	return sc.Err()
}

// writeMemClasses writes the Go runtime's memory classes (runtime/metrics) to path.
func writeMemClasses(path string) {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || strings.HasPrefix(d.Name, "/gc/heap/goal") {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			fmt.Fprintf(f, "%-50s %8.2f MiB\n", s.Name, float64(s.Value.Uint64())/(1<<20))
		}
	}
}
