// Package pagingtest makes a fake clientset serve lists in pages, as a real API server does: the
// fake tracker ignores Limit and Continue, so a test could not tell a paged list from a full one.
package pagingtest

import (
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Serve makes client answer every list of resource (e.g. "pods") in pages of the Limit asked for,
// with a Continue token, from what its tracker holds. It returns the Limit of each list request,
// in order: a request without paging shows as 0.
func Serve(client *fake.Clientset, resource string) *[]int64 {
	limits := &[]int64{}
	client.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		la := a.(k8stesting.ListActionImpl)
		*limits = append(*limits, la.ListOptions.Limit)
		full, err := client.Tracker().List(la.GetResource(), la.Kind, la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items, err := meta.ExtractList(full)
		if err != nil {
			return true, nil, err
		}
		start, _ := strconv.Atoi(la.ListOptions.Continue)
		end := len(items)
		if l := int(la.ListOptions.Limit); l > 0 && start+l < end {
			end = start + l
		}
		page := full.DeepCopyObject()
		if err := meta.SetList(page, items[start:end]); err != nil {
			return true, nil, err
		}
		acc, err := meta.ListAccessor(page)
		if err != nil {
			return true, nil, err
		}
		acc.SetContinue("")
		if end < len(items) {
			acc.SetContinue(strconv.Itoa(end))
		}
		return true, page, nil
	})
	return limits
}
