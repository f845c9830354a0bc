package users

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

// Signed is a client certificate issued for a user's key.
type Signed struct {
	Cert    *x509.Certificate
	CertPEM []byte
	// CSRName is the CertificateSigningRequest that carried it; empty when signed by a local CA.
	CSRName string
	// Signer is "kubernetes.io/kube-apiserver-client" or "local CA <path>".
	Signer string
}

// APISigner signs through the certificates API with the kube-apiserver-client signer.
type APISigner struct {
	Client kubernetes.Interface
	// Approve approves the CSR (when allowed); false leaves it for someone else.
	Approve bool
	// Timeout bounds the wait for the signed certificate.
	Timeout time.Duration
}

// SignAPI creates a CSR for key and subject, approves it when asked, and waits for the certificate.
// On any failure the CSR it created is deleted, so nothing is left behind.
//
// The wait is client-go's csr.WaitForCertificate (a watch; Denied and Failed end it). The CSR is
// created here rather than by csr.RequestCertificateWithContext, because that takes no object
// metadata: ours carries the managed-by and user labels and the exact user name, by which an admin
// (and our tests) find it, and it fails on a name clash instead of reusing another CSR.
func (s APISigner) SignAPI(ctx context.Context, key crypto.Signer, subject pkix.Name, expiration time.Duration, now time.Time) (*Signed, error) {
	csrPEM, err := certutil.MakeCSR(key, &subject, nil, nil)
	if err != nil {
		return nil, err
	}
	name := CSRName(subject.CommonName, now)
	req := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelUser: UserLabel(subject.CommonName)},
			Annotations: map[string]string{AnnotationUserName: subject.CommonName},
		},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           csrPEM,
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: csr.DurationToExpirationSeconds(expiration),
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	created, err := s.Client.CertificatesV1().CertificateSigningRequests().Create(ctx, req, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("you may not create CertificateSigningRequests (%s): ask an admin, or on a control-plane node sign locally with --ca-cert/--ca-key", apierrors.ReasonForError(err))
		}
		return nil, fmt.Errorf("creating CertificateSigningRequest %s: %w", name, err)
	}
	signed, err := s.finish(ctx, created)
	if err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return nil, withRollback(cleanup, err, []undoStep{{what: "CertificateSigningRequest " + name, do: func(c context.Context) error {
			return s.Client.CertificatesV1().CertificateSigningRequests().Delete(c, name, metav1.DeleteOptions{})
		}}})
	}
	return signed, nil
}

// finish approves the CSR when asked (the csr package never approves) and waits for the certificate.
func (s APISigner) finish(ctx context.Context, req *certificatesv1.CertificateSigningRequest) (*Signed, error) {
	if s.Approve {
		req.Status.Conditions = append(req.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
			Reason: "ApprovedByClusterops", Message: "approved by kubectl clusterops user create",
		})
		if _, err := s.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, req.Name, req, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsForbidden(err) {
				return nil, fmt.Errorf("you may not approve CertificateSigningRequest %s: give --approve=false and ask an admin to run 'kubectl certificate approve %s', or sign locally with --ca-cert/--ca-key", req.Name, req.Name)
			}
			return nil, fmt.Errorf("approving CertificateSigningRequest %s: %w", req.Name, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	certPEM, err := csr.WaitForCertificate(waitCtx, s.Client, req.Name, req.UID)
	if err != nil {
		return nil, s.waitError(ctx, req.Name, err)
	}
	cs, err := certs.ParseCertsPEM(certPEM)
	if err != nil || len(cs) == 0 {
		return nil, fmt.Errorf("the certificate issued for CertificateSigningRequest %s does not parse: %v", req.Name, err)
	}
	return &Signed{Cert: cs[0], CertPEM: certPEM, CSRName: req.Name, Signer: certificatesv1.KubeAPIServerClientSignerName}, nil
}

// waitError says why no certificate came, and what to do. csr.WaitForCertificate's errors are
// text only, so the CSR is read again: its conditions say who denied it and why; without them,
// a wait that ran out means nobody approved or signed it in time.
func (s APISigner) waitError(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("waiting for CertificateSigningRequest %s: %w", name, ctx.Err())
	}
	if got, getErr := s.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{}); getErr == nil {
		for _, c := range got.Status.Conditions {
			switch c.Type {
			case certificatesv1.CertificateDenied:
				return fmt.Errorf("CertificateSigningRequest %s was denied (%s: %s); ask the approver why, then run the command again", name, c.Reason, c.Message)
			case certificatesv1.CertificateFailed:
				return fmt.Errorf("the signer failed CertificateSigningRequest %s (%s: %s)", name, c.Reason, c.Message)
			}
		}
	}
	if !wait.Interrupted(err) {
		return fmt.Errorf("waiting for CertificateSigningRequest %s: %w", name, err)
	}
	what := "no signer issued a certificate"
	if !s.Approve {
		what = "nobody approved it and no certificate was issued"
	}
	return fmt.Errorf("CertificateSigningRequest %s: %s within %s; is kube-controller-manager running with --cluster-signing-cert-file and --cluster-signing-key-file? (or sign locally with --ca-cert/--ca-key)", name, what, s.Timeout)
}

// SignLocal signs with a CA cert and key on disk, as on a control-plane node.
func SignLocal(caCertPath, caKeyPath string, key crypto.Signer, subject pkix.Name, expiration time.Duration, now time.Time) (*Signed, error) {
	ca, caKey, err := certs.LoadCA(caCertPath, caKeyPath)
	if err != nil {
		return nil, err
	}
	cert, err := certs.SignClientCert(ca, caKey, key.Public(), subject, now, expiration)
	if err != nil {
		return nil, fmt.Errorf("signing with the CA %s: %w", caCertPath, err)
	}
	return &Signed{Cert: cert, CertPEM: certs.EncodeCertPEM(cert), Signer: "local CA " + caCertPath}, nil
}

// CheckIssued checks that an issued certificate is the one asked for: it matches the key, names the
// user and exactly the groups, and allows client auth.
func CheckIssued(cert *x509.Certificate, key crypto.Signer, subject pkix.Name) error {
	if !certs.KeyMatchesCert(cert, key) {
		return fmt.Errorf("the issued certificate does not match the generated key; nothing was written")
	}
	if cert.Subject.CommonName != subject.CommonName {
		return fmt.Errorf("the issued certificate names %q, not %q; nothing was written", cert.Subject.CommonName, subject.CommonName)
	}
	got, want := slices.Clone(cert.Subject.Organization), slices.Clone(subject.Organization)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("the issued certificate has groups %v, not %v; nothing was written", got, want)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return fmt.Errorf("the issued certificate does not allow client auth; nothing was written")
	}
	return nil
}
