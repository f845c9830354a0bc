# shellcheck shell=bash
# certs: sourced by hack/demo ($CLUSTEROPS_ROOT is the demo node's root; `show` prints and runs).
show kubectl clusterops certs check --root "$CLUSTEROPS_ROOT"
show bash -c 'kubectl clusterops certs check --root "$CLUSTEROPS_ROOT" --source node -o json | head -n 30'
show bash -c 'kubectl clusterops certs check --root "$CLUSTEROPS_ROOT" --source node -o prometheus | grep apiserver'
show kubectl clusterops certs check --root "$CLUSTEROPS_ROOT" --warn-within 400d --source node
show kubectl clusterops certs ca --root "$CLUSTEROPS_ROOT"
show kubectl clusterops certs renew all --root "$CLUSTEROPS_ROOT" --dry-run
show kubectl clusterops certs renew all
