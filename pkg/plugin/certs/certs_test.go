package certs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/clusterops/kubectl-clusterops/pkg/certs"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"
	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil/cmdtest"
)

func TestParseLongDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"1y": 365 * 24 * time.Hour, "720h": 720 * time.Hour, "0d": 0} {
		if got, err := cmdutil.ParseLongDuration("warn-within", in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"soon", "-5d", "d", "-1h"} {
		if _, err := cmdutil.ParseLongDuration("warn-within", bad); err == nil || !strings.Contains(err.Error(), "--warn-within") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestCertsCommandsRejectBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"certs", "renew"},
		{"certs", "renew", "all"},
		{"certs", "renew", "all", "--root", "/x", "--csr-only", "--restart-static-pods"},
		{"certs", "renew", "all", "--root", "/x", "--validity", "10m"},
		{"certs", "check", "--source", "disk"},
		{"certs", "ca", "extra"},
		{"certs", "rotate"},
	} {
		out, _, err := cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdCerts}, args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || strings.Contains(err.Error(), "\n") || out != "" {
			t.Errorf("%v: exit %d, %v, stdout %q", args, cmdutil.ExitCode(err), err, out)
		}
	}
}

// Defect 12 (issue 14): the kubeconfig's CA file that cannot be read, or is not a certificate, is
// an error: the served certificate was checked against the system roots instead.
func TestDefect12CheckAPIRefusesUnreadableCA(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.crt")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)
	for _, c := range []struct {
		config *rest.Config
		want   string
	}{
		{&rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(dir, "nope.crt")}}, "nope.crt"},
		{&rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CAFile: garbage}}, "certificate-authority " + garbage},
		{&rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("junk")}}, "certificate-authority-data"},
	} {
		o := &CertsCheckOptions{config: c.config, want: map[string]bool{sourceAPI: true}}
		err := o.checkAPI(context.Background(), &certs.Report{}, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %q", c.config.TLSClientConfig, err, c.want)
		}
	}
	// Through the command: the real cause, not "options not completed".
	kc := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n"+
		"    certificate-authority: "+filepath.Join(dir, "nope.crt")+"\nusers:\n- name: u\n  user: {token: x}\n"+
		"contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"), 0o600)
	_, _, err := cmdtest.Run(t, []cmdutil.GroupConstructor{NewCmdCerts}, "certs", "check", "--source", "api", "--kubeconfig", kc)
	if cmdutil.ExitCode(err) != cmdutil.ExitCannotRun || !strings.Contains(err.Error(), "nope.crt") {
		t.Errorf("certs check with an unreadable CA file: exit %d %v", cmdutil.ExitCode(err), err)
	}
}
