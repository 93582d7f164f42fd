#!/bin/sh
# run.sh - `make bench`: build (or reuse) the workload, time flowaudit
# against ndpiReader, tshark and a bare libpcap loop on it, run the
# micro-benchmarks, check the targets of docs/performance.md, then measure
# the packet rate a live capture sustains (bench/live_rate.py) and the time
# an export of the bench report into ClickHouse takes (bench/export_rate.py).
#
#   sh bench/run.sh BUILD/flowaudit
#
# The helpers (BUILD/bench/pcaploop, sigbench, idbench, importbench) come from
# `make bench-build`. Settings (environment): BENCH_RUNS (3), BENCH_PACKETS
# (1000000), BENCH_PAIRED_RUNS (5 rounds for the ratios of issue 18),
# BENCH_TIMEOUT (300 s per run), BENCH_BUDGET (200 s of repeats
# per measurement), BENCH_SYNTHETIC=1 (ignore ../shared/corpus), BENCH_OUT
# (bench/out: the cached workload, logs, results-*.json).
# Exit 0 when every tool ran (targets missed or not), 1 when one failed,
# 2 when the set-up is incomplete.
if [ $# -ne 1 ]; then
	echo "usage: sh bench/run.sh BUILD/flowaudit" >&2
	exit 2
fi
command -v python3 >/dev/null 2>&1 || {
	echo "bench: python3 not found" >&2
	exit 2
}
python3 "$(dirname "$0")/run.py" "$1"
rc=$?
# the live rate: a capture through a veth pair (needs root and tcpreplay;
# its own exit 2 when it cannot run leaves the status alone)
python3 "$(dirname "$0")/live_rate.py" "$1"
lrc=$?
# the export into a local ClickHouse (its own exit 2 without a server),
# with the Python the test suite uses (Debian's, which has scapy)
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" "$(dirname "$0")/export_rate.py" "$1"
erc=$?
[ "$rc" -ne 0 ] && exit "$rc"
[ "$lrc" -eq 1 ] && exit 1
[ "$erc" -eq 1 ] && exit 1
exit 0
