#!/usr/bin/env bash
# registry.sh builds (or reuses) the CNCF distribution registry, the real
# OCI registry the image-mirror integration test (internal/app
# TestIntegrationMirror) serves the offline images from under their
# upstream names, on loopback (nothing public can be pulled here).
#
# Built from its Go module through the module proxy (scripts/go-tool.sh);
# cached in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/registry/<version>/registry.
# The last line on stdout is the binary's path. Override the version with
# REGISTRY_VERSION (default v3.1.2).
set -euo pipefail

exec "$(dirname "$0")/go-tool.sh" registry github.com/distribution/distribution/v3/cmd/registry "${REGISTRY_VERSION:-v3.1.2}" --version
