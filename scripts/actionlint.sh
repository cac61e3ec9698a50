#!/usr/bin/env bash
# actionlint.sh builds (or reuses) actionlint, the GitHub Actions workflow
# linter that TestIntegrationActionlint runs on every workflow in the repo.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/actionlint/<version>/
# and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path, so CI does:
#   export NOVADEV_ACTIONLINT=$(scripts/actionlint.sh)
# Override the version with ACTIONLINT_VERSION (default v1.7.12). Needs only
# Go and the module proxy (CGO off).
set -euo pipefail

version=${ACTIONLINT_VERSION:-v1.7.12}
module=github.com/rhysd/actionlint/cmd/actionlint
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/actionlint/$version"
bin="$dir/actionlint"

log() { printf 'actionlint: %s\n' "$*" >&2; }

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

start=$SECONDS
log "building $module@$version from the module proxy"
# go install into a temporary GOBIN, then rename: an interrupted build never
# leaves a half-written binary that looks cached.
tmp="$dir/.gobin"
rm -rf "$tmp"
mkdir -p "$tmp"
CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false" GOBIN="$tmp" \
	go install -trimpath -ldflags "-s -w" "$module@$version"
mv -f "$tmp/actionlint" "$bin"
rm -rf "$tmp"
log "built $bin in $((SECONDS - start))s"
"$bin" -version >&2 || true
echo "$bin"
