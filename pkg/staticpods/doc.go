// Package staticpods compares the static pod manifests of a kubeadm node (the files the kubelet
// runs from /etc/kubernetes/manifests) with the mirror pods the kubelet reports to the API.
//
// Everything here returns typed results: List (the mirror pods of every node), Diff (manifest
// files against the mirror pods of one node, field by field: image, command flags, env, volumes
// and hostPaths, volume mounts, ports, resources, probes) and Inspect (one component's flags with
// the expiry of every certificate a flag references). Comparisons are of content, never of
// kubernetes.io/config.hash: the kubelet hashes the decoded pod, so the hash cannot be recomputed
// from a file.
package staticpods
