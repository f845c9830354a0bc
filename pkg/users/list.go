package users

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterops/kubectl-clusterops/internal/paging"
	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// UserEntry is one user or group known to the cluster from client-cert CSRs or RBAC subjects.
type UserEntry struct {
	Name         string     `json:"name"`
	Kind         string     `json:"kind"` // User or Group
	Sources      []string   `json:"sources"`
	CertNotAfter *time.Time `json:"certNotAfter,omitempty"`
	CertExpired  bool       `json:"certExpired,omitempty"`
	CSRs         []string   `json:"csrs,omitempty"`
	Bindings     []string   `json:"bindings,omitempty"` // Kind/[ns/]name -> RoleKind/name
}

// List finds users from CSRs for the kube-apiserver-client signer and from RBAC subjects of kind
// User and Group. system: subjects are left out unless all.
func List(ctx context.Context, client kubernetes.Interface, now time.Time, all bool) ([]UserEntry, error) {
	entries := map[string]*UserEntry{}
	get := func(kind, name string) *UserEntry {
		k := kind + "/" + name
		if entries[k] == nil {
			entries[k] = &UserEntry{Name: name, Kind: kind}
		}
		return entries[k]
	}
	err := paging.Each(ctx, metav1.ListOptions{}, client.CertificatesV1().CertificateSigningRequests().List, func(csr *certificatesv1.CertificateSigningRequest) error {
		cn, ok := csrUser(csr)
		if !ok || (!all && strings.HasPrefix(cn, "system:")) {
			return nil
		}
		e := get(rbacv1.UserKind, cn)
		e.CSRs = append(e.CSRs, csr.Name)
		addSource(e, "csr")
		if cs, err := certs.ParseCertsPEM(csr.Status.Certificate); err == nil && len(cs) > 0 {
			if e.CertNotAfter == nil || cs[0].NotAfter.After(*e.CertNotAfter) {
				na := cs[0].NotAfter
				e.CertNotAfter, e.CertExpired = &na, now.After(na)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing CertificateSigningRequests: %w", err)
	}
	visit := func(binding string, subjects []rbacv1.Subject, ref rbacv1.RoleRef) {
		for _, s := range subjects {
			if (s.Kind != rbacv1.UserKind && s.Kind != rbacv1.GroupKind) || (!all && strings.HasPrefix(s.Name, "system:")) {
				continue
			}
			e := get(s.Kind, s.Name)
			e.Bindings = append(e.Bindings, binding+" -> "+ref.Kind+"/"+ref.Name)
			addSource(e, "rbac")
		}
	}
	err = paging.Each(ctx, metav1.ListOptions{}, client.RbacV1().RoleBindings(metav1.NamespaceAll).List, func(b *rbacv1.RoleBinding) error {
		visit("RoleBinding/"+b.Namespace+"/"+b.Name, b.Subjects, b.RoleRef)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing RoleBindings: %w", err)
	}
	err = paging.Each(ctx, metav1.ListOptions{}, client.RbacV1().ClusterRoleBindings().List, func(b *rbacv1.ClusterRoleBinding) error {
		visit("ClusterRoleBinding/"+b.Name, b.Subjects, b.RoleRef)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	out := make([]UserEntry, 0, len(entries))
	for _, e := range entries {
		sort.Strings(e.Bindings)
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Kind > out[j].Kind // User before Group
	})
	return out, nil
}

func addSource(e *UserEntry, s string) {
	for _, have := range e.Sources {
		if have == s {
			return
		}
	}
	e.Sources = append(e.Sources, s)
}

// csrUser is the user a client-cert CSR asks a certificate for (its CN).
func csrUser(csr *certificatesv1.CertificateSigningRequest) (string, bool) {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return "", false
	}
	req, err := certs.ParseCSRPEM(csr.Spec.Request)
	if err != nil {
		return "", false
	}
	return req.Subject.CommonName, true
}
