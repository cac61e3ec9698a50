#!/usr/bin/env bash
# grpcurl.sh builds (or reuses) grpcurl, the integration tests' gRPC oracle
# for the placeholder image (reflection listing, calls from descriptors the
# server sends), from its Go module through the module proxy.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/grpcurl/<version>/
# (scripts/go-tool.sh) and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path (CI exports it as NOVADEV_GRPCURL).
# Override the version with GRPCURL_VERSION (default v1.9.3).
set -euo pipefail

exec "$(dirname "$0")/go-tool.sh" grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "${GRPCURL_VERSION:-v1.9.3}" -version
