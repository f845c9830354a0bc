package cmdutil_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// completeWith runs __complete on a small tree whose "pick" command uses
// valid as its ValidArgsFunction and fn for --of, with the kubectl flags.
func completeWith(t *testing.T, valid func(cmdutil.Factory) cobra.CompletionFunc, args ...string) []string {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	root := &cobra.Command{Use: "kubectl-clusterops"}
	flags.AddFlags(root.PersistentFlags())
	pick := &cobra.Command{Use: "pick", RunE: func(*cobra.Command, []string) error { return nil }}
	pick.ValidArgsFunction = valid(cmdutil.NewFactory(flags))
	pick.Flags().String("component", "", "")
	if err := pick.RegisterFlagCompletionFunc("component", cmdutil.CompleteComponentNames); err != nil {
		t.Fatal(err)
	}
	root.AddCommand(pick)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(append([]string{"__complete"}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			words = append(words, l)
		}
	}
	return words
}

func nodeServer(t *testing.T, nodes map[string]bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		cpOnly := r.URL.Query().Get("labelSelector") == "node-role.kubernetes.io/control-plane"
		items := []map[string]any{}
		for n, cp := range nodes {
			if cp || !cpOnly {
				items = append(items, map[string]any{"metadata": map[string]any{"name": n}})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "NodeList", "apiVersion": "v1", "items": items})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCompleteNodeNames(t *testing.T) {
	cmdtest.Isolate(t)
	srv := nodeServer(t, map[string]bool{"cp-1": true, "cp-2": true, "worker-1": false})
	tests := []struct {
		fn   func(cmdutil.Factory) cobra.CompletionFunc
		args []string
		want []string
	}{
		{cmdutil.CompleteNodeNames, []string{"pick", "--server", srv.URL, ""}, []string{"cp-1", "cp-2", "worker-1"}},
		{cmdutil.CompleteNodeNames, []string{"pick", "--server", srv.URL, "w"}, []string{"worker-1"}},
		{cmdutil.CompleteNodeNames, []string{"pick", "--server", srv.URL, "cp-1", ""}, []string{"cp-2", "worker-1"}},
		{cmdutil.CompleteControlPlaneNodeNames, []string{"pick", "--server", srv.URL, ""}, []string{"cp-1", "cp-2"}},
		{cmdutil.CompleteNodeNames, []string{"pick", "--server", cmdtest.ClosedPortURL(t), ""}, nil},
	}
	for _, tt := range tests {
		if got := completeWith(t, tt.fn, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestCompleteComponentAndTemplateNames(t *testing.T) {
	cmdtest.Isolate(t)
	noNodes := func(cmdutil.Factory) cobra.CompletionFunc {
		return cmdutil.CompleteTemplateNames(func() []string { return []string{"view-only", "namespace-admin", "viewer"} })
	}
	if got := completeWith(t, noNodes, "pick", "--component", "kube-"); !slices.Equal(got,
		[]string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}) {
		t.Errorf("--component kube-: got %v", got)
	}
	if got := completeWith(t, noNodes, "pick", "--component", ""); len(got) != 4 {
		t.Errorf("--component: got %v", got)
	}
	if got := completeWith(t, noNodes, "pick", "vie"); !slices.Equal(got, []string{"view-only", "viewer"}) {
		t.Errorf("templates vie: got %v", got)
	}
	if got := completeWith(t, noNodes, "pick", "viewer", ""); !slices.Equal(got, []string{"namespace-admin", "view-only"}) {
		t.Errorf("templates after viewer: got %v", got)
	}
}
