#!/usr/bin/env bash
# build.sh: build (or reuse) the NetworkPolicy engine image of the kind addon
# (kind/addons/network-policy.yaml, docs/kind.md "Network policies") and print
# its tag as the last line on stdout.
#
#   scripts/netpol/build.sh
#
# The image is kube-router's network-policy controller (only that part runs:
# the addon passes --run-router=false --run-service-proxy=false) on
# novadev/debian-base:bookworm with Debian's iptables, ipset and conntrack,
# the userland it drives. The binary comes from the pinned wrapper module
# hack/kube-router through scripts/kind-node/gobins.sh (CGO off, cached by
# go.mod/go.sum, ldflags and Go version); the base image from
# scripts/images/build.sh base. Debian's packages are installed by apt in the
# Docker build from the base image's own sources.
#
# The image carries the label io.novadev.inputs-hash: sha256 of the base
# image's own inputs hash, the binary's cache folder (which names its inputs'
# hash) and every file beside this script. An image whose label matches is
# reused without building; NOVADEV_REBUILD=1 ignores it.
#
# Environment: NOVADEV_NETPOL_IMAGE (the tag; default novadev/kube-router:<the
# pinned version>: kind.NetworkPolicyEngineImage, which up --target kind pushes
# to the local registry as the addon's localhost:5005/novadev/kube-router:<version>),
# NOVADEV_CACHE (default ~/.cache/novadev, the Go binaries and the build context).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${NOVADEV_CACHE:-$HOME/.cache/novadev}
label=io.novadev.inputs-hash
base_tag=novadev/debian-base:bookworm

log() { printf 'netpol: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine reachable (run scripts/install-docker.sh)"
version=$(awk '($1 == "require" && $2 == "github.com/cloudnativelabs/kube-router/v2") { print $3; exit }' "$root/hack/kube-router/go.mod")
[[ -n $version ]] || die "cannot read the kube-router version from hack/kube-router/go.mod"
tag=${NOVADEV_NETPOL_IMAGE:-novadev/kube-router:$version}

start=$SECONDS
# The base image: reused in a second when scripts/images/build.sh made it.
"$root/scripts/images/build.sh" base >/dev/null
base_hash=$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$base_tag")
[[ -n $base_hash ]] || die "$base_tag carries no $label label"

out=$(NOVADEV_CACHE=$cache "$root/scripts/kind-node/gobins.sh" kube-router)
bindir=${out#kube-router }
[[ $out == "kube-router "* && -x $bindir/kube-router ]] || die "gobins.sh printed '$out', not a folder with kube-router"

h=$({
	echo "$base_hash"
	basename "$bindir" # kube-router-<version>-<hash of its inputs>
	for f in $(find "$here" -maxdepth 1 -type f | LC_ALL=C sort); do
		printf '%s\n' "${f#"$root"/}"
		sha256sum <"$f"
	done
} | sha256sum | cut -d' ' -f1)

if [[ ${NOVADEV_REBUILD:-} != 1 && $(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$tag" 2>/dev/null || true) == "$h" ]]; then
	log "$tag: reused in $((SECONDS - start))s"
	echo "$tag"
	exit 0
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/novadev-netpol.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$here/Dockerfile" "$here/entrypoint.sh" "$ctx/"
cp "$bindir/kube-router" "$ctx/kube-router"
if ! docker build --label "$label=$h" -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
	cat "$ctx/build.log" >&2
	die "docker build of $tag failed"
fi
log "$tag: built in $((SECONDS - start))s"
echo "$tag"
