# shellcheck shell=bash
# Krew part of `make demo` (sourced by hack/demo): completion through the real kubectl, with the
# kubectl_complete-clusterops helper on PATH. It does not run `make dist` (the cross builds are
# slow); docs/guide/krew.md describes the release path and TestKrewReleasePath proves it.
krew_demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/clusterops-demo-complete.XXXXXX")
krew_demo_path=$PATH
show kubectl clusterops completion kubectl-plugin --install --dir "$krew_demo_dir"
export PATH="$krew_demo_dir:$PATH"
# (kubectl's "[Debug]" and directive lines go to stderr; hidden here)
show kubectl __complete clusterops ver 2>/dev/null
show kubectl __complete clusterops version --context '' 2>/dev/null
show kubectl __complete clusterops version -n kube- 2>/dev/null
export PATH=$krew_demo_path
rm -rf "$krew_demo_dir"
unset krew_demo_dir krew_demo_path
