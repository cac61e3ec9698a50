#!/bin/bash
# Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE. A node started on
# an engine whose bounding set lacks it (see docs/kind.md, "Host workarounds")
# cannot give containers the negative scores containerd asks for, and every
# pod sandbox would fail; containerd's restrict_oom_score_adj (what kind turns
# on for rootless nodes) clamps them instead. Decided at each boot from this
# node's own bounding set, so the image behaves as kind's on a normal host.
set -euo pipefail
bnd=$((16#$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)))
if ((bnd >> 24 & 1)); then
	exit 0
fi
echo "novadev: CAP_SYS_RESOURCE missing from the bounding set: containerd restrict_oom_score_adj = true"
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml
