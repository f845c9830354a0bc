package users

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// DeleteResult is what `user delete` removed, and what it cannot remove.
type DeleteResult struct {
	User         string     `json:"user"`
	DryRun       bool       `json:"dryRun"`
	Removed      []string   `json:"removed"`
	CertNotAfter *time.Time `json:"certNotAfter,omitempty"`
	Warning      string     `json:"warning"`
}

// CheckDeletable refuses what Delete must never touch: an empty name, and a name in the reserved
// system: namespace, as create refuses it. Those users are Kubernetes' own: the built-in
// ClusterRoleBinding system:kube-controller-manager has that user as its only subject, so deleting
// the user's bindings would delete Kubernetes' binding.
func CheckDeletable(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("missing user name: give NAME")
	}
	if rbac.IsSystemName(name) {
		return fmt.Errorf("user name %q is in the reserved system: namespace: its bindings belong to Kubernetes, and user delete never removes them; delete a binding you made yourself with 'kubectl delete'", name)
	}
	return nil
}

// Delete removes the bindings that name the user (a binding with other subjects keeps them and
// loses only this user), the user's client-cert CSRs, and, when kubeconfig is given, the user's
// kubeconfig entries that `user create --merge` wrote.
func Delete(ctx context.Context, client kubernetes.Interface, name, kubeconfig string, dryRun bool) (*DeleteResult, error) {
	if err := CheckDeletable(name); err != nil {
		return nil, err
	}
	res := &DeleteResult{User: name, DryRun: dryRun}
	opts := metav1.DeleteOptions{}
	uopts := metav1.UpdateOptions{}
	if dryRun {
		opts.DryRun, uopts.DryRun = []string{metav1.DryRunAll}, []string{metav1.DryRunAll}
	}
	isUser := func(s rbacv1.Subject) bool { return s.Kind == rbacv1.UserKind && s.Name == name }
	// Each list is read page by page, keeping only what names the user; the changes come after.
	var rbs []rbacv1.RoleBinding
	err := paging.Each(ctx, metav1.ListOptions{}, client.RbacV1().RoleBindings(metav1.NamespaceAll).List, func(b *rbacv1.RoleBinding) error {
		if slices.ContainsFunc(b.Subjects, isUser) {
			rbs = append(rbs, *b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing RoleBindings: %w", err)
	}
	for _, b := range rbs {
		what := "RoleBinding " + b.Namespace + "/" + b.Name
		if len(b.Subjects) == 1 {
			err = client.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, opts)
		} else {
			b.Subjects = slices.DeleteFunc(b.Subjects, isUser)
			_, err = client.RbacV1().RoleBindings(b.Namespace).Update(ctx, &b, uopts)
			what = "user from " + what
		}
		if err != nil {
			return res, fmt.Errorf("removing %s: %w", what, err)
		}
		res.Removed = append(res.Removed, what)
	}
	var crbs []rbacv1.ClusterRoleBinding
	err = paging.Each(ctx, metav1.ListOptions{}, client.RbacV1().ClusterRoleBindings().List, func(b *rbacv1.ClusterRoleBinding) error {
		if slices.ContainsFunc(b.Subjects, isUser) {
			crbs = append(crbs, *b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	for _, b := range crbs {
		what := "ClusterRoleBinding " + b.Name
		if len(b.Subjects) == 1 {
			err = client.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, opts)
		} else {
			b.Subjects = slices.DeleteFunc(b.Subjects, isUser)
			_, err = client.RbacV1().ClusterRoleBindings().Update(ctx, &b, uopts)
			what = "user from " + what
		}
		if err != nil {
			return res, fmt.Errorf("removing %s: %w", what, err)
		}
		res.Removed = append(res.Removed, what)
	}
	var csrs []certificatesv1.CertificateSigningRequest
	err = paging.Each(ctx, metav1.ListOptions{}, client.CertificatesV1().CertificateSigningRequests().List, func(csr *certificatesv1.CertificateSigningRequest) error {
		if cn, ok := csrUser(csr); ok && cn == name {
			csrs = append(csrs, *csr)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing CertificateSigningRequests: %w", err)
	}
	for _, csr := range csrs {
		if cs, err := certs.ParseCertsPEM(csr.Status.Certificate); err == nil && len(cs) > 0 {
			if res.CertNotAfter == nil || cs[0].NotAfter.After(*res.CertNotAfter) {
				na := cs[0].NotAfter
				res.CertNotAfter = &na
			}
		}
		if err := client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, opts); err != nil {
			return res, fmt.Errorf("deleting CertificateSigningRequest %s: %w", csr.Name, err)
		}
		res.Removed = append(res.Removed, "CertificateSigningRequest "+csr.Name)
	}
	if kubeconfig != "" {
		removed, err := RemoveUser(kubeconfig, name, dryRun)
		if err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, removed...)
	}
	until := "its NotAfter"
	if res.CertNotAfter != nil {
		until = res.CertNotAfter.UTC().Format(time.RFC3339)
	}
	res.Warning = fmt.Sprintf("a client certificate cannot be revoked in Kubernetes: the cert of %q stays valid until %s unless the cluster CA is rotated (see 'kubectl clusterops certs ca'); removing the bindings removes what it may do, but groups in the cert still apply", name, until)
	return res, nil
}
