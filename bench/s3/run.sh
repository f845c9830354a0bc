#!/usr/bin/env bash
# bench/s3/run.sh: peak memory and time of `kubectl clusterops etcd snapshot save --to s3://`
# uploading a snapshot of SIZE_MIB to a real S3 server (SeaweedFS `weed mini`, the e2e harness's,
# on 127.0.0.1), next to a plain local `etcd snapshot save` and `etcdctl snapshot save` of the
# same etcd (the closest upstream way: etcdctl has no upload; its snapshot then still needs one).
#
#   bench/s3/run.sh [SIZE_MIB]     default 256; RUNS=3 saves per tool; THREADS="1 2" upload threads
#
# Peak RSS is getrusage's ru_maxrss of the process (file-backed pages of the binary included);
# peak RssAnon is sampled from /proc (what it allocates). Target: peak RSS under 64 MiB for
# 256 MiB. Everything it starts is stopped by pid; its temp dir is removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-256}
runs=${RUNS:-3}
threads=(${THREADS:-1 2})
unset KUBECONFIG
bin=$(hack/build-upstream etcd etcdctl weed | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-s3.XXXXXX")
etcd_pid= s3_pid=
cleanup() {
  [ -z "$etcd_pid" ] || { kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; }
  [ -z "$s3_pid" ] || { exec 8>&- ; wait "$s3_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
# The binary as it ships (Krew archives and the image): static, CGO off. With cgo on it is
# dynamically linked and, because a dependency (kustomize, via cli-runtime) imports package
# plugin, exports every symbol: about 15 MB more of .dynsym/.dynstr/.gnu.hash for ld.so to read.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/kubectl-clusterops" ./cmd/kubectl-clusterops
go build -o "$work/fill" ./bench/etcd/fill
go build -o "$work/s3server" ./bench/s3/s3server
# Both tools' binaries from the same page-cache state (bench/etcd/evict.py says why), run once.
bench/etcd/evict.py "$bin/etcdctl" "$work/kubectl-clusterops"
"$bin/etcdctl" version >/dev/null
"$work/kubectl-clusterops" version --client >/dev/null
# shellcheck source=bench/etcd/start-etcd.sh
. bench/etcd/start-etcd.sh
"$work/fill" -endpoint "$ep" -target-mib "$size" >/dev/null

# The S3 server lives as long as fd 8 (its stdin) is open.
mkdir -p "$work/s3"
exec 8> >("$work/s3server" -dir "$work/s3" -bucket bench >"$work/s3.env" 2>"$work/s3.log")
s3_pid=$!
for _ in $(seq 600); do grep -q '^# ready' "$work/s3.env" 2>/dev/null && break; sleep 0.5; done
grep -q '^# ready' "$work/s3.env" || { cat "$work/s3.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/s3.env"

echo "etcd at $ep filled to ${size} MiB; S3: SeaweedFS weed mini at $AWS_ENDPOINT_URL_S3; $(nproc) cores; runs: $runs"
printf '%-34s %9s %13s %14s %9s\n' "TOOL" "MEDIAN_S" "PEAK_RSS_MiB" "PEAK_ANON_MiB" "SNAP_MiB"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
row() { # label then the rss.py results, one per line
  local label=$1; shift
  local s m a
  s=$(printf '%s\n' "$@" | awk '{print $1}' | median)
  m=$(printf '%s\n' "$@" | awk '{print $2}' | sort -n | tail -1)
  a=$(printf '%s\n' "$@" | awk '{print $3}' | sort -n | tail -1)
  printf '%-34s %9s %13s %14s %9s\n' "$label" "$s" "$((m / 1024))" "$((a / 1024))" "$snap_mib"
}
snap_mib=?
declare -a r_ctl=() r_local=()
for i in $(seq "$runs"); do
  rm -f "$work/ctl.db" "$work/local.db" "$work/local.db.json"
  r_ctl+=("$(bench/etcd/rss.py "$bin/etcdctl" --endpoints "$ep" snapshot save "$work/ctl.db")")
  r_local+=("$(bench/etcd/rss.py "$work/kubectl-clusterops" etcd snapshot save "$work/local.db" --endpoints "$ep")")
  snap_mib=$(awk -v b="$(stat -c %s "$work/ctl.db")" 'BEGIN {printf "%.0f", b/1048576}')
done
rm -f "$work/ctl.db" "$work/local.db" "$work/local.db.json"
row "etcdctl snapshot save (local)" "${r_ctl[@]}"
row "clusterops save FILE (local)" "${r_local[@]}"
mkdir -p "$work/tmp"
for th in "${threads[@]}"; do
  declare -a r_s3=()
  for i in $(seq "$runs"); do
    r_s3+=("$(bench/etcd/rss.py "$work/kubectl-clusterops" etcd snapshot save --to "s3://bench/t$th-$i" \
      --endpoints "$ep" --tmp-dir "$work/tmp" --upload-threads "$th")")
  done
  row "clusterops save --to s3:// (${th}thr)" "${r_s3[@]}"
done
echo "command: kubectl clusterops etcd snapshot save --to s3://bench/PREFIX --endpoints $ep --tmp-dir DIR --upload-threads N"
