package cmdutil

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Factory is how a command reaches the cluster, in the spirit of kubectl's cmdutil.Factory. It is
// built once, in the root, from the kubectl global flags, and it is the only code that reads the
// kubeconfig. Every error it returns is already one friendly line.
type Factory interface {
	// RESTConfig is a copy of the client config of the current context and flags.
	RESTConfig() (*rest.Config, error)
	// ClientSet is a typed client for RESTConfig.
	ClientSet() (kubernetes.Interface, error)
	// ClientSetWith is a typed client with changes to RESTConfig (no impersonation, more QPS),
	// and the config it was built from.
	ClientSetWith(ClientOptions) (kubernetes.Interface, *rest.Config, error)
	// Metadata is a metadata-only client (PartialObjectMetadata lists).
	Metadata() (metadata.Interface, error)
	// MetadataWith is a metadata-only client with changes to RESTConfig (more QPS).
	MetadataWith(ClientOptions) (metadata.Interface, error)
	// Discovery is the cached discovery client kubectl uses.
	Discovery() (discovery.CachedDiscoveryInterface, error)
	// RESTMapper maps kinds and resources through discovery.
	RESTMapper() (meta.RESTMapper, error)
	// Namespace is -n or the context's namespace, and whether it was set explicitly.
	Namespace() (string, bool, error)
	// CurrentContext is the name of the context in use: --context, or the kubeconfig's current-context.
	CurrentContext() (string, error)
	// ClusterName is the kubeconfig cluster in use: --cluster, or the current context's cluster.
	ClusterName() (string, error)
	// UserName is the kubeconfig user in use: --user, or the current context's user.
	UserName() (string, error)
	// RawConfig is the merged kubeconfig, before flags are applied.
	RawConfig() (clientcmdapi.Config, error)
	// ConfigAccess says which kubeconfig file(s) a write goes to, as kubectl config does.
	ConfigAccess() clientcmd.ConfigAccess
	// Server is the API server URL in use ("" when the config cannot be built).
	Server() string
	// Timeout is --request-timeout, or DefaultProbeTimeout when it is not set.
	Timeout() time.Duration
	// Impersonation is --as and --as-group as given on the command line (no kubeconfig needed):
	// commands that ask about a subject take it from there instead of impersonating it.
	Impersonation() (user string, groups []string)
	// ForContext is a Factory for another context of the same kubeconfig, with every other
	// global flag kept.
	ForContext(name string) Factory
	// ForKubeconfig is a Factory for another kubeconfig file (such as a node's
	// /etc/kubernetes/admin.conf), with its own current context and every other global flag kept.
	ForKubeconfig(path string) Factory
}

// ClientOptions change the config ClientSetWith builds from.
type ClientOptions struct {
	// NoImpersonation drops --as/--as-group (the command asks about that subject instead).
	NoImpersonation bool
	// QPS raises client-go's client-side rate limit for commands that make many small requests.
	QPS float32
	// Burst is the client-side burst with QPS (default: QPS).
	Burst int
	// Protobuf asks for protobuf, with JSON as the fallback, for commands that list many objects.
	Protobuf bool
	// MaxTimeout caps the per-request timeout (completion must not hang a shell).
	MaxTimeout time.Duration
	// Anonymous drops every credential (rest.AnonymousClientConfig) and keeps the server, its CA
	// and the TLS settings: a probe of /version that does not depend on the user.
	Anonymous bool
}

// NewFactory returns the Factory for the kubectl global flags.
func NewFactory(flags *genericclioptions.ConfigFlags) Factory {
	return &factory{flags: flags}
}

type factory struct {
	flags *genericclioptions.ConfigFlags

	once   sync.Once
	config *rest.Config
	err    error
}

func (f *factory) base() (*rest.Config, error) {
	f.once.Do(func() {
		f.config, f.err = f.flags.ToRESTConfig()
		if f.err != nil {
			f.err = FriendlyError(f.err, "")
		}
	})
	return f.config, f.err
}

func (f *factory) RESTConfig() (*rest.Config, error) {
	cfg, err := f.base()
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(cfg), nil
}

func (f *factory) ClientSet() (kubernetes.Interface, error) {
	c, _, err := f.ClientSetWith(ClientOptions{})
	return c, err
}

// configWith is RESTConfig with the changes of o.
func (f *factory) configWith(o ClientOptions) (*rest.Config, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	if o.NoImpersonation {
		cfg.Impersonate = rest.ImpersonationConfig{}
	}
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, int(o.QPS)
		if o.Burst > 0 {
			cfg.Burst = o.Burst
		}
	}
	if o.Protobuf {
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
	}
	if o.Anonymous {
		cfg = rest.AnonymousClientConfig(cfg)
	}
	if o.MaxTimeout > 0 && (cfg.Timeout <= 0 || cfg.Timeout > o.MaxTimeout) {
		cfg.Timeout = o.MaxTimeout
	}
	return cfg, nil
}

func (f *factory) ClientSetWith(o ClientOptions) (kubernetes.Interface, *rest.Config, error) {
	cfg, err := f.configWith(o)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, FriendlyError(err, cfg.Host)
	}
	return c, cfg, nil
}

func (f *factory) Metadata() (metadata.Interface, error) {
	return f.MetadataWith(ClientOptions{})
}

func (f *factory) MetadataWith(o ClientOptions) (metadata.Interface, error) {
	cfg, err := f.configWith(o)
	if err != nil {
		return nil, err
	}
	c, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, FriendlyError(err, cfg.Host)
	}
	return c, nil
}

func (f *factory) Discovery() (discovery.CachedDiscoveryInterface, error) {
	d, err := f.flags.ToDiscoveryClient()
	if err != nil {
		return nil, FriendlyError(err, f.Server())
	}
	return d, nil
}

func (f *factory) RESTMapper() (meta.RESTMapper, error) {
	m, err := f.flags.ToRESTMapper()
	if err != nil {
		return nil, FriendlyError(err, f.Server())
	}
	return m, nil
}

func (f *factory) Namespace() (string, bool, error) {
	ns, explicit, err := f.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", false, FriendlyError(err, "")
	}
	return ns, explicit, nil
}

func (f *factory) RawConfig() (clientcmdapi.Config, error) {
	raw, err := f.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return raw, FriendlyError(err, "")
	}
	return raw, nil
}

func (f *factory) CurrentContext() (string, error) {
	if c := f.flags.Context; c != nil && *c != "" {
		return *c, nil
	}
	raw, err := f.RawConfig()
	if err != nil {
		return "", err
	}
	return raw.CurrentContext, nil
}

func (f *factory) ClusterName() (string, error) {
	return f.fromContext(f.flags.ClusterName, "cluster", func(c *clientcmdapi.Context) string { return c.Cluster })
}

func (f *factory) UserName() (string, error) {
	return f.fromContext(f.flags.AuthInfoName, "user", func(c *clientcmdapi.Context) string { return c.AuthInfo })
}

// fromContext is the flag's value, or the named field of the current context.
func (f *factory) fromContext(flag *string, what string, field func(*clientcmdapi.Context) string) (string, error) {
	if flag != nil && *flag != "" {
		return *flag, nil
	}
	name, err := f.CurrentContext()
	if err != nil {
		return "", err
	}
	raw, err := f.RawConfig()
	if err != nil {
		return "", err
	}
	if ctx, ok := raw.Contexts[name]; ok && field(ctx) != "" {
		return field(ctx), nil
	}
	return "", fmt.Errorf("the kubeconfig has no context %q to take a %s from; pass --%s or --context", name, what, what)
}

func (f *factory) ConfigAccess() clientcmd.ConfigAccess {
	return f.flags.ToRawKubeConfigLoader().ConfigAccess()
}

func (f *factory) Server() string {
	cfg, err := f.base()
	if err != nil {
		return ""
	}
	return cfg.Host
}

func (f *factory) Timeout() time.Duration {
	cfg, err := f.base()
	if err != nil || cfg.Timeout <= 0 {
		return DefaultProbeTimeout
	}
	return cfg.Timeout
}

func (f *factory) Impersonation() (string, []string) {
	user := ""
	if f.flags.Impersonate != nil {
		user = *f.flags.Impersonate
	}
	var groups []string
	if f.flags.ImpersonateGroup != nil {
		groups = append(groups, *f.flags.ImpersonateGroup...)
	}
	return user, groups
}

func (f *factory) ForContext(name string) Factory {
	cf := f.cloneFlags()
	cf.Context = &name
	return &factory{flags: cf}
}

func (f *factory) ForKubeconfig(path string) Factory {
	cf := f.cloneFlags()
	cf.KubeConfig = &path
	cf.Context, cf.ClusterName, cf.AuthInfoName = new(string), new(string), new(string)
	return &factory{flags: cf}
}

// cloneFlags copies every global flag into new ConfigFlags, so that a derived Factory never
// shares (or changes) the root's cached clients.
func (f *factory) cloneFlags() *genericclioptions.ConfigFlags {
	src := f.flags
	cf := genericclioptions.NewConfigFlags(true)
	for _, p := range []struct{ dst, src **string }{
		{&cf.KubeConfig, &src.KubeConfig}, {&cf.ClusterName, &src.ClusterName},
		{&cf.AuthInfoName, &src.AuthInfoName}, {&cf.Namespace, &src.Namespace},
		{&cf.APIServer, &src.APIServer}, {&cf.TLSServerName, &src.TLSServerName},
		{&cf.CertFile, &src.CertFile}, {&cf.KeyFile, &src.KeyFile}, {&cf.CAFile, &src.CAFile},
		{&cf.BearerToken, &src.BearerToken}, {&cf.Impersonate, &src.Impersonate},
		{&cf.ImpersonateUID, &src.ImpersonateUID}, {&cf.Username, &src.Username},
		{&cf.Password, &src.Password}, {&cf.Timeout, &src.Timeout}, {&cf.CacheDir, &src.CacheDir},
		{&cf.ProxyURL, &src.ProxyURL},
	} {
		*p.dst = *p.src
	}
	cf.Insecure, cf.DisableCompression = src.Insecure, src.DisableCompression
	cf.ImpersonateGroup, cf.ImpersonateUserExtra = src.ImpersonateGroup, src.ImpersonateUserExtra
	cf.WrapConfigFn = src.WrapConfigFn
	cf.Context = src.Context
	return cf
}
