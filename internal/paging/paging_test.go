package paging

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/clusterops/kubectl-clusterops/internal/paging/pagingtest"
)

// Defect 12 (issue 14): lists go page by page, and every item of every page comes back once.
func TestDefect12ListPages(t *testing.T) {
	var objs []runtime.Object
	for i := range 1234 {
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%04d", i)}})
	}
	client := fake.NewClientset(objs...)
	limits := pagingtest.Serve(client, "nodes")
	nodes, err := List[corev1.Node](context.Background(), metav1.ListOptions{}, client.CoreV1().Nodes().List)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.Name] = true
	}
	if len(nodes) != 1234 || len(seen) != 1234 {
		t.Fatalf("%d nodes, %d distinct", len(nodes), len(seen))
	}
	if len(*limits) != 3 || (*limits)[0] != PageSize || (*limits)[2] != PageSize {
		t.Errorf("requests with limits %v, want 3 pages of %d", *limits, PageSize)
	}
}
