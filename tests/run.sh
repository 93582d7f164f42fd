#!/bin/sh
# The whole suite: cmocka unit tests, end-to-end tests on captures the suite
# generates (with the resource-limit and flood checks), corpus tests when
# ../shared/corpus is present, the browser and live-capture tests, and a
# fuzz smoke.
# Prints one closing line "N passed, N failed, N skipped".
BUILD=${1:-build-san}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0
fail=0
skip=0
failed=""

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if "$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
	fi
done

# Each suite prints "SUITE: N passed, N failed[, N skipped]" as its last line.
# Every tests/e2e/test_* file is a suite of its own.
for suite in tests/e2e/run.py tests/e2e/test_*.py tests/e2e/test_*.sh \
	tests/corpus/run.py tests/browser/run.py tests/live/run.py; do
	[ -f "$suite" ] || continue
	case $suite in
	*.py) runner=/usr/bin/python3 ;;
	*) runner=sh ;;
	esac
	out=$(mktemp)
	$runner "$suite" "$BUILD/flowaudit" 2>&1 | tee "$out"
	line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		fail=$((fail + 1))
		failed="$failed $suite(no-summary)"
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + ${s:-0}))
	[ "$f" -gt 0 ] && failed="$failed $suite"
done

# Every crash fuzzing ever found, replayed through the gcc sanitizer build
# (no clang needed), then the libFuzzer smoke run.
if sh tests/fuzz/replay.sh "$BUILD"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	failed="$failed fuzz-regressions"
fi

if [ -f tests/fuzz/smoke.sh ]; then
	if sh tests/fuzz/smoke.sh; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed fuzz-smoke"
	fi
fi

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
