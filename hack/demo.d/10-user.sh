# shellcheck shell=bash
# user: onboard a person end to end, prove it with real kubectl, list, offboard.
show kubectl create namespace databases
show kubectl clusterops user create team-readonly -n databases --role readonly --output-kubeconfig "$work/team-readonly.kubeconfig"
show kubectl --kubeconfig "$work/team-readonly.kubeconfig" get pods
show kubectl --kubeconfig "$work/team-readonly.kubeconfig" get secrets
show kubectl --kubeconfig "$work/team-readonly.kubeconfig" auth can-i delete pods
show kubectl clusterops user create jane -n databases --clusterrole view --local-ca --root "$CLUSTEROPS_ROOT" --output-kubeconfig "$work/jane.kubeconfig" -o jsonpath='{.signer}{" "}{.notAfter}{"\n"}'
show kubectl clusterops user create eve -n databases --no-binding --group system:masters
show kubectl clusterops user list
show kubectl clusterops user delete team-readonly
