# shellcheck shell=bash
# Part of hack/demo (sourced): static pods vs mirror pods, and the cluster overview.
node=$(kubectl get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{.items[0].metadata.name}')
show kubectl clusterops staticpods list
show kubectl clusterops staticpods diff --root "$CLUSTEROPS_ROOT" --node "$node"
# Referenced certificate files are read under the node root.
show kubectl clusterops staticpods inspect kube-apiserver --root "$CLUSTEROPS_ROOT"
# Exit 2 here is truthful: the demo control plane has no scheduler or kubelet, so the CoreDNS and
# kube-proxy pods stay Pending and no kube-scheduler holds a Lease. --root adds the etcd members
# (read with the API server's etcd client certificate) and the CNI configs of the node root.
show kubectl clusterops cluster status --root "$CLUSTEROPS_ROOT"
show kubectl clusterops cluster status -o jsonpath='{range .problems[*]}{.severity}: {.message}{"\n"}{end}'
