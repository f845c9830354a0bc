package completion

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func TestCompletionScripts(t *testing.T) {
	cmdtest.Isolate(t)
	markers := map[string][]string{
		"bash":       {"# bash completion V2 for kubectl-clusterops", "__complete ", "complete -o default -F __start_kubectl-clusterops kubectl-clusterops"},
		"zsh":        {"#compdef kubectl-clusterops", "compdef _kubectl-clusterops kubectl-clusterops"},
		"fish":       {"complete -c kubectl-clusterops"},
		"powershell": {"Register-ArgumentCompleter", "'kubectl-clusterops'"},
	}
	for shell, want := range markers {
		out, _, err := run(t, "completion", shell)
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		if len(out) < 500 {
			t.Errorf("%s: script is suspiciously short (%d bytes)", shell, len(out))
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s script lacks %q", shell, w)
			}
		}
	}
	// bash with descriptions calls __complete, never __completeNoDesc.
	if out, _, _ := run(t, "completion", "bash"); strings.Contains(out, "__completeNoDesc") {
		t.Error("bash script was generated without descriptions")
	}
}

func TestCompletionBadShell(t *testing.T) {
	cmdtest.Isolate(t)
	for _, args := range [][]string{{"completion", "tcsh"}, {"completion"}, {"completion", "bash", "zsh"}} {
		out, _, err := run(t, args...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
			t.Errorf("%v: exit code %d", args, cmdutil.ExitCode(err))
		}
		if !strings.Contains(err.Error(), "bash, zsh, fish, powershell") ||
			!strings.Contains(err.Error(), "see 'kubectl clusterops completion --help'") {
			t.Errorf("%v: %q", args, err)
		}
		if out != "" {
			t.Errorf("%v: printed %d bytes", args, len(out))
		}
	}
	if _, _, err := run(t, "completion", "tcsh"); !strings.Contains(err.Error(), `unsupported shell "tcsh"`) {
		t.Errorf("got %q", err)
	}
}

// complete runs cobra's hidden __complete command and returns the offered
// words (without the trailing ":directive" line).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	out, _, err := run(t, append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %v: %v", args, err)
	}
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			word, _, _ := strings.Cut(l, "\t") // drop descriptions
			words = append(words, word)
		}
	}
	return words
}

func TestCompleteShellNames(t *testing.T) {
	cmdtest.Isolate(t)
	if got := complete(t, "completion", ""); !slices.Equal(got, []string{"kubectl-plugin", "bash", "zsh", "fish", "powershell"}) {
		t.Errorf("got %v", got)
	}
}

func TestCompleteKubeconfigNames(t *testing.T) {
	dir := cmdtest.Isolate(t)
	kubeconfig := filepath.Join(dir, "config")
	const cfg = `apiVersion: v1
kind: Config
clusters:
- name: prod-cluster
  cluster: {server: "https://10.0.0.1:6443"}
- name: dev-cluster
  cluster: {server: "https://10.0.0.2:6443"}
users:
- name: admin
  user: {token: token-a}
- name: alice
  user: {token: token-b}
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin}
- name: prod-eu
  context: {cluster: prod-cluster, user: alice}
- name: dev
  context: {cluster: dev-cluster, user: alice}
current-context: dev
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"version", "--kubeconfig", kubeconfig, "--context", ""}, []string{"dev", "prod", "prod-eu"}},
		{[]string{"version", "--kubeconfig", kubeconfig, "--context", "pro"}, []string{"prod", "prod-eu"}},
		{[]string{"--kubeconfig", kubeconfig, "--cluster", ""}, []string{"dev-cluster", "prod-cluster"}},
		{[]string{"version", "--kubeconfig", kubeconfig, "--user", "a"}, []string{"admin", "alice"}},
		{[]string{"version", "--kubeconfig", kubeconfig, "--user", "al"}, []string{"alice"}},
	}
	for _, tt := range tests {
		if got := complete(t, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.args, got, tt.want)
		}
	}
	t.Setenv("KUBECONFIG", kubeconfig) // names also come from $KUBECONFIG
	if got := complete(t, "version", "--context", "d"); !slices.Equal(got, []string{"dev"}) {
		t.Errorf("via KUBECONFIG: got %v", got)
	}
}

func TestCompleteNamespaces(t *testing.T) {
	cmdtest.Isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces" {
			http.NotFound(w, r)
			return
		}
		items := []map[string]any{}
		for _, n := range []string{"kube-system", "default", "kube-public", "team-a"} {
			items = append(items, map[string]any{"metadata": map[string]any{"name": n}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "NamespaceList", "apiVersion": "v1", "items": items})
	}))
	t.Cleanup(srv.Close)

	if got := complete(t, "version", "--server", srv.URL, "-n", "kube-"); !slices.Equal(got, []string{"kube-public", "kube-system"}) {
		t.Errorf("-n kube-: got %v", got)
	}
	if got := complete(t, "--server", srv.URL, "--namespace", ""); len(got) != 4 {
		t.Errorf("--namespace: got %v", got)
	}

	// An unreachable cluster gives no completions, quickly, and no error.
	start := time.Now()
	if got := complete(t, "version", "--server", cmdtest.ClosedPortURL(t), "-n", ""); len(got) != 0 {
		t.Errorf("unreachable: got %v", got)
	}
	if time.Since(start) > cmdutil.CompletionTimeout+time.Second {
		t.Errorf("completion took %v", time.Since(start))
	}
}
