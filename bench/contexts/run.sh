#!/usr/bin/env bash
# `kubectl clusterops contexts` over 50 contexts against the shell loop an admin writes today:
#   for c in $(kubectl config get-contexts -o name); do kubectl --context $c version; done
# The kubeconfig has 2 live harness clusters (two process-tier control planes, started here and
# stopped by pid) and 48 dead contexts: 24 on closed 127.0.0.1 ports and 24 on blackholed
# 127.0.0.1 ports (bench/contexts/blackhole, started here and stopped by pid: listeners that
# accept and never answer, and ports held bound without listening, so they refuse). Both
# sides get the same 2 s timeout (--timeout 2s; the loop's kubectl --request-timeout=2s).
# Usage: bench/contexts/run.sh [RUNS]   (needs the upstream binaries: hack/build-upstream)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-contexts.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
upstream=$(hack/build-upstream kubectl kubeadm etcd kube-apiserver kube-controller-manager | tail -n 1)
go build -o "$work/bin/kubectl-clusterops" ./cmd/kubectl-clusterops
go build -o "$work/bin/devcluster" ./test/e2e/cmd/devcluster
go build -o "$work/bin/blackhole" ./bench/contexts/blackhole
export PATH="$work/bin:$upstream:$PATH"

for n in one two; do
	"$work/bin/devcluster" -name "bench-$n" -dir "$work/$n" -ready-file "$work/$n.env" -quiet >"$work/$n.log" 2>&1 &
	pids+=($!)
done
for n in one two; do
	for _ in $(seq 1 600); do [[ -s $work/$n.env ]] && break; sleep 1; done
	[[ -s $work/$n.env ]] || { echo "cluster $n did not start:"; cat "$work/$n.log"; exit 1; }
done

"$work/bin/blackhole" -holes 24 -closed 24 >"$work/blackhole.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^ready' "$work/blackhole.out" 2>/dev/null && break; sleep 0.1; done
mapfile -t holes < <(awk '$1 == "hole" {print $2}' "$work/blackhole.out")
mapfile -t closed < <(awk '$1 == "closed" {print $2}' "$work/blackhole.out")

kc="$work/config"
admin() { echo "$work/$1/root/etc/kubernetes/admin.conf"; }
kubectl config view --raw --kubeconfig "$(admin one)" -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' >"$work/ca"
{
	echo "apiVersion: v1"; echo "kind: Config"; echo "current-context: live-one"; echo "clusters:"
	for n in one two; do
		echo "- name: live-$n"; echo "  cluster:"
		echo "    server: $(kubectl config view --raw --kubeconfig "$(admin $n)" -o 'jsonpath={.clusters[0].cluster.server}')"
		echo "    certificate-authority-data: $(kubectl config view --raw --kubeconfig "$(admin $n)" -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')"
	done
	for i in "${!closed[@]}"; do echo "- name: closed-$i"; echo "  cluster: {server: 'https://${closed[$i]}', certificate-authority-data: $(cat "$work/ca")}"; done
	for i in "${!holes[@]}"; do echo "- name: blackhole-$i"; echo "  cluster: {server: 'https://${holes[$i]}', certificate-authority-data: $(cat "$work/ca")}"; done
	echo "users:"
	for n in one two; do
		echo "- name: admin-$n"; echo "  user:"
		echo "    client-certificate-data: $(kubectl config view --raw --kubeconfig "$(admin $n)" -o 'jsonpath={.users[0].user.client-certificate-data}')"
		echo "    client-key-data: $(kubectl config view --raw --kubeconfig "$(admin $n)" -o 'jsonpath={.users[0].user.client-key-data}')"
	done
	echo "contexts:"
	for n in one two; do echo "- name: live-$n"; echo "  context: {cluster: live-$n, user: admin-$n}"; done
	for i in "${!closed[@]}"; do echo "- name: closed-$i"; echo "  context: {cluster: closed-$i, user: admin-one}"; done
	for i in "${!holes[@]}"; do echo "- name: blackhole-$i"; echo "  context: {cluster: blackhole-$i, user: admin-one}"; done
} >"$kc"
export KUBECONFIG=$kc

echo "contexts: $(kubectl config get-contexts -o name | wc -l) (2 live, 24 closed ports, 24 blackholed); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
secs() { echo "scale=2; ($2 - $1) / 1000000000" | bc; }
for r in $(seq 1 "$runs"); do
	s=$(date +%s%N)
	kubectl clusterops contexts --timeout 2s -o json >"$work/report.json" || true
	e=$(date +%s%N)
	ours=$(secs "$s" "$e")
	s=$(date +%s%N)
	for c in $(kubectl config get-contexts -o name); do kubectl --context "$c" --request-timeout=2s version >/dev/null 2>&1 || true; done
	e=$(date +%s%N)
	loop=$(secs "$s" "$e")
	ok=$(grep -o '"status": *"OK"' "$work/report.json" | wc -l)
	printf 'run %d: kubectl clusterops contexts --timeout 2s: %6.2f s (%d OK)   shell loop (kubectl --request-timeout=2s version): %7.2f s   ratio %.1fx\n' \
		"$r" "$ours" "$ok" "$loop" "$(echo "$loop / $ours" | bc -l)"
done
