#!/usr/bin/env bash
# bench/startup/run.sh [RUNS]: the plugin's start-up against kubectl's (v1.37.2, the cached
# upstream build), RUNS (default 20) alternating runs of each: `--help`, `version --client`, a
# completion of --context from a kubeconfig with 50 contexts (the plugin's own __complete against
# `kubectl __complete get pods`), and the same completion through kubectl and the
# kubectl_complete-clusterops helper. Prints medians and peak RSS side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
upstream=$(hack/build-upstream kubectl | tail -n 1)
# The binary as it ships (Krew archives and the image): static, CGO off. With cgo on it is
# dynamically linked and, because a dependency (kustomize, via cli-runtime) imports package
# plugin, exports every symbol: about 15 MB more of .dynsym/.dynstr/.gnu.hash for ld.so to read.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/bin/kubectl-clusterops" ./cmd/kubectl-clusterops
go build -o "$work/startup" ./bench/startup
"$work/bin/kubectl-clusterops" completion kubectl-plugin --install --dir "$work/bin" >/dev/null
# Both binaries from the same page-cache state (bench/etcd/evict.py says why), run once.
bench/etcd/evict.py "$upstream/kubectl" "$work/bin/kubectl-clusterops"
"$upstream/kubectl" version --client >/dev/null
"$work/bin/kubectl-clusterops" version --client >/dev/null
export PATH="$work/bin:$upstream:$PATH" HOME="$work"
unset KUBECONFIG
kc="$work/config"
{
  echo "apiVersion: v1"; echo "kind: Config"; echo "clusters:"
  for i in $(seq 1 50); do echo "- name: c$i"; echo "  cluster: {server: 'https://127.0.0.1:1'}"; done
  echo "users: [{name: u, user: {token: t}}]"; echo "contexts:"
  for i in $(seq 1 50); do echo "- name: ctx-$i"; echo "  context: {cluster: c$i, user: u}"; done
  echo "current-context: ctx-1"
} >"$kc"
"$work/startup" -plugin "$work/bin/kubectl-clusterops" -kubectl "$upstream/kubectl" -kubeconfig "$kc" -runs "$runs"
