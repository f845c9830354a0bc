# bench/etcd/start-etcd.sh: sourced by the benches. With $bin (the upstream binaries) and $work
# (a temp dir) set, it starts one etcd on 127.0.0.1 free ports (plain http), sets $ep and
# $etcd_pid, and waits until it answers. The caller stops it by $etcd_pid.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port); pport=$(free_port)
ep=http://127.0.0.1:$cport
"$bin/etcd" --name bench --data-dir "$work/data" --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "bench=http://127.0.0.1:$pport" --quota-backend-bytes $((8 << 30)) \
  --max-request-bytes $((4 << 20)) --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do "$bin/etcdctl" --endpoints "$ep" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
