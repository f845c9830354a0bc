package users

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Defect 12 (issue 14): a rollback delete that fails is reported, naming the object left behind;
// an object already gone is not.
func TestDefect12RollbackNamesOrphans(t *testing.T) {
	ran := []string{}
	step := func(what string, err error) undoStep {
		return undoStep{what: what, do: func(context.Context) error { ran = append(ran, what); return err }}
	}
	cause := errors.New("the API server sees the new cert as someone else")
	steps := []undoStep{
		step("CertificateSigningRequest csr-1", nil),
		step("Role team-a/r", apierrors.NewNotFound(rbacResource("roles"), "r")),
		step("RoleBinding team-a/b", apierrors.NewForbidden(rbacResource("rolebindings"), "b", errors.New("no delete"))),
	}
	err := withRollback(context.Background(), cause, steps)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "left behind") ||
		!strings.Contains(err.Error(), "RoleBinding team-a/b (") || strings.Contains(err.Error(), "Role team-a/r") ||
		strings.Contains(err.Error(), "csr-1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v", err)
	}
	if strings.Join(ran, ",") != "RoleBinding team-a/b,Role team-a/r,CertificateSigningRequest csr-1" {
		t.Errorf("ran %v, want the reverse order", ran)
	}
	if err := withRollback(context.Background(), cause, steps[:2]); err != cause {
		t.Errorf("a clean rollback changed the error: %v", err)
	}
}

// Defect 12: SignAPI deletes its CSR when no certificate comes; if that delete fails, the error
// says so and names the CSR.
func TestDefect12SignAPIReportsOrphanedCSR(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("delete", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is unavailable")
	})
	_, err := signAPI(t, client, false, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "left behind") || !strings.Contains(err.Error(), "CertificateSigningRequest clusterops-jane-") ||
		!strings.Contains(err.Error(), "etcd is unavailable") {
		t.Fatalf("got %v", err)
	}
	if n := csrCount(t, client); n != 1 {
		t.Errorf("%d CSRs, want the 1 orphan", n)
	}
}

func rbacResource(r string) schema.GroupResource {
	return schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: r}
}
