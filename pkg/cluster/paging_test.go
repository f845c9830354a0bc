package cluster

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

// Defect 12 (issue 14): cluster status reads nodes and Services page by page; every node and every
// Service cluster IP is counted.
func TestDefect12ClusterStatusIsPaged(t *testing.T) {
	objs := []runtime.Object{kubeadmConfig("10.244.0.0/16")}
	n := paging.PageSize + 20
	for i := range n {
		objs = append(objs, node(fmt.Sprintf("n%04d", i)))
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%04d", i), Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, 1+i%250)}})
	}
	client := fake.NewClientset(objs...)
	nodeLimits := pagingtest.Serve(client, "nodes")
	svcLimits := pagingtest.Serve(client, "services")
	s, err := Collect(context.Background(), Inputs{Client: client}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != n {
		t.Errorf("%d nodes, want %d", len(s.Nodes), n)
	}
	used := int64(0)
	for _, u := range s.Networking.ServiceIPAM {
		used += u.Used
	}
	if used != int64(n) {
		t.Errorf("%d service IPs counted, want %d (%+v)", used, n, s.Networking.ServiceIPAM)
	}
	for what, l := range map[string]*[]int64{"nodes": nodeLimits, "services": svcLimits} {
		if len(*l) < 2 || (*l)[0] != paging.PageSize {
			t.Errorf("%s listed with limits %v, want pages of %d", what, *l, paging.PageSize)
		}
	}
}
