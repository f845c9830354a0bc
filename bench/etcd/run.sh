#!/usr/bin/env bash
# bench/etcd/run.sh: `kubectl clusterops etcd snapshot save` vs the real `etcdctl snapshot save`
# (v3.7.3, the cached upstream build), side by side in one run, on one etcd filled to each size.
#
#   bench/etcd/run.sh [SIZE_MIB ...]      default: 256 1024 (RUNS=5 saves per tool and size)
#
# It starts its own etcd (127.0.0.1 only, plain http: both tools use the same transport), fills
# it with 512 KiB random values (bench/etcd/fill) to each size, then alternates etcdctl and the
# plugin. Per tool and size: median seconds, throughput (snapshot bytes / median seconds) and
# peak RSS (getrusage of the child: includes the binary's file-backed pages), peak RssAnon and
# RssFile (sampled from /proc: what the tool allocates while streaming; its binary's pages).
# The last lines sum it up: the throughput ratio at each size, and each tool's peak RSS. Everything it starts is stopped by pid; its temp dir removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(256 1024)
runs=${RUNS:-5}
unset KUBECONFIG
bin=$(hack/build-upstream etcd etcdctl | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-bench-etcd.XXXXXX")
etcd_pid=
cleanup() {
  [ -z "$etcd_pid" ] || { kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
# The binary as it ships (Krew archives and the image): static, CGO off. With cgo on it is
# dynamically linked and, because a dependency (kustomize, via cli-runtime) imports package
# plugin, exports every symbol: about 15 MB more of .dynsym/.dynstr/.gnu.hash for ld.so to read.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/kubectl-clusterops" ./cmd/kubectl-clusterops
go build -o "$work/fill" ./bench/etcd/fill
# Both tools' binaries start from the same page-cache state (bench/etcd/evict.py says why), then
# run once before anything is measured.
bench/etcd/evict.py "$bin/etcdctl" "$work/kubectl-clusterops"
"$bin/etcdctl" version >/dev/null
"$work/kubectl-clusterops" version --client >/dev/null
# shellcheck source=bench/etcd/start-etcd.sh
. bench/etcd/start-etcd.sh

echo "etcd $("$bin/etcd" --version | head -1 | awk '{print $3}') at $ep; $(nproc) cores; runs per point: $runs"
printf '%-9s %-12s %9s %9s %13s %14s %14s %9s\n' "DB" "TOOL" "MEDIAN_S" "MiB/s" "PEAK_RSS_MiB" "PEAK_ANON_MiB" "PEAK_FILE_MiB" "SNAP_MiB"
summary_ratio= summary_rss=
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for size in "${sizes[@]}"; do
  "$work/fill" -endpoint "$ep" -target-mib "$size" >/dev/null
  declare -A secs=() rss=() anon=() file=() bytes=()
  for i in $(seq "$runs"); do
    for tool in etcdctl clusterops; do
      out="$work/snap-$tool.db"
      rm -f "$out" "$out.json"
      if [ "$tool" = etcdctl ]; then
        r=$(bench/etcd/rss.py "$bin/etcdctl" --endpoints "$ep" snapshot save "$out")
      else
        r=$(bench/etcd/rss.py "$work/kubectl-clusterops" etcd snapshot save "$out" --endpoints "$ep")
      fi
      read -r s_ m_ a_ f_ <<<"$r"
      secs[$tool]+="$s_ "
      rss[$tool]+="$m_ "
      anon[$tool]+="$a_ "
      file[$tool]+="$f_ "
      bytes[$tool]=$(stat -c %s "$out")
      sync; rm -f "$out" "$out.json"
    done
  done
  for tool in etcdctl clusterops; do
    s=$(tr ' ' '\n' <<<"${secs[$tool]}" | grep . | median)
    m=$(tr ' ' '\n' <<<"${rss[$tool]}" | grep . | sort -n | tail -1)
    a=$(tr ' ' '\n' <<<"${anon[$tool]}" | grep . | sort -n | tail -1)
    fb=$(tr ' ' '\n' <<<"${file[$tool]}" | grep . | sort -n | tail -1)
    mib=$(awk -v b="${bytes[$tool]}" 'BEGIN {printf "%.0f", b/1048576}')
    thr=$(awk -v b="${bytes[$tool]}" -v s="$s" 'BEGIN {printf "%.1f", b/1048576/s}')
    printf '%-9s %-12s %9s %9s %13s %14s %14s %9s\n' "${size}MiB" "$tool" "$s" "$thr" "$((m / 1024))" "$((a / 1024))" "$((fb / 1024))" "$mib"
    summary_rss+="peak RSS $tool at ${size} MiB: $((m / 1024)) MiB (anon $((a / 1024)), file $((fb / 1024)))"$'\n'
    eval "thr_$tool=$thr"
  done
  ratio="ratio clusterops/etcdctl throughput at ${size} MiB: $(awk -v a="$thr_clusterops" -v b="$thr_etcdctl" 'BEGIN {printf "%.2f", a/b}') (median of $runs; load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "$ratio"
  summary_ratio+="$ratio"$'\n'
done
echo "== summary"
printf '%s%s' "$summary_ratio" "$summary_rss"
