# shellcheck shell=bash
# rbac: templates, grant (server-side apply and --dry-run=client | kubectl apply), matrix,
# who-can, explain and audit. Sourced by hack/demo (show, $KUBECONFIG and PATH are set).
echo
echo "== rbac =="
kubectl create namespace shop >/dev/null 2>&1 || true
show kubectl clusterops rbac template list
show kubectl clusterops rbac template show readonly
show kubectl clusterops rbac grant readonly --user alice -n shop
show kubectl clusterops rbac grant readonly --user alice -n shop   # again: unchanged
show bash -c 'kubectl clusterops rbac grant developer --group dev-team -n shop --dry-run=client -o yaml | kubectl apply -f -'
show kubectl clusterops rbac grant cert-viewer --serviceaccount shop:ca-watcher --cluster-wide
show kubectl clusterops rbac grant --role-name old --verb get --resource deployments --api-group extensions --user bob -n shop
show kubectl auth can-i list deployments.apps --as alice -n shop
show kubectl auth can-i get secrets --as alice -n shop
show bash -c 'kubectl clusterops rbac matrix --as alice -n shop | head -n 12'
show kubectl clusterops rbac matrix --as alice -n shop --resource pods,pods/log,deployments,secrets
show kubectl clusterops rbac who-can list deployments -n shop
show kubectl clusterops rbac explain alice -n shop
# The tutorial's "readonly" Role: it grants writes, and names the long-gone "extensions" group.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: readonly, namespace: shop}
rules:
- apiGroups: ["", "extensions", "apps"]
  resources: ["deployments", "replicasets", "pods"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readonly, namespace: shop}
subjects: [{kind: User, name: tutorial-user, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: readonly, apiGroup: rbac.authorization.k8s.io}
YAML
show kubectl clusterops rbac audit
show bash -c 'time kubectl clusterops rbac matrix >/dev/null'
