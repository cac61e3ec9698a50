#!/usr/bin/env bash
# install-docker.sh: make a Docker engine reachable, idempotently.
#
# If `docker info` already works, say which engine answers and stop. Otherwise,
# on a Debian/Ubuntu machine where we are root, install Debian's docker.io and
# start dockerd in the background (logs in /var/log/dockerd.log). Anywhere else,
# explain what to install. Either way, then apply the host workarounds this
# engine needs to run kind nodes (scripts/host-workarounds.sh: a no-op on a
# machine that needs none).
set -euo pipefail

log() { printf 'install-docker: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

engine() {
	docker info --format '{{.ServerVersion}} ({{.OperatingSystem}}, storage {{.Driver}})' 2>/dev/null
}

if command -v docker >/dev/null 2>&1 && desc=$(engine); then
	log "engine already reachable: Docker $desc"
	exec "$(dirname "$0")/host-workarounds.sh"
fi

if [[ $(id -u) -ne 0 ]]; then
	die "no Docker engine is reachable and this is not root. Install Docker (https://docs.docker.com/engine/install/) or start Docker Desktop, then re-run."
fi
if ! command -v apt-get >/dev/null 2>&1; then
	die "no Docker engine is reachable and apt-get is missing. Install Docker for this OS (https://docs.docker.com/engine/install/), then re-run."
fi

if ! command -v dockerd >/dev/null 2>&1; then
	log "installing Debian's docker.io (apt-get install -y docker.io)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y docker.io >/dev/null 2>&1; then
		log "apt-get install failed; running apt-get update first"
		apt-get update >/dev/null
		apt-get install -y docker.io >/dev/null || die "apt-get install -y docker.io failed"
	fi
fi

# A dockerd may already be starting (a previous call still waiting, or a stale socket).
if ! pgrep -x dockerd >/dev/null 2>&1; then
	log "starting dockerd in the background (logs: /var/log/dockerd.log)"
	setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
fi

deadline=$((SECONDS + 60))
until desc=$(engine); do
	if ((SECONDS >= deadline)); then
		tail -n 20 /var/log/dockerd.log >&2 || true
		die "dockerd did not answer 'docker info' within 60 s (see /var/log/dockerd.log)"
	fi
	sleep 1
done
log "engine ready: Docker $desc"
exec "$(dirname "$0")/host-workarounds.sh"
