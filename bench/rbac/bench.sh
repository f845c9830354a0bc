#!/usr/bin/env bash
# Benchmark: `kubectl clusterops rbac matrix` (every served resource and the authorization-only ones x 11 verbs, one process,
# parallel SubjectAccessReviews) against the same cells asked one by one with the real
# `kubectl auth can-i` v1.37.2 in a sequential loop, on one local control plane, in one run.
#
#   bench/rbac/bench.sh [RUNS]     RUNS: matrix repetitions (default 5)
#
# Needs jq. Starts test/e2e/cmd/devcluster (real kubeadm, etcd, kube-apiserver,
# kube-controller-manager on 127.0.0.1) and stops it, by pid, on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
command -v jq >/dev/null || { echo "bench: jq is needed" >&2; exit 1; }
upstream=$(hack/build-upstream kube-apiserver kube-controller-manager kubeadm kubectl etcd | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-rbac.XXXXXX")
go build -o "$work/kubectl-clusterops" ./cmd/kubectl-clusterops
go build -o "$work/devcluster" ./test/e2e/cmd/devcluster
"$work/devcluster" -name bench -dir "$work/cluster" -ready-file "$work/ready" -quiet >"$work/devcluster.out" 2>&1 &
cluster_pid=$!
cleanup() {
  kill "$cluster_pid" 2>/dev/null || true
  wait "$cluster_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  [ -f "$work/ready" ] && break
  kill -0 "$cluster_pid" 2>/dev/null || { cat "$work/devcluster.out"; exit 1; }
  sleep 0.5
done
# shellcheck disable=SC1091
source "$work/ready"
export PATH="$work:$upstream:$PATH"
kubectl version --client | sed -n 1p # sed reads it all: head would SIGPIPE kubectl under pipefail

# The subject: a user with a few grants, so that the answers are a mix of yes and no.
kubectl create namespace bench >/dev/null
kubectl clusterops rbac grant developer --user bench-user -n bench >/dev/null
kubectl clusterops rbac grant cluster-readonly --user bench-user --cluster-wide >/dev/null

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.3f'; }

kubectl clusterops rbac matrix --as bench-user -o json >"$work/matrix.json" # warm-up
cells=$(jq '.reviews' "$work/matrix.json")
rows=$(jq '.rows | length' "$work/matrix.json")
verbs=$(jq ".verbs | length" "$work/matrix.json")
echo "matrix: $rows resources x $verbs verbs, $cells cells asked (the rest are verbs the resource does not serve, or the authorizer never asks)"

times=()
for i in $(seq 1 "$runs"); do
  t0=$(now)
  kubectl clusterops rbac matrix --as bench-user -o json >/dev/null
  t=$(elapsed "$t0" "$(now)")
  echo "  kubectl clusterops rbac matrix --as bench-user   run $i: ${t}s"
  times+=("$t")
done
mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -g)
best=${sorted[0]}
median=${sorted[$((${#sorted[@]} / 2))]}

# The same cells, one `kubectl auth can-i` process each, sequentially.
jq -r '.rows[] | . as $r | .access | to_entries[] | select(.value != "n/a")
  | [.key, ($r.resource | split("/")[0]) + (if $r.group == "" then "" else "." + $r.group end),
     ($r.resource | split("/")[1] // "")] | @tsv' "$work/matrix.json" >"$work/cells.tsv"
mismatch=0
yes=0
t0=$(now)
while IFS=$'\t' read -r verb resource sub; do
  args=(auth can-i "$verb" "$resource" --as bench-user)
  [ -n "$sub" ] && args+=(--subresource "$sub")
  if kubectl "${args[@]}" >/dev/null 2>&1; then yes=$((yes + 1)); fi
done <"$work/cells.tsv"
loop=$(elapsed "$t0" "$(now)")
matrix_yes=$(jq '[.rows[].access[] | select(. == "yes")] | length' "$work/matrix.json")
[ "$yes" -eq "$matrix_yes" ] || mismatch=1

echo "  sequential kubectl auth can-i loop ($(wc -l <"$work/cells.tsv") calls): ${loop}s"
ratio() { echo "$loop / $1" | bc -l | xargs printf '%.1f'; }
echo "result: matrix best ${best}s, median ${median}s vs kubectl auth can-i loop ${loop}s: $(ratio "$best")x faster (median: $(ratio "$median")x)"
echo "allowed cells: matrix $matrix_yes, kubectl auth can-i $yes$([ "$mismatch" -eq 0 ] && echo " (agree)" || echo " (DISAGREE)")"
[ "$mismatch" -eq 0 ]
