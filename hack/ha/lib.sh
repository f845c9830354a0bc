# Shared by hack/ha-up and hack/ha-down: the multi-node test tier, a real HA kubeadm cluster on
# this one machine (three stacked-etcd control-plane nodes cp1..cp3 and a worker w1 behind Debian's
# haproxy). A node is a set of Linux namespaces (pid, mount, uts, ipc, net) whose PID 1 is
# test/e2e/cmd/nodeinit, with its own containerd and kubelet; see README "The multi-node tier" and
# DESIGN.md. It reuses the process guards of the real-node tier (hack/node/lib.sh: a process is only
# ever signalled by its recorded pid, executable and start time).
#
# Names this tier owns on the host, and refuses to start when another tool uses them: the bridge
# kmn0 and its address range 10.77.0.0/24, the veths kmn-<node>, the cgroups kmn-<node> in every
# hierarchy, the state dir /var/lib/clusterops-ha-tier, and the address 10.77.0.1:6443 (haproxy).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../node/lib.sh"

HA_STATE=/var/lib/clusterops-ha-tier
HA_MARKER=$HA_STATE/created-by-clusterops
NODE_TIER_MARKER=$MARKER                   # the single-node tier's marker, from hack/node/lib.sh
STATE=$HA_STATE                            # record_pid, our_pid and stop_pidfile keep pids here
MARKER=$HA_MARKER
BRIDGE=kmn0
SUBNET_PREFIX=10.77.0
LB_IP=$SUBNET_PREFIX.1
LB_PORT=6443
NODES=(cp1 cp2 cp3 w1)
CONTROL_PLANE=(cp1 cp2 cp3)
declare -A NODE_IP=([cp1]=$SUBNET_PREFIX.11 [cp2]=$SUBNET_PREFIX.12 [cp3]=$SUBNET_PREFIX.13 [w1]=$SUBNET_PREFIX.21)
POD_SUBNET=10.245.0.0/16
# Per-node dirs bind-mounted over these paths inside the node's mount namespace.
NODE_MOUNTS=(/etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/lib/containerd /run/containerd /etc/cni/net.d
  /var/lib/cni /var/log/pods /var/log/containers /etc/containerd /run/netns /usr/libexec/kubernetes)

log() { printf '[ha %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# guard refuses to touch the host unless the admin opted in, as root, on Linux.
guard() {
  [ "$(uname -s)" = Linux ] || die "the multi-node tier runs on Linux only"
  [ "${CLUSTEROPS_E2E_HA:-}" = 1 ] || die "the multi-node tier changes this host (a bridge, cgroups, haproxy, namespaces with kubelets); set CLUSTEROPS_E2E_HA=1 to allow it"
  [ "$(id -u)" = 0 ] || die "the multi-node tier must run as root"
}

nodedir() { printf '%s/nodes/%s' "$HA_STATE" "$1"; }
# node_pid NODE: the host pid of the node's PID 1 (nodeinit), while it is the one we started.
node_pid() { our_pid "node-$1"; }
# in_node NODE CMD...: runs CMD in every namespace of the node.
in_node() {
  local pid
  pid=$(node_pid "$1") || die "node $1 is not running"
  shift
  nsenter -t "$pid" -m -u -i -n -p -- "$@"
}

# ha_ours_or_absent fails when a name this tier owns is in use and was not made by it.
ha_ours_or_absent() {
  [ -f "$HA_MARKER" ] && return 0
  [ ! -e "$HA_STATE" ] || [ -z "$(ls -A "$HA_STATE" 2>/dev/null)" ] || die "$HA_STATE exists and was not created by this tier (no marker): refusing to touch it"
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "the bridge $BRIDGE exists and was not created by this tier: refusing to start"
  local l
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
    case $l in kmn-*) die "the link $l exists and was not created by this tier: refusing to start" ;; esac
  done
  ip -4 route show | grep "^$SUBNET_PREFIX\." >/dev/null && die "a route to $SUBNET_PREFIX.0/24 exists on this host: another network uses this tier's range; refusing to start"
  compgen -G '/sys/fs/cgroup/*/kmn-*' >/dev/null && die "cgroups named kmn-* exist and were not created by this tier: refusing to start"
  if [ -n "$(ss -ltnH "sport = :$LB_PORT" 2>/dev/null)" ]; then
    die "a process listens on port $LB_PORT on this host (the real-node tier's kube-apiserver?): the multi-node tier's load balancer needs $LB_IP:$LB_PORT; stop it first (hack/node-down)"
  fi
  [ -f "$NODE_TIER_MARKER" ] && die "the real-node tier is up on this host (hack/node-up): the two tiers run one after the other; run hack/node-down first"
  return 0
}

dump_logs() {
  local f
  for f in "$HA_STATE"/nodes/*/*.log "$HA_STATE"/haproxy.log; do
    [ -f "$f" ] && { echo "===== $f (last 40 lines)"; tail -n 40 "$f"; } >&2
  done
  for f in "$HA_STATE"/nodes/*/var-log-pods/*/*/*.log; do
    [ -f "$f" ] && { echo "===== $f (last 20 lines)"; tail -n 20 "$f"; } >&2
  done
  return 0
}
