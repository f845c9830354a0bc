package users

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// undoStep deletes one object a failed command created; what names it (e.g.
// "RoleBinding team-a/clusterops-view-user-bob") for the report of what was left behind.
type undoStep struct {
	what string
	do   func(context.Context) error
}

// rollback runs the steps in reverse order. An object already gone counts as deleted. It returns
// nil when every step worked, or one error that names every object left behind (orphans) with
// why, so that the admin can delete them by hand.
func rollback(ctx context.Context, steps []undoStep) error {
	var left []string
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].do(ctx); err != nil && !apierrors.IsNotFound(err) {
			left = append(left, fmt.Sprintf("%s (%v)", steps[i].what, err))
		}
	}
	if len(left) == 0 {
		return nil
	}
	return fmt.Errorf("rolling back failed, these are left behind; delete them by hand: %s", strings.Join(left, ", "))
}

// withRollback adds the outcome of rollback to the error that caused it, on the same line.
func withRollback(ctx context.Context, err error, steps []undoStep) error {
	if rerr := rollback(ctx, steps); rerr != nil {
		return fmt.Errorf("%w; %v", err, rerr)
	}
	return err
}
