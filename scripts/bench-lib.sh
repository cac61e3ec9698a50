# shellcheck shell=bash
# bench-lib.sh: helpers shared by bench.sh and bench-kind.sh (sourced; each
# script defines its own log()).

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# timed LOG CMD...: runs CMD with output to LOG and prints the wall-clock
# seconds, on failure too (then it returns 1 after logging the tail of LOG).
timed() {
	local logf=$1 t0 rc=0
	shift
	t0=$EPOCHREALTIME
	"$@" >"$logf" 2>&1 || rc=$?
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
	if ((rc != 0)); then
		log "failed: $* (log: $logf)"
		tail -n 5 "$logf" >&2
		return 1
	fi
}

# median VALUE...: the median of the numbers given ("-", a run that has no
# figure, is left out; "-" when none is left).
median() {
	printf '%s\n' "$@" | sort -g | awk 'NF && $1 != "-" { a[++n] = $1 } END { if (n == 0) print "-"; else if (n % 2) printf "%.2f\n", a[(n + 1) / 2]; else printf "%.2f\n", (a[n / 2] + a[n / 2 + 1]) / 2 }'
}
