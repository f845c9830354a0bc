package automate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/clusterops/kubectl-clusterops/pkg/agent"
)

// Exec runs this plugin's own binary with args (in the job's pod) and returns its stdout,
// stderr and exit code; err is set only when it could not be started.
type Exec func(ctx context.Context, args ...string) (stdout, stderr []byte, code int, err error)

// Env is what a run needs from its pod.
type Env struct {
	Name, Namespace, Node, Pod string
	Client                     kubernetes.Interface
	Exec                       Exec
	Clock                      func() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   io.Writer
}

func (e Env) logf(format string, args ...any) { fmt.Fprintf(e.Log, format+"\n", args...) }

func (e Env) run(ctx context.Context, args ...string) ([]byte, error) {
	e.logf("$ kubectl-clusterops %s", strings.Join(args, " "))
	out, errOut, code, err := e.Exec(ctx, args...)
	if len(errOut) > 0 {
		e.Log.Write(errOut)
	}
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return out, &ChildError{Args: args, Code: code, Stderr: lastErrorLine(errOut)}
	}
	return out, nil
}

// ChildError is a failed step of a run.
type ChildError struct {
	Args   []string
	Code   int
	Stderr string
}

func (c *ChildError) Error() string {
	return fmt.Sprintf("%s exited %d: %s", strings.Join(c.Args[:min(3, len(c.Args))], " "), c.Code, c.Stderr)
}

func lastErrorLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "error: ") {
			return strings.TrimPrefix(lines[i], "error: ")
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// saved is the part of `etcd snapshot save -o json` a run reads.
type saved struct {
	Path     string   `json:"path"`
	Pruned   []string `json:"pruned"`
	Metadata struct {
		SHA256     string    `json:"sha256"`
		Size       int64     `json:"size"`
		Revision   int64     `json:"revision"`
		MemberName string    `json:"memberName"`
		Time       time.Time `json:"time"`
	} `json:"metadata"`
}

// EtcdBackupRun is one scheduled snapshot: `etcd snapshot save` with saveArgs (which choose a
// healthy follower, check the hash while streaming, write the sidecar, prune by the retention,
// and upload to object storage for an s3:// target), then `etcd snapshot verify` of what was
// saved. It records the run; the returned error fails the Job.
func EtcdBackupRun(ctx context.Context, e Env, saveArgs []string) (Run, error) {
	r := Run{Automation: KindEtcdBackup, Name: e.Name, Node: e.Node, Pod: e.Pod, Started: e.Clock()}
	err := func() error {
		out, err := e.run(ctx, saveArgs...)
		if err != nil {
			return err
		}
		var s saved
		if err := json.Unmarshal(out, &s); err != nil || s.Path == "" {
			return fmt.Errorf("etcd snapshot save printed no result: %v", err)
		}
		location := s.Path
		if strings.HasPrefix(location, agent.HostRoot+"/") {
			location = strings.TrimPrefix(location, agent.HostRoot)
		}
		r.Snapshot = &Snapshot{Location: location, Time: s.Metadata.Time, Size: s.Metadata.Size, SHA256: s.Metadata.SHA256,
			Revision: s.Metadata.Revision, Member: s.Metadata.MemberName}
		for _, p := range s.Pruned {
			r.Pruned = append(r.Pruned, strings.TrimPrefix(p, agent.HostRoot))
		}
		if _, err := e.run(ctx, "etcd", "snapshot", "verify", s.Path, "-o", "json"); err != nil {
			return fmt.Errorf("the snapshot was saved at %s but does not verify: %w", location, err)
		}
		r.Verified = true
		return nil
	}()
	r.Finished = e.Clock()
	r.Succeeded = err == nil
	if err != nil {
		r.Message = "snapshot failed: " + err.Error()
	} else {
		r.Message = fmt.Sprintf("snapshot %s saved and verified (%d bytes, revision %d, member %s)", r.Snapshot.Location, r.Snapshot.Size, r.Snapshot.Revision, r.Snapshot.Member)
		if len(r.Pruned) > 0 {
			r.Message += fmt.Sprintf("; pruned %d", len(r.Pruned))
		}
	}
	if rerr := Record(context.WithoutCancel(ctx), e.Client, e.Namespace, e.Name, r, e.Clock()); rerr != nil {
		e.logf("warning: %v", rerr)
	}
	return r, err
}

// checked is the part of `certs check -o json` a run reads.
type checked struct {
	Certificates []struct {
		Name              string     `json:"name"`
		Source            string     `json:"source"`
		NotAfter          *time.Time `json:"notAfter"`
		Kubeadm           bool       `json:"kubeadm"`
		ExternallyManaged bool       `json:"externallyManaged"`
		Missing           bool       `json:"missing"`
	} `json:"certificates"`
}

// CertRenewalOptions tune a cert-renewal run.
type CertRenewalOptions struct {
	Within                 time.Duration
	KeepBackups            int
	KubeconfigDir, CertDir string
	// LeaseDuration is how long the Lease is held without renewal before another node may take it.
	LeaseDuration time.Duration
	// HealthTimeout bounds the wait for the node's kube-apiserver and etcd after the restarts.
	HealthTimeout time.Duration
	// Ready checks the node's kube-apiserver /readyz.
	Ready func(ctx context.Context) error
}

// CertRenewalRun renews, on this node only, the kubeadm certificates that expire within
// Within: it takes the automation's Lease (so two nodes never renew at once), checks, and when
// something is due renews just that with backups, restarts the node's static pods one at a
// time, and waits until its kube-apiserver answers /readyz and every etcd member is healthy
// before it lets the Lease go. Kubelet certificates are reported, never renewed: the kubelet
// rotates them. It records the run; the returned error fails the Job.
func CertRenewalRun(ctx context.Context, e Env, o CertRenewalOptions) (Run, error) {
	r := Run{Automation: KindCertRenewal, Name: e.Name, Node: e.Node, Pod: e.Pod, Started: e.Clock()}
	layout := []string{"--root", agent.HostRoot, "--kubeconfig-dir", o.KubeconfigDir, "--cert-dir", o.CertDir}
	err := func() error {
		release, err := acquire(ctx, e, o.LeaseDuration)
		if err != nil {
			return err
		}
		defer release()
		due, err := dueCerts(ctx, e, &r, layout, o.Within)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			r.NothingDue = true
			return nil
		}
		args := append([]string{"certs", "renew"}, due...)
		args = append(args, layout...)
		args = append(args, "--restart-static-pods", "--node-name", e.Node, "--keep-backups", fmt.Sprint(o.KeepBackups), "-o", "json")
		out, err := e.run(ctx, args...)
		if err != nil {
			return err
		}
		var renewed struct {
			Renewed   []struct{ Name string } `json:"certificates"`
			Restarted []struct {
				Component string `json:"component"`
			} `json:"restarted"`
		}
		if err := json.Unmarshal(out, &renewed); err != nil {
			return fmt.Errorf("certs renew printed no result: %w", err)
		}
		for _, c := range renewed.Renewed {
			r.Renewed = append(r.Renewed, c.Name)
		}
		for _, c := range renewed.Restarted {
			r.Restarted = append(r.Restarted, c.Component)
		}
		if err := waitHealthy(ctx, e, o, layout); err != nil {
			return err
		}
		// What the node holds now.
		_, err = dueCerts(ctx, e, &r, layout, o.Within)
		return err
	}()
	r.Finished = e.Clock()
	r.Succeeded = err == nil
	switch {
	case err != nil:
		r.Message = "renewal failed: " + err.Error()
		if len(r.Renewed) > 0 {
			r.Message += fmt.Sprintf(" (renewed before the failure: %s)", strings.Join(r.Renewed, ", "))
		}
	case r.NothingDue:
		r.Message = fmt.Sprintf("nothing to renew: no kubeadm certificate expires within %s", o.Within)
	default:
		r.Message = fmt.Sprintf("renewed %s; restarted %s; kube-apiserver ready and etcd healthy", strings.Join(r.Renewed, ", "), strings.Join(r.Restarted, ", "))
	}
	if r.Soonest != nil {
		r.Message += fmt.Sprintf("; soonest expiry %s (%s)", r.Soonest.NotAfter.UTC().Format(time.RFC3339), r.Soonest.Name)
	}
	if rerr := Record(context.WithoutCancel(ctx), e.Client, e.Namespace, e.Name, r, e.Clock()); rerr != nil {
		e.logf("warning: %v", rerr)
	}
	return r, err
}

// dueCerts runs `certs check` on the node and returns the kubeadm certificates expiring within
// within (not externally managed); it fills r.Soonest and r.Kubelet.
func dueCerts(ctx context.Context, e Env, r *Run, layout []string, within time.Duration) ([]string, error) {
	args := append([]string{"certs", "check", "--source", "node", "-o", "json"}, layout...)
	out, err := e.run(ctx, args...)
	var ce *ChildError
	if errors.As(err, &ce) && (ce.Code == 1 || ce.Code == 2) {
		err = nil // warnings and problems are what this run is for
	}
	if err != nil {
		return nil, err
	}
	var c checked
	if err := json.Unmarshal(out, &c); err != nil {
		return nil, fmt.Errorf("certs check printed no result: %w", err)
	}
	now := e.Clock()
	var due []string
	r.Soonest, r.Kubelet = nil, nil
	for _, cert := range c.Certificates {
		if cert.NotAfter == nil || cert.Missing {
			continue
		}
		if !cert.Kubeadm {
			if strings.Contains(cert.Name, "kubelet") {
				r.Kubelet = append(r.Kubelet, Cert{Name: cert.Name, NotAfter: *cert.NotAfter})
			}
			continue
		}
		if r.Soonest == nil || cert.NotAfter.Before(r.Soonest.NotAfter) {
			r.Soonest = &Cert{Name: cert.Name, NotAfter: *cert.NotAfter}
		}
		if !cert.ExternallyManaged && cert.NotAfter.Sub(now) <= within {
			due = append(due, cert.Name)
		}
	}
	sort.Strings(due)
	return due, nil
}

// waitHealthy waits until the node's kube-apiserver answers /readyz and `etcd members` finds
// every member healthy.
func waitHealthy(ctx context.Context, e Env, o CertRenewalOptions, layout []string) error {
	deadline := e.Clock().Add(o.HealthTimeout)
	var last error
	for {
		last = o.Ready(ctx)
		if last == nil {
			args := []string{"etcd", "members", "--root", agent.HostRoot, "-o", "json"}
			if _, err := e.run(ctx, args...); err != nil {
				last = fmt.Errorf("etcd not healthy: %w", err)
			}
		} else {
			last = fmt.Errorf("kube-apiserver not ready: %w", last)
		}
		if last == nil {
			return nil
		}
		if e.Clock().After(deadline) {
			return fmt.Errorf("after the restarts, not healthy within %s: %w", o.HealthTimeout, last)
		}
		if err := e.Sleep(ctx, 5*time.Second); err != nil {
			return err
		}
	}
}

// acquire takes the automation's Lease for this node, waiting while another node holds it
// (a holder that has not renewed within LeaseDuration is taken over). The returned func lets
// it go. The Lease is held for the whole renewal: a renewal takes minutes, so the duration is
// long and the holder renews it while it waits for health.
func acquire(ctx context.Context, e Env, d time.Duration) (func(), error) {
	leases := e.Client.CoordinationV1().Leases(e.Namespace)
	holder := e.Node + "/" + e.Pod
	for {
		l, err := leases.Get(ctx, LockName(e.Name), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading lease %s/%s: %w", e.Namespace, LockName(e.Name), err)
		}
		now := e.Clock()
		free := l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || *l.Spec.HolderIdentity == holder ||
			l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil ||
			now.Sub(l.Spec.RenewTime.Time) > time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second
		if free {
			mt := metav1.NewMicroTime(now)
			l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(d / time.Second)),
				AcquireTime: &mt, RenewTime: &mt}
			_, err := leases.Update(ctx, l, metav1.UpdateOptions{})
			if err == nil {
				e.logf("holding lease %s/%s", e.Namespace, l.Name)
				return func() {
					rctx := context.WithoutCancel(ctx)
					if l, err := leases.Get(rctx, LockName(e.Name), metav1.GetOptions{}); err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == holder {
						l.Spec.HolderIdentity = nil
						l.Spec.RenewTime = nil
						_, _ = leases.Update(rctx, l, metav1.UpdateOptions{})
					}
				}, nil
			}
			if !apierrors.IsConflict(err) {
				return nil, fmt.Errorf("taking lease %s/%s: %w", e.Namespace, l.Name, err)
			}
			continue
		}
		e.logf("lease %s/%s is held by %s: waiting (two nodes never renew at once)", e.Namespace, l.Name, *l.Spec.HolderIdentity)
		if err := e.Sleep(ctx, 10*time.Second); err != nil {
			return nil, err
		}
	}
}

// LocalAPIServer is the client configuration of a job's pod: its own node's kube-apiserver at
// the node's address (the pod has the host network) on port, verified as "kubernetes" (a name
// kubeadm always puts in the serving certificate) against the cluster CA the service account
// mount holds, with the pod's service account token. Not the kubernetes Service: a job runs while
// the control plane restarts, and must not depend on kube-proxy or the CNI, nor send anything
// off the node.
func LocalAPIServer(hostIP string, port int) *rest.Config {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(hostIP, strconv.Itoa(port)),
		TLSClientConfig: rest.TLSClientConfig{CAFile: sa + "ca.crt", ServerName: "kubernetes"},
		BearerTokenFile: sa + "token",
		Timeout:         30 * time.Second,
	}
}

// WriteKubeconfig writes cfg as a kubeconfig file at path (for the run's child commands).
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, TLSServerName: cfg.ServerName}
	kc.AuthInfos["job"] = &clientcmdapi.AuthInfo{TokenFile: cfg.BearerTokenFile}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "job"}
	kc.CurrentContext = "local"
	return clientcmd.WriteToFile(*kc, path)
}

// APIServerReady returns a check of /readyz of the kube-apiserver cfg points at.
func APIServerReady(cfg *rest.Config) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		_, err = c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}
}
