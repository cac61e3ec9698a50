#!/usr/bin/env bash
# build.sh: build the offline image set of docs/contracts.md without a registry.
#
#   scripts/images/build.sh [IMAGE...]     IMAGE: base postgres redis clickhouse kafka placeholder novadev registry
#                                          (no IMAGE: all but registry, which only the kind target needs)
#
# Store images come from ONE Debian bookworm rootfs (debootstrap from the mirror
# in this machine's apt sources -> `docker import` as novadev/debian-base:bookworm)
# plus a small Dockerfile each. Go images are FROM scratch with a static binary.
#
# Every image carries the label io.novadev.inputs-hash (sha256 of its inputs:
# Dockerfile and files beside it, package list, base hash; for Go images the
# module's own source files of the program, the versions of every dependency
# module and the Go version). An image whose label already matches is reused,
# so a second run takes seconds.
#
# Environment: NOVADEV_CACHE (default /var/cache/novadev, holds the rootfs while
# it is built and the Docker build contexts), NOVADEV_DEBIAN_MIRROR (default:
# read from /etc/apt/sources.list*), NOVADEV_REBUILD=1 (ignore the labels),
# NOVADEV_PLACEHOLDER_TAG (default novadev/placeholder:dev: a scratch tag to
# try a placeholder change without replacing the image running stacks use),
# NOVADEV_CLICKHOUSE_TAG (default novadev/clickhouse:18.16: the same for the
# ClickHouse image).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${NOVADEV_CACHE:-/var/cache/novadev}
label=io.novadev.inputs-hash
base_tag=novadev/debian-base:bookworm

log() { printf 'images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine reachable (run scripts/install-docker.sh)"

# hash_files FILE...: one sha256 over names and contents.
hash_files() {
	local f
	for f in "$@"; do
		printf '%s\n' "${f#"$repo"/}"
		sha256sum <"$f"
	done | sha256sum | cut -d' ' -f1
}

hash_dir() { # every regular file in a directory, sorted
	local files
	mapfile -t files < <(find "$1" -type f | LC_ALL=C sort)
	hash_files "${files[@]}"
}

current_hash() {
	docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true
}

# fresh TAG HASH: true when TAG exists with the same inputs hash.
fresh() {
	[[ ${NOVADEV_REBUILD:-} != 1 && $(current_hash "$1") == "$2" ]]
}

# dbuild TAG HASH DIR: docker build, quiet unless it fails.
dbuild() {
	local out
	out=$(docker build --label "$label=$2" -t "$1" "$3" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "docker build of $1 failed"
	}
}

summary=()
report() { # report TAG built|reused SECONDS
	summary+=("$(printf '%-30s %-7s %6ss' "$1" "$2" "$3")")
	log "$1: $2 in $3 s"
}

elapsed() { # elapsed START_NANOS -> seconds with one decimal
	local d=$(($(date +%s%N) - $1))
	printf '%d.%d' $((d / 1000000000)) $((d % 1000000000 / 100000000))
}

mirror() {
	if [[ -n ${NOVADEV_DEBIAN_MIRROR:-} ]]; then
		echo "$NOVADEV_DEBIAN_MIRROR"
		return
	fi
	local f uri
	# deb822 stanzas: the first URI whose stanza lists the plain "bookworm" suite.
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		uri=$(awk 'BEGIN{RS=""} /Suites:[^\n]*(^|[ \t])bookworm([ \t\n]|$)/ { if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	# one-line format: deb [opts] URI bookworm main
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		uri=$(awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1)=="bookworm") { print $i; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	die "no Debian bookworm mirror found in /etc/apt/sources.list*; set NOVADEV_DEBIAN_MIRROR"
}

# drop_rootfs DIR: remove a (possibly half-built) rootfs; a failed debootstrap
# can leave /proc or /sys mounted inside it, and rm must never walk into those.
drop_rootfs() {
	local m
	[[ -e $1 ]] || return 0
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf --one-file-system "$1" "$1.log"
}

base_hash=
rootfs=
build_base() {
	local start m t
	start=$(date +%s%N)
	base_hash=$(hash_files "$here/base/packages.txt" "$here/base/mkrootfs.sh")
	if fresh "$base_tag" "$base_hash"; then
		report "$base_tag" reused "$(elapsed "$start")"
		return
	fi
	command -v debootstrap >/dev/null || {
		[[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null 2>&1 ||
			{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null; }
	}
	m=$(mirror)
	rootfs=$cache/rootfs-bookworm
	mkdir -p "$cache"
	drop_rootfs "$rootfs"
	trap 'drop_rootfs "$rootfs"' EXIT
	log "debootstrap bookworm from $m into $rootfs (about a minute)"
	t=$(date +%s%N)
	"$here/base/mkrootfs.sh" "$rootfs" "$m"
	log "debootstrap took $(elapsed "$t") s ($(du -sxh "$rootfs" 2>/dev/null | cut -f1))"
	t=$(date +%s%N)
	tar --numeric-owner -C "$rootfs" -c . |
		docker import -c "LABEL $label=$base_hash" -c 'CMD ["/bin/bash"]' - "$base_tag" >/dev/null
	log "docker import took $(elapsed "$t") s"
	drop_rootfs "$rootfs"
	trap - EXIT
	report "$base_tag" built "$(elapsed "$start")"
}

# build_store NAME TAG: Dockerfile and files in $here/NAME, FROM the base image.
build_store() {
	local name=$1 tag=$2 start h
	start=$(date +%s%N)
	[[ -n $base_hash ]] || build_base
	h=$(printf '%s %s\n' "$base_hash" "$(hash_dir "$here/$name")" | sha256sum | cut -d' ' -f1)
	if fresh "$tag" "$h"; then
		report "$tag" reused "$(elapsed "$start")"
		return
	fi
	dbuild "$tag" "$h" "$here/$name"
	report "$tag" built "$(elapsed "$start")"
}

# build_go NAME TAG PKG: static binary of PKG into a scratch image.
build_go() {
	local name=$1 tag=$2 pkg=$3 start h ctx srcs mods
	start=$(date +%s%N)
	cd "$repo"
	# Inputs: this module's files the program compiles from, and the version of
	# every other module it links (the part of go.sum that matters to it).
	mapfile -t srcs < <(CGO_ENABLED=0 go list -deps -f \
		'{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}' \
		"$pkg" | grep -v '^$' | LC_ALL=C sort)
	mods=$(CGO_ENABLED=0 go list -deps -f '{{if and .Module (not .Module.Main)}}{{.Module.Path}}@{{.Module.Version}}{{end}}' "$pkg" | grep -v '^$' | LC_ALL=C sort -u)
	h=$({
		hash_files "${srcs[@]}" "$here/$name"/*
		echo "$mods"
		go env GOVERSION
	} | sha256sum | cut -d' ' -f1)
	if fresh "$tag" "$h"; then
		report "$tag" reused "$(elapsed "$start")"
		return
	fi
	ctx=$cache/ctx/$name
	rm -rf "$ctx" && mkdir -p "$ctx"
	cp "$here/$name"/* "$ctx/"
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/$name" "$pkg"
	dbuild "$tag" "$h" "$ctx"
	rm -rf "$ctx"
	report "$tag" built "$(elapsed "$start")"
}

# build_registry: the CNCF distribution registry (the kind target's local
# registry), built from the wrapper module hack/registry by scripts/registry.sh
# (cached under ~/.cache/novadev/bin/registry-VERSION-HASH), FROM scratch. Not
# in the default set: only the kind target needs it (scripts/up.sh kind,
# .ci/run build it).
build_registry() {
	local tag=novadev/registry:3 start h ctx bin
	start=$(date +%s%N)
	h=$({
		hash_files "$here/registry"/* "$repo"/hack/registry/go.{mod,sum} "$repo"/hack/registry/*.go
		go env GOVERSION
	} | sha256sum | cut -d' ' -f1)
	if fresh "$tag" "$h"; then
		report "$tag" reused "$(elapsed "$start")"
		return
	fi
	bin=$("$repo/scripts/registry.sh" | tail -n1)
	ctx=$cache/ctx/registry
	rm -rf "$ctx" && mkdir -p "$ctx"
	cp "$here/registry"/* "$ctx/"
	cp "$bin" "$ctx/registry"
	dbuild "$tag" "$h" "$ctx"
	rm -rf "$ctx"
	report "$tag" built "$(elapsed "$start")"
}

build() {
	case $1 in
	base) build_base ;;
	postgres) build_store postgres novadev/postgres:15 ;;
	redis) build_store redis novadev/redis:7 ;;
	clickhouse) build_store clickhouse "${NOVADEV_CLICKHOUSE_TAG:-novadev/clickhouse:18.16}" ;;
	kafka) build_go kafka novadev/kafka:kfake ./cmd/nova-kafka ;;
	placeholder) build_go placeholder "${NOVADEV_PLACEHOLDER_TAG:-novadev/placeholder:dev}" ./cmd/placeholder ;;
	novadev)
		if [[ -d $repo/cmd/novadev ]] && ls "$repo"/cmd/novadev/*.go >/dev/null 2>&1; then
			build_go novadev novadev/novadev:dev ./cmd/novadev
		else
			log "novadev/novadev:dev: skipped (cmd/novadev does not exist yet)"
			summary+=("$(printf '%-30s %-7s' novadev/novadev:dev skipped)")
		fi
		;;
	registry) build_registry ;;
	*) die "unknown image '$1' (want: base postgres redis clickhouse kafka placeholder novadev registry)" ;;
	esac
}

total=$(date +%s%N)
targets=("$@")
((${#targets[@]})) || targets=(base postgres redis clickhouse kafka placeholder novadev)
for t in "${targets[@]}"; do
	build "$t"
done
printf '%s\n' "${summary[@]}"
printf 'total %ss\n' "$(elapsed "$total")"
