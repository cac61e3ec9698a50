#!/usr/bin/env bash
# buf.sh builds (or reuses) the buf CLI, the oracle of the proto-validate
# breaking-change check (internal/bootstrap's TestIntegrationBufOracle runs
# `buf breaking` on mutations of the Nova protos and compares verdicts).
#
# No registry serves release binaries here, so buf is built from its Go
# module through the module proxy (`go install` works for this module).
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/buf/<version>/buf
# and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path. Override the version with BUF_VERSION
# (default v1.75.0). Needs only Go and the module proxy.
set -euo pipefail

version=${BUF_VERSION:-v1.75.0}
module=github.com/bufbuild/buf/cmd/buf
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/buf/$version"
bin="$dir/buf"

log() { printf 'buf: %s\n' "$*" >&2; }

if [[ -x $bin ]]; then
	log "reusing $bin"
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
# Two jobs sharing a cache must not build into the same directory at once.
exec 9>"$dir/.lock"
flock 9
if [[ -x $bin ]]; then
	log "reusing $bin (built by another job)"
	echo "$bin"
	exit 0
fi

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false
start=$SECONDS
log "building $module@$version into $dir (a few minutes cold)"
tmp="$dir/.gobin"
rm -rf "$tmp"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "$module@$version"
mv -f "$tmp/buf" "$bin"
rm -rf "$tmp"
log "built $bin in $((SECONDS - start))s"
"$bin" --version >&2 || true
echo "$bin"
