#!/usr/bin/env bash
# kube-tools.sh builds (or reuses) the etcd and kube-apiserver binaries that
# internal/testenv/kubeapi runs, and prints the directory holding both.
#
# It does not compile anything itself: scripts/kind-node/gobins.sh builds
# every Kubernetes binary of the pinned hack/kubernetes module in ONE
# `go build` (kube-apiserver with the node image's kubelet, kubeadm, ...),
# etcd from hack/etcd beside them, into
# ${NOVADEV_CACHE:-$HOME/.cache/novadev}/kube/<key>/. The key names both
# versions plus a hash of the wrapper go.mod/go.sum files, the build flags and
# the Go version, so a change to any pin builds into a new directory and an
# unchanged pin is reused without invoking Go at all; the offline kind node
# image (scripts/kind-node/build.sh) takes its binaries from the same
# directory, so CI compiles Kubernetes once for both.
#
# Logs go to stderr; the last line on stdout is the directory, so CI does:
#   export NOVADEV_KUBE_ASSETS=$(scripts/kube-tools.sh)
#
# Needs only Go and the module proxy: every build is CGO_ENABLED=0.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$("$root/scripts/kind-node/gobins.sh" kube)
dir=${out#kube }
if [[ $out != "kube "* || ! -x $dir/kube-apiserver || ! -x $dir/etcd ]]; then
	printf 'kube-tools: gobins.sh printed %q, not a directory with kube-apiserver and etcd\n' "$out" >&2
	exit 1
fi
"$dir/etcd" --version >&2
"$dir/kube-apiserver" --version >&2
echo "$dir"
