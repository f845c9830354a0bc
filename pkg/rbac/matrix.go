package rbac

import (
	"context"
	"fmt"
	"slices"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/clusterops/kubectl-clusterops/internal/workpool"
)

// DefaultVerbs are the matrix columns unless told otherwise: the common verbs, and the
// authorization-only verbs of RBAC's escalation checks, impersonation and CSR approval
// (asked only where the authorizer uses them; see AuthorizedVerbs).
var DefaultVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate", "impersonate", "approve"}

// Matrix cell values.
const (
	CellAllowed     = "yes"
	CellDenied      = "no"
	CellUnsupported = "n/a" // the resource does not serve this verb (or, with a namespace, cannot be asked there); not asked
)

// Reviewer asks the API server's authorizer one question.
type Reviewer interface {
	Allowed(ctx context.Context, req Request) (bool, error)
}

// SelfReviewer asks about the caller with SelfSubjectAccessReviews.
type SelfReviewer struct {
	Client authzclient.SelfSubjectAccessReviewsGetter
}

// Allowed implements Reviewer.
func (r SelfReviewer) Allowed(ctx context.Context, req Request) (bool, error) {
	out, err := r.Client.SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
		Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: resourceAttributes(req),
			NonResourceAttributes: nonResourceAttributes(req)},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}

// SubjectReviewer asks about another identity with SubjectAccessReviews
// (the caller needs create on subjectaccessreviews).
type SubjectReviewer struct {
	Client authzclient.SubjectAccessReviewsGetter
	User   string
	Groups []string
}

// Allowed implements Reviewer.
func (r SubjectReviewer) Allowed(ctx context.Context, req Request) (bool, error) {
	out, err := r.Client.SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{User: r.User, Groups: r.Groups,
			ResourceAttributes: resourceAttributes(req), NonResourceAttributes: nonResourceAttributes(req)},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}

func resourceAttributes(req Request) *authzv1.ResourceAttributes {
	if req.NonResourceURL != "" {
		return nil
	}
	return &authzv1.ResourceAttributes{Namespace: req.Namespace, Verb: req.Verb, Group: req.Group,
		Resource: req.Resource, Subresource: req.Subresource, Name: req.Name}
}

func nonResourceAttributes(req Request) *authzv1.NonResourceAttributes {
	if req.NonResourceURL == "" {
		return nil
	}
	return &authzv1.NonResourceAttributes{Path: req.NonResourceURL, Verb: req.Verb}
}

// MatrixOptions tunes Matrix.
type MatrixOptions struct {
	Verbs []string
	// Namespace to ask about; "" is cluster scope (all namespaces).
	Namespace string
	// Parallel bounds the requests in flight (default 16).
	Parallel int
}

// MatrixRow is one resource and its cell per verb.
type MatrixRow struct {
	Resource   string            `json:"resource"`
	Group      string            `json:"group"`
	Namespaced bool              `json:"namespaced"`
	Access     map[string]string `json:"access"` // verb -> yes, no or n/a
}

// MatrixResult is the access matrix of one subject.
type MatrixResult struct {
	Subject   *Subject    `json:"subject,omitempty"` // nil: the current user
	User      string      `json:"user,omitempty"`
	Groups    []string    `json:"groups,omitempty"`
	Namespace string      `json:"namespace,omitempty"`
	Verbs     []string    `json:"verbs"`
	Rows      []MatrixRow `json:"rows"`
	// Reviews is the number of access reviews asked.
	Reviews int `json:"reviews"`
}

// Matrix asks rev about every resource x verb, with at most opts.Parallel requests in flight.
// A verb is asked when discovery lists it for the resource or the authorizer uses it there
// (AuthorizedVerbs); with a namespace, only what can carry that namespace is asked
// (NamespaceApplies: namespaced resources, the namespace object, bind/escalate on clusterroles).
// Other cells are "n/a". Each question is built as the API server builds it (RequestFor). The
// first failed review stops it and is returned.
func Matrix(ctx context.Context, rev Reviewer, resources []APIResource, opts MatrixOptions) (MatrixResult, error) {
	verbs := opts.Verbs
	if len(verbs) == 0 {
		verbs = DefaultVerbs
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 16
	}
	res := MatrixResult{Namespace: opts.Namespace, Verbs: verbs, Rows: make([]MatrixRow, len(resources))}
	type job struct {
		row  int
		verb string
		req  Request
	}
	var jobs []job
	for i, r := range resources {
		res.Rows[i] = MatrixRow{Resource: r.Resource, Group: r.Group, Namespaced: r.Namespaced, Access: map[string]string{}}
		supported := AuthorizedVerbs(r)
		for _, v := range verbs {
			if len(r.Verbs) > 0 && !slices.Contains(supported, v) ||
				opts.Namespace != "" && !NamespaceApplies(r, v) {
				res.Rows[i].Access[v] = CellUnsupported
				continue
			}
			jobs = append(jobs, job{row: i, verb: v, req: RequestFor(r, v, "", opts.Namespace)})
		}
	}
	res.Reviews = len(jobs)
	answers := make([]bool, len(jobs))
	err := workpool.Run(ctx, len(jobs), parallel, func(ctx context.Context, i int) error {
		ok, err := rev.Allowed(ctx, jobs[i].req)
		if err != nil {
			return fmt.Errorf("access review for %s %s: %w", jobs[i].verb, groupResource(jobs[i].req.Group, resources[jobs[i].row].Resource), err)
		}
		answers[i] = ok
		return nil
	})
	if err != nil {
		return res, err
	}
	for i, j := range jobs {
		cell := CellDenied
		if answers[i] {
			cell = CellAllowed
		}
		res.Rows[j.row].Access[j.verb] = cell
	}
	return res, nil
}
