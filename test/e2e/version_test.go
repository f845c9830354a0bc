//go:build e2e

package e2e

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

type versionJSON struct {
	APIVersion    string `json:"apiVersion"`
	Kind          string `json:"kind"`
	Server        string `json:"server"`
	ClientVersion struct {
		GitVersion string `json:"gitVersion"`
	} `json:"clientVersion"`
	ServerVersion *struct {
		GitVersion string `json:"gitVersion"`
		Major      string `json:"major"`
		Minor      string `json:"minor"`
	} `json:"serverVersion"`
}

func parseVersion(t *testing.T, r result) versionJSON {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var v versionJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("version -o json is not JSON: %v\n%s", err, r.stdout)
	}
	return v
}

// The plugin, found on PATH by the real kubectl v1.37.2, reports the harness apiserver's version.
func TestVersionThroughRealKubectl(t *testing.T) {
	kubectlVersion := run(t, "kubectl", "version", "--client", "-o", "json")
	if !strings.Contains(kubectlVersion.stdout, `"gitVersion": "v1.37.2"`) {
		t.Fatalf("the kubectl on PATH is not the harness's v1.37.2:\n%s", kubectlVersion.stdout)
	}
	v := parseVersion(t, run(t, "kubectl", "clusterops", "version", "-o", "json", "--kubeconfig", env.cp.AdminKubeconfig))
	if v.ClientVersion.GitVersion != testVersion {
		t.Errorf("clientVersion.gitVersion = %q, want the stamped %q", v.ClientVersion.GitVersion, testVersion)
	}
	if v.ServerVersion == nil || v.ServerVersion.GitVersion != harness.KubernetesVersion {
		t.Fatalf("serverVersion = %+v, want gitVersion %s", v.ServerVersion, harness.KubernetesVersion)
	}
	if v.ServerVersion.Major != "1" || v.ServerVersion.Minor != "37" {
		t.Errorf("serverVersion major.minor = %s.%s, want 1.37", v.ServerVersion.Major, v.ServerVersion.Minor)
	}
	if v.Server != env.cp.Server {
		t.Errorf("server = %q, want %q", v.Server, env.cp.Server)
	}

	text := run(t, "kubectl", "clusterops", "version", "--kubeconfig", env.cp.AdminKubeconfig)
	if text.code != 0 || !strings.Contains(text.stdout, "Server Version: v1.37.2") || !strings.Contains(text.stdout, "Client Version: "+testVersion) {
		t.Errorf("table output lacks the versions:\n%s", text.stdout)
	}

	client := parseVersion(t, run(t, "kubectl", "clusterops", "version", "--client", "-o", "json", "--server", "https://127.0.0.1:1"))
	if client.ServerVersion != nil {
		t.Errorf("--client asked the server: %+v", client.ServerVersion)
	}
}

// --context and --kubeconfig choose between two real clusters.
func TestContextAndKubeconfigPickTheCluster(t *testing.T) {
	second := harness.StartT(t, harness.Options{Name: "second", NoControllerManager: true, NoKubeadmObjects: true, NoMirrorPods: true})

	merged := clientcmdapi.NewConfig()
	for _, cp := range []*harness.ControlPlane{env.cp, second} {
		cfg, err := clientcmd.LoadFromFile(cp.AdminKubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[cp.Name] = cfg.Clusters[ctx.Cluster]
		merged.AuthInfos["admin-"+cp.Name] = cfg.AuthInfos[ctx.AuthInfo]
		merged.Contexts[cp.Name] = &clientcmdapi.Context{Cluster: cp.Name, AuthInfo: "admin-" + cp.Name}
	}
	merged.CurrentContext = env.cp.Name
	path := filepath.Join(t.TempDir(), "two-clusters.conf")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", path}, env.cp.Server},
		{[]string{"--kubeconfig", path, "--context", second.Name}, second.Server},
		{[]string{"--kubeconfig", path, "--context", env.cp.Name}, env.cp.Server},
		{[]string{"--kubeconfig", second.AdminKubeconfig}, second.Server},
	} {
		args := append([]string{"clusterops", "version", "-o", "json"}, c.args...)
		v := parseVersion(t, run(t, "kubectl", args...))
		if v.Server != c.want {
			t.Errorf("%v: answered by %s, want %s", c.args, v.Server, c.want)
		}
		if v.ServerVersion == nil || v.ServerVersion.GitVersion != harness.KubernetesVersion {
			t.Errorf("%v: serverVersion %+v", c.args, v.ServerVersion)
		}
	}

	// The same through KUBECONFIG, as a shell alias would use it.
	v := parseVersion(t, runEnv(t, []string{"KUBECONFIG=" + path}, "kubectl", "clusterops", "version", "-o", "json", "--context", second.Name))
	if v.Server != second.Server {
		t.Errorf("KUBECONFIG + --context: answered by %s, want %s", v.Server, second.Server)
	}

	bad := run(t, "kubectl", "clusterops", "version", "--kubeconfig", path, "--context", "no-such-context")
	if bad.code != 3 || !strings.Contains(bad.stderr, "no-such-context") || strings.Count(strings.TrimSpace(bad.stderr), "\n") != 0 {
		t.Errorf("unknown context: want exit 3 and one line naming it, got %d: %q", bad.code, bad.stderr)
	}
}

// An unreachable server gives one clear line and exit 3, also when the server accepts the TCP
// connection but never answers (bounded by --request-timeout).
func TestUnreachableServer(t *testing.T) {
	closed, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accept and hold connections without ever answering
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for _, c := range []struct {
		server, want string
	}{
		{"https://127.0.0.1:" + strconv.Itoa(closed), "cannot reach"},
		{"https://" + silent.Addr().String(), "cannot reach"},
	} {
		r := run(t, "kubectl", "clusterops", "version", "--server", c.server, "--request-timeout", "3s",
			"--kubeconfig", env.cp.AdminKubeconfig)
		msg := strings.TrimSpace(r.stderr)
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3", c.server, r.code)
		}
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, strings.TrimPrefix(c.server, "https://")) || strings.Contains(msg, "\n") {
			t.Errorf("%s: want one line with %q and the address, got %q", c.server, c.want, msg)
		}
	}
}
