// Package paging lists API objects page by page with client-go's tools/pager, so that a large
// cluster is never asked for every object of a kind in one response.
package paging

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"
)

// PageSize is how many objects one request asks for (client-go's pager default).
const PageSize = 500

// Each calls list page by page (Limit PageSize, following Continue; on an expired continue token
// the pager falls back to one full list, as client-go's informers do) and fn for every item, so
// that only the pages in flight are held in memory. list is a typed client's List method, e.g.
// client.CoreV1().Pods(ns).List. An error from fn stops the listing and is returned.
func Each[T any, L runtime.Object](ctx context.Context, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (L, error), fn func(*T) error) error {
	p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, o) })
	p.PageSize = PageSize
	return p.EachListItem(ctx, opts, func(obj runtime.Object) error {
		item, ok := any(obj).(*T)
		if !ok {
			return fmt.Errorf("internal error: %T in a list of %T", obj, *new(T))
		}
		return fn(item)
	})
}

// List is Each that returns every item.
func List[T any, L runtime.Object](ctx context.Context, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (L, error)) ([]T, error) {
	var out []T
	err := Each(ctx, opts, list, func(item *T) error {
		out = append(out, *item)
		return nil
	})
	return out, err
}
