#!/usr/bin/env bash
# kube-tools.sh builds (or reuses) the etcd and kube-apiserver binaries that
# internal/testenv/kubeapi runs, from the pinned wrapper modules under hack/.
#
# The binaries land in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/kube/<key>/,
# where <key> names both versions plus a hash of the wrapper go.mod/go.sum
# files and the build flags, so a change to any pin builds into a new
# directory and an unchanged pin is reused without invoking Go at all.
#
# Logs go to stderr; the last line on stdout is the directory, so CI does:
#   export NOVADEV_KUBE_ASSETS=$(scripts/kube-tools.sh)
#
# Needs only Go and the module proxy: both builds are CGO_ENABLED=0.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
apiserver_mod="$root/hack/kube-apiserver"
etcd_mod="$root/hack/etcd"

log() { printf 'kube-tools: %s\n' "$*" >&2; }

# Versions come from the wrapper go.mod files so there is one place to bump.
kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$apiserver_mod/go.mod")
etcd_version=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$etcd_mod/go.mod")
if [[ -z $kube_version || -z $etcd_version ]]; then
	log "cannot read pinned versions from $apiserver_mod/go.mod and $etcd_mod/go.mod"
	exit 1
fi
kube_minor=$(cut -d. -f2 <<<"$kube_version")

apiserver_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor"
etcd_ldflags="-s -w"

hash=$(
	{
		cat "$apiserver_mod/go.mod" "$apiserver_mod/go.sum" "$etcd_mod/go.mod" "$etcd_mod/go.sum"
		printf '%s\n%s\n' "$apiserver_ldflags" "$etcd_ldflags"
	} | sha256sum | cut -c1-12
)
key="kube-apiserver-$kube_version-etcd-$etcd_version-$hash"
dir="${NOVADEV_CACHE:-$HOME/.cache/novadev}/kube/$key"

if [[ -x $dir/kube-apiserver && -x $dir/etcd ]]; then
	log "reusing $dir"
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
# Two CI jobs sharing a cache must not build into the same directory at once.
exec 9>"$dir/.lock"
flock 9

export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
# build NAME MODULE_DIR LDFLAGS PACKAGE: writes to a temp file and renames, so
# an interrupted build never leaves a half-written binary that looks cached.
build() {
	local name=$1 mod=$2 ldflags=$3 pkg=$4
	if [[ -x $dir/$name ]]; then
		return
	fi
	log "building $name ($pkg) into $dir"
	local start=$SECONDS
	(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$dir/.$name.tmp" "$pkg")
	mv -f "$dir/.$name.tmp" "$dir/$name"
	log "built $name in $((SECONDS - start))s"
}

build etcd "$etcd_mod" "$etcd_ldflags" go.etcd.io/etcd/server/v3
build kube-apiserver "$apiserver_mod" "$apiserver_ldflags" k8s.io/kubernetes/cmd/kube-apiserver

"$dir/etcd" --version >&2
"$dir/kube-apiserver" --version >&2
echo "$dir"
