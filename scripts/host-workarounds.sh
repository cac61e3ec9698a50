#!/usr/bin/env bash
# host-workarounds.sh: make this machine's Docker engine able to run kind
# nodes, when it cannot as it stands. Idempotent; a no-op where nothing is
# wrong. Called by scripts/install-docker.sh (so by `make up`, `make docker`
# and .ci/run) after the engine answers. See docs/kind.md, "Host workarounds".
#
# What it detects and does:
#
#   dockerd's capability bounding set lacks capabilities the kernel has
#   (these VMs: CAP_SYS_RESOURCE). Docker 20.10 gives a --privileged
#   container every capability the kernel knows, so runc fails with "unable
#   to apply caps: operation not permitted" and kind's node containers never
#   start. Fix: build scripts/host-workarounds/runc-wrapper (drops from each
#   OCI spec the capabilities the bounding set lacks, then execs runc),
#   install it as /usr/local/libexec/novadev/runc-wrapper, register it in
#   /etc/docker/daemon.json as the default runtime "novadev-runc", and make
#   dockerd reload its configuration with SIGHUP (20.10 reloads runtimes and
#   default-runtime that way: running containers and other users of the
#   engine are not disturbed; dockerd is never restarted here).
#
#   cgroup v1 (reported, nothing to change on the host): the node image
#   pins Kubernetes v1.34, the last minor whose kubelet runs on cgroup v1 by
#   default.
#
# Only for a local dockerd run by root (pgrep finds it): Docker Desktop,
# rootless and remote engines are left alone. NOVADEV_HOST_WORKAROUNDS=0
# skips everything.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${NOVADEV_CACHE:-$HOME/.cache/novadev}
runtime_name=novadev-runc
wrapper=/usr/local/libexec/novadev/runc-wrapper
daemon_json=${NOVADEV_DAEMON_JSON:-/etc/docker/daemon.json}

log() { printf 'host-workarounds: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ ${NOVADEV_HOST_WORKAROUNDS:-1} == 0 ]]; then
	log "skipped (NOVADEV_HOST_WORKAROUNDS=0)"
	exit 0
fi

if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	cgroup=v2
else
	cgroup=v1
fi

pid=$(pgrep -xo dockerd || true)
if [[ -z $pid || ! -r /proc/$pid/status ]]; then
	log "no local dockerd to inspect (Docker Desktop, rootless or remote engine): nothing to do"
	exit 0
fi

# missing_caps: numbers of the kernel's capabilities absent from dockerd's
# bounding set.
missing_caps() {
	local bnd last i
	bnd=$((16#$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$pid/status")))
	last=$(cat /proc/sys/kernel/cap_last_cap)
	for ((i = 0; i <= last; i++)); do
		((bnd >> i & 1)) || printf '%d ' "$i"
	done
}
missing=$(missing_caps)
if [[ $cgroup == v1 ]]; then
	log "cgroup v1 host: fine for the node image's Kubernetes v1.34; v1.35+ kubelets refuse cgroup v1 by default"
fi
if [[ -z $missing ]]; then
	log "dockerd's capability bounding set is complete: --privileged works, nothing to do"
	exit 0
fi
log "dockerd lacks capabilities ${missing% } (24 = CAP_SYS_RESOURCE): --privileged containers (kind nodes) fail; using runc-wrapper"

# Without root or Go, say what is wrong and go on: the Docker target works
# without this; only kind nodes need it, and they fail with runc's message.
warn_skip() {
	log "warning: $* ; kind nodes will fail with 'unable to apply caps' until this runs"
	exit 0
}
[[ $(id -u) -eq 0 ]] || warn_skip "registering a runtime needs root: re-run scripts/host-workarounds.sh as root"
command -v go >/dev/null || warn_skip "go is not on PATH (needed to build runc-wrapper)"
real_runc=$(command -v runc) || warn_skip "runc is not on PATH"

# Build the wrapper into the cache, keyed by its source, the runc it execs
# and the Go version, then install it atomically (rename): dockerd may be
# starting containers through the old one right now.
src=$root/scripts/host-workarounds/runc-wrapper
hash=$({
	cat "$src"/*.go
	echo "$real_runc"
	go env GOVERSION
} | sha256sum | cut -c1-12)
built=$cache/host/runc-wrapper-$hash
if [[ ! -x $built ]]; then
	mkdir -p "$cache/host"
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.realRunc=$real_runc" -o "$built.tmp" ./scripts/host-workarounds/runc-wrapper)
	mv -f "$built.tmp" "$built"
fi
mkdir -p "$(dirname "$wrapper")"
if ! cmp -s "$built" "$wrapper"; then
	install -m 0755 "$built" "$wrapper.tmp"
	mv -f "$wrapper.tmp" "$wrapper"
	log "installed $wrapper (execs $real_runc)"
fi

mkdir -p "$(dirname "$daemon_json")"
changed=$(cd "$root" && CGO_ENABLED=0 go run ./scripts/host-workarounds/daemon-json "$daemon_json" "$runtime_name" "$wrapper")

default_runtime() { docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true; }
if [[ $changed == changed || $(default_runtime) != "$runtime_name" ]]; then
	log "$daemon_json: runtime $runtime_name is the default; reloading dockerd (SIGHUP, no restart)"
	kill -HUP "$pid"
	deadline=$((SECONDS + 15))
	until [[ $(default_runtime) == "$runtime_name" ]]; do
		if ((SECONDS >= deadline)); then
			tail -n 5 /var/log/dockerd.log >&2 2>/dev/null || true
			die "dockerd did not take default-runtime $runtime_name from $daemon_json on SIGHUP; restart dockerd when nobody uses it"
		fi
		sleep 0.5
	done
fi

# Prove it when an image is at hand (the offline base image usually is).
probe=novadev/debian-base:bookworm
if docker image inspect "$probe" >/dev/null 2>&1; then
	if out=$(docker run --rm --privileged --network none "$probe" sh -c 'grep CapEff /proc/self/status' 2>&1); then
		log "--privileged works through $runtime_name (${out//$'\t'/ })"
	else
		die "--privileged still fails through $runtime_name: $out"
	fi
else
	log "runtime $runtime_name is dockerd's default ($probe absent: --privileged not tried)"
fi
