# shellcheck shell=bash
# Krew part of `make demo` (sourced by hack/demo): completion through the real kubectl. It does
# not run `make dist` (cross builds are slow); see docs/guide/krew.md for the release path.
krew_demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-demo-complete.XXXXXX")
show kubectl clusterops completion kubectl-plugin --install --dir "$krew_demo_dir"
show env PATH="$krew_demo_dir:$PATH" kubectl __complete clusterops ver
show env PATH="$krew_demo_dir:$PATH" kubectl __complete clusterops version --context ''
show env PATH="$krew_demo_dir:$PATH" kubectl __complete clusterops version -n kube-
rm -rf "$krew_demo_dir"
unset krew_demo_dir
