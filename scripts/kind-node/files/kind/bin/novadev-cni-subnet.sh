#!/bin/bash
# Keeps the static bridge CNI's subnet inside the cluster's pod subnet. kind
# writes /kind/kubeadm.conf (with networking.podSubnet) before kubeadm starts
# kubelet; this runs before each kubelet start and points host-local at the
# first /24 of that subnet, which kube-controller-manager (node CIDR mask 24)
# gives the first node. Leaves the file alone for IPv6, prefixes longer than
# /24, or anything it does not understand.
set -euo pipefail
conf=/kind/kubeadm.conf
cni=/etc/cni/net.d/10-novadev-bridge.conflist
[[ -f $conf && -f $cni ]] || exit 0
subnet=$(awk '$1 == "podSubnet:" { gsub(/"/, "", $2); print $2; exit }' "$conf")
[[ $subnet =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)/([0-9]+)$ ]] || exit 0
a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]} d=${BASH_REMATCH[4]} p=${BASH_REMATCH[5]}
((p <= 24)) || exit 0
ip=$(((a << 24) | (b << 16) | (c << 8) | d))
net=$((ip & ((0xffffffff << (32 - p)) & 0xffffffff)))
first="$((net >> 24 & 255)).$((net >> 16 & 255)).$((net >> 8 & 255)).0/24"
grep -q "\"subnet\": \"$first\"" "$cni" && exit 0
sed -i -E "s#\"subnet\": \"[0-9./]+\"#\"subnet\": \"$first\"#" "$cni"
echo "novadev: pod subnet $subnet: bridge CNI uses $first"
