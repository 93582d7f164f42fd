#!/bin/sh
# Runs every libFuzzer target for SECONDS each: make fuzz FUZZ_SECONDS=N.
#
#   sh tests/fuzz/run.sh SECONDS [TARGET...]
#
# Before fuzzing, each target replays its files in tests/fuzz/regressions/
# (each once). Seeds: tests/fuzz/seeds/<target>/, plus, when the shared
# corpus is present, frames, frame runs and small captures cut from it by
# seeds.py (the pcapng ones also for fuzz_pcapng), and the project's
# policies, signatures and fixtures. New inputs
# go to build-fuzz/corpus/<target>/ (kept between runs), crash, leak and
# timeout reproducers to build-fuzz/crashes/, logs to build-fuzz/logs/.
# FUZZ_JOBS targets run at once (default 2, one per core).
# Exits 1 when any target crashed, 2 when a target binary is missing.
SECS=${1:-60}
[ $# -gt 0 ] && shift
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-2}
CORPUS=${FLOWAUDIT_CORPUS:-}
if [ -z "$CORPUS" ]; then
	for c in "$TOP/../shared/corpus" /work/shared/corpus; do
		[ -d "$c" ] && { CORPUS=$c; break; }
	done
fi
# Every tests/fuzz/fuzz_*.c is a target.
ALL=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done | tr '\n' ' ')
TARGETS=${*:-$ALL}
GEN=$B/seeds-gen
mkdir -p "$B/crashes" "$B/logs" "$GEN"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in $TARGETS; do
	[ -x "$B/$t" ] || { echo "fuzz: $B/$t missing: run make fuzz-build" >&2; exit 2; }
done

# Seeds that need building: frames from the corpus (once), and loader inputs
# from the tree (consent inputs carry the selector byte first).
if [ -n "$CORPUS" ] && [ ! -f "$GEN/.done" ] && [ -x /usr/bin/python3 ]; then
	if /usr/bin/python3 tests/fuzz/seeds.py "$GEN" "$CORPUS"; then
		touch "$GEN/.done"
	else
		echo "fuzz: seeds.py failed; fuzzing from the committed seeds only" >&2
	fi
fi
mkdir -p "$GEN/fuzz_policy" "$GEN/fuzz_sigs" "$GEN/fuzz_consent" "$GEN/fuzz_device" \
	"$GEN/fuzz_pcapng"
# the pcapng files among fuzz_pcap's seeds seed the pcapng reader alone too
for f in tests/fuzz/seeds/fuzz_pcap/* "$GEN"/fuzz_pcap/*; do
	[ -f "$f" ] && [ "$(od -An -tx1 -N4 "$f" | tr -d ' \n')" = 0a0d0d0a ] &&
		cp "$f" "$GEN/fuzz_pcapng/"
done
for f in policies/*.json tests/fixtures/policy/*.json tests/e2e/fixtures/policy*.json; do
	[ -f "$f" ] && cp "$f" "$GEN/fuzz_policy/$(echo "$f" | tr / _)"
done
for f in signatures/*.json tests/fixtures/sigs/*/*.json; do
	[ -f "$f" ] && cp "$f" "$GEN/fuzz_sigs/$(echo "$f" | tr / _)"
done
for f in tests/e2e/fixtures/events*.json tests/fixtures/consent/*.json; do
	[ -f "$f" ] && { printf '\000'; cat "$f"; } >"$GEN/fuzz_consent/$(echo "$f" | tr / _)"
done
for f in tests/e2e/fixtures/device*.json tests/fixtures/device/*.json; do
	[ -f "$f" ] && cp "$f" "$GEN/fuzz_device/$(echo "$f" | tr / _)"
done

run_one() {
	t=$1
	log=$B/logs/$t.log
	: >"$log"
	rc=0
	reg=tests/fuzz/regressions/$t
	if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
		"$B/$t" "$reg"/* >>"$log" 2>&1 || rc=$?
	fi
	if [ "$rc" -eq 0 ]; then
		mkdir -p "$B/corpus/$t"
		set -- "$B/corpus/$t" "tests/fuzz/seeds/$t"
		[ -d "$GEN/$t" ] && set -- "$@" "$GEN/$t"
		"$B/$t" -max_total_time="$SECS" -print_final_stats=1 -timeout=30 \
			-rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$B/crashes/$t-" \
			"$@" >>"$log" 2>&1 || rc=$?
	fi
	echo "$rc" >"$B/logs/$t.rc"
}

set -- $TARGETS
while [ $# -gt 0 ]; do
	n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$JOBS" ]; do
		run_one "$1" &
		shift
		n=$((n + 1))
	done
	wait
done

crashed=0
total=0
for t in $TARGETS; do
	log=$B/logs/$t.log
	rc=$(cat "$B/logs/$t.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ "$rc" -ne 0 ]; then
		crashed=$((crashed + 1))
		what=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|ALARM' "$log")
		art=$(grep -m1 -o "Test unit written to .*" "$log" | sed 's/Test unit written to //')
		echo "$t: $execs executions, CRASH (exit $rc): ${what:-see $log}"
		[ -n "$art" ] && echo "$t:   reproducer $art (log $log)"
	else
		echo "$t: $execs executions in ${SECS}s, no crash"
	fi
done
echo "fuzz: $total executions over $(echo $TARGETS | wc -w) targets, $crashed crashed"
[ "$crashed" -eq 0 ] || exit 1
