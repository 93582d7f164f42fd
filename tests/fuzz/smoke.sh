#!/bin/sh
# The fuzz step of `make test`: builds the libFuzzer targets with clang and
# runs each for a few seconds (FUZZ_SMOKE_SECONDS, default 8; two at a time)
# after replaying its regression files. Eight targets take about 35 s plus
# the build. Without clang it prints a skip line and succeeds: the gcc
# build and the unit tests still run.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz smoke: skipped (clang not installed)"
	exit 0
fi
mkdir -p build-fuzz
if ! make --no-print-directory -s -j2 -f tests/fuzz/fuzz.mk >build-fuzz/build.log 2>&1; then
	tail -n 20 build-fuzz/build.log
	echo "fuzz smoke: build of the fuzz targets failed (build-fuzz/build.log)"
	exit 1
fi

sh tests/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-8}"
