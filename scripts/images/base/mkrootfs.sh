#!/usr/bin/env bash
# mkrootfs.sh ROOTFS MIRROR: debootstrap a minimal Debian bookworm with the
# packages of packages.txt into ROOTFS, then strip what containers never use.
set -euo pipefail
rootfs=$1 mirror=$2
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$' | paste -sd, -)

debootstrap --variant=minbase --include="$pkgs" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
	tail -n 30 "$rootfs.log" >&2
	echo "mkrootfs: debootstrap failed (full log: $rootfs.log)" >&2
	exit 1
}

# Package scripts may have started daemons inside the chroot; none may survive.
for p in /proc/[0-9]*; do
	if [[ $(readlink "$p/root" 2>/dev/null) == "$rootfs" ]]; then
		kill "${p#/proc/}" 2>/dev/null || true
	fi
done

# The postgresql-15 package creates a "main" cluster the image never uses: the
# entrypoint runs initdb into $PGDATA on first start.
rm -rf "$rootfs"/var/lib/postgresql/15 "$rootfs"/etc/postgresql/15
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
	"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
	"$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/*
# Use the same mirror inside, so `apt-get install` in a derived image works.
echo "deb $mirror bookworm main" >"$rootfs"/etc/apt/sources.list
rm -f "$rootfs.log"
