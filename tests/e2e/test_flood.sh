#!/bin/sh
# State exhaustion: a SYN scan plus a random-source UDP flood (tests/gen/flood.py)
# through `flowaudit audit --max-flows 10000`, at a tenth of PACKETS and at
# PACKETS. Checks that
#
#   - every frame was read and every flow is listed in report.json
#     (summary.flows_not_listed 0): nothing is lost to the limits;
#   - the flow table stayed at its ceiling and evicted the rest
#     (summary.peak_live_flows <= 10000, summary.flows_evicted > 0);
#   - peak RSS does not grow with the number of flows: the run with ten
#     times the flows stays within 20% (+ 8 MiB) of the small one.
#
# Why memory can stay flat: everything kept per live flow (flow, nDPI
# state, reassembly, HTTP, hits) is capped by --max-flows, the DNS cache and
# the string pool have their own ceilings, the records of ended flows go to
# a temporary file past the first 16,384 (recstore.h), and report.json lists
# the flows one at a time.
#
#   sh tests/e2e/test_flood.sh BUILD/flowaudit [PACKETS]
#
# PACKETS defaults to 1,000,000 (half SYNs, half datagrams: about a minute
# with the sanitizer build). Needs /usr/bin/time (apt-get install time) and
# /usr/bin/python3. Prints "flood: N passed, N failed" last.
BIN=${1:?usage: test_flood.sh BUILD/flowaudit [PACKETS]}
PACKETS=${2:-1000000}
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

# run N: generates N frames, audits them; sets rc, rss_kb, secs, pk, flows,
# evicted, peak, notlisted
run() {
	n=$1
	/usr/bin/python3 tests/gen/flood.py "$W/flood.pcap" --packets "$n" --scan $((n / 2)) >/dev/null || exit 2
	rm -rf "$W/report"
	# a small ASan quarantine: otherwise the few hundred MiB of freed memory
	# it holds back fill up during the larger run and look like growth
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
		/usr/bin/time -f '%M %e' -o "$W/time" "$BIN" audit -r "$W/flood.pcap" \
		-p tests/e2e/fixtures/policy.json -s signatures --no-geo --max-flows $MAXF \
		--format json,ndjson,junit,html -o "$W/report" --quiet >"$W/out" 2>"$W/err"
	rc=$?
	read -r rss_kb secs <"$W/time"
	# the summary comes before the flow list: read it without loading 1 GB
	set -- $(/usr/bin/python3 -c '
import json, sys
with open(sys.argv[1]) as f:
    head = f.read(1 << 20)
s, _ = json.JSONDecoder().raw_decode(head[head.index("\"summary\": ") + 11:])
print(s["packets"], s["flows"], s["flows_evicted"], s["peak_live_flows"], s["flows_not_listed"])
' "$W/report/report.json" 2>/dev/null || echo "0 0 0 0 -1")
	pk=$1 flows=$2 evicted=$3 peak=$4 notlisted=$5
	listed=$(grep -c '"first_frame"' "$W/report/report.json")
	rm -f "$W/flood.pcap"
}

run $((PACKETS / 10))
small_kb=$rss_kb
small_flows=$flows
run "$PACKETS"
check "exit status" "$([ "$rc" -le 1 ] && echo 0 || echo 1)" "exit $rc $(head -c 300 "$W/err" | tr '\n' ' ')"
check "all frames read" "$([ "$pk" -eq "$PACKETS" ] && echo 0 || echo 1)" "$pk of $PACKETS"
check "every flow listed" "$([ "$notlisted" -eq 0 ] && [ "$listed" -eq "$flows" ] && echo 0 || echo 1)" \
	"$listed of $flows flows in report.json, $notlisted not listed"
check "flows evicted" "$([ "$evicted" -gt 0 ] && echo 0 || echo 1)" "$evicted of $flows flows"
check "live flows bounded" "$([ "$peak" -gt 0 ] && [ "$peak" -le $MAXF ] && echo 0 || echo 1)" \
	"peak $peak <= $MAXF"
limit_kb=$((small_kb * 12 / 10 + 8192))
check "peak RSS flat" "$([ "$rss_kb" -le "$limit_kb" ] && echo 0 || echo 1)" \
	"$((rss_kb / 1024)) MiB for $flows flows vs $((small_kb / 1024)) MiB for $small_flows (limit $((limit_kb / 1024)) MiB)"
echo "flood: $PACKETS packets, $flows flows, $evicted evicted, peak live $peak, ${secs}s, peak RSS $((rss_kb / 1024)) MiB"
echo "flood: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
