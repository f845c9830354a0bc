package staticpods

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
	"github.com/clusterops/kubectl-clusterops/internal/paging/pagingtest"
)

// Defect 12 (issue 14): the pods are listed page by page, and a mirror pod on a later page is found.
func TestDefect12MirrorPodsArePaged(t *testing.T) {
	objs := []runtime.Object{mirrorOf(basePod(), "node-a")}
	for i := range paging.PageSize + 100 {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%04d", i), Namespace: "default"}})
	}
	last := basePod()
	last.Name = "kube-scheduler"
	objs = append(objs, mirrorOf(last, "node-b"))
	client := fake.NewClientset(objs...)
	limits := pagingtest.Serve(client, "pods")
	res, err := List(context.Background(), client, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2 {
		t.Errorf("%d mirror pods, want 2: %+v", len(res.Items), res.Items)
	}
	if len(*limits) != 2 || (*limits)[0] != paging.PageSize {
		t.Errorf("list requests with limits %v, want 2 pages of %d", *limits, paging.PageSize)
	}
}
