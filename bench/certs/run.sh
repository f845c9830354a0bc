#!/usr/bin/env bash
# Benchmark: `kubectl-clusterops certs check` against `kubeadm certs check-expiration` on the same
# kubeadm node root, in one run. The root is laid out by the real kubeadm (init phase certs,
# kubeconfig) in a temp dir; both tools read the same files; each runs N times, alternating.
#   bench/certs/run.sh [N]        (default N=200)
# Prints the mean wall time and CPU time per run of each tool and the ratios.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-200}
bin=$(hack/build-upstream kubeadm | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/kubectl-clusterops" ./cmd/kubectl-clusterops
root=$work/root
mkdir -p "$root"
# kubeadm insists on a non-loopback advertise address; nothing listens on it here.
ip=$(ip -4 -o addr show "$(ip -4 route show default | awk '{print $5; exit}')" 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1)
cat >"$root/kubeadm.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${ip:-10.0.0.1}
nodeRegistration:
  name: bench
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
controlPlaneEndpoint: 127.0.0.1:6443
YAML
for phase in "certs all" "kubeconfig all"; do
  # shellcheck disable=SC2086
  "$bin/kubeadm" init phase $phase --config /kubeadm.yaml --rootfs "$root" >/dev/null
done

kubeadm_cmd=("$bin/kubeadm" certs check-expiration --config /kubeadm.yaml --rootfs "$root")
ours_cmd=("$work/kubectl-clusterops" certs check --root "$root" --source node)
"${kubeadm_cmd[@]}" >/dev/null
"${ours_cmd[@]}" >/dev/null

ns() { date +%s%N; }
k_total=0 o_total=0
for ((i = 0; i < n; i++)); do
  t=$(ns); "${kubeadm_cmd[@]}" >/dev/null; k_total=$((k_total + $(ns) - t))
  t=$(ns); "${ours_cmd[@]}" >/dev/null; o_total=$((o_total + $(ns) - t))
done
k_ms=$(awk -v t="$k_total" -v n="$n" 'BEGIN { printf "%.2f", t / n / 1e6 }')
o_ms=$(awk -v t="$o_total" -v n="$n" 'BEGIN { printf "%.2f", t / n / 1e6 }')
ratio=$(awk -v k="$k_total" -v o="$o_total" 'BEGIN { printf "%.2f", k / o }')
echo "runs per tool:                         $n (alternating, same root)"
echo "kubeadm certs check-expiration:        ${k_ms} ms per run"
echo "kubectl-clusterops certs check:        ${o_ms} ms per run"
echo "ratio (kubeadm time / clusterops time): ${ratio}x"
# CPU time (user+sys) of the same N runs: less sensitive to other load on the machine.
cpu() { /usr/bin/time -f "%U %S" bash -c 'for ((i = 0; i < '"$n"'; i++)); do "$@" >/dev/null; done' _ "$@" 2>&1 | tail -n 1 | awk '{ printf "%.2f", ($1 + $2) * 1000 / '"$n"' }'; }
k_cpu=$(cpu "${kubeadm_cmd[@]}")
o_cpu=$(cpu "${ours_cmd[@]}")
echo "CPU per run: kubeadm ${k_cpu} ms, clusterops ${o_cpu} ms, ratio $(awk -v k="$k_cpu" -v o="$o_cpu" 'BEGIN { printf "%.2f", k / o }')x"
