// Package workpool runs indexed jobs on a bounded number of goroutines, stopping at the first
// error. pkg/rbac (access reviews) and pkg/backup/objstore (multipart upload parts) share it.
package workpool

import (
	"context"
	"sync"
)

// Run calls fn(ctx, i) for every i in [0, n) on at most workers goroutines (at least one). The
// first error cancels the context the other calls get, stops handing out indexes, and is
// returned once every running call has returned. Without an error, Run returns ctx.Err(): nil
// unless ctx ended (then some indexes may not have been handed out).
func Run(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	next := make(chan int)
	for w := 0; w < min(max(workers, 1), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() {
						firstErr = err
						cancel()
					})
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
