#!/usr/bin/env bash
# make up [TARGET=docker|kind]: everything a fresh machine needs, then novadev up.
#  1. a Docker engine (installs and starts Debian's docker.io when run as root with apt and none is reachable);
#  2. the offline image set when the images are not present (no registry needed);
#  3. for TARGET=kind: the offline kind node image (scripts/kind-node/build.sh) and the
#     local registry's image (novadev/registry:3), each built only when missing or stale;
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
scripts/images/build.sh
if [[ $target == kind ]]; then
	echo "up: kind: the offline node image (a few seconds when built already; minutes when Kubernetes must be compiled) and the registry image" >&2
	node_image=$(scripts/kind-node/build.sh)
	scripts/images/build.sh registry
	echo "up: kind: node image $node_image, registry image novadev/registry:3" >&2
fi
make --no-print-directory build
exec bin/novadev up --env "$env" --target "$target"
