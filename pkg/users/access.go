package users

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Identity is who the API server says the new credentials are.
type Identity struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// AccessRule is one rule of what the new credentials may do in the namespace.
type AccessRule struct {
	Verbs           []string `json:"verbs"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// Access is the verification made with the new credentials themselves.
type Access struct {
	Identity   Identity     `json:"identity"`
	Namespace  string       `json:"namespace"`
	Rules      []AccessRule `json:"rules"`
	Incomplete bool         `json:"incomplete"`
}

// ClientFor builds a client that uses the credentials of a kubeconfig (its current context).
func ClientFor(cfg *clientcmdapi.Config, timeout time.Duration) (kubernetes.Interface, error) {
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	rc.Timeout = timeout
	return kubernetes.NewForConfig(rc)
}

// selfRules are what every authenticated user may do; they say nothing about a binding.
var selfRules = []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}

// VerifyAccess asks the API server, with the new credentials, who they are (SelfSubjectReview) and
// what they may do in namespace (SelfSubjectRulesReview). When expectGrant, it asks again, up to
// grace, until the RBAC cache shows a rule beyond the self-review ones; after grace it returns the
// last answer, which the caller reports as a binding that grants nothing yet.
func VerifyAccess(ctx context.Context, c kubernetes.Interface, namespace string, expectGrant bool, grace time.Duration) (*Access, error) {
	who, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("the new credentials do not work against the API server: %w", err)
	}
	a := &Access{Namespace: namespace, Identity: Identity{Username: who.Status.UserInfo.Username, Groups: who.Status.UserInfo.Groups}}
	// The reviews use ctx, not the poll's context: the last one must not be cut short by grace.
	var reviewErr error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, grace, true, func(context.Context) (bool, error) {
		review, err := c.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace},
		}, metav1.CreateOptions{})
		if err != nil {
			reviewErr = fmt.Errorf("checking the new user's access in %s: %w", namespace, err)
			return false, reviewErr
		}
		a.Rules = a.Rules[:0]
		granted := false
		for _, r := range review.Status.ResourceRules {
			a.Rules = append(a.Rules, AccessRule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
			if !allIn(r.Resources, selfRules) {
				granted = true
			}
		}
		for _, r := range review.Status.NonResourceRules {
			a.Rules = append(a.Rules, AccessRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
		a.Incomplete = review.Status.Incomplete
		return granted || !expectGrant, nil
	})
	switch {
	case err == nil, reviewErr == nil && ctx.Err() == nil && wait.Interrupted(err):
		return a, nil // granted (or nothing expected), or grace is over and the last answer stands
	case reviewErr == nil: // ctx was cancelled
		return nil, fmt.Errorf("checking the new user's access in %s: %w", namespace, err)
	}
	return nil, reviewErr
}

func allIn(items, set []string) bool {
	for _, it := range items {
		if !slices.Contains(set, it) {
			return false
		}
	}
	return true
}

// Granted are the rules beyond what every authenticated user may do.
func (a *Access) Granted() []AccessRule {
	var out []AccessRule
	for _, r := range a.Rules {
		if len(r.Resources) > 0 && !allIn(r.Resources, selfRules) {
			out = append(out, r)
		}
	}
	return out
}

// String is a short "verbs on resources" line.
func (r AccessRule) String() string {
	what := strings.Join(r.Resources, ",")
	if len(r.NonResourceURLs) > 0 {
		what = strings.Join(r.NonResourceURLs, ",")
	}
	return strings.Join(r.Verbs, ",") + " " + what
}
