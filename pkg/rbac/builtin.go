package rbac

import "strings"

// bootstrapNonSystemNames are the API server's bootstrap roles whose names lack the system:
// prefix (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go ClusterRoles(), and
// namespace_policy.go for the Role in kube-system).
var bootstrapNonSystemNames = map[string]bool{
	"ClusterRole/cluster-admin": true, "ClusterRole/admin": true, "ClusterRole/edit": true, "ClusterRole/view": true,
	"ClusterRoleBinding/cluster-admin":                           true,
	"Role/kube-system/extension-apiserver-authentication-reader": true,
}

// kubeadmObjects are the roles and bindings kubeadm init makes (cmd/kubeadm/app/phases/
// bootstraptoken/clusterinfo, bootstraptoken/node, kubelet, uploadconfig, copycerts,
// addons/proxy and addons/dns, the kubeadm:cluster-admins binding of
// cmd/kubeadm/app/phases/kubeconfig, and kubeadm:apiserver-kubelet-client, which binds
// system:kubelet-api-admin to the API server's kubelet client certificate). They carry no
// bootstrapping label; on a fresh kubeadm cluster (the e2e harness) there is no other.
var kubeadmObjects = map[string]bool{
	"ClusterRole/kubeadm:get-nodes":                                    true,
	"ClusterRoleBinding/kubeadm:get-nodes":                             true,
	"ClusterRoleBinding/kubeadm:kubelet-bootstrap":                     true,
	"ClusterRoleBinding/kubeadm:node-autoapprove-bootstrap":            true,
	"ClusterRoleBinding/kubeadm:node-autoapprove-certificate-rotation": true,
	"ClusterRoleBinding/kubeadm:node-proxier":                          true,
	"ClusterRoleBinding/kubeadm:cluster-admins":                        true,
	"ClusterRoleBinding/kubeadm:apiserver-kubelet-client":              true,
	"Role/kube-system/kubeadm:nodes-kubeadm-config":                    true,
	"RoleBinding/kube-system/kubeadm:nodes-kubeadm-config":             true,
	"Role/kube-system/kubeadm:kubelet-config":                          true,
	"RoleBinding/kube-system/kubeadm:kubelet-config":                   true,
	"Role/kube-system/kubeadm:kubeadm-certs":                           true,
	"RoleBinding/kube-system/kubeadm:kubeadm-certs":                    true,
	"Role/kube-public/kubeadm:bootstrap-signer-clusterinfo":            true,
	"RoleBinding/kube-public/kubeadm:bootstrap-signer-clusterinfo":     true,
	"Role/kube-system/kube-proxy":                                      true,
	"RoleBinding/kube-system/kube-proxy":                               true,
	"ClusterRole/system:coredns":                                       true,
	"ClusterRoleBinding/system:coredns":                                true,
}

// IsBuiltin reports whether a role or binding is one of the cluster's own: a bootstrap object
// of the API server (it carries the label kubernetes.io/bootstrapping=rbac-defaults, and its
// name is one the API server makes: system:..., or one of bootstrapNonSystemNames), or one of
// the objects kubeadm makes. A system: name alone proves nothing: anyone allowed to create
// roles may choose one.
func IsBuiltin(kind, namespace, name string, lbls map[string]string) bool {
	key := kind + "/" + name
	if namespace != "" {
		key = kind + "/" + namespace + "/" + name
	}
	if kubeadmObjects[key] {
		return true
	}
	if lbls[LabelBootstrapping] != BootstrapRBAC {
		return false
	}
	return strings.HasPrefix(name, "system:") || bootstrapNonSystemNames[key]
}
