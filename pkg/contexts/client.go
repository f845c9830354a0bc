package contexts

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
)

// serverVersion is GET /version, bounded by ctx. It returns a nil info and the API status error
// when the server answered with one (401/403: anonymous requests not allowed).
func serverVersion(ctx context.Context, c kubernetes.Interface) (*version.Info, error) {
	return discovery.ToDiscoveryInterfaceWithContext(c.Discovery()).ServerVersionWithContext(ctx)
}

// whoAmI asks the server who the credentials are, as kubectl auth whoami does
// (kubernetes/staging/src/k8s.io/kubectl/pkg/cmd/auth/whoami.go: a SelfSubjectReview create).
func whoAmI(ctx context.Context, c kubernetes.Interface) (*Identity, error) {
	res, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	u := res.Status.UserInfo
	return &Identity{Username: u.Username, UID: u.UID, Groups: u.Groups}, nil
}

// namespaceExists gets the namespace; an error means it could not be told (forbidden, timeout).
func namespaceExists(ctx context.Context, c kubernetes.Interface, ns string) (bool, error) {
	_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, err
}
