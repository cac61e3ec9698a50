#!/usr/bin/env bash
# bench.sh: wall-clock benchmark of the full stack on Docker (make bench runs
# it after the Go benchmarks). For each of BENCH_RUNS runs (default 3):
#
#   novadev: down --volumes (untimed reset), then timed
#            cold up   (nothing exists: every container, volume, bootstrap)
#            warm up   (everything already runs: nothing to change)
#            down --volumes
#   compose: when docker compose v2 is available (scripts/compose-v2.sh builds
#            and installs it), the same stack from the rendered compose file:
#            cold `up -d --wait`, warm `up -d --wait`, `down -v`.
#
# It prints every run and the medians, the supervisor's critical-path lower
# bound (the sum of each node's own time along the longest chain, from
# `novadev up -o json`'s summary line) and the issue's aims. Raw logs and a
# results.tsv go to BENCH_OUT (default: a new temp dir).
#
#   snapshot: (BENCH_SNAPSHOT=1) a pull-request instance of BENCH_SNAP_ENV
#            (default pr, from ci's offline images) ready from scratch
#            (snap-bench-s: every store created empty, all six bootstraps)
#            and from a store snapshot (snap-bench-f: up --from-snapshot,
#            the bootstraps proven and skipped), side by side in each run;
#            the snapshot is saved once, untimed, from snap-bench-base,
#            which is then taken down (the snapshot outlives it).
#
# Knobs: BENCH_RUNS=3, BENCH_ENV=ci, BENCH_COMPOSE=auto|0 (0: skip compose),
# BENCH_NOVADEV=1|0 (0: compose only), BENCH_SNAPSHOT=1|0, BENCH_SNAP_ENV=pr,
# BENCH_OUT=dir.
#
# Needs what `make up` installs (Docker engine, offline images) plus, for the
# comparison, compose v2 (built here by scripts/compose-v2.sh when missing,
# several minutes cold). Everything publishes on 127.0.0.1 only. It tears the
# environment's project down before and after: do not point it at a stack
# you are using.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${BENCH_RUNS:-3}
env=${BENCH_ENV:-ci}
want_compose=${BENCH_COMPOSE:-auto}
want_novadev=${BENCH_NOVADEV:-1}
want_snapshot=${BENCH_SNAPSHOT:-1}
snap_env=${BENCH_SNAP_ENV:-pr}
out=${BENCH_OUT:-$(mktemp -d -t novadev-bench.XXXXXX)}
mkdir -p "$out"
novadev=bin/novadev

if [[ $env == local ]]; then file=compose/docker-compose.yaml; else file=compose/docker-compose.$env.yaml; fi
project=$(awk '$1 == "name:" { print $2; exit }' "$file")
[[ -n $project ]] || { echo "bench: no project name in $file" >&2; exit 1; }

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# --- prerequisites, as make up installs them -------------------------------
scripts/install-docker.sh >&2
scripts/images/build.sh >&2
make --no-print-directory build >&2

compose=0
if [[ $want_compose != 0 ]]; then
	if ! docker compose version >/dev/null 2>&1; then
		log "docker compose v2 missing: building it (scripts/compose-v2.sh)"
		scripts/compose-v2.sh >&2 || log "compose v2 build failed: no comparison"
	fi
	if docker compose version >/dev/null 2>&1; then
		compose=1
	else
		log "docker compose v2 not available: novadev figures only"
	fi
fi

dc() { docker compose -p "$project" -f "$file" "$@"; }

# leftovers prints how many containers, networks and volumes still carry the
# project's label.
leftovers() {
	local f=label=com.docker.compose.project=$project
	echo $(($(docker ps -aq --filter "$f" | wc -l) + $(docker network ls -q --filter "$f" | wc -l) + $(docker volume ls -q --filter "$f" | wc -l)))
}

# summary FIELD LOG: a field of the JSON summary line of `novadev up -o json`.
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

reset() {
	if [[ $compose == 1 ]]; then dc down -v --remove-orphans >/dev/null 2>&1 || true; fi
	"$novadev" down --env "$env" --volumes >/dev/null 2>&1 || true
	[[ $(leftovers) == 0 ]] || die "project $project still has labelled objects after down"
}

declare -a n_cold=() n_warm=() n_down=() n_sup=() n_crit=() n_changed=() c_cold=() c_warm=() c_down=() loads=() failures=()
declare -a s_scratch=() s_from=() s_skipped=() s_boot_scratch=() s_boot_from=()
# bootsecs LOG: the summed own time of the bootstrap nodes in up -o json's summary.
bootsecs() {
	grep '^{"type":"summary"' "$1" | tail -n 1 | grep -o '"kind":"bootstrap","action":"[a-z]*","status":"[a-z]*","seconds":[0-9.]*' |
		sed 's/.*"seconds"://' | awk '{ s += $1 } END { printf "%.2f\n", s }'
}
results=$out/results.tsv
printf 'run\ttool\tphase\tseconds\tresult\tload1\n' >"$results"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

# phase TOOL PHASE ARRAY CMD...: times CMD (run $i), appends the seconds to
# ARRAY and results.tsv; a failure is recorded with its time (not fatal,
# left out of ARRAY and so of the medians) and returns 1.
phase() {
	local tool=$1 ph=$2 l s logf
	local -n into=$3
	shift 3
	logf=$out/$tool-$ph-$i.log
	l=$(loadavg)
	loads+=("$l")
	if s=$(timed "$logf" "$@"); then
		into+=("$s")
		record "$i" "$tool" "$ph" "$s" ok "$l"
		return 0
	fi
	record "$i" "$tool" "$ph" "$s" fail "$l"
	failures+=("run $i $tool $ph after ${s}s: $(grep -v '^[[:space:]]*$' "$logf" | tail -n 1 | cut -c1-160)")
	return 1
}

# snap ARGS...: novadev on the snapshot benchmark's environment (pr runs
# from ci's offline images here).
snap() { NOVADEV_IMAGES_FROM=ci "$novadev" --env "$snap_env" "$@"; }
snap_reset() {
	for in in snap-bench-s snap-bench-f snap-bench-base; do snap --instance "$in" down --volumes >/dev/null 2>&1 || true; done
}
snap_cleanup() {
	snap_reset
	"$novadev" snapshot rm snap-bench >/dev/null 2>&1 || true
}

log "project $project from $file; $runs runs; logs in $out"
trap 'reset; if [[ $want_snapshot == 1 ]]; then snap_cleanup; fi' EXIT
if [[ $want_novadev == 1 || $compose == 1 ]]; then
	log "priming run (not measured): images into the page cache, credentials into compose/.env"
	reset
	"$novadev" up --env "$env" >"$out/prime.log" 2>&1 || { tail -n 30 "$out/prime.log" >&2; die "priming novadev up failed"; }
	reset
fi
if [[ $want_snapshot == 1 ]]; then
	log "snapshot benchmark: saving snapshot snap-bench from snap-bench-base ($snap_env; not measured)"
	snap_cleanup
	snap --instance snap-bench-base up --ttl 2h >"$out/snap-base.log" 2>&1 || { tail -n 30 "$out/snap-base.log" >&2; die "snap-bench-base up failed"; }
	t0=$EPOCHREALTIME
	snap --instance snap-bench-base snapshot save snap-bench >"$out/snap-save.log" 2>&1 || { tail -n 30 "$out/snap-save.log" >&2; die "snapshot save failed"; }
	snap_save=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	log "$(cat "$out/snap-save.log") in ${snap_save}s"
	snap --instance snap-bench-base down --volumes >/dev/null 2>&1
fi

path=""
for ((i = 1; i <= runs; i++)); do
	if [[ $want_novadev == 1 ]]; then
		reset
		if phase novadev cold-up n_cold "$novadev" up --env "$env" -o json; then
			j=$out/novadev-cold-up-$i.log
			n_sup+=("$(summary seconds "$j")")
			n_crit+=("$(summary critical "$j")")
			path=$(summary path "$j")
			log "run $i novadev cold up: ${n_cold[-1]}s (supervisor ${n_sup[-1]}s, critical path ${n_crit[-1]}s over $(summary nodes "$j") nodes)"
			if phase novadev warm-up n_warm "$novadev" up --env "$env" -o json; then
				n_changed+=("$(summary changed "$out/novadev-warm-up-$i.log")")
				log "run $i novadev warm up: ${n_warm[-1]}s (${n_changed[-1]} nodes changed)"
			fi
		fi
		if phase novadev down n_down "$novadev" down --env "$env" --volumes; then
			log "run $i novadev down: ${n_down[-1]}s"
		fi
		left=$(leftovers)
		[[ $left == 0 ]] || die "novadev down --volumes left $left labelled objects"
	fi
	if [[ $compose == 1 ]]; then
		reset
		if phase compose cold-up c_cold dc up -d --wait; then
			log "run $i compose cold up: ${c_cold[-1]}s"
			if phase compose warm-up c_warm dc up -d --wait; then
				log "run $i compose warm up: ${c_warm[-1]}s"
			fi
		fi
		if phase compose down c_down dc down -v; then
			log "run $i compose down: ${c_down[-1]}s"
		fi
		left=$(leftovers)
		[[ $left == 0 ]] || die "docker compose down -v left $left labelled objects"
	fi
	if [[ $want_snapshot == 1 ]]; then
		snap_reset
		if phase snapshot scratch s_scratch snap --instance snap-bench-s up --ttl 2h -o json; then
			s_boot_scratch+=("$(bootsecs "$out/snapshot-scratch-$i.log")")
			log "run $i PR instance from scratch: ${s_scratch[-1]}s (bootstraps ${s_boot_scratch[-1]}s)"
		fi
		snap --instance snap-bench-s down --volumes >/dev/null 2>&1 || true
		if phase snapshot from-snapshot s_from snap --instance snap-bench-f up --ttl 2h --from-snapshot snap-bench -o json; then
			s_skipped+=("$(grep '^{"type":"summary"' "$out/snapshot-from-snapshot-$i.log" | grep -o '"detail":"from snapshot snap-bench"' | wc -l)")
			s_boot_from+=("$(bootsecs "$out/snapshot-from-snapshot-$i.log")")
			log "run $i PR instance from snapshot snap-bench: ${s_from[-1]}s (${s_skipped[-1]} bootstraps skipped; bootstraps ${s_boot_from[-1]}s)"
		fi
		snap --instance snap-bench-f down --volumes >/dev/null 2>&1 || true
	fi
done
reset
if [[ $want_snapshot == 1 ]]; then snap_cleanup; fi
trap - EXIT

# --- report -----------------------------------------------------------------
row() { printf '%-28s %8s   %s\n' "$1" "$2" "$3"; }
echo
echo "== full stack benchmark: project $project ($file), $runs runs, $(nproc) cores"
echo "   docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null); load average (1 min) during the runs: $(median "${loads[@]}") median, $(printf '%s\n' "${loads[@]}" | sort -g | head -n1)-$(printf '%s\n' "${loads[@]}" | sort -g | tail -n1)"
row "" "median" "runs (seconds)"
if [[ $want_novadev == 1 ]]; then
	row "novadev up (cold)" "$(median "${n_cold[@]}")" "${n_cold[*]}"
	row "  supervisor's own total" "$(median "${n_sup[@]}")" "${n_sup[*]}"
	row "  critical path" "$(median "${n_crit[@]}")" "${n_crit[*]}"
	row "novadev up (warm)" "$(median "${n_warm[@]}")" "${n_warm[*]}   (nodes changed: ${n_changed[*]})"
	row "novadev down --volumes" "$(median "${n_down[@]}")" "${n_down[*]}"
fi
if [[ $compose == 1 ]]; then
	row "compose up -d --wait (cold)" "$(median "${c_cold[@]}")" "${c_cold[*]}"
	row "compose up -d --wait (warm)" "$(median "${c_warm[@]}")" "${c_warm[*]}"
	row "compose down -v" "$(median "${c_down[@]}")" "${c_down[*]}"
fi
if [[ $want_novadev == 1 ]]; then
	echo "critical path (last cold run): $path"
	cold=$(median "${n_cold[@]}") crit=$(median "${n_crit[@]}") warm=$(median "${n_warm[@]}") down=$(median "${n_down[@]}") ccold=-
	if [[ $compose == 1 ]]; then ccold=$(median "${c_cold[@]}"); fi
	# aim TEXT A OP B: met / NOT met, or n/a when a figure is missing.
	aim() {
		if [[ $2 == - || $4 == - ]]; then
			echo "  n/a      $1 (no figure)"
		elif awk -v a="$2" -v b="$4" "BEGIN { exit !(a $3 b) }"; then
			echo "  met      $1"
		else
			echo "  NOT met  $1"
		fi
	}
	ratio() { if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; fi; }
	echo "aims (medians):"
	aim "cold up <= 1/2 of compose's cold up ($cold s vs $ccold s: $(ratio "$cold" "$ccold")x)" "$(ratio "$cold" "$ccold")" "<=" 0.5
	aim "cold up <= 1.2x critical path ($cold s vs $crit s: $(ratio "$cold" "$crit")x)" "$(ratio "$cold" "$crit")" "<=" 1.2
	aim "warm up < 1 s ($warm s)" "$warm" "<" 1
	aim "down < 5 s ($down s)" "$down" "<" 5
fi
if [[ $want_snapshot == 1 ]]; then
	echo "PR instance ($snap_env, NOVADEV_IMAGES_FROM=ci), ready (up returns: every node proven ready):"
	row "  from scratch" "$(median "${s_scratch[@]}")" "${s_scratch[*]}"
	row "  from snapshot snap-bench" "$(median "${s_from[@]}")" "${s_from[*]}   (bootstraps skipped: ${s_skipped[*]})"
	row "  bootstraps, from scratch" "$(median "${s_boot_scratch[@]}")" "${s_boot_scratch[*]}   (summed own time of the six)"
	row "  bootstraps, from snapshot" "$(median "${s_boot_from[@]}")" "${s_boot_from[*]}   (proofs of the skipped ones, postgres-init, redis-cluster-init)"
	row "  snapshot save (once)" "$snap_save" "$(sed -n 's/.*: \([0-9.]*[KMG]*B*\) in .*/\1/p' "$out/snap-save.log")"
	echo "  from snapshot / from scratch: $(if [[ ${#s_from[@]} -gt 0 && ${#s_scratch[@]} -gt 0 ]]; then awk -v a="$(median "${s_from[@]}")" -v b="$(median "${s_scratch[@]}")" 'BEGIN { printf "%.2fx", a / b }'; else echo -; fi)"
fi
if ((${#failures[@]} > 0)); then
	echo "failed runs (left out of the medians; see the logs):"
	printf '  %s\n' "${failures[@]}"
fi
echo "raw logs and results.tsv: $out"
