# shellcheck shell=bash
# upgrade plan: sourced by hack/demo ($KUBECONFIG, $CLUSTEROPS_ROOT set; plugin and kubectl on PATH).
upgrade_demo=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-upgrade-demo.XXXXXX")
# v1.38.1 is not released yet: a release table file stands in for the built-in one.
printf 'v1.37.2\nv1.38.1\n' >"$upgrade_demo/releases.txt"
kubectl create namespace demo-upgrade >/dev/null 2>&1 || true
# Two older kubelets (status.nodeInfo is what a kubelet reports), and a bare pod with emptyDir data.
for spec in demo-w134:v1.34.5 demo-w136:v1.36.1; do
  name=${spec%%:*} version=${spec#*:}
  kubectl create -f - >/dev/null <<YAML || true
apiVersion: v1
kind: Node
metadata:
  name: $name
YAML
  kubectl patch node "$name" --subresource=status --type=merge \
    -p "{\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"$version\",\"kubeProxyVersion\":\"$version\"}}}" >/dev/null
done
for _ in $(seq 1 50); do kubectl -n demo-upgrade get serviceaccount default >/dev/null 2>&1 && break; sleep 0.2; done
kubectl -n demo-upgrade apply -f - >/dev/null <<'YAML' || true
apiVersion: v1
kind: Pod
metadata:
  name: scratch
spec:
  nodeName: demo-w136
  containers: [{name: app, image: registry.example/app:1}]
  volumes: [{name: tmp, emptyDir: {}}]
YAML

show kubectl clusterops upgrade plan
show kubectl clusterops upgrade plan --releases "$upgrade_demo/releases.txt"
show bash -c "kubectl clusterops upgrade plan --releases '$upgrade_demo/releases.txt' -o markdown | head -n 30"
show kubectl clusterops upgrade plan --releases "$upgrade_demo/releases.txt" -o jsonpath='{.hops[0].steps[*].kind}{"\n"}'
show kubectl clusterops upgrade plan --to v1.36.0
show kubectl clusterops upgrade plan --to v1.40.0

kubectl delete namespace demo-upgrade --wait=false >/dev/null 2>&1 || true
kubectl delete node demo-w134 demo-w136 >/dev/null 2>&1 || true
rm -rf "$upgrade_demo"
