#!/usr/bin/env bash
# smoke.sh: prove an offline kind node image works, end to end, and time it.
#
#   scripts/kind-node/smoke.sh [IMAGE]     IMAGE defaults to the tag build.sh prints
#
# Creates a throwaway kind cluster (name NOVADEV_SMOKE_CLUSTER, default
# novadev-node-smoke) from IMAGE with the rendered kind/cluster.yaml, then
# checks: every node Ready; CoreDNS rolled out; a locally built image
# (novadev/placeholder:dev, loaded with `kind load docker-image`) runs as a
# Deployment whose gRPC readiness probe passes; a Job running
# novadev/novadev:dev reaches it by its Service's cluster DNS name
# (`novadev wait grpc://hello.default.svc.cluster.local:50051`: CoreDNS and
# kube-proxy). Deletes the cluster on the way out, whatever happened.
#
# kind is the version go.mod pins (sigs.k8s.io/kind), built once into the
# cache; the kubeconfig is a temporary file (~/.kube/config is not touched).
# The cluster publishes kind/cluster.yaml's host ports (127.0.0.1:20080): run
# it under the e2e lock, `flock /tmp/novadev-e2e.lock scripts/kind-node/smoke.sh`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${NOVADEV_CACHE:-$HOME/.cache/novadev}
name=${NOVADEV_SMOKE_CLUSTER:-novadev-node-smoke}
config=$root/kind/cluster.yaml

log() { printf 'smoke: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

image=${1:-$("$here/build.sh")}
kind_version=$(awk '($1 == "sigs.k8s.io/kind") { print $2; exit } ($1 == "require" && $2 == "sigs.k8s.io/kind") { print $3; exit }' "$root/go.mod")
kind=$cache/bin/kind-$kind_version/kind
if [[ ! -x $kind ]]; then
	log "building kind $kind_version"
	GOBIN=$cache/bin/kind-$kind_version CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "sigs.k8s.io/kind@$kind_version"
fi
kubectl=$("$here/gobins.sh" kube | awk '{ print $2 }')/kubectl
for img in novadev/placeholder:dev novadev/novadev:dev; do
	docker image inspect "$img" >/dev/null 2>&1 || die "$img is missing (scripts/images/build.sh placeholder novadev)"
done

tmp=$(mktemp -d)
export KUBECONFIG=$tmp/kubeconfig
cleanup() {
	local s=$SECONDS
	"$kind" delete cluster --name "$name" >/dev/null 2>&1 || true
	log "delete: $((SECONDS - s))s"
	rm -rf "$tmp"
}
trap cleanup EXIT
# A run killed before its cleanup leaves its cluster behind; it is ours.
"$kind" delete cluster --name "$name" >/dev/null 2>&1 || true
k() { "$kubectl" "$@"; }
timed() { # timed LABEL CMD...: run, log its time, fail with LABEL
	local label=$1 s=$SECONDS
	shift
	"$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; die "$label"; }
	log "$label: $((SECONDS - s))s"
}

total=$SECONDS
timed "create cluster $name ($image, kind $kind_version)" "$kind" create cluster --name "$name" --image "$image" --config "$config" --kubeconfig "$KUBECONFIG"
timed "nodes Ready" k wait node --all --for=condition=Ready --timeout=180s
timed "CoreDNS rolled out" k -n kube-system rollout status deployment/coredns --timeout=180s
timed "kind load docker-image (2 images)" "$kind" load docker-image --name "$name" novadev/placeholder:dev novadev/novadev:dev
k apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, labels: {app: hello}}
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: novadev/placeholder:dev
        imagePullPolicy: Never
        env:
        - {name: NOVA_SERVICE, value: hello}
        - {name: GRPC_PORT, value: "50051"}
        - {name: METRICS_PORT, value: "9090"}
        ports: [{containerPort: 50051, name: grpc}]
        readinessProbe: {grpc: {port: 50051}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{name: grpc, port: 50051, targetPort: 50051}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: reach-hello}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: wait
        image: novadev/novadev:dev
        imagePullPolicy: Never
        args: [wait, --timeout, 60s, "grpc://hello.default.svc.cluster.local:50051"]
EOF
timed "placeholder Deployment Available (gRPC readiness probe)" k rollout status deployment/hello --timeout=120s
timed "Job reached hello.default.svc.cluster.local:50051" k wait job/reach-hello --for=condition=complete --timeout=120s
k logs job/reach-hello >&2 || true
log "kube-system: $(k -n kube-system get pods --no-headers | awk '{ print $1 "=" $3 }' | tr '\n' ' ')"
log "kube-proxy: $(k -n kube-system logs daemonset/kube-proxy 2>&1 | grep -ciE "error|fail") error lines; iptables backend $(docker exec "$name-control-plane" sh -c "cat /proc/\$(pgrep -xo kube-proxy)/root/run/novadev-iptables-mode" 2>/dev/null || echo unknown)"
log "PASS in $((SECONDS - total))s (before delete)"
