#!/usr/bin/env bash
# make up [TARGET=docker|kind]: everything a fresh machine needs, then novadev up.
#  1. a Docker engine (installs and starts Debian's docker.io when run as root with apt and none is reachable);
#  2. the offline image set when the images are not present (no registry needed); for the
#     docker target where debootstrap cannot run (macOS, WSL2 without root, any non-root
#     user) only the two FROM-scratch Go images, and the stores come from their upstream
#     images (docs/images.md);
#  3. for TARGET=kind: the offline kind node image (scripts/kind-node/build.sh), the
#     local registry's image (novadev/registry:3) and the NetworkPolicy engine image
#     (scripts/netpol/build.sh: without it the policies are rendered but not enforced),
#     each built only when missing or stale;
#  4. novadev up for the environment (default local) on the target, which prints the endpoints.
#
#   scripts/up.sh [ENV] [TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
env="${1:-local}"
target="${2:-docker}"
case $target in
docker | kind) ;;
*) echo "up: unknown TARGET '$target' (want docker or kind)" >&2; exit 2 ;;
esac
scripts/install-docker.sh
if [[ $target == kind || ($(uname -s) == Linux && $(id -u) == 0) ]]; then
	scripts/images/build.sh
else
	echo "up: not root on Linux: building only the placeholder and novadev images; the stores are pulled (upstream images, NOVADEV_IMAGE_MIRROR when set)" >&2
	scripts/images/build.sh placeholder novadev
fi
if [[ $target == kind ]]; then
	echo "up: kind: the offline node image (a few seconds when built already; minutes when Kubernetes must be compiled) and the registry image" >&2
	node_image=$(scripts/kind-node/build.sh)
	scripts/images/build.sh registry
	echo "up: kind: the NetworkPolicy engine image (about a second when built already; about 10 minutes to compile kube-router the first time)" >&2
	engine_image=$(scripts/netpol/build.sh)
	echo "up: kind: node image $node_image, registry image novadev/registry:3, NetworkPolicy engine $engine_image" >&2
fi
make --no-print-directory build
exec bin/novadev up --env "$env" --target "$target"
