package users

import (
	"context"
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
	"github.com/clusterops/kubectl-clusterops/internal/paging/pagingtest"
)

// Defect 12 (issue 14): user list and user delete read RoleBindings, ClusterRoleBindings and CSRs
// page by page; a binding of the user on a later page is found and removed.
func TestDefect12UserListAndDeleteArePaged(t *testing.T) {
	bob := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "bob"}
	other := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "someone"}
	var objs []runtime.Object
	for i := range paging.PageSize + 10 {
		subject := other
		if i == paging.PageSize+5 {
			subject = bob
		}
		objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rb-%04d", i), Namespace: "team"},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{subject}})
	}
	objs = append(objs, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb-bob"},
		RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{bob}})
	client := fake.NewClientset(objs...)
	limits := map[string]*[]int64{}
	for _, r := range []string{"rolebindings", "clusterrolebindings", "certificatesigningrequests"} {
		limits[r] = pagingtest.Serve(client, r)
	}
	entries, err := List(context.Background(), client, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Name == "bob" && len(e.Bindings) == 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("bob's two bindings not listed: %+v", entries)
	}
	res, err := Delete(context.Background(), client, "bob", "", false)
	if err != nil || len(res.Removed) != 2 {
		t.Fatalf("delete: %v %+v", err, res)
	}
	if _, err := client.RbacV1().RoleBindings("team").Get(context.Background(), fmt.Sprintf("rb-%04d", paging.PageSize+5), metav1.GetOptions{}); err == nil {
		t.Error("bob's RoleBinding on the second page is still there")
	}
	for r, l := range limits {
		if len(*l) == 0 {
			t.Errorf("%s: never listed", r)
		}
		for _, limit := range *l {
			if limit != paging.PageSize {
				t.Errorf("%s: a list request with limit %d", r, limit)
			}
		}
	}
	if len(*limits["rolebindings"]) != 4 { // two pages for list, two for delete
		t.Errorf("rolebindings listed in %d requests, want 4", len(*limits["rolebindings"]))
	}
}
