#!/usr/bin/env bash
# gobins.sh builds (or reuses) the Go binaries of the offline kind node image
# and of the manifest dry-run tests, from the pinned wrapper modules under
# hack/ and the Go module proxy only (CGO_ENABLED=0, -trimpath).
#
#   scripts/kind-node/gobins.sh kube|etcd|coredns|crictl|pause|kube-router|registry...
#
# For each SET it prints one line on stdout, "SET DIR", DIR holding its
# binaries; logs go to stderr. The sets and where they land, under
# ${NOVADEV_CACHE:-$HOME/.cache/novadev}:
#
#   kube     kube/<key>/    kube-apiserver kube-controller-manager
#                           kube-scheduler kube-proxy kubelet kubeadm kubectl,
#                           ALL in one `go build` (they share most packages, so
#                           one invocation compiles each package once), and
#                           etcd beside them (asking for kube builds etcd too:
#                           internal/testenv/kubeapi wants both in one folder)
#   etcd     same as kube   (an alias: the etcd binary lives in the kube folder)
#   coredns  bin/coredns-<version>-<hash>/coredns (hack/coredns/main.go: only
#           the plugins kubeadm's Corefile uses)
#   crictl   bin/crictl-<version>-<hash>/crictl
#   pause    bin/pause-<hash>/pause (scripts/kind-node/pause, our own program)
#   kube-router  bin/kube-router-<version>-<hash>/kube-router (hack/kube-router:
#           the NetworkPolicy engine of the kind addon, scripts/netpol/build.sh)
#   registry bin/registry-<version>-<hash>/registry (hack/registry/main.go: the
#           CNCF distribution registry with the filesystem and inmemory storage
#           drivers only; scripts/registry.sh, scripts/images/build.sh registry)
#
# <key>/<hash> covers everything that changes the output: the wrapper
# go.mod/go.sum (or the program's files), the ldflags and the Go version. An
# unchanged key is reused without invoking Go; a changed one builds into a new
# folder. NOVADEV_REBUILD=1 ignores what is cached.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${NOVADEV_CACHE:-$HOME/.cache/novadev}

log() { printf 'gobins: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH (Go 1.26 is needed)"
export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
goversion=$(go env GOVERSION)

# modversion DIR MODULE: the version DIR/go.mod requires MODULE at.
modversion() {
	awk -v m="$2" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$1/go.mod"
}

# inputs_hash FILE... [-- STRING...]: 12 hex digits over names, contents,
# the strings and the Go version.
inputs_hash() {
	local f strings=()
	{
		while (($#)); do
			if [[ $1 == -- ]]; then
				shift
				strings=("$@")
				break
			fi
			printf '%s\n' "${1#"$root"/}"
			sha256sum <"$1"
			shift
		done
		printf '%s\n' "${strings[@]}" "$goversion"
	} | sha256sum | cut -c1-12
}

# complete DIR NAME...: every NAME is an executable in DIR.
complete() {
	local d=$1 n
	shift
	[[ ${NOVADEV_REBUILD:-} != 1 ]] || return 1
	for n in "$@"; do
		[[ -x $d/$n ]] || return 1
	done
}

# locked_build DIR FUNC NAME...: unless DIR already holds every NAME, take
# DIR's lock and run FUNC TMPDIR, then move the NAMEs into DIR. Building into
# a temporary folder and renaming means an interrupted build never leaves a
# half-written binary that looks cached, and two jobs sharing a cache do not
# build the same folder at once.
locked_build() {
	local dir=$1 fn=$2 start tmp n
	shift 2
	if complete "$dir" "$@"; then
		log "reusing $dir"
		return
	fi
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock 9
	if complete "$dir" "$@"; then # another job finished it while we waited
		exec 9>&-
		log "reusing $dir"
		return
	fi
	tmp=$(mktemp -d "$dir/.build.XXXXXX")
	start=$SECONDS
	"$fn" "$tmp"
	for n in "$@"; do
		mv -f "$tmp/$n" "$dir/$n"
	done
	rm -rf "$tmp"
	exec 9>&-
	log "built $* into $dir in $((SECONDS - start))s"
}

kube_mod=$root/hack/kubernetes
etcd_mod=$root/hack/etcd
kube_cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
kube_version=$(modversion "$kube_mod" k8s.io/kubernetes)
etcd_version=$(modversion "$etcd_mod" go.etcd.io/etcd/server/v3)
[[ -n $kube_version && -n $etcd_version ]] || die "cannot read the pinned versions from $kube_mod/go.mod and $etcd_mod/go.mod"
kube_minor=$(cut -d. -f2 <<<"$kube_version")
# Without these the binaries report v0.0.0-master, which kubeadm refuses
# (it compares its own version with the control plane's) and clients warn on.
kube_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor -X $p.gitTreeState=clean"
done
etcd_ldflags="-s -w"

build_kube_cmds() {
	local pkgs=() c
	for c in "${kube_cmds[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/$c")
	done
	log "building ${kube_cmds[*]} $kube_version in one go build (cold: many minutes)"
	(cd "$kube_mod" && go build -trimpath -ldflags "$kube_ldflags" -o "$1/" "${pkgs[@]}")
}

build_etcd() {
	log "building etcd $etcd_version"
	(cd "$etcd_mod" && go build -trimpath -ldflags "$etcd_ldflags" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

kube_dir() {
	local h
	h=$(inputs_hash "$kube_mod/go.mod" "$kube_mod/go.sum" "$etcd_mod/go.mod" "$etcd_mod/go.sum" -- "$kube_ldflags" "$etcd_ldflags" "${kube_cmds[*]}")
	echo "$cache/kube/kubernetes-$kube_version-etcd-$etcd_version-$h"
}

set_kube() {
	local dir
	dir=$(kube_dir)
	# Two builds, one folder: etcd first (about a minute) so that a folder
	# holding kube-apiserver always holds etcd too.
	locked_build "$dir" build_etcd etcd
	locked_build "$dir" build_kube_cmds "${kube_cmds[@]}"
	echo "kube $dir"
}

# set_wrapped SET MODULE PACKAGE LDFLAGS: one binary from hack/SET. PACKAGE
# "." is the wrapper's own main (main.go beside go.mod, which picks what is
# linked): its .go files are then inputs too.
set_wrapped() {
	local set=$1 module=$2 pkg=$3 ldflags=$4 mod=$root/hack/$1 version h srcs=()
	version=$(modversion "$mod" "$module")
	[[ -n $version ]] || die "cannot read the version of $module from $mod/go.mod"
	ldflags=${ldflags//@VERSION@/$version}
	[[ $pkg != . ]] || srcs=("$mod"/*.go)
	h=$(inputs_hash "$mod/go.mod" "$mod/go.sum" "${srcs[@]}" -- "$ldflags")
	local dir=$cache/bin/$set-$version-$h
	wrapped=("$set" "$version" "$mod" "$ldflags" "$pkg")
	locked_build "$dir" build_wrapped "$set"
	echo "$set $dir"
}

# build_wrapped TMPDIR: the binary set_wrapped described in $wrapped.
wrapped=()
build_wrapped() {
	local set=${wrapped[0]} version=${wrapped[1]} mod=${wrapped[2]} ldflags=${wrapped[3]} pkg=${wrapped[4]}
	log "building $set $version"
	(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$1/$set" "$pkg")
}

set_pause() {
	local src=$root/scripts/kind-node/pause h dir
	h=$(inputs_hash "$src/go.mod" "$src/main.go" -- "-s -w")
	dir=$cache/bin/pause-$h
	build_pause() { log "building pause"; (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$1/pause" .); }
	locked_build "$dir" build_pause pause
	echo "pause $dir"
}

(($#)) || die "usage: $0 kube|etcd|coredns|crictl|pause|kube-router|registry..."
for s in "$@"; do
	case $s in
	kube | etcd) set_kube ;;
	coredns) set_wrapped coredns github.com/coredns/coredns . "-s -w" ;;
	crictl) set_wrapped crictl sigs.k8s.io/cri-tools sigs.k8s.io/cri-tools/cmd/crictl "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=@VERSION@" ;;
	pause) set_pause ;;
	registry) set_wrapped registry github.com/distribution/distribution/v3 . "-s -w -X github.com/distribution/distribution/v3/version.version=@VERSION@" ;;
	kube-router) set_wrapped kube-router github.com/cloudnativelabs/kube-router/v2 github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=@VERSION@" ;;
	*) die "unknown set '$s' (want: kube etcd coredns crictl pause kube-router registry)" ;;
	esac
done
