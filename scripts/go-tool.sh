#!/usr/bin/env bash
# go-tool.sh NAME MODULE/PATH VERSION [VERSION-FLAG]: build (or reuse) one Go
# command from the module proxy, the way the test oracles are provided here
# (no registry serves release binaries). Used by buf.sh, grpcurl.sh and
# actionlint.sh.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/NAME/VERSION/NAME
# and is reused without invoking Go when present. Jobs sharing the cache take
# a lock; the build goes into a temporary GOBIN and is renamed into place, so
# an interrupted build never leaves a binary that looks cached. Logs go to
# stderr; the last line on stdout is the binary's path.
set -euo pipefail

name=$1 module=$2 version=$3 version_flag=${4:---version}
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/$name/$version"
bin="$dir/$name"

log() { printf '%s: %s\n' "$name" "$*" >&2; }

if [[ -x $bin ]]; then
	log "reusing $bin"
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [[ -x $bin ]]; then
	log "reusing $bin (built by another job)"
	echo "$bin"
	exit 0
fi

start=$SECONDS
log "building $module@$version from the module proxy (minutes when cold)"
tmp="$dir/.gobin"
rm -rf "$tmp"
mkdir -p "$tmp"
CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false GOBIN="$tmp" \
	go install -trimpath -ldflags "-s -w" "$module@$version" >&2
mv -f "$tmp/$name" "$bin"
rm -rf "$tmp"
log "built $bin in $((SECONDS - start))s"
"$bin" "$version_flag" >&2 || true
echo "$bin"
