#!/bin/sh
# Resource limits on hostile input files, through the command line: each
# oversized or pathological file must be refused with exit 2 and one line
# on stderr that names the file and the limit, never a crash or a hang.
#
#   sh tests/e2e/test_limits.sh BUILD/flowaudit
#
# Cases: policy, signature, events and device files over their size limits;
# JSON nested 10,000 deep in each kind of file; a 10,000-character host name
# in a signature file; a pcap whose only record claims a 4 GB packet.
# Prints "limits: N passed, N failed" last.
BIN=${1:?usage: test_limits.sh BUILD/flowaudit}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
cd "$TOP" || exit 2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
PY=/usr/bin/python3

# refused NAME PATTERN CMD...: exit 2, exactly one stderr line matching PATTERN.
refused() {
	name=$1 pat=$2
	shift 2
	timeout 60 "$@" >"$W/out" 2>"$W/err"
	rc=$?
	lines=$(grep -c '' "$W/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq "$pat" "$W/err"; then
		pass=$((pass + 1))
		echo "ok   $name: $(cut -c1-160 "$W/err")"
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc, $lines stderr lines, want /$pat/:"
		head -c 600 "$W/err" | sed 's/^/     /'
	fi
}

mkdir -p "$W/sigs-big" "$W/sigs-deep" "$W/sigs-host"
# Files one byte over their ceilings (1 MiB for policy, signatures, events;
# 64 KiB for a device profile), made of JSON whitespace after a valid start.
$PY - "$W" <<'PYEOF'
import json, sys
w = sys.argv[1]
def big(path, head, limit):
    body = head + " " * (limit + 1 - len(head) - 1) + "}"
    open(path, "w").write(body)
MiB = 1024 * 1024
big(w + "/policy-big.json", '{"schema": "flowaudit-policy/1"', MiB)
big(w + "/sigs-big/big.json", '{"id": "big"', MiB)
open(w + "/events-big.json", "w").write("[" + " " * MiB + "]")
big(w + "/device-big.json", '{"imei": "356938035643809"', 64 * 1024)
deep = "[" * 10000 + "]" * 10000
open(w + "/policy-deep.json", "w").write('{"schema": "flowaudit-policy/1", "x": ' + deep + "}")
open(w + "/sigs-deep/deep.json", "w").write('{"id": "deep", "domains": ' + deep + "}")
open(w + "/events-deep.json", "w").write(deep)
open(w + "/device-deep.json", "w").write('{"other": ' + deep + "}")
sig = {"id": "longhost", "name": "Long host", "entity": "Example", "entity_country": "US",
       "kind": "sdk", "purposes": ["analytics"], "domains": ["a" * 10000 + ".example.com"],
       "references": ["https://example.com"]}
open(w + "/sigs-host/longhost.json", "w").write(json.dumps(sig))
PYEOF

refused "policy over 1 MiB" 'policy-big.json.*(MiB|bytes|large|size)' \
	"$BIN" policy check -s signatures "$W/policy-big.json"
refused "policy nested 10000 deep" 'policy-deep.json.*(nest|deep|depth)' \
	"$BIN" policy check -s signatures "$W/policy-deep.json"
refused "signature file over 1 MiB" 'big.json.*(MiB|bytes|large|size)' \
	"$BIN" sigs check "$W/sigs-big"
refused "signature file nested 10000 deep" 'deep.json.*(nest|deep|depth)' \
	"$BIN" sigs check "$W/sigs-deep"
refused "signature host of 10000 characters" 'longhost.json.*domains\[0\]' \
	"$BIN" sigs check "$W/sigs-host"

# Events and device profiles are read by `audit`; a tiny valid capture is
# enough to get that far.
$PY tests/gen/flood.py "$W/tiny.pcap" --packets 3 --scan 3 >/dev/null
AUDIT="$BIN audit -r $W/tiny.pcap -p tests/e2e/fixtures/policy.json -s signatures --no-geo --quiet -o $W/rep"
refused "events file over 1 MiB" 'events-big.json.*(MiB|bytes|large|size)' \
	$AUDIT -e "$W/events-big.json"
refused "events nested 10000 deep" 'events-deep.json.*(nest|deep|depth)' \
	$AUDIT -e "$W/events-deep.json"
refused "device profile over 64 KiB" 'device-big.json.*(KiB|bytes|large|size)' \
	$AUDIT -d "$W/device-big.json"
refused "device profile nested 10000 deep" 'device-deep.json.*(nest|deep|depth|other)' \
	$AUDIT -d "$W/device-deep.json"

# A pcap whose record header claims a 4 GB packet: libpcap refuses the
# record; flowaudit must say so on one line naming the file (the file is
# truncated after 0 frames), not crash or try to allocate 4 GB.
$PY - "$W/huge-record.pcap" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    f.write(struct.pack("<IIII", 1767225600, 0, 0xFFFFFFF0, 0xFFFFFFF0))
    f.write(bytes(64))
PYEOF
timeout 60 "$BIN" flows -r "$W/huge-record.pcap" --no-geo -s signatures --quiet >"$W/out" 2>"$W/err"
rc=$?
lines=$(grep -c '' "$W/err")
if { [ "$rc" -eq 2 ] || [ "$rc" -eq 0 ]; } && [ "$lines" -eq 1 ] &&
	grep -q 'huge-record.pcap' "$W/err"; then
	pass=$((pass + 1))
	echo "ok   pcap record claiming 4 GB: exit $rc: $(cut -c1-160 "$W/err")"
else
	fail=$((fail + 1))
	echo "FAIL pcap record claiming 4 GB: exit $rc, $lines stderr lines:"
	head -c 600 "$W/err" | sed 's/^/     /'
fi

echo "limits: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
