#!/bin/sh
# entrypoint.sh: point iptables at the backend (nft or legacy) the node itself
# uses, then run kube-router. kube-router drives the iptables binaries it finds
# on PATH; rules written to the other backend would sit beside kube-proxy's and
# the kubelet's without anyone noticing. The node's kubelet creates the
# KUBE-IPTABLES-HINT chain in the mangle table of the backend it uses (as the
# upstream kube-proxy image's iptables-wrapper decides); nft when none has it.
set -eu
mode=nft
if iptables-nft -w -t mangle -n -L KUBE-IPTABLES-HINT >/dev/null 2>&1; then
	mode=nft
elif iptables-legacy -w -t mangle -n -L KUBE-IPTABLES-HINT >/dev/null 2>&1; then
	mode=legacy
fi
for t in iptables ip6tables; do
	update-alternatives --quiet --set "$t" "/usr/sbin/$t-$mode"
done
echo "kube-router entrypoint: iptables backend $mode" >&2
exec /usr/local/bin/kube-router "$@"
