#!/usr/bin/env bash
# Completion latency, side by side: kubectl's own context completion vs. completing
# `kubectl clusterops ... --context` through kubectl_complete-clusterops (and the plugin directly).
# No cluster needed: contexts come from a kubeconfig file. Usage: bench/krew/complete.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-complete.XXXXXX")
trap 'rm -rf "$work"' EXIT
upstream=$(hack/build-upstream kubectl | tail -n 1)
go build -o "$work/bin/kubectl-clusterops" ./cmd/kubectl-clusterops
"$work/bin/kubectl-clusterops" completion kubectl-plugin --install --dir "$work/bin" >/dev/null
export PATH="$work/bin:$upstream:$PATH" HOME="$work"
kc="$work/config"
{
  echo "apiVersion: v1"; echo "kind: Config"; echo "clusters:"
  for i in $(seq 1 50); do echo "- name: c$i"; echo "  cluster: {server: 'https://127.0.0.1:1'}"; done
  echo "users: [{name: u, user: {token: t}}]"; echo "contexts:"
  for i in $(seq 1 50); do echo "- name: ctx-$i"; echo "  context: {cluster: c$i, user: u}"; done
  echo "current-context: ctx-1"
} >"$kc"

measure() { # label cmd...
  local label=$1; shift
  local n; n=$("$@" 2>/dev/null | grep -c '^ctx-' || true)
  local start end
  start=$(date +%s%N)
  for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s%N)
  printf '%-58s %3d contexts  %6.1f ms/run\n' "$label" "$n" "$(echo "($end - $start) / $runs / 1000000" | bc -l)"
}
echo "runs: $runs, kubeconfig with 50 contexts, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "kubectl __complete get pods --context ''  (upstream kubectl)" kubectl __complete get pods --kubeconfig "$kc" --context ''
measure "kubectl __complete clusterops version --context ''" kubectl __complete clusterops version --kubeconfig "$kc" --context ''
measure "kubectl-clusterops __complete version --context ''" kubectl-clusterops __complete version --kubeconfig "$kc" --context ''
