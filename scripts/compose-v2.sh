#!/usr/bin/env bash
# compose-v2.sh builds (or reuses) the docker compose v2 CLI plugin from its Go
# module and installs it as ~/.docker/cli-plugins/docker-compose.
#
# Debian ships only the old Python docker-compose 1.29 and no registry is
# reachable here, so compose v2 is built from github.com/docker/compose/v2
# through the Go module proxy. `go install` refuses that module (its go.mod
# has exclude directives), so the module is downloaded, copied somewhere
# writable and built with `go build ./cmd` inside the copy.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/compose/<version>/
# and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the installed plugin's path. Override the version with
# COMPOSE_VERSION (default v2.40.3). Needs only Go and the module proxy.
set -euo pipefail

version=${COMPOSE_VERSION:-v2.40.3}
module=github.com/docker/compose/v2
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/compose/$version"
bin="$dir/docker-compose"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
plugin="$plugins/docker-compose"

log() { printf 'compose-v2: %s\n' "$*" >&2; }

# install links the cached binary in as the docker CLI plugin (leaving an
# unrelated docker-compose plugin file alone only if it is the same binary).
install_plugin() {
	mkdir -p "$plugins"
	if [[ $(readlink -f "$plugin" 2>/dev/null) != "$(readlink -f "$bin")" ]]; then
		ln -sfn "$bin" "$plugin"
		log "installed $plugin -> $bin"
	fi
	echo "$plugin"
}

if [[ -x $bin ]]; then
	log "reusing $bin"
	install_plugin
	exit 0
fi

mkdir -p "$dir"
# Two jobs sharing a cache must not build into the same directory at once.
exec 9>"$dir/.lock"
flock 9
if [[ -x $bin ]]; then
	log "reusing $bin (built by another job)"
	install_plugin
	exit 0
fi

export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
start=$SECONDS
log "downloading $module@$version from the module proxy"
moddir=$(cd "$dir" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z $moddir || ! -d $moddir ]]; then
	log "go mod download did not report a module directory for $module@$version"
	exit 1
fi

# The module cache is read-only: build inside a writable copy.
src="$dir/src"
rm -rf "$src"
cp -r "$moddir" "$src"
chmod -R u+w "$src"

log "building $module@$version ./cmd into $dir (several minutes cold)"
ldflags="-s -w -X github.com/docker/compose/v2/internal.Version=$version"
(cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$dir/.docker-compose.tmp" ./cmd)
mv -f "$dir/.docker-compose.tmp" "$bin"
rm -rf "$src"
log "built $bin in $((SECONDS - start))s"
"$bin" version >&2 || true
install_plugin
