package workpool

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsEveryIndexOnce(t *testing.T) {
	var calls [100]atomic.Int32
	var running, peak atomic.Int32
	err := Run(context.Background(), len(calls), 4, func(_ context.Context, i int) error {
		r := running.Add(1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		defer running.Add(-1)
		time.Sleep(time.Millisecond) // calls overlap, so more goroutines than the bound would show
		calls[i].Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("index %d called %d times", i, c)
		}
	}
	if p := peak.Load(); p > 4 {
		t.Fatalf("%d calls ran at once, want at most 4", p)
	}
}

func TestRunStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var after atomic.Int32
	err := Run(context.Background(), 1000, 1, func(ctx context.Context, i int) error {
		if i == 3 {
			return boom
		}
		if i > 3 {
			after.Add(1)
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	// one worker: at most the index already handed out when the error came is still called
	if a := after.Load(); a > 1 {
		t.Fatalf("%d calls after the error, want at most 1", a)
	}
}

func TestRunReturnsTheContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := Run(context.Background(), 0, 0, func(context.Context, int) error { return errors.New("called") }); err != nil {
		t.Fatalf("no jobs: err = %v", err)
	}
	if err := Run(context.Background(), 3, 0, func(context.Context, int) error { return nil }); err != nil {
		t.Fatalf("workers 0 runs on one goroutine: err = %v", err)
	}
}
