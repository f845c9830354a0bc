#!/usr/bin/env bash
# Side-by-side timing of `kubectl clusterops staticpods list|diff` and `cluster status` against
# the kubectl commands an admin runs by hand for the same view. Needs KUBECONFIG (a cluster with
# kubeadm static pods, e.g. the one `make cluster` or hack/demo starts), CLUSTEROPS_ROOT (its node
# root) and the plugin and kubectl on PATH. Usage: bench/staticpods/bench.sh [runs]
set -euo pipefail
runs=${1:-10}
: "${KUBECONFIG:?set KUBECONFIG}" "${CLUSTEROPS_ROOT:?set CLUSTEROPS_ROOT (the node root)}"
node=$(kubectl get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{.items[0].metadata.name}')
manifests="$CLUSTEROPS_ROOT/etc/kubernetes/manifests"

# mean_ms NAME CMD...: runs CMD $runs times (output discarded, exit code ignored), prints the mean.
mean_ms() {
  local name=$1 start end total=0 i
  shift
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    total=$((total + (end - start) / 1000))
  done
  printf '%-58s %8.1f ms\n' "$name" "$(echo "scale=1; $total / $runs / 1000" | bc)"
}

by_hand_list() {
  kubectl get pods -n kube-system -l tier=control-plane -o wide
}
by_hand_diff() {
  local f c
  for f in "$manifests"/*.yaml; do
    c=$(basename "$f" .yaml)
    kubectl get pod -n kube-system "$c-$node" -o yaml | diff - "$f" || true
  done
}
by_hand_status() {
  kubectl get --raw '/readyz?verbose'
  kubectl get --raw '/livez?verbose'
  kubectl get pods -n kube-system -o wide
  kubectl get lease -n kube-system kube-controller-manager kube-scheduler -o yaml
  kubectl get nodes -o wide
  kubectl describe nodes
  kubectl get deployment,service -n kube-system coredns kube-dns
  kubectl get daemonsets -A
  kubectl get configmap -n kube-system kube-proxy kubeadm-config -o yaml
  kubectl get servicecidrs
  kubectl get services -A
  kubectl get networkpolicies -A
  ls "$CLUSTEROPS_ROOT/etc/cni/net.d"
}

echo "runs per command: $runs; node $node; $(kubectl version 2>/dev/null | tail -n 1)"
mean_ms "kubectl clusterops staticpods list" kubectl clusterops staticpods list
mean_ms "by hand: kubectl get pods -l tier=control-plane" by_hand_list
mean_ms "kubectl clusterops staticpods diff --root" kubectl clusterops staticpods diff --root "$CLUSTEROPS_ROOT" --node "$node"
mean_ms "by hand: kubectl get pod -o yaml | diff (per manifest)" by_hand_diff
mean_ms "kubectl clusterops cluster status --root" kubectl clusterops cluster status --root "$CLUSTEROPS_ROOT"
mean_ms "by hand: 13 kubectl calls for the same facts" by_hand_status
