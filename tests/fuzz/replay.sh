#!/bin/sh
# Replays tests/fuzz/regressions/<target>/* through each target's entry
# point built with gcc and ASan/UBSan (no libFuzzer, so no clang needed),
# linked against a sanitizer build of the library.
#
#   sh tests/fuzz/replay.sh [BUILD]     (default build-san, from make SANITIZE=1)
#
# Exits 1 when any regression file crashes again.
B=${1:-build-san}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
LIB=$B/libflowaudit.a
[ -f "$LIB" ] || { echo "replay: $LIB missing: run make SANITIZE=1" >&2; exit 2; }
# the libraries the Makefile links, from its one list
PKGS=$(sed -n "s/^PKGS *:= *//p" Makefile)
OUT=$B/fuzz-replay
mkdir -p "$OUT"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
files=0
bad=0
for d in tests/fuzz/regressions/*/; do
	t=$(basename "$d")
	[ -f "tests/fuzz/$t.c" ] || continue
	[ -n "$(ls -A "$d" 2>/dev/null)" ] || continue
	if ! gcc -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Iinclude \
		$(pkg-config --cflags $PKGS) -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
		-o "$OUT/$t" "tests/fuzz/$t.c" tests/fuzz/replay_main.c "$LIB" \
		$(pkg-config --libs $PKGS) -lz -lm -lpthread; then
		echo "replay: $t: build failed"
		bad=$((bad + 1))
		continue
	fi
	for f in "$d"*; do
		files=$((files + 1))
		if ! "$OUT/$t" "$f" >"$OUT/$t.log" 2>&1; then
			bad=$((bad + 1))
			echo "replay: $f crashes again:"
			grep -m3 -E 'ERROR|runtime error|#[0-3] ' "$OUT/$t.log" | sed 's/^/    /'
		fi
	done
done
echo "replay: $files regression files, $bad failing"
[ "$bad" -eq 0 ]
