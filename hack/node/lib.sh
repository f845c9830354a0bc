# Shared by hack/node-up and hack/node-down: the real-node test tier (kubeadm + kubelet + containerd
# on this machine). It changes the host, so every step is guarded; see README "The real-node tier".
#
# What it will never touch: a host dir it would remove that is in use and not ours (no marker), a
# containerd socket it did not start, a process it did not start (every pid is recorded with its
# executable and start time, and checked in /proc before a signal), another tool's runc shims.
#
# CLUSTEROPS_NODE_ROOT (default /) moves every host path these scripts check or remove under
# another root. Any root other than / is a check-only run: the scripts do their checks and print
# what they would do, and stop before they change anything (tests use it with a temp root).
# shellcheck shell=bash
set -euo pipefail

NODE_ROOT=${CLUSTEROPS_NODE_ROOT:-/}
NODE_ROOT=${NODE_ROOT%/}                   # "" for the real root
hostpath() { printf '%s%s' "$NODE_ROOT" "$1"; }
check_only() { [ -n "$NODE_ROOT" ]; }

STATE=$(hostpath /var/lib/clusterops-node-tier)   # our marker and state: pids, logs, saved sysctls
MARKER=$STATE/created-by-clusterops
# Every dir node-down removes: node-up refuses to start while any of them is in use and not ours.
OWNED_DIRS=(/etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/lib/cni /var/lib/containerd /etc/cni/net.d
  /var/log/pods /var/log/containers /run/containerd /etc/containerd/certs.d)
CONTAINERD_SOCK=/run/containerd/containerd.sock   # the one our containerd serves
# Where containerd sockets of other tools live: node-up refuses to start while any of them exists.
CONTAINERD_SOCKETS=("$CONTAINERD_SOCK" /run/docker/containerd/containerd.sock /run/k3s/containerd/containerd.sock
  /var/snap/microk8s/common/run/containerd.sock)
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)
K8S_VERSION=v1.37.2
KILL_GRACE=${KILL_GRACE:-10}               # seconds between TERM and KILL

log() { printf '[node %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# guard refuses to touch the host unless the admin opted in, as root, on Linux.
guard() {
  [ "$(uname -s)" = Linux ] || die "the real-node tier runs on Linux only"
  [ "${CLUSTEROPS_E2E_NODE:-}" = 1 ] || die "the real-node tier changes this host (kubelet, containerd, /etc/kubernetes, iptables); set CLUSTEROPS_E2E_NODE=1 to allow it"
  check_only || [ "$(id -u)" = 0 ] || die "the real-node tier must run as root"
}

# socket_listening SOCK: a process listens on the unix socket SOCK (without ss: assume it does).
socket_listening() {
  command -v ss >/dev/null || return 0
  [ -n "$(ss -xlH src "$1" 2>/dev/null)" ]
}

# ours_or_absent fails when something node-up would use or node-down would remove is in use and
# was not made by this tier: a non-empty host dir without our marker, or any containerd socket.
ours_or_absent() {
  local d s
  for s in "${CONTAINERD_SOCKETS[@]}"; do
    s=$(hostpath "$s")
    if [ -S "$s" ] && ! { [ -f "$MARKER" ] && [ "$s" = "$(hostpath "$CONTAINERD_SOCK")" ] && ! socket_listening "$s"; }; then
      die "a containerd socket that this tier did not start exists: $s (another container runtime, e.g. Docker, k3s or a real node, uses it): refusing to start; stop it, or remove the file if it is stale"
    fi
  done
  if [ ! -f "$MARKER" ]; then
    for d in "${OWNED_DIRS[@]}"; do
      d=$(hostpath "$d")
      if [ -e "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
        die "$d is in use and was not created by this test tier (no $MARKER): refusing to touch what may be a real node"
      fi
    done
  fi
  if ! check_only; then
    # Host-wide state that has no root to move: another cluster's networking or pods.
    [ -f "$MARKER" ] && return 0
    if [ -f /var/lib/clusterops-ha-tier/created-by-clusterops ]; then
      die "the multi-node tier is up on this host (hack/ha-up): the two tiers run one after the other; run hack/ha-down first"
    fi
    if ip link show cni0 >/dev/null 2>&1; then
      die "the cni0 bridge exists and was not created by this test tier: refusing to start"
    fi
    if compgen -G '/sys/fs/cgroup/*/kubepods*' >/dev/null || compgen -G '/sys/fs/cgroup/kubepods*' >/dev/null; then
      die "kubepods cgroups exist: another kubelet runs on this host; refusing to start"
    fi
  fi
}

# timed NAME BUDGET_SECONDS CMD...: runs a step (a command or a function), prints its time, and
# fails with the logs when it fails or overruns its budget.
timed() {
  local name=$1 budget=$2; shift 2
  local start=$SECONDS rc=0 wrc
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
  wait "$pid" 2>/dev/null || { wrc=$?; [ "$rc" -ne 0 ] || rc=$wrc; }
  if [ "$rc" -ne 0 ]; then
    dump_logs
    die "step $name failed (exit $rc) after $((SECONDS - start))s"
  fi
  log "step: $name: $((SECONDS - start))s"
}

# starttime PID: the process's start time in clock ticks since boot (field 22 of /proc/PID/stat),
# or nothing when it is gone. A pid with another start time is another process.
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }                        # the fields after "(comm) "
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s' "${20}"
}

# descendants PID: the children of PID and theirs, by parent pid (children before parents).
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null || true); do
    descendants "$child"
    echo "$child"
  done
}

# kill_tree PID: TERM the process and its descendants (found by parent pid, before any signal),
# wait up to KILL_GRACE seconds, then KILL the ones still there. A pid is only signalled while its
# start time is the one seen when the tree was collected: a reused pid is left alone.
kill_tree() {
  local pids=() starts=() p i
  for p in $(descendants "$1") "$1"; do
    pids+=("$p"); starts+=("$(starttime "$p")")
  done
  alive() { [ -n "${starts[$1]}" ] && [ "$(starttime "${pids[$1]}")" = "${starts[$1]}" ]; }
  for i in "${!pids[@]}"; do alive "$i" && kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  local deadline=$((SECONDS + KILL_GRACE)) left
  while :; do
    left=0
    for i in "${!pids[@]}"; do alive "$i" && left=1; done
    [ "$left" = 0 ] && return 0
    (( SECONDS < deadline )) || break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    if alive "$i"; then
      log "pid ${pids[$i]} did not stop within ${KILL_GRACE}s of SIGTERM: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
}

# record_pid NAME PID EXE: remembers a process we started, with the executable it must run and its
# start time, so that only that process is ever signalled.
record_pid() {
  local exe
  exe=$(readlink -f "$3")
  printf '%s %s %s\n' "$2" "$exe" "$(starttime "$2")" >"$STATE/$1.pid"
}

# our_pid NAME: prints the recorded pid of NAME when that very process still runs: /proc/PID/exe
# is the recorded executable and the start time is the recorded one.
our_pid() {
  local pidfile=$STATE/$1.pid pid exe start now
  [ -f "$pidfile" ] || return 1
  read -r pid exe start <"$pidfile" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -n "${exe:-}" ] || { log "$pidfile is not ours (no executable recorded): leaving pid ${pid:-?} alone"; return 1; }
  now=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  now=${now% (deleted)}                    # the binary was replaced since it started
  if [ "$now" != "$exe" ]; then
    log "pid $pid runs $now, not our $1 ($exe): leaving it alone"
    return 1
  fi
  if [ -n "${start:-}" ] && [ "$(starttime "$pid")" != "$start" ]; then
    log "pid $pid is not the $1 we started (another start time): leaving it alone"
    return 1
  fi
  printf '%s' "$pid"
}

# stop_pidfile NAME: stops the process recorded in $STATE/NAME.pid and its children, if it is still
# the one we started; a stale pid (gone, or reused by another program) is never signalled.
stop_pidfile() {
  local pid
  if pid=$(our_pid "$1"); then
    kill_tree "$pid"
  fi
  rm -f "$STATE/$1.pid"
}

dump_logs() {
  local f
  for f in "$STATE/kubelet.log" "$STATE/containerd.log" "$STATE/kubeadm-init.log"; do
    [ -f "$f" ] && { echo "===== $f (last 60 lines)"; tail -n 60 "$f"; } >&2
  done
  for f in "$(hostpath /var/log/pods)"/*/*/*.log; do
    [ -f "$f" ] && { echo "===== $f (last 30 lines)"; tail -n 30 "$f"; } >&2
  done
  return 0
}

# build_images REPO UPSTREAM LIST: builds (or reuses) the single-layer images of the control-plane
# components and pause from the upstream binaries, tagged with kubeadm's names, and writes
# "REF TARBALL" lines to LIST. Nothing is ever pulled.
build_images() {
  local repo=$1 upstream=$2 list=$3
  local images=$upstream/images; mkdir -p "$images"
  [ -x "$images/pause" ] || (cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$images/pause" ./test/e2e/cmd/pause)
  [ -x "$images/mkimage" ] || (cd "$repo" && go build -o "$images/mkimage" ./test/e2e/cmd/mkimage)
  local ref name bin
  for ref in $(kubeadm config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null); do
    name=${ref##*/}; name=${name%%:*}
    case $name in
      kube-apiserver|kube-controller-manager|kube-scheduler|etcd) bin=$upstream/$name ;;
      pause) bin=$images/pause ;;
      *) continue ;;   # kube-proxy and CoreDNS are disabled in this tier
    esac
    if [ ! -f "$images/$name.tar" ] || [ "$bin" -nt "$images/$name.tar" ]; then
      if [ "$name" = pause ]; then
        "$images/mkimage" -name "$ref" -binary "$bin" -path /pause -entrypoint /pause -o "$images/$name.tar"
      else
        "$images/mkimage" -name "$ref" -binary "$bin" -o "$images/$name.tar"
      fi
    fi
    echo "$ref $images/$name.tar"
  done >"$list"
  grep -q pause "$list" || { echo "no pause image in kubeadm's list" >&2; return 1; }
}

# containerd_config PAUSE_REF DIR: writes DIR/config.toml (CRI settings this VM needs) and
# DIR/certs.d/_default/hosts.toml, which sends every registry to a closed local port.
containerd_config() {
  local pause_ref=$1 dir=$2
  mkdir -p "$dir/certs.d/_default"
  cat >"$dir/config.toml" <<TOML
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
TOML
  cat >"$dir/certs.d/_default/hosts.toml" <<TOML
server = "http://127.0.0.1:9"
[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
TOML
}
