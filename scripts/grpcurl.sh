#!/usr/bin/env bash
# grpcurl.sh builds (or reuses) grpcurl, the integration tests' gRPC oracle
# for the placeholder image (reflection listing, calls from descriptors the
# server sends), from its Go module through the module proxy.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/grpcurl/<version>/
# and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path (CI exports it as NOVADEV_GRPCURL).
# Override the version with GRPCURL_VERSION (default v1.9.3).
set -euo pipefail

version=${GRPCURL_VERSION:-v1.9.3}
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/grpcurl/$version"
bin="$dir/grpcurl"

log() { printf 'grpcurl: %s\n' "$*" >&2; }

if [[ -x $bin ]]; then
	log "reusing $bin"
	echo "$bin"
	exit 0
fi
mkdir -p "$dir"
log "building github.com/fullstorydev/grpcurl/cmd/grpcurl@$version"
GOBIN="$dir" CGO_ENABLED=0 GOFLAGS=-trimpath go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$version" >&2
"$bin" -version >&2
echo "$bin"
