package version

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

var fakeServerVersion = version.Info{
	Major: "1", Minor: "37", GitVersion: "v1.37.2", GitCommit: "0123456789abcdef",
	GitTreeState: "clean", BuildDate: "2026-07-01T00:00:00Z", GoVersion: "go1.26.8",
	Compiler: "gc", Platform: "linux/amd64",
}

// apiServer is an httptest TLS server that answers /version like
// kube-apiserver, or with the given status and body, and counts requests.
func apiServer(t *testing.T, status int, body any) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS handshake failures
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &hits
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestVersionClientJSON(t *testing.T) {
	cmdtest.Isolate(t)
	srv, hits := apiServer(t, http.StatusOK, fakeServerVersion)
	out, _, err := run(t, "version", "--client", "-o", "json", "--server", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got := keys(top); !slices.Equal(got, []string{"apiVersion", "clientVersion", "kind"}) {
		t.Errorf("top-level keys = %v", got)
	}
	if string(top["apiVersion"]) != `"clusterops.io/v1alpha1"` || string(top["kind"]) != `"Version"` {
		t.Errorf("apiVersion/kind = %s/%s", top["apiVersion"], top["kind"])
	}
	var client map[string]json.RawMessage
	if err := json.Unmarshal(top["clientVersion"], &client); err != nil {
		t.Fatal(err)
	}
	if got := keys(client); !slices.Equal(got, []string{"buildDate", "gitCommit", "gitVersion", "goVersion", "platform"}) {
		t.Errorf("clientVersion keys = %v", got)
	}
	var cv cmdutil.ClientVersionInfo
	_ = json.Unmarshal(top["clientVersion"], &cv)
	want := cmdutil.ClientVersion()
	if cv != want {
		t.Errorf("clientVersion = %+v, want %+v", cv, want)
	}
	if hits.Load() != 0 {
		t.Errorf("--client contacted the server %d times", hits.Load())
	}
}

func TestVersionServer(t *testing.T) {
	cmdtest.Isolate(t)
	srv, hits := apiServer(t, http.StatusOK, fakeServerVersion)

	out, _, err := run(t, "version", "-o", "json", "--server", srv.URL, "--insecure-skip-tls-verify")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind          string                    `json:"kind"`
		ClientVersion cmdutil.ClientVersionInfo `json:"clientVersion"`
		ServerVersion *version.Info             `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.ServerVersion == nil || *got.ServerVersion != fakeServerVersion {
		t.Errorf("serverVersion = %+v, want %+v", got.ServerVersion, fakeServerVersion)
	}
	if got.Kind != "Version" || got.ClientVersion.GitVersion != cmdutil.ClientVersion().GitVersion {
		t.Errorf("kind/cmdutil.ClientVersion = %q/%+v", got.Kind, got.ClientVersion)
	}

	out, _, err = run(t, "version", "--server", srv.URL, "--insecure-skip-tls-verify")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Client Version: " + cmdutil.ClientVersion().GitVersion + "\n", "Git Commit: " + cmdutil.ClientVersion().GitCommit + "\n",
		"Build Date: " + cmdutil.ClientVersion().BuildDate + "\n", "Server Version: v1.37.2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = run(t, "version", "--server", srv.URL, "--insecure-skip-tls-verify", "-o", "jsonpath={.serverVersion.minor}")
	if err != nil || out != "37" {
		t.Errorf("jsonpath output %q, %v", out, err)
	}
	if hits.Load() != 3 {
		t.Errorf("server saw %d requests, want 3", hits.Load())
	}
}

func TestVersionUnreachable(t *testing.T) {
	cmdtest.Isolate(t)
	server := cmdtest.ClosedPortURL(t)
	out, _, err := run(t, "version", "--server", server)
	cmdtest.AssertOneLine(t, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
		t.Errorf("exit code %d, want 3", cmdutil.ExitCode(err))
	}
	for _, want := range []string{"cannot reach", server, "connection refused", "--context/--kubeconfig/--server"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
}

// A server that accepts connections but never answers must not hang the
// command past --request-timeout.
func TestVersionRequestTimeout(t *testing.T) {
	cmdtest.Isolate(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	start := time.Now()
	_, _, err = run(t, "version", "--server", "https://"+l.Addr().String(), "--request-timeout", "1s")
	elapsed := time.Since(start)
	cmdtest.AssertOneLine(t, err)
	if !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q", err)
	}
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
		t.Errorf("exit code %d", cmdutil.ExitCode(err))
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v with --request-timeout=1s", elapsed)
	}
}

// blockingVersion never answers; only the context ends the call.
type blockingVersion struct{}

func (blockingVersion) ServerVersionWithContext(ctx context.Context) (*version.Info, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestVersionProbeTimeout(t *testing.T) {
	for _, tt := range []struct {
		flag string
		want time.Duration
	}{{"0", cmdutil.DefaultProbeTimeout}, {"7s", 7 * time.Second}} {
		flags := genericclioptions.NewConfigFlags(false)
		*flags.APIServer = "https://127.0.0.1:1"
		*flags.Timeout = tt.flag
		*flags.KubeConfig = cmdtest.Isolate(t) + "/kubeconfig"
		o := NewVersionOptions(genericiooptions.NewTestIOStreamsDiscard())
		if err := o.Complete(cmdutil.NewFactory(flags), nil, nil); err != nil {
			t.Fatal(err)
		}
		if o.timeout != tt.want {
			t.Errorf("--request-timeout=%s: probe timeout %v, want %v", tt.flag, o.timeout, tt.want)
		}
	}

	// The context alone enforces the timeout, whatever the HTTP client does.
	o := NewVersionOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.discovery, o.timeout, o.server = blockingVersion{}, 50*time.Millisecond, "https://api"
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("got %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not honour the probe timeout")
	}
}

func TestVersionServerErrors(t *testing.T) {
	cmdtest.Isolate(t)
	forbidden, _ := apiServer(t, http.StatusForbidden, map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
		"message": `forbidden: User "system:anonymous" cannot get path "/version"`,
	})
	// client-go's discovery reads /version raw, so the Status message is lost
	// and reported as "unknown"; the message must still say what to do.
	unauthorized, _ := apiServer(t, http.StatusUnauthorized, map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401,
		"message": "Unauthorized",
	})
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"forbidden", []string{"--server", forbidden.URL, "--insecure-skip-tls-verify"},
			[]string{"permission denied", forbidden.URL, "--as"}},
		{"unauthorized", []string{"--server", unauthorized.URL, "--insecure-skip-tls-verify"},
			[]string{"rejected your credentials"}},
		{"unknown CA", []string{"--server", forbidden.URL},
			[]string{"unknown authority", forbidden.URL}},
	}
	for _, tt := range tests {
		_, _, err := run(t, append([]string{"version"}, tt.args...)...)
		cmdtest.AssertOneLine(t, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun {
			t.Errorf("%s: exit code %d", tt.name, cmdutil.ExitCode(err))
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tt.name, err, w)
			}
		}
	}
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdVersion}, args...)
}
