package plugin

import (
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clusterConn is what a command that talks to the API server needs from the kubeconfig and
// the global flags.
type clusterConn struct {
	config    *rest.Config
	client    kubernetes.Interface
	discovery discovery.DiscoveryInterface
	server    string
	// namespace from -n or the context, and whether -n was given.
	namespace         string
	namespaceExplicit bool
}

// newClusterConn builds clients from the kubeconfig and global flags. With
// dropImpersonation the --as/--as-group flags are not applied to requests
// (the command uses them as the subject to ask about instead). qps raises
// client-go's default client-side rate limit for commands that make many
// small requests.
func newClusterConn(getter genericclioptions.RESTClientGetter, dropImpersonation bool, qps float32) (*clusterConn, error) {
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return nil, friendlyError(err, "")
	}
	cfg = rest.CopyConfig(cfg)
	if dropImpersonation {
		cfg.Impersonate = rest.ImpersonationConfig{}
	}
	if qps > 0 {
		cfg.QPS, cfg.Burst = qps, int(qps)
	}
	c := &clusterConn{config: cfg, server: cfg.Host}
	if c.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, friendlyError(err, c.server)
	}
	if c.discovery, err = discovery.NewDiscoveryClientForConfig(cfg); err != nil {
		return nil, friendlyError(err, c.server)
	}
	c.namespace, c.namespaceExplicit, err = getter.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, friendlyError(err, c.server)
	}
	return c, nil
}
