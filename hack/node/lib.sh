# Shared by hack/node-up and hack/node-down: the real-node test tier (kubeadm + kubelet + containerd
# on this machine). It changes the host, so every step is guarded; see README "The real-node tier".
# shellcheck shell=bash
set -euo pipefail

STATE=/var/lib/clusterops-node-tier        # our marker and state: pids, logs, saved sysctls
MARKER=$STATE/created-by-clusterops
HOST_DIRS=(/etc/kubernetes /var/lib/kubelet /var/lib/etcd)
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)
K8S_VERSION=v1.37.2

log() { printf '[node %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# guard refuses to touch the host unless the admin opted in, as root, on Linux.
guard() {
  [ "$(uname -s)" = Linux ] || die "the real-node tier runs on Linux only"
  [ "${CLUSTEROPS_E2E_NODE:-}" = 1 ] || die "the real-node tier changes this host (kubelet, containerd, /etc/kubernetes, iptables); set CLUSTEROPS_E2E_NODE=1 to allow it"
  [ "$(id -u)" = 0 ] || die "the real-node tier must run as root"
}

# ours_or_absent fails when a host dir exists that this tier did not create: it may be a real node.
ours_or_absent() {
  [ -f "$MARKER" ] && return 0
  local d
  for d in "${HOST_DIRS[@]}"; do
    if [ -e "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
      die "$d exists and was not created by this test tier (no $MARKER): refusing to touch what may be a real node"
    fi
  done
}

# timed NAME BUDGET_SECONDS CMD...: runs a step (a command or a function), prints its time, and
# fails with the logs when it fails or overruns its budget.
timed() {
  local name=$1 budget=$2; shift 2
  local start=$SECONDS rc=0
  log "step: $name (budget ${budget}s)"
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS - start >= budget )); then
      log "step $name overran its ${budget}s budget"
      kill_tree "$pid"
      rc=124
      break
    fi
    sleep 0.5
  done
  wait "$pid" 2>/dev/null || { [ "$rc" -ne 0 ] || rc=$?; }
  if [ "$rc" -ne 0 ]; then
    dump_logs
    die "step $name failed (exit $rc) after $((SECONDS - start))s"
  fi
  log "step: $name: $((SECONDS - start))s"
}

kill_tree() { # PID: TERM the process and its descendants, by pid
  local child
  for child in $(pgrep -P "$1" || true); do kill_tree "$child"; done
  kill -TERM "$1" 2>/dev/null || true
}

dump_logs() {
  local f
  for f in "$STATE/kubelet.log" "$STATE/containerd.log" "$STATE/kubeadm-init.log"; do
    [ -f "$f" ] && { echo "===== $f (last 60 lines)"; tail -n 60 "$f"; } >&2
  done
  for f in /var/log/pods/*/*/*.log; do
    [ -f "$f" ] && { echo "===== $f (last 30 lines)"; tail -n 30 "$f"; } >&2
  done
  return 0
}

stop_pidfile() { # NAME: stops the process in $STATE/NAME.pid, by pid
  local pidfile=$STATE/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
