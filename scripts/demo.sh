#!/bin/sh
# make demo: audit the shipped example capture against the Audio Extract Kit
# declaration and say where the report is. Findings are the point of the
# demo, so exit status 1 (findings) counts as success here.
BIN=${1:-build/flowaudit}
cd "$(dirname "$0")/.." || exit 2
"$BIN" audit -r examples/demo.pcap -p policies/audio-extract-kit.json \
	-e examples/demo-events.json -d examples/demo-device.json -o reports/demo
rc=$?
if [ "$rc" -gt 1 ]; then
	echo "demo: flowaudit failed (exit $rc)" >&2
	exit "$rc"
fi
echo
echo "Open the report: $(pwd)/reports/demo/report.html"
echo "Check it later:  $BIN verify reports/demo"
