# shellcheck shell=bash
# etcd: members, the leader hand-over, a verified snapshot with its sidecar, status (next to the real etcdutl's),
# verify (with a test restore), list, --contents, a damaged copy caught, the CronJob.
# Sourced by hack/demo: $CLUSTEROPS_ROOT is the node root, show prints and runs.
etcd_dir=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-demo-etcd.XXXXXX")
show kubectl clusterops etcd members --root "$CLUSTEROPS_ROOT"
# the hand-over a renewal does before it restarts a leading member (one member here: nothing to move)
show kubectl clusterops etcd move-leader --root "$CLUSTEROPS_ROOT"
show kubectl clusterops etcd snapshot save --root "$CLUSTEROPS_ROOT" --dir "$etcd_dir" --keep 3
etcd_snap=$(ls -1t "$etcd_dir"/*.db | head -n 1)
show cat "$etcd_snap.json"
show kubectl clusterops etcd snapshot status "$etcd_snap"
show etcdutl snapshot status "$etcd_snap" -w table
show kubectl clusterops etcd snapshot status "$etcd_snap" --contents -o jsonpath='{range .contents[*]}{.resource}{" "}{.namespace}{" "}{.count}{"\n"}{end}'
show kubectl clusterops etcd snapshot verify "$etcd_snap"
show kubectl clusterops etcd snapshot list "$etcd_dir"
# A damaged copy: one flipped byte is caught by status, verify and restore (exit 2).
cp "$etcd_snap" "$etcd_dir/damaged.db"
printf '\xff' | dd of="$etcd_dir/damaged.db" bs=1 seek=20000 conv=notrunc status=none
show kubectl clusterops etcd snapshot status "$etcd_dir/damaged.db"
show kubectl clusterops etcd snapshot restore "$etcd_dir/damaged.db" --root "$CLUSTEROPS_ROOT" --data-dir "$etcd_dir/restored-damaged"
show kubectl clusterops etcd snapshot restore "$etcd_snap" --root "$CLUSTEROPS_ROOT" --data-dir "$etcd_dir/restored" --dry-run
# Scheduled snapshots in the cluster, on the plugin's own image (a dev build names its image).
show bash -c "kubectl clusterops automate etcd-backup --dry-run=client -o yaml --keep 5 --image localhost/kubectl-clusterops:dev | grep -A40 'kind: CronJob' | head -n 40"
rm -rf "$etcd_dir"
