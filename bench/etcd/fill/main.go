// Command fill writes random values into an etcd until its database reaches a target size.
// It is the data generator of bench/etcd/run.sh.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:2379", "etcd client URL")
	target := flag.Int64("target-mib", 256, "stop when the db size reaches this many MiB")
	valueKiB := flag.Int("value-kib", 512, "size of each value")
	workers := flag.Int("workers", 4, "concurrent writers")
	flag.Parse()
	if err := fill(*endpoint, *target<<20, *valueKiB<<10, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "fill:", err)
		os.Exit(1)
	}
}

func fill(endpoint string, target int64, valueSize, workers int) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), MaxCallSendMsgSize: 4 << 20})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx := context.Background()
	size := func() (int64, error) {
		st, err := cli.Status(ctx, endpoint)
		if err != nil {
			return 0, err
		}
		return st.DbSize, nil
	}
	start := time.Now()
	var next int64
	if st, err := cli.Get(ctx, "/bench/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil {
		next = st.Count
	}
	for {
		cur, err := size()
		if err != nil {
			return err
		}
		if cur >= target {
			fmt.Printf("fill: db %d MiB after %s\n", cur>>20, time.Since(start).Round(time.Second))
			return nil
		}
		// Write roughly what is missing, in parallel, then measure again.
		batch := int((target-cur)/int64(valueSize)) + 1
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		keys := make(chan int64)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				val := make([]byte, valueSize)
				for k := range keys {
					rand.Read(val)
					if _, err := cli.Put(ctx, fmt.Sprintf("/bench/%012d", k), string(val)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for i := 0; i < batch; i++ {
			keys <- next
			next++
		}
		close(keys)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
		}
	}
}
