#!/bin/bash
# Imports the control-plane images shipped in /kind/images into containerd's
# k8s.io namespace, before kubelet starts: the offline node image cannot pull
# them. Each is then labelled pinned, so the kubelet's image garbage
# collection never removes one (containerd 1.6's ctr import has no --label).
set -euo pipefail
marker=/var/lib/novadev-images-imported
[[ -f $marker ]] && exit 0
for _ in $(seq 1 60); do
	ctr version >/dev/null 2>&1 && break
	sleep 0.5
done
for f in /kind/images/*.tar; do
	ctr -n k8s.io images import --all-platforms "$f"
done
for ref in $(ctr -n k8s.io images ls -q | grep '^registry.k8s.io/'); do
	ctr -n k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
done
touch "$marker"
