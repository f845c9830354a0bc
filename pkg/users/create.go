package users

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/keyutil"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// Binding choices of `user create`.
const (
	BindTemplate    = "template"    // a built-in rbac template: Role + RoleBinding in the namespace
	BindClusterRole = "clusterrole" // a RoleBinding in the namespace to an existing ClusterRole
	BindNone        = "none"
)

// CreateOptions say whom to onboard and how.
type CreateOptions struct {
	Name                 string
	Groups               []string
	Namespace            string
	BindKind, BindName   string
	Expiration           time.Duration
	KeyType              certs.KeyType
	ContextName          string
	Cluster              ClusterInfo
	OutputKubeconfig     string // standalone file, when not Merge
	Merge                bool
	MergeKubeconfig      string // the kubeconfig to merge into
	Overwrite            bool
	Approve              bool
	SignTimeout          time.Duration
	CACert, CAKey        string // sign locally when set
	AllowPrivilegedGroup bool
}

// ClusterInfo is the cluster entry of the current context.
type ClusterInfo struct {
	Name, Server, TLSServerName string
	CAData                      []byte
}

// BindingRef is an RBAC object made for the user.
type BindingRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	RoleRef   string `json:"roleRef,omitempty"`
	Action    string `json:"action"`
}

// CreateResult is what `user create` did and found.
type CreateResult struct {
	User                string       `json:"user"`
	Groups              []string     `json:"groups"`
	Namespace           string       `json:"namespace"`
	Cluster             string       `json:"cluster"`
	Server              string       `json:"server"`
	Context             string       `json:"context"`
	Kubeconfig          string       `json:"kubeconfig"`
	Merged              bool         `json:"merged"`
	KeyType             string       `json:"keyType"`
	Signer              string       `json:"signer"`
	CSR                 string       `json:"csr,omitempty"`
	NotBefore           time.Time    `json:"notBefore"`
	NotAfter            time.Time    `json:"notAfter"`
	RequestedExpiration string       `json:"requestedExpiration"`
	CappedBySigner      bool         `json:"cappedBySigner"`
	Bindings            []BindingRef `json:"bindings"`
	Access              *Access      `json:"access"`
	Warnings            []string     `json:"warnings,omitempty"`
}

// MinExpiration is the shortest lifetime the kube-apiserver-client signer accepts.
const MinExpiration = 10 * time.Minute

// ValidateInput checks what the caller asked for: the name and groups, the lifetime, the local CA
// pair and the access. It does no I/O, so a command can call it before it reads any file or
// kubeconfig. The namespace is not checked here: it comes from the kubeconfig (Create checks it).
func ValidateInput(o CreateOptions) error {
	if err := ValidateIdentity(o.Name, o.Groups, o.AllowPrivilegedGroup); err != nil {
		return err
	}
	if o.Expiration < MinExpiration {
		return fmt.Errorf("--expiration %s is too short: give at least 10m (e.g. 720h)", o.Expiration)
	}
	if (o.CACert == "") != (o.CAKey == "") {
		return fmt.Errorf("give both --ca-cert and --ca-key to sign locally, or neither to use the certificates API")
	}
	switch o.BindKind {
	case BindTemplate:
		if _, err := rbac.LookupTemplate(o.BindName); err != nil {
			return err
		}
	case BindClusterRole:
		if o.BindName == "" {
			return fmt.Errorf("--clusterrole needs a name, e.g. --clusterrole view")
		}
	case BindNone:
	default:
		return fmt.Errorf("choose the access: --role TEMPLATE, --clusterrole NAME or --no-binding")
	}
	return nil
}

// checkTarget checks where the user goes: a namespace, and a kubeconfig to write that holds
// nothing Create would overwrite without Overwrite (the standalone file, or the entries a merge adds).
func checkTarget(o CreateOptions) error {
	if o.Namespace == "" {
		return fmt.Errorf("missing namespace: give -n NAMESPACE")
	}
	if o.Merge {
		return CheckMerge(o.MergeKubeconfig, o.credentials(nil, nil), o.Overwrite)
	}
	return CheckOutputFile(o.OutputKubeconfig, o.Overwrite)
}

func (o CreateOptions) credentials(certPEM, keyPEM []byte) Credentials {
	return Credentials{ClusterName: o.Cluster.Name, Server: o.Cluster.Server, CAData: o.Cluster.CAData,
		TLSServerName: o.Cluster.TLSServerName, UserName: o.Name, ContextName: o.ContextName,
		Namespace: o.Namespace, CertPEM: certPEM, KeyPEM: keyPEM}
}

// Create onboards the user. It makes the key, gets it signed, binds the role, verifies the access
// with the new credentials, and writes the kubeconfig last. On a failure it deletes what it
// created in the cluster (the CSR, a new binding and role) and writes no file.
func Create(ctx context.Context, client kubernetes.Interface, o CreateOptions, now time.Time) (res *CreateResult, err error) {
	if err := ValidateInput(o); err != nil {
		return nil, err
	}
	if err := checkTarget(o); err != nil {
		return nil, err
	}
	var undo []undoStep
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			err = withRollback(cctx, err, undo)
		}
	}()
	key, err := certs.GenerateKey(o.KeyType, nil)
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: o.Name, Organization: o.Groups}
	var signed *Signed
	if o.CACert != "" {
		signed, err = SignLocal(o.CACert, o.CAKey, key, subject, o.Expiration, now)
	} else {
		signed, err = APISigner{Client: client, Approve: o.Approve, Timeout: o.SignTimeout}.
			SignAPI(ctx, key, subject, o.Expiration, now)
	}
	if err != nil {
		return nil, err
	}
	if signed.CSRName != "" {
		undo = append(undo, undoStep{what: "CertificateSigningRequest " + signed.CSRName, do: func(c context.Context) error {
			return client.CertificatesV1().CertificateSigningRequests().Delete(c, signed.CSRName, metav1.DeleteOptions{})
		}})
	}
	if err := CheckIssued(signed.Cert, key, subject); err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	bindings, rollback, err := bind(ctx, client, o)
	undo = append(undo, rollback...)
	if err != nil {
		return nil, err
	}
	creds := o.credentials(signed.CertPEM, keyPEM)
	newClient, err := ClientFor(Standalone(creds), 30*time.Second)
	if err != nil {
		return nil, err
	}
	access, err := VerifyAccess(ctx, newClient, o.Namespace, o.BindKind != BindNone, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if access.Identity.Username != o.Name {
		return nil, fmt.Errorf("the API server sees the new cert as %q, not %q; nothing was written", access.Identity.Username, o.Name)
	}
	var warnings []string
	if o.BindKind != BindNone && len(access.Granted()) == 0 {
		warnings = append(warnings, fmt.Sprintf("the binding to %s grants nothing in %s yet (an aggregated ClusterRole needs kube-controller-manager to fill it)", o.BindName, o.Namespace))
	}
	path := o.OutputKubeconfig
	if o.Merge {
		path = o.MergeKubeconfig
		err = Merge(path, creds, o.Overwrite)
	} else {
		err = WriteStandalone(path, Standalone(creds), o.Overwrite)
	}
	if err != nil {
		return nil, err
	}
	// Signers backdate NotBefore for clock skew; the lifetime they granted is NotAfter-NotBefore.
	lifetime := signed.Cert.NotAfter.Sub(signed.Cert.NotBefore)
	return &CreateResult{
		User: o.Name, Groups: o.Groups, Namespace: o.Namespace, Cluster: o.Cluster.Name, Server: o.Cluster.Server,
		Context: o.ContextName, Kubeconfig: path, Merged: o.Merge, KeyType: string(o.KeyType),
		Signer: signed.Signer, CSR: signed.CSRName, NotBefore: signed.Cert.NotBefore, NotAfter: signed.Cert.NotAfter,
		RequestedExpiration: o.Expiration.String(), CappedBySigner: lifetime < o.Expiration-time.Minute,
		Bindings: bindings, Access: access, Warnings: warnings,
	}, nil
}

// bind makes the RBAC objects for the user and returns how to undo what it created.
func bind(ctx context.Context, client kubernetes.Interface, o CreateOptions) ([]BindingRef, []undoStep, error) {
	switch o.BindKind {
	case BindTemplate:
		grant, err := rbac.RenderTemplate(rbac.NewResolver(client.Discovery()), o.BindName, rbac.User(o.Name), o.Namespace, false)
		if err != nil {
			return nil, nil, err
		}
		return applyGrant(ctx, client, grant)
	case BindClusterRole:
		if _, err := client.RbacV1().ClusterRoles().Get(ctx, o.BindName, metav1.GetOptions{}); err != nil {
			return nil, nil, fmt.Errorf("ClusterRole %q: %w", o.BindName, err)
		}
		grant := &rbac.Grant{RoleBinding: &rbacv1.RoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: "clusterops-" + o.BindName + "-user-" + UserLabel(o.Name), Namespace: o.Namespace,
				Labels: map[string]string{LabelManagedBy: ManagedBy, LabelUser: UserLabel(o.Name)}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.BindName},
			Subjects: []rbacv1.Subject{rbac.User(o.Name).RBAC()},
		}}
		return applyGrant(ctx, client, grant)
	}
	return nil, nil, nil
}

func applyGrant(ctx context.Context, client kubernetes.Interface, grant *rbac.Grant) ([]BindingRef, []undoStep, error) {
	applied, err := rbac.Apply(ctx, client.RbacV1(), grant, rbac.ApplyOptions{})
	var refs []BindingRef
	var undo []undoStep
	for _, a := range applied {
		refs = append(refs, BindingRef{Kind: a.Kind, Namespace: a.Namespace, Name: a.Name, Action: a.Action})
		if a.Action == rbac.ActionCreated {
			what := a.Kind + " " + a.Name
			if a.Namespace != "" {
				what = a.Kind + " " + a.Namespace + "/" + a.Name
			}
			undo = append(undo, undoStep{what: what, do: func(c context.Context) error {
				return deleteRBAC(c, client, a.Kind, a.Namespace, a.Name)
			}})
		}
	}
	if err != nil {
		return nil, undo, fmt.Errorf("binding the role: %w", err)
	}
	if grant.RoleBinding != nil {
		refs[len(refs)-1].RoleRef = grant.RoleBinding.RoleRef.Kind + "/" + grant.RoleBinding.RoleRef.Name
	}
	return refs, undo, nil
}

func deleteRBAC(ctx context.Context, client kubernetes.Interface, kind, ns, name string) error {
	r := client.RbacV1()
	switch kind {
	case "Role":
		return r.Roles(ns).Delete(ctx, name, metav1.DeleteOptions{})
	case "RoleBinding":
		return r.RoleBindings(ns).Delete(ctx, name, metav1.DeleteOptions{})
	case "ClusterRole":
		return r.ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
	case "ClusterRoleBinding":
		return r.ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
	}
	return errors.New("unknown kind " + kind)
}
