#!/usr/bin/env bash
# bench-kind.sh: wall-clock benchmark of the kind target (issue 8), beside
# the Nova Staging Environment Deployment Guide's own procedure on the same
# cluster in the same run. make bench runs it after scripts/bench.sh. For
# each of BENCH_KIND_RUNS runs (default 2), holding the e2e lock for the
# whole run (the catalog's cluster `nova` publishes 127.0.0.1:20080 and the
# registry novadev-registry 127.0.0.1:5005, which other users of the lock
# also create):
#
#   reset          novadev down --cluster --target kind (untimed)
#   cold           novadev up --target kind -o json from no cluster: cluster
#                  create, registry, image pushes, apply, every node proven
#                  ready; with the breakdown from its JSON events
#   warm           the same up again (nothing changed: the goal is < 3 s)
#   down           novadev down --target kind --volumes (namespace gone)
#   guide          on the same cluster, images already in the registry (and
#                  in the node's image store) as novadev pushed them:
#                    kubectl apply -k kind/overlays/dev
#                    kubectl wait --for=condition=available deployment --all
#                    kubectl wait --for=condition=complete job --all
#                    kubectl wait --for=condition=ready pod -l '!job-name'
#                  (the guide's `wait --for=condition=ready pod`, minus the
#                  bootstrap Jobs' pods, which end Succeeded and never Ready:
#                  `pod --all` would time out; and pod waits fail at once on
#                  pods that do not exist yet, so the Deployments go first)
#   guide delete   kubectl delete namespace (waits until it is gone)
#   existing       novadev up --target kind -o json with the cluster and the
#                  images present and the namespace absent: the guide's
#                  counterpart, apples to apples
#   down --cluster novadev down --cluster --target kind
#
# It prints every run, the medians, the load average beside each run and the
# goals (novadev ready sooner than the guide's procedure on the same
# cluster; warm up < 3 s). Raw logs and results.tsv go to BENCH_KIND_OUT
# (default: BENCH_OUT/kind when BENCH_OUT is set, else a new temp dir).
#
# Knobs: BENCH_KIND=0 skips everything; BENCH_KIND_RUNS=2; BENCH_KIND_OUT=dir;
# BENCH_KUBECONFIG=file (default: a file in the output dir, so ~/.kube/config
# is never written); BENCH_KIND_LOCK=/tmp/novadev-e2e.lock.
#
# Needs what `make up TARGET=kind` builds (Docker engine, offline images, the
# offline node image, the registry image) and kubectl, taken from the cache
# scripts/kind-node/gobins.sh fills (built from the module proxy when
# missing). It deletes the catalog's kind cluster before and after: do not
# run it while you use that cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'bench-kind: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

if [[ ${BENCH_KIND:-1} == 0 ]]; then
	log "BENCH_KIND=0: skipped"
	exit 0
fi

runs=${BENCH_KIND_RUNS:-2}
out=${BENCH_KIND_OUT:-${BENCH_OUT:+$BENCH_OUT/kind}}
[[ -n $out ]] || out=$(mktemp -d -t novadev-bench-kind.XXXXXX)
mkdir -p "$out"
lock=${BENCH_KIND_LOCK:-/tmp/novadev-e2e.lock}
export KUBECONFIG=${BENCH_KUBECONFIG:-$out/kubeconfig}
novadev=bin/novadev
overlay=kind/overlays/dev

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# --- prerequisites, as make up TARGET=kind builds them --------------------
scripts/install-docker.sh >&2
scripts/images/build.sh >&2
scripts/kind-node/build.sh >/dev/null
scripts/images/build.sh registry >&2
make --no-print-directory build >&2
kubectl=$(scripts/kind-node/gobins.sh kube | awk '{ print $2 }')/kubectl
[[ -x $kubectl ]] || die "no kubectl at $kubectl (scripts/kind-node/gobins.sh kube builds it)"
k() { "$kubectl" "$@"; }
# The guide applies the rendered overlay from disk: render it (the same
# tree novadev builds in memory) with its credentials.env, which novadev
# writes from compose/.env when missing.
"$novadev" render kind >"$out/render.log" 2>&1 || {
	cat "$out/render.log" >&2
	die "novadev render kind failed"
}
[[ -f $overlay/credentials.env ]] || die "$overlay/credentials.env missing after novadev render kind"

cluster=$(awk '$1 == "name:" { print $2; exit }' kind/cluster.yaml)
ns=$(awk '$1 == "namespace:" { print $2; exit }' "$overlay/kustomization.yaml")
[[ -n $cluster && -n $ns ]] || die "no cluster name in kind/cluster.yaml or no namespace in $overlay/kustomization.yaml"

# nodes prints how many containers carry the cluster's kind label.
nodes() { docker ps -aq --filter "label=io.x-k8s.kind.cluster=$cluster" | wc -l; }
ns_gone() { ! k get namespace "$ns" >/dev/null 2>&1; }

results=$out/results.tsv
printf 'run\ttool\tphase\tseconds\tresult\tload1\n' >"$results"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }
declare -a failures=() loads=() runloads=()

# phase TOOL PHASE ARRAY CMD...: times CMD (run $i), appends the seconds to
# ARRAY and results.tsv and sets phase_t0 to its start (epoch seconds); a
# failure is recorded with its time (not fatal, left out of ARRAY and so of
# the medians) and returns 1.
phase_t0=0
phase() {
	local tool=$1 ph=$2 l s logf
	local -n into=$3
	shift 3
	logf=$out/$tool-$ph-$i.log
	l=$(loadavg)
	loads+=("$l")
	phase_t0=$EPOCHREALTIME
	if s=$(timed "$logf" "$@"); then
		into+=("$s")
		record "$i" "$tool" "$ph" "$s" ok "$l"
		return 0
	fi
	record "$i" "$tool" "$ph" "$s" fail "$l"
	failures+=("run $i $tool $ph after ${s}s: $(grep -v '^[[:space:]]*$' "$logf" | tail -n 1 | cut -c1-160)")
	return 1
}

# --- the JSON summary that up -o json prints -------------------------------
summary() {
	local line
	line=$(grep '^{"type":"summary"' "$2" | tail -n 1)
	case $1 in
	seconds) sed -n 's/^{"type":"summary","seconds":\([0-9.]*\).*/\1/p' <<<"$line" ;;
	critical) sed -n 's/.*"criticalPathSeconds":\([0-9.]*\).*/\1/p' <<<"$line" ;;
	path) sed -n 's/.*"criticalPath":\[\([^]]*\)\].*/\1/p' <<<"$line" | tr -d '"' | sed 's/,/ -> /g' ;;
	nodes) grep -o '"action":"[a-z]*"' <<<"$line" | wc -l ;;
	changed) grep -o '"action":"[a-z]*"' <<<"$line" | grep -vcE '"(keep|skip)"' || true ;;
	esac
}
# epoch RFC3339: seconds since the epoch.
epoch() { date -u -d "$1" +%s.%N; }
# evtime LOG REGEX: the time of the first event line matching REGEX.
evtime() { grep -m1 -E "$2" "$1" | sed -n 's/^{"time":"\([^"]*\)".*/\1/p'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }

# breakdown LOG T0 WALL: one line "cluster images open supervisor critical
# rest" in seconds, from the events of up -o json started at T0 (epoch):
#   cluster     from the start to the cluster created ("cluster ... created
#               in") or, when it was reused, to the first image: process
#               start, catalog, registry container, kind create or health
#               check
#   images      the pushes' own time ("images: ... in Ns"); on a new
#               cluster they run while kind creates it, so cluster and
#               images overlap there
#   open        from the later of the two to the supervisor's start (its
#               last event minus its own total): registry hosting, the
#               addon, kustomize build (cached by inputs), the backend
#               opening its port-forwards
#   supervisor  the supervisor's own total (summary seconds): prepare
#               (ConfigMaps, Secret, RBAC, policies, prune), apply, Jobs,
#               every node proven ready
#   critical    its critical path
#   rest        from its last event to the exit (closing the forwards)
breakdown() {
	local logf=$1 t0=$2 wall=$3 timg tcl tlast img sup crit
	timg=$(evtime "$logf" '"type":"note","detail":"images: ')
	tcl=$(evtime "$logf" '"type":"note","detail":"cluster [^ ]* created in ')
	tlast=$(grep '^{"time":' "$logf" | tail -n 1 | sed -n 's/^{"time":"\([^"]*\)".*/\1/p')
	img=$(grep -m1 '"detail":"images: ' "$logf" | sed -n 's/.* in \([0-9.]*\)s".*/\1/p')
	sup=$(summary seconds "$logf")
	crit=$(summary critical "$logf")
	if [[ -z $timg || -z $tlast || -z $img || -z $sup ]]; then
		echo "- - - - - -"
		return
	fi
	awk -v t0="$t0" -v w="$wall" -v ti="$(epoch "$timg")" -v tc="${tcl:+$(epoch "$tcl")}" -v tl="$(epoch "$tlast")" -v img="$img" -v sup="$sup" -v crit="${crit:--}" 'BEGIN {
		if (tc == "") tc = ti - img
		end = (tc > ti) ? tc : ti
		printf "%.2f %.2f %.2f %.2f %s %.2f\n", tc - t0, img, tl - sup - end, sup, crit, t0 + w - tl
	}'
}

# lock / unlock the e2e lock for one run (fd 9 stays open in between).
exec 9>>"$lock"
lock() {
	log "waiting for $lock"
	flock 9
}
unlock() { flock -u 9; }

cleanup() {
	lock
	"$novadev" down --cluster --target kind >"$out/cleanup.log" 2>&1 || log "cleanup: down --cluster failed (see $out/cleanup.log)"
	unlock
}
trap cleanup EXIT

declare -a c_wall=() c_cl=() c_img=() c_open=() c_sup=() c_crit=() c_rest=()
declare -a w_wall=() w_cl=() w_open=() w_sup=() w_changed=()
declare -a d_wall=() g_apply=() g_wait=() g_total=() g_del=()
declare -a e_wall=() e_cl=() e_img=() e_open=() e_sup=() e_crit=() e_rest=() x_wall=()
declare -a c_path=() e_path=()

# guide_wait: the guide's wait, in the order that works (see the header).
guide_wait() {
	k -n "$ns" wait --for=condition=available deployment --all --timeout=15m &&
		k -n "$ns" wait --for=condition=complete job --all --timeout=15m &&
		k -n "$ns" wait --for=condition=ready pod -l '!job-name' --timeout=15m
}

# up_phase NAME WALLS CL IMG OPEN SUP CRIT REST PATHS: a timed up -o json and its breakdown.
up_phase() {
	local name=$1 b
	local -n walls=$2 cls=$3 imgs=$4 opens=$5 sups=$6 crits=$7 rests=$8 paths=$9
	if phase novadev "$name" walls "$novadev" up --target kind -o json; then
		read -r -a b <<<"$(breakdown "$out/novadev-$name-$i.log" "$phase_t0" "${walls[-1]}")"
		cls+=("${b[0]}") imgs+=("${b[1]}") opens+=("${b[2]}") sups+=("${b[3]}") crits+=("${b[4]}") rests+=("${b[5]}")
		paths+=("$(summary path "$out/novadev-$name-$i.log")")
		record "$i" novadev "$name:cluster+registry" "${b[0]}" ok -
		record "$i" novadev "$name:images" "${b[1]}" ok -
		record "$i" novadev "$name:open" "${b[2]}" ok -
		record "$i" novadev "$name:supervisor" "${b[3]}" ok -
		record "$i" novadev "$name:critical-path" "${b[4]}" ok -
		record "$i" novadev "$name:rest" "${b[5]}" ok -
		log "run $i novadev $name: ${walls[-1]}s (cluster+registry ${b[0]}s, images ${b[1]}s, open ${b[2]}s, supervisor ${b[3]}s, critical path ${b[4]}s)"
		return 0
	fi
	return 1
}

log "cluster $cluster, namespace $ns, $runs runs, kubeconfig $KUBECONFIG, logs in $out"
for ((i = 1; i <= runs; i++)); do
	lock
	runloads+=("$(loadavg)")
	log "run $i: lock held, load $(loadavg); reset: down --cluster"
	"$novadev" down --cluster --target kind >"$out/reset-$i.log" 2>&1 || die "reset failed (see $out/reset-$i.log)"
	[[ $(nodes) == 0 ]] || die "cluster $cluster still has node containers after down --cluster"

	if up_phase cold-up c_wall c_cl c_img c_open c_sup c_crit c_rest c_path; then
		if phase novadev warm-up w_wall "$novadev" up --target kind -o json; then
			wl=$out/novadev-warm-up-$i.log
			read -r -a b <<<"$(breakdown "$wl" "$phase_t0" "${w_wall[-1]}")"
			w_cl+=("$(add "${b[0]}" "${b[1]}")") w_open+=("${b[2]}") w_sup+=("${b[3]}")
			w_changed+=("$(summary changed "$wl")")
			record "$i" novadev "warm-up:cluster+registry+images" "${w_cl[-1]}" ok -
			record "$i" novadev "warm-up:open" "${b[2]}" ok -
			record "$i" novadev "warm-up:supervisor" "${b[3]}" ok -
			log "run $i novadev warm up: ${w_wall[-1]}s (${w_changed[-1]} nodes changed; cluster+registry+images ${w_cl[-1]}s, open ${b[2]}s, supervisor ${b[3]}s)"
		fi
		if phase novadev down d_wall "$novadev" down --target kind --volumes; then
			log "run $i novadev down (--volumes) took ${d_wall[-1]}s"
		fi
		ns_gone || die "namespace $ns still exists after novadev down --volumes"

		# The guide's procedure on the same cluster, images in the registry.
		if phase guide apply g_apply k apply -k "$overlay"; then
			if phase guide wait g_wait guide_wait; then
				g_total+=("$(add "${g_apply[-1]}" "${g_wait[-1]}")")
				record "$i" guide ready "${g_total[-1]}" ok -
				log "run $i guide: apply ${g_apply[-1]}s + wait ${g_wait[-1]}s = ${g_total[-1]}s"
			fi
		fi
		k -n "$ns" get deploy,sts,job,pod -o wide >"$out/guide-state-$i.txt" 2>&1 || true
		# the pods' own timeline (scheduled, init containers, started, Ready)
		k -n "$ns" get pods -o json >"$out/guide-pods-$i.json" 2>&1 || true
		if phase guide delete-namespace g_del k delete namespace "$ns" --wait=true --timeout=10m; then
			log "run $i guide: namespace deleted in ${g_del[-1]}s"
		fi
		ns_gone || die "namespace $ns still exists after kubectl delete namespace"

		up_phase existing-up e_wall e_cl e_img e_open e_sup e_crit e_rest e_path || true
		k -n "$ns" get pods -o json >"$out/existing-pods-$i.json" 2>&1 || true
	fi
	if phase novadev down-cluster x_wall "$novadev" down --cluster --target kind; then
		log "run $i novadev down (--cluster) took ${x_wall[-1]}s"
	fi
	[[ $(nodes) == 0 ]] || die "cluster $cluster still has node containers after down --cluster"
	unlock
done
trap - EXIT

# --- report -----------------------------------------------------------------
row() { printf '%-44s %8s   %s\n' "$1" "$2" "$3"; }
echo
echo "== kind benchmark: cluster $cluster, namespace $ns, $runs runs, $(nproc) cores"
echo "   docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null); load average (1 min) at the start of each run: ${runloads[*]}; before each step: $(median "${loads[@]}") median, $(printf '%s\n' "${loads[@]}" | sort -g | head -n1)-$(printf '%s\n' "${loads[@]}" | sort -g | tail -n1)"
row "" "median" "runs (seconds)"
row "novadev up, cold (no cluster)" "$(median "${c_wall[@]}")" "${c_wall[*]}"
row "  cluster create + registry" "$(median "${c_cl[@]}")" "${c_cl[*]}"
row "  image pushes (6)" "$(median "${c_img[@]}")" "${c_img[*]}"
row "  build + open" "$(median "${c_open[@]}")" "${c_open[*]}"
row "  supervisor (apply + ready)" "$(median "${c_sup[@]}")" "${c_sup[*]}"
row "  critical path" "$(median "${c_crit[@]}")" "${c_crit[*]}"
row "  exit (the rest)" "$(median "${c_rest[@]}")" "${c_rest[*]}"
row "novadev up, warm" "$(median "${w_wall[@]}")" "${w_wall[*]}   (nodes changed: ${w_changed[*]})"
row "  cluster check + registry + images" "$(median "${w_cl[@]}")" "${w_cl[*]}"
row "  build + open" "$(median "${w_open[@]}")" "${w_open[*]}"
row "  supervisor" "$(median "${w_sup[@]}")" "${w_sup[*]}"
row "novadev down --volumes" "$(median "${d_wall[@]}")" "${d_wall[*]}"
row "guide: kubectl apply -k" "$(median "${g_apply[@]}")" "${g_apply[*]}"
row "guide: kubectl wait (deploy, job, pod)" "$(median "${g_wait[@]}")" "${g_wait[*]}"
row "guide: ready (apply + wait)" "$(median "${g_total[@]}")" "${g_total[*]}"
row "guide: kubectl delete namespace" "$(median "${g_del[@]}")" "${g_del[*]}"
row "novadev up, existing cluster" "$(median "${e_wall[@]}")" "${e_wall[*]}"
row "  cluster check + registry" "$(median "${e_cl[@]}")" "${e_cl[*]}"
row "  image checks" "$(median "${e_img[@]}")" "${e_img[*]}"
row "  build + open" "$(median "${e_open[@]}")" "${e_open[*]}"
row "  supervisor (apply + ready)" "$(median "${e_sup[@]}")" "${e_sup[*]}"
row "  critical path" "$(median "${e_crit[@]}")" "${e_crit[*]}"
row "  exit (the rest)" "$(median "${e_rest[@]}")" "${e_rest[*]}"
row "novadev down --cluster" "$(median "${x_wall[@]}")" "${x_wall[*]}"
if ((${#c_path[@]} > 0)); then echo "critical path (last cold run): ${c_path[-1]}"; fi
if ((${#e_path[@]} > 0)); then echo "critical path (last existing-cluster run): ${e_path[-1]}"; fi
existing=$(median "${e_wall[@]}") guide=$(median "${g_total[@]}") warm=$(median "${w_wall[@]}")
# goal TEXT A OP B: met / NOT met, or n/a when a figure is missing.
goal() {
	if [[ $2 == - || $4 == - ]]; then
		echo "  n/a      $1 (no figure)"
	elif awk -v a="$2" -v b="$4" "BEGIN { exit !(a $3 b) }"; then
		echo "  met      $1"
	else
		echo "  NOT met  $1"
	fi
}
echo "goals (medians):"
goal "novadev ready sooner than the guide's procedure on the same cluster ($existing s vs $guide s)" "$existing" "<" "$guide"
goal "warm up < 3 s ($warm s)" "$warm" "<" 3
if ((${#failures[@]} > 0)); then
	echo "failed steps (left out of the medians; see the logs):"
	printf '  %s\n' "${failures[@]}"
fi
echo "raw logs and results.tsv: $out"
