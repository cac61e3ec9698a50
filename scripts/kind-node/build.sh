#!/usr/bin/env bash
# build.sh: build a kind node image with no registry (docs/kind.md, "Offline
# node image"), or reuse it when none of its inputs changed.
#
#   scripts/kind-node/build.sh            -> novadev/kind-node:<kubernetes version>
#
# The image is assembled from:
#   - a Debian bookworm root filesystem (debootstrap from the mirror in this
#     machine's apt sources) with systemd and Debian's containerd, runc and
#     CNI plugins;
#   - the Go binaries of scripts/kind-node/gobins.sh, built from the Go module
#     proxy through the pinned wrapper modules under hack/: kubelet, kubeadm,
#     kubectl and the control-plane binaries (one `go build`), etcd, CoreDNS,
#     crictl, pause;
#   - FROM-scratch control-plane images tagged exactly as
#     `kubeadm config images list` prints, saved into /kind/images and
#     imported into containerd before kubelet starts;
#   - kind's own node files (entrypoint, systemd units, containerd config),
#     taken at build time from the kind module the product uses (go.mod's
#     sigs.k8s.io/kind, images/base/files in the module cache), adapted to
#     Debian's containerd 1.6;
#   - scripts/kind-node/files: what this image adds (static bridge CNI, the
#     image import unit, the containerd drop-in).
#
# The image carries the label io.novadev.inputs-hash (every input above, the
# package list, the Go version); an image whose label matches is reused in
# about a second. Compiled binaries are cached by their own inputs under
# ${NOVADEV_CACHE:-$HOME/.cache/novadev} (see gobins.sh), so a change to this
# script alone re-assembles the image without compiling.
#
# Environment: NOVADEV_DEBIAN_MIRROR (default: read from /etc/apt/sources*),
# NOVADEV_REBUILD=1 (ignore the label; binaries stay cached: gobins.sh honours
# its own NOVADEV_REBUILD only when run directly), NOVADEV_KIND_NODE_IMAGE (the tag).
# Needs root (debootstrap, chroot), Docker and Go.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${NOVADEV_CACHE:-$HOME/.cache/novadev}
label=io.novadev.inputs-hash
suite=bookworm
# The node's packages: kind's base image list (images/base/Dockerfile) with
# Debian's containerd, runc and CNI plugins instead of kind's own builds, and
# without fuse-overlayfs (rootless only), nfs-common, open-iscsi, e2fsprogs.
packages=(systemd containerd runc containernetworking-plugins
	conntrack iptables nftables iproute2 ethtool util-linux mount kmod
	libseccomp2 pigz bash ca-certificates curl jq procps socat)

log() { printf 'kind-node: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
t0=$SECONDS
phase_start=$SECONDS
phase() { # phase NAME: log the time the previous phase took
	log "$1 ($((SECONDS - phase_start))s)"
	phase_start=$SECONDS
}

docker info >/dev/null 2>&1 || die "no Docker engine reachable (run scripts/install-docker.sh)"
command -v go >/dev/null || die "go is not on PATH"

kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$root/hack/kubernetes/go.mod")
kind_version=$(awk '($1 == "sigs.k8s.io/kind") { print $2; exit } ($1 == "require" && $2 == "sigs.k8s.io/kind") { print $3; exit }' "$root/go.mod")
[[ -n $kube_version && -n $kind_version ]] || die "cannot read the Kubernetes (hack/kubernetes/go.mod) or kind (go.mod) version"
tag=${NOVADEV_KIND_NODE_IMAGE:-novadev/kind-node:$kube_version}

inputs_hash() {
	local f
	{
		for f in "$root"/hack/{kubernetes,etcd,coredns,crictl}/go.{mod,sum} "$root"/hack/coredns/*.go \
			"$here"/build.sh "$here"/gobins.sh "$here"/pause/* "$here"/kube-proxy/* $(find "$here/files" -type f | LC_ALL=C sort); do
			printf '%s\n' "${f#"$root"/}"
			sha256sum <"$f"
		done
		printf '%s\n' "$suite" "${packages[*]}" "kind $kind_version" "$(go env GOVERSION)"
	} | sha256sum | cut -d' ' -f1
}
hash=$(inputs_hash)
if [[ ${NOVADEV_REBUILD:-} != 1 && $(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$tag" 2>/dev/null || true) == "$hash" ]]; then
	log "$tag: reused (inputs unchanged) in $((SECONDS - t0))s"
	echo "$tag"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || die "building the node image needs root (debootstrap, chroot)"
if ! command -v debootstrap >/dev/null; then
	command -v apt-get >/dev/null || die "debootstrap is missing (install it)"
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null; }
fi

# mirror: the Debian URI of this machine's apt sources (the same rules as
# scripts/images/build.sh: deb822 stanzas first, then one-line sources).
mirror() {
	if [[ -n ${NOVADEV_DEBIAN_MIRROR:-} ]]; then
		echo "$NOVADEV_DEBIAN_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		uri=$(awk -v s="$suite" 'BEGIN{RS=""} $0 ~ ("Suites:[^\n]*(^|[ \t])" s "([ \t\n]|$)") { if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		uri=$(awk -v s="$suite" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1)==s) { print $i; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	die "no Debian $suite mirror found in /etc/apt/sources.list*; set NOVADEV_DEBIAN_MIRROR"
}

work=$cache/kind-node/work
rootfs=$work/rootfs
# drop_work: remove the work tree; a failed debootstrap can leave /proc or
# /sys mounted inside it, and rm must never walk into those.
drop_work() {
	local m
	[[ -e $work ]] || return 0
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v r="$work/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf --one-file-system "$work"
}
mkdir -p "$cache/kind-node"
exec 8>"$cache/kind-node/.lock"
flock 8
drop_work
debootstrap_pid=
# (|| true: under set -e a failing command would end the trap before drop_work)
trap '{ [[ -z $debootstrap_pid ]] || kill "$debootstrap_pid" 2>/dev/null || true; }; wait || true; drop_work' EXIT
mkdir -p "$work"

# 1. The root filesystem (network-bound) while the Go builds (CPU-bound) run.
# debootstrap's result is kept as a tarball keyed by suite, packages and
# mirror, so changing the rest of the recipe does not fetch Debian again.
m=$(mirror)
rootfs_tar=$cache/kind-node/rootfs-$(printf '%s\n' "$suite" "${packages[*]}" "$m" | sha256sum | cut -c1-12).tar
(
	s=$SECONDS
	mkdir -p "$rootfs"
	if [[ -f $rootfs_tar ]]; then
		tar --numeric-owner -C "$rootfs" -xf "$rootfs_tar"
	else
		IFS=,
		debootstrap --variant=minbase --include="${packages[*]}" "$suite" "$rootfs" "$m" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
		rm -f "$cache"/kind-node/rootfs-*.tar
		tar --numeric-owner -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv -f "$rootfs_tar.tmp" "$rootfs_tar"
	fi
	echo "$((SECONDS - s))" >"$work/debootstrap.seconds"
) &
debootstrap_pid=$!
if [[ -f $rootfs_tar ]]; then
	log "root filesystem from $rootfs_tar (in the background)"
else
	log "debootstrap $suite from $m (in the background)"
fi

bins=$(NOVADEV_REBUILD= "$here/gobins.sh" kube coredns crictl pause)
bin() { awk -v s="$1" '$1 == s { print $2 }' <<<"$bins"; }
kube=$(bin kube)
phase "Go binaries ready"

kind_dir=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$kind_version" | awk -F'"' '$2 == "Dir" { print $4 }')
kind_files=$kind_dir/images/base/files
[[ -d $kind_files ]] || die "kind's node files not found at $kind_files"

# The images kubeadm will run, and the pins they must match.
mapfile -t images < <("$kube/kubeadm" config images list --kubernetes-version "$kube_version" 2>/dev/null)
((${#images[@]} >= 7)) || die "kubeadm config images list printed ${#images[*]} images: ${images[*]}"
image_for() { printf '%s\n' "${images[@]}" | awk -v n="$1" '{ r = $0; sub(/:[^:]*$/, "", r); k = r; sub(/.*\//, "", k); if (k == n) print }'; }
etcd_tag=$(image_for etcd) coredns_tag=$(image_for coredns) pause_tag=$(image_for pause)
etcd_pin=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$root/hack/etcd/go.mod")
coredns_pin=$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$root/hack/coredns/go.mod")
[[ ${etcd_tag##*:} == "${etcd_pin#v}-0" ]] || die "kubeadm $kube_version runs $etcd_tag, hack/etcd pins $etcd_pin: bump hack/etcd"
[[ ${coredns_tag##*:} == "$coredns_pin" ]] || die "kubeadm $kube_version runs $coredns_tag, hack/coredns pins $coredns_pin: bump hack/coredns"
# hack/coredns links only the plugins kubeadm's Corefile names: a Kubernetes
# bump whose Corefile names another one must fail here, not as a CoreDNS pod
# in CrashLoopBackOff ("unknown directive").
corefile=$("$kube/kubeadm" init phase addon coredns --print-manifest --kubernetes-version "$kube_version" 2>/dev/null |
	awk '/Corefile: \|/ { f = 1; next } f && /^    \}/ { exit } f && /^        [a-z]/ { print $1 }' | LC_ALL=C sort -u)
[[ -n $corefile ]] || die "kubeadm init phase addon coredns --print-manifest printed no Corefile"
linked=$("$(bin coredns)/coredns" -plugins | awk 'NF { print $1 }' | LC_ALL=C sort -u) # one name a line
missing=$(LC_ALL=C comm -23 <(echo "$corefile") <(echo "$linked") | tr '\n' ' ')
[[ -z ${missing// /} ]] || die "kubeadm $kube_version's Corefile names plugins hack/coredns does not link: ${missing% }: import them in hack/coredns/main.go"
log "CoreDNS links every plugin of kubeadm's Corefile: ${corefile//$'\n'/ }"

if ! wait "$debootstrap_pid"; then
	die "debootstrap failed (log above; $work/debootstrap.log)"
fi
phase "root filesystem ready (debootstrap or unpack took $(cat "$work/debootstrap.seconds")s)"

R=$rootfs
# 2. kind's node files, as kind's images/base/Dockerfile lays them out.
install -m 0755 "$kind_files"/usr/local/bin/* "$R/usr/local/bin/"
mkdir -p "$R/kind/bin" "$R/kind/images" "$R/kind/manifests" "$R/etc/containerd" "$R/etc/default" \
	"$R/etc/sysctl.d" "$R/etc/systemd/system/kubelet.service.d" "$R/etc/kubernetes/manifests" "$R/LICENSES"
install -m 0644 "$kind_files"/kind/*.txt "$R/kind/" 2>/dev/null || true
install -m 0755 "$kind_files"/kind/bin/* "$R/kind/bin/"
install -m 0644 "$kind_files"/LICENSES/* "$R/LICENSES/"
install -m 0644 "$kind_files"/etc/crictl.yaml "$R/etc/"
install -m 0644 "$kind_files"/etc/default/* "$R/etc/default/"
install -m 0644 "$kind_files"/etc/sysctl.d/* "$R/etc/sysctl.d/"
for f in "$kind_files"/etc/systemd/system/*; do
	[[ -f $f ]] || continue
	# fuse-overlayfs serves rootless nodes only and is not in Debian's containerd.
	[[ $(basename "$f") == containerd-fuse-overlayfs.service ]] && continue
	install -m 0644 "$f" "$R/etc/systemd/system/"
done
install -m 0644 "$kind_files"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
# kind's containerd config is written for containerd 2 with fuse-overlayfs;
# Debian's is 1.6: no proxy snapshotter, the pause tag kubeadm asks for, and
# the CNI plugins where Debian puts them.
awk '/^\[proxy_plugins\]/ { skip = 1 } /^\[plugins/ { skip = 0 } !skip' "$kind_files/etc/containerd/config.toml" |
	sed -E "s#^( *sandbox_image = ).*#\1\"$pause_tag\"#" >"$R/etc/containerd/config.toml"
grep -q "sandbox_image = \"$pause_tag\"" "$R/etc/containerd/config.toml" || die "kind's containerd config has no sandbox_image line to pin"
cat >>"$R/etc/containerd/config.toml" <<EOF

# novadev: Debian's containernetworking-plugins live in /usr/lib/cni.
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
EOF
rm -rf "$R/opt/cni/bin" && mkdir -p "$R/opt/cni" && ln -s /usr/lib/cni "$R/opt/cni/bin"
# The base runtime spec, generated exactly as kind's Dockerfile does.
chroot "$R" ctr oci spec |
	chroot "$R" jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
	chroot "$R" jq 'del(.process.rlimits)' >"$R/etc/containerd/cri-base.json"

# 3. What this image adds.
cp -a "$here/files/." "$R/"
chmod 0755 "$R"/kind/bin/*.sh

# 4. Binaries.
for b in kubelet kubeadm kubectl; do install -m 0755 "$kube/$b" "$R/usr/bin/$b"; done
install -m 0755 "$(bin crictl)/crictl" "$R/usr/bin/crictl"
printf '%s' "$kube_version" >"$R/kind/version"

# 5. Control-plane images: FROM scratch, one layer each, built by the local
# engine and saved as one docker archive (tags exactly as kubeadm prints).
img=$work/images
# base_dir DIR: the files every image gets (root user, CA bundle, /tmp).
base_dir() {
	mkdir -p "$1/etc/ssl/certs" "$1/tmp" "$1/usr/local/bin" "$1/var/run"
	chmod 1777 "$1/tmp"
	echo 'root:x:0:0:root:/root:/sbin/nologin' >"$1/etc/passwd"
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >>"$1/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$1/etc/group"
	echo 'hosts: files dns' >"$1/etc/nsswitch.conf"
	cp -L "$R/etc/ssl/certs/ca-certificates.crt" "$1/etc/ssl/certs/"
}
# mkimage NAME TAG ENTRYPOINT-JSON [USER]: docker build of $img/NAME.
mkimage() {
	local d=$img/$1
	{
		echo 'FROM scratch'
		echo 'COPY . /'
		echo 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin'
		[[ -n ${4:-} ]] && echo "USER $4"
		echo "ENTRYPOINT $3"
	} >"$d/Dockerfile"
	echo Dockerfile >"$d/.dockerignore"
	local out
	out=$(docker build -q -t "$2" "$d" 2>&1) || { printf '%s\n' "$out" >&2; die "docker build of $2 failed"; }
}
built_tags=()
for c in kube-apiserver kube-controller-manager kube-scheduler; do
	base_dir "$img/$c"
	install -m 0755 "$kube/$c" "$img/$c/usr/local/bin/"
	mkimage "$c" "$(image_for "$c")" "[\"/usr/local/bin/$c\"]"
	built_tags+=("$(image_for "$c")")
done
base_dir "$img/etcd"
install -m 0755 "$kube/etcd" "$img/etcd/usr/local/bin/"
mkdir -p "$img/etcd/var/lib/etcd"
mkimage etcd "$etcd_tag" '["/usr/local/bin/etcd"]'
built_tags+=("$etcd_tag")
# kube-proxy programs iptables: it needs the xtables tools and the libraries
# they load, taken from the node's own root filesystem (same glibc), and
# kube-proxy/iptables-wrapper (run by the node's dash) to pick the backend
# the node uses, as the upstream image does.
d=$img/kube-proxy
base_dir "$d"
install -m 0755 "$kube/kube-proxy" "$d/usr/local/bin/"
mkdir -p "$d/bin" "$d/usr/sbin" "$d/usr/lib/x86_64-linux-gnu/xtables" "$d/run" "$d/var/lib/kube-proxy" "$d/lib/modules"
cp -L "$R/usr/sbin/xtables-nft-multi" "$R/usr/sbin/xtables-legacy-multi" "$d/usr/sbin/"
cp -L "$R/bin/dash" "$d/bin/sh"
install -m 0755 "$here/kube-proxy/iptables-wrapper" "$d/usr/sbin/iptables-wrapper"
cp -a "$R/usr/lib/x86_64-linux-gnu/xtables/." "$d/usr/lib/x86_64-linux-gnu/xtables/"
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
	ln -sf iptables-wrapper "$d/usr/sbin/$t"
	ln -sf xtables-nft-multi "$d/usr/sbin/${t/tables/tables-nft}"
	ln -sf xtables-legacy-multi "$d/usr/sbin/${t/tables/tables-legacy}"
done
for f in "$d"/bin/sh "$d"/usr/sbin/xtables-*-multi "$d"/usr/lib/x86_64-linux-gnu/xtables/*.so; do
	chroot "$R" ldd "/${f#"$d"/}" 2>/dev/null | awk '/=>/ { print $3 } $1 ~ /^\// { print $1 }' | grep '^/'
done | sort -u | while read -r l; do
	mkdir -p "$d$(dirname "$l")"
	cp -L "$R$l" "$d$l"
done
mkimage kube-proxy "$(image_for kube-proxy)" '["/usr/local/bin/kube-proxy"]'
built_tags+=("$(image_for kube-proxy)")
# CoreDNS binds port 53: as root, like kubeadm's manifest expects of an image
# without file capabilities.
base_dir "$img/coredns"
install -m 0755 "$(bin coredns)/coredns" "$img/coredns/coredns"
mkimage coredns "$coredns_tag" '["/coredns"]' 0
built_tags+=("$coredns_tag")
mkdir -p "$img/pause"
install -m 0755 "$(bin pause)/pause" "$img/pause/pause"
mkimage pause "$pause_tag" '["/pause"]' 65535:65535
built_tags+=("$pause_tag")
docker save "${built_tags[@]}" >"$R/kind/images/control-plane.tar"
# The tags served only to save them; the engine need not keep registry.k8s.io
# names that no registry gave it.
docker rmi "${built_tags[@]}" >/dev/null 2>&1 || true
phase "control-plane images saved ($(du -h "$R/kind/images/control-plane.tar" | cut -f1))"

# 6. systemd, as kind's images/base/Dockerfile configures it.
find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
	"$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
	"$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
grep -q '^ReadKMsg=no' "$R/etc/systemd/journald.conf" || echo 'ReadKMsg=no' >>"$R/etc/systemd/journald.conf"
ln -sf /lib/systemd/systemd "$R/sbin/init"
chroot "$R" systemctl enable kubelet.service containerd.service undo-mount-hacks.service novadev-import-images.service >/dev/null 2>&1
chroot "$R" systemctl mask systemd-binfmt.service >/dev/null 2>&1
# kind's entrypoint writes a fresh machine-id per node.
rm -f "$R/etc/machine-id" && touch "$R/etc/machine-id"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/*

# 7. The image.
old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
tar --numeric-owner -C "$R" -c . | docker import \
	-c "LABEL $label=$hash" \
	-c "LABEL io.novadev.kind-node.kubernetes=$kube_version io.novadev.kind-node.kind=$kind_version" \
	-c 'ENV container=docker' \
	-c 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
	- "$tag" >/dev/null
new=$(docker image inspect -f '{{.Id}}' "$tag")
[[ -n $old && $old != "$new" ]] && docker rmi "$old" >/dev/null 2>&1 || true
phase "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
log "$tag: built in $((SECONDS - t0))s"
echo "$tag"
