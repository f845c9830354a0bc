package users

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// rulesReviews answers SelfSubjectReviews with jane, and SelfSubjectRulesReviews with only the
// self-review rules for the first plain answers, then with a grant; it counts the rules reviews.
func rulesReviews(client *fake.Clientset, plain int, calls *int) {
	client.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		review := &authenticationv1.SelfSubjectReview{}
		review.Status.UserInfo.Username = "jane"
		return true, review, nil
	})
	client.PrependReactor("create", "selfsubjectrulesreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		review := &authorizationv1.SelfSubjectRulesReview{}
		review.Status.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectrulesreviews"}}}
		if *calls > plain {
			review.Status.ResourceRules = append(review.Status.ResourceRules, authorizationv1.ResourceRule{Verbs: []string{"get", "list"}, Resources: []string{"pods"}})
		}
		return true, review, nil
	})
}

func TestVerifyAccessWaitsForTheGrant(t *testing.T) {
	client := fake.NewClientset()
	calls := 0
	rulesReviews(client, 2, &calls)
	a, err := VerifyAccess(context.Background(), client, "dev", true, 10*time.Second)
	if err != nil || calls != 3 || len(a.Granted()) != 1 || a.Identity.Username != "jane" {
		t.Errorf("access %+v, %d calls, %v", a, calls, err)
	}
}

func TestVerifyAccessGraceRunsOut(t *testing.T) {
	client := fake.NewClientset()
	calls := 0
	rulesReviews(client, 1000, &calls)
	start := time.Now()
	a, err := VerifyAccess(context.Background(), client, "dev", true, 500*time.Millisecond)
	if err != nil || len(a.Granted()) != 0 || len(a.Rules) != 1 || calls < 2 {
		t.Errorf("access %+v, %d calls, %v", a, calls, err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("waited %s for a grace of 500ms", d)
	}
	// Without a binding, one review is the answer.
	calls = 0
	if _, err := VerifyAccess(context.Background(), client, "dev", false, 10*time.Second); err != nil || calls != 1 {
		t.Errorf("no grant expected: %d calls, %v", calls, err)
	}
}

func TestVerifyAccessStopsWithTheContext(t *testing.T) {
	client := fake.NewClientset()
	calls := 0
	rulesReviews(client, 1000, &calls)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := VerifyAccess(ctx, client, "dev", true, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "checking the new user's access in dev") {
		t.Errorf("cancelled: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ignored the context: waited %s", d)
	}
}
