package rbac

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeReviewer allows get on everything and records the peak concurrency.
type fakeReviewer struct {
	mu      sync.Mutex
	asked   []Request
	cur     atomic.Int32
	peak    atomic.Int32
	failOn  string
	allowed func(Request) bool
}

func (f *fakeReviewer) Allowed(ctx context.Context, req Request) (bool, error) {
	n := f.cur.Add(1)
	defer f.cur.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	f.mu.Lock()
	f.asked = append(f.asked, req)
	f.mu.Unlock()
	if req.Resource == f.failOn {
		return false, errors.New("forbidden")
	}
	return f.allowed(req), nil
}

func TestMatrix(t *testing.T) {
	var resources []APIResource
	for _, name := range []string{"pods", "services", "configmaps", "secrets", "nodes"} {
		resources = append(resources, APIResource{Resource: name, Namespaced: name != "nodes",
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}})
	}
	resources = append(resources, APIResource{Resource: "pods/exec", Namespaced: true, Verbs: []string{"create", "get"}})
	rev := &fakeReviewer{allowed: func(r Request) bool { return r.Verb == "get" && r.Resource != "secrets" }}
	res, err := Matrix(context.Background(), rev, resources, MatrixOptions{Namespace: "ns1", Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := rev.peak.Load(); got > 3 || got < 2 {
		t.Errorf("peak concurrency %d, want 2..3 (bounded by Parallel)", got)
	}
	if res.Reviews != 5*7+2 || len(rev.asked) != res.Reviews {
		t.Errorf("reviews %d, asked %d, want %d", res.Reviews, len(rev.asked), 5*7+2)
	}
	for _, req := range rev.asked {
		if (req.Resource == "nodes") != (req.Namespace == "") {
			t.Errorf("namespace of %+v: cluster-scoped resources are asked without one, namespaced ones in ns1", req)
		}
	}
	cell := func(row int, verb string) string { return res.Rows[row].Access[verb] }
	if cell(0, "get") != CellAllowed || cell(0, "list") != CellDenied || cell(3, "get") != CellDenied {
		t.Errorf("cells: %+v", res.Rows[:4])
	}
	if cell(5, "get") != CellAllowed || cell(5, "list") != CellUnsupported || res.Rows[5].Resource != "pods/exec" {
		t.Errorf("pods/exec row: %+v", res.Rows[5])
	}
	for _, req := range rev.asked {
		if req.Resource == "pods" && req.Subresource == "exec" && req.Verb == "list" {
			t.Error("an unsupported verb was asked")
		}
	}

	rev = &fakeReviewer{allowed: func(Request) bool { return true }, failOn: "secrets"}
	_, err = Matrix(context.Background(), rev, resources, MatrixOptions{Parallel: 4})
	if err == nil || !strings.Contains(err.Error(), "secrets") {
		t.Errorf("a failed review must stop the matrix and name the resource, got %v", err)
	}
}
