#!/bin/sh
# profile.sh - where flowaudit's time goes, for docs/performance.md.
#
#   sh bench/profile.sh BUILD/flowaudit [PACKETS]
#   sh bench/profile.sh BUILD/flowaudit formats
#
# Runs the full audit (the same command as `make bench`) on the first
# PACKETS (default 50000) packets of the benchmark workload under
# `perf record` when the machine has hardware counters (`perf stat -e
# instructions true` works), else under valgrind's callgrind, and prints
# the top functions, inclusive then self. Output in bench/out/profile/.
# Build with -g (the default CFLAGS have it) so src/ functions are named.
#
# `formats` instead times, on the whole 1x workload, `flowaudit flows`
# (the packet pipeline alone) and `flowaudit audit --format F` for each
# output format F: what each output costs at full size, where a profile of
# a slice cannot tell (costs that grow with the number of findings).
set -e
if [ $# -lt 1 ]; then
	echo "usage: sh bench/profile.sh BUILD/flowaudit [PACKETS]" >&2
	exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
N=${2:-50000}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
OUT=bench/out/profile
mkdir -p "$OUT"

case $N in
formats) slice_opt="" ;;
*[!0-9]* | "")
	echo "profile: PACKETS must be a number or 'formats'" >&2
	exit 2
	;;
*) slice_opt="--slice $N" ;;
esac
# shellcheck disable=SC2086 # slice_opt is empty or two words
meta=$(python3 bench/mkworkload.py bench/out --min-packets "${BENCH_PACKETS:-1000000}" \
	$slice_opt | tail -n 1)
slice=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("slice", {}).get("path", ""))' "$meta")
if [ -f data/geo/country.mmdb ] && [ -f data/geo/asn.mmdb ]; then
	set -- -g data/geo/country.mmdb --asn data/geo/asn.mmdb
else
	set -- --no-geo
fi
rm -rf "$OUT/report"

if [ "$N" = formats ]; then
	w1=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["workloads"]["1x"]["path"])' "$meta")
	echo "profile: each output format alone on $w1"
	t() { # LABEL CMD...: one timed run; flowaudit audit exits 1 on findings
		label=$1
		shift
		/usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$@" >/dev/null 2>"$OUT/err" || true
		tail -n 1 "$OUT/time" | awk -v l="$label" \
			'{ printf "  %-22s %8.1f s wall %8.1f s CPU %8.0f MB\n", l, $1, $2 + $3, $4 / 1024 }'
		rm -rf "$OUT/report"
	}
	t "flows --json" "$BIN" flows -r "$w1" -s signatures "$@" --json
	for f in json ndjson junit html evidence; do
		t "audit --format $f" "$BIN" audit --quiet -r "$w1" -p policies/audio-extract-kit.json \
			-s signatures "$@" --format "$f" -o "$OUT/report"
	done
	t "audit (all)" "$BIN" audit --quiet -r "$w1" -p policies/audio-extract-kit.json \
		-s signatures "$@" -o "$OUT/report"
	exit 0
fi
echo "profile: $N packets of $slice"

# perf stat -x, prints the count first, or "<not supported>" without counters
if ! command -v perf >/dev/null 2>&1 ||
	! perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
	command -v valgrind >/dev/null 2>&1 || {
		echo "profile: neither hardware counters for perf nor valgrind" >&2
		exit 2
	}
	echo "profile: no hardware counters for perf; using valgrind --tool=callgrind"
	rc=0
	valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
		"$BIN" audit --quiet -r "$slice" -p policies/audio-extract-kit.json \
		-s signatures "$@" -o "$OUT/report" >"$OUT/valgrind.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || {
		tail -n 20 "$OUT/valgrind.log" >&2
		exit 1
	}
	echo "== inclusive (instructions, the function and what it calls)"
	callgrind_annotate --inclusive=yes "$OUT/callgrind.out" | grep -E '^ *[0-9,]+ +\(' | head -n 60
	echo "== self (instructions in the function itself)"
	callgrind_annotate "$OUT/callgrind.out" | grep -E '^ *[0-9,]+ +\(' | head -n 30
else
	rc=0
	perf record -g -o "$OUT/perf.data" -- "$BIN" audit --quiet -r "$slice" \
		-p policies/audio-extract-kit.json -s signatures "$@" -o "$OUT/report" \
		>"$OUT/perf.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || {
		tail -n 20 "$OUT/perf.log" >&2
		exit 1
	}
	echo "== inclusive"
	perf report -i "$OUT/perf.data" --stdio --children --no-demangle 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 60
	echo "== self"
	perf report -i "$OUT/perf.data" --stdio --no-children 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 30
fi
rm -rf "$OUT/report"
