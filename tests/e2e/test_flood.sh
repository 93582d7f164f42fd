#!/bin/sh
# State exhaustion: a SYN scan plus a random-source UDP flood (tests/gen/flood.py)
# through `flowaudit audit --max-flows 10000`. Checks that the flow table
# stayed at its ceiling and evicted the rest (summary.peak_live_flows <= 10000,
# summary.flows_evicted > 0 in report.json) and that peak RSS stays under
#
#     64 MiB + 1 KiB per flow in the capture.
#
# Why that bound: everything the engine keeps per live flow (flow, nDPI
# state, reassembly, HTTP, hits) is capped by --max-flows, the DNS cache and
# the string pool have their own ceilings, and the signature catalogue,
# nDPI's automata and the binary take well under 64 MiB. The one thing that
# may grow with the number of flows is the kept flow record (480 bytes,
# in an array that doubles, so up to twice that while it grows).
#
#   sh tests/e2e/test_flood.sh BUILD/flowaudit [PACKETS]
#
# PACKETS defaults to 200000 (100000 SYNs, 100000 datagrams: about 20 s with
# the sanitizer build); `make bench` style runs pass 1000000. Needs
# /usr/bin/time (apt-get install time) and /usr/bin/python3.
# Prints "flood: N passed, N failed" last.
BIN=${1:?usage: test_flood.sh BUILD/flowaudit [PACKETS]}
PACKETS=${2:-200000}
MAXF=10000
TOP=$(cd "$(dirname "$0")/../.." && pwd)
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
cd "$TOP" || exit 2
if [ ! -x /usr/bin/time ]; then
	echo "flood: /usr/bin/time missing (apt-get install time)"
	echo "flood: 0 passed, 1 failed"
	exit 1
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
check() { # NAME CONDITION-EXIT-STATUS DETAIL
	if [ "$2" -eq 0 ]; then
		pass=$((pass + 1)); echo "ok   $1: $3"
	else
		fail=$((fail + 1)); echo "FAIL $1: $3"
	fi
}

SCAN=$((PACKETS / 2))
/usr/bin/python3 tests/gen/flood.py "$W/flood.pcap" --packets "$PACKETS" --scan "$SCAN" || exit 2

/usr/bin/time -f '%M %e' -o "$W/time" "$BIN" audit -r "$W/flood.pcap" \
	-p tests/e2e/fixtures/policy.json -s signatures --no-geo --max-flows $MAXF \
	--format json -o "$W/report" --quiet >"$W/out" 2>"$W/err"
rc=$?
read -r rss_kb secs <"$W/time"
check "exit status" "$([ "$rc" -le 1 ] && echo 0 || echo 1)" "exit $rc $(head -c 300 "$W/err" | tr '\n' ' ')"

set -- $(/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["packets"], s["flows"], s["flows_evicted"], s["peak_live_flows"])
' "$W/report/report.json" 2>/dev/null || echo "0 0 0 0")
pk=$1 flows=$2 evicted=$3 peak=$4
limit_kb=$((64 * 1024 + flows))
check "all frames read" "$([ "$pk" -eq "$PACKETS" ] && echo 0 || echo 1)" "$pk of $PACKETS"
check "flows evicted" "$([ "$evicted" -gt 0 ] && echo 0 || echo 1)" "$evicted of $flows flows"
check "live flows bounded" "$([ "$peak" -gt 0 ] && [ "$peak" -le $MAXF ] && echo 0 || echo 1)" \
	"peak $peak <= $MAXF"
check "peak RSS bounded" "$([ "$rss_kb" -lt "$limit_kb" ] && echo 0 || echo 1)" \
	"$((rss_kb / 1024)) MiB < $((limit_kb / 1024)) MiB (64 MiB + 1 KiB x $flows flows)"
echo "flood: $PACKETS packets, $flows flows, $evicted evicted, peak live $peak, ${secs}s, peak RSS $((rss_kb / 1024)) MiB"
echo "flood: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
