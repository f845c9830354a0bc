package users

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	certutil "k8s.io/client-go/util/cert"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"
)

var csrResource = schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}

// signer makes the fake client act as kube-controller-manager's signer: an approved CSR gets a
// certificate from a test CA, in the same update.
func signer(t *testing.T, client *fake.Clientset) {
	t.Helper()
	caKey, err := certs.GenerateKey(certs.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: "test-ca"}, caKey)
	if err != nil {
		t.Fatal(err)
	}
	client.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		csr := a.(k8stesting.UpdateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		req, err := certs.ParseCSRPEM(csr.Spec.Request)
		if err != nil {
			return true, nil, err
		}
		cert, err := certs.SignClientCert(ca, caKey, req.PublicKey, req.Subject, time.Now(), time.Duration(*csr.Spec.ExpirationSeconds)*time.Second)
		if err != nil {
			return true, nil, err
		}
		csr.Status.Certificate = certs.EncodeCertPEM(cert)
		return false, nil, nil // the tracker stores the approved, signed CSR
	})
}

func signAPI(t *testing.T, client *fake.Clientset, approve bool, timeout time.Duration) (*Signed, error) {
	t.Helper()
	key, err := certs.GenerateKey(certs.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: "jane", Organization: []string{"devs"}}
	signed, err := APISigner{Client: client, Approve: approve, Timeout: timeout}.SignAPI(context.Background(), key, subject, 24*time.Hour, time.Now())
	if err == nil {
		if err := CheckIssued(signed.Cert, key, subject); err != nil {
			t.Errorf("issued: %v", err)
		}
	}
	return signed, err
}

func csrCount(t *testing.T, client *fake.Clientset) int {
	t.Helper()
	list, err := client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func TestSignAPIApprovedAndIssued(t *testing.T) {
	client := fake.NewClientset()
	signer(t, client)
	signed, err := signAPI(t, client, true, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if signed.Signer != certificatesv1.KubeAPIServerClientSignerName || signed.CSRName == "" {
		t.Errorf("signed: %+v", signed)
	}
	got, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), signed.CSRName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels[LabelManagedBy] != ManagedBy || got.Labels[LabelUser] != "jane" || got.Annotations[AnnotationUserName] != "jane" {
		t.Errorf("the CSR lacks our labels: %v %v", got.Labels, got.Annotations)
	}
	if *got.Spec.ExpirationSeconds != 24*3600 {
		t.Errorf("expirationSeconds %d", *got.Spec.ExpirationSeconds)
	}
}

func TestSignAPIDenied(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		csr := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "NotOnTheList", Message: "jane is not on the team"})
		return false, nil, nil
	})
	_, err := signAPI(t, client, false, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "was denied (NotOnTheList: jane is not on the team)") {
		t.Errorf("denied: %v", err)
	}
	if n := csrCount(t, client); n != 0 {
		t.Errorf("%d CSRs left behind", n)
	}
}

func TestSignAPITimesOut(t *testing.T) {
	for _, approve := range []bool{true, false} {
		client := fake.NewClientset()
		start := time.Now()
		_, err := signAPI(t, client, approve, 300*time.Millisecond)
		want := "no signer issued a certificate within 300ms; is kube-controller-manager running"
		if !approve {
			want = "nobody approved it and no certificate was issued within 300ms"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("approve=%v: %v", approve, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("approve=%v: the wait took %s", approve, d)
		}
		if n := csrCount(t, client); n != 0 {
			t.Errorf("approve=%v: %d CSRs left behind", approve, n)
		}
	}
}

func TestSignAPIForbidden(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(csrResource, "", errors.New("no"))
	})
	if _, err := signAPI(t, client, true, time.Second); err == nil || !strings.Contains(err.Error(), "sign locally with --ca-cert/--ca-key") {
		t.Errorf("forbidden create: %v", err)
	}
	client = fake.NewClientset()
	client.PrependReactor("update", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(csrResource, "", errors.New("no"))
	})
	if _, err := signAPI(t, client, true, time.Second); err == nil || !strings.Contains(err.Error(), "give --approve=false") {
		t.Errorf("forbidden approval: %v", err)
	}
	if n := csrCount(t, client); n != 0 {
		t.Errorf("%d CSRs left behind", n)
	}
}
