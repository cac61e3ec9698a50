#!/usr/bin/env bash
# registry.sh builds (or reuses) the CNCF distribution registry, the real
# OCI registry the image-mirror integration test (internal/app
# TestIntegrationMirror) serves the offline images from under their
# upstream names, on loopback (nothing public can be pulled here); the kind
# target's registry image (scripts/images/build.sh registry) is the same
# binary.
#
# Built from the pinned wrapper module hack/registry (its main links only the
# filesystem and inmemory storage drivers, not upstream's cloud drivers) by
# scripts/kind-node/gobins.sh, cached in
# ${NOVADEV_CACHE:-$HOME/.cache/novadev}/bin/registry-<version>-<hash>/ keyed
# by the wrapper's files, the build flags and the Go version. To change the
# version, bump hack/registry/go.mod (go get, go mod tidy there).
# The last line on stdout is the binary's path.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$("$root/scripts/kind-node/gobins.sh" registry)
bin=${out#registry }/registry
if [[ $out != "registry "* || ! -x $bin ]]; then
	printf 'registry: gobins.sh printed %q, not a directory with registry\n' "$out" >&2
	exit 1
fi
"$bin" --version >&2
echo "$bin"
