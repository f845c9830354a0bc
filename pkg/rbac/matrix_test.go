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
	// nodes cannot be asked about in a namespace (a RoleBinding never grants it): n/a.
	if res.Reviews != 4*7+2 || len(rev.asked) != res.Reviews || res.Rows[4].Access["get"] != CellUnsupported {
		t.Errorf("reviews %d, asked %d, want %d; nodes: %v", res.Reviews, len(rev.asked), 4*7+2, res.Rows[4].Access)
	}
	for _, req := range rev.asked {
		if req.Namespace != "ns1" {
			t.Errorf("namespace of %+v: namespaced resources are asked in ns1", req)
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

// bind, escalate, impersonate and approve are asked where the authorizer uses them, though
// discovery does not list them; the namespace object and bind on clusterroles carry the namespace.
func TestMatrixAsksAuthorizationOnlyVerbs(t *testing.T) {
	rw := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	resources := []APIResource{
		{Group: "rbac.authorization.k8s.io", Resource: "roles", Namespaced: true, Verbs: rw},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verbs: rw},
		{Resource: "serviceaccounts", Namespaced: true, Verbs: rw},
		{Resource: "namespaces", Verbs: rw},
		{Resource: "pods", Namespaced: true, Verbs: rw},
	}
	resources = append(resources, VirtualResources()...)
	rev := &fakeReviewer{allowed: func(Request) bool { return true }}
	res, err := Matrix(context.Background(), rev, resources, MatrixOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]Request{}
	for _, r := range rev.asked {
		key := r.Verb + " " + r.Resource
		if r.Subresource != "" {
			key += "/" + r.Subresource
		}
		asked[key] = r
	}
	for _, want := range []string{"bind roles", "escalate roles", "bind clusterroles", "escalate clusterroles",
		"impersonate serviceaccounts", "impersonate users", "impersonate groups", "impersonate uids",
		"impersonate userextras/*", "approve signers"} {
		if _, ok := asked[want]; !ok {
			t.Errorf("%q was not asked", want)
		}
	}
	for _, never := range []string{"bind pods", "impersonate pods", "approve roles", "get signers"} {
		if _, ok := asked[never]; ok {
			t.Errorf("%q was asked: the authorizer never uses it", never)
		}
	}
	if asked["approve signers"].Group != "certificates.k8s.io" || asked["impersonate uids"].Group != "authentication.k8s.io" {
		t.Errorf("groups: %+v", asked)
	}
	if len(res.Verbs) != 11 {
		t.Errorf("default verbs %v", res.Verbs)
	}

	rev = &fakeReviewer{allowed: func(Request) bool { return true }}
	if _, err := Matrix(context.Background(), rev, resources, MatrixOptions{Namespace: "shop", Parallel: 2}); err != nil {
		t.Fatal(err)
	}
	got := map[string]Request{}
	for _, r := range rev.asked {
		got[r.Verb+" "+r.Resource] = r
	}
	if r := got["patch namespaces"]; r.Namespace != "shop" || r.Name != "shop" {
		t.Errorf("patch namespaces -n shop asked as %+v, want namespace and name shop", r)
	}
	if r := got["bind clusterroles"]; r.Namespace != "shop" {
		t.Errorf("bind clusterroles -n shop asked as %+v", r)
	}
	for _, never := range []string{"list namespaces", "create namespaces", "get clusterroles", "impersonate users", "approve signers"} {
		if _, ok := got[never]; ok {
			t.Errorf("-n shop: %q was asked, but it cannot carry a namespace", never)
		}
	}
}
