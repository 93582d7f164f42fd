#!/bin/sh
# Makes tests/fixtures/http2/h2c.pcap: real HTTP/2 cleartext (prior
# knowledge) between nghttp / curl and nghttpd, captured with tcpdump on the
# loopback of a network namespace of its own, and h2c.tshark.tsv, tshark's
# reading of every HEADERS frame of it (method, path, authority, user agent),
# which tests/unit/test_http2.c compares the decoder with; and the seeds of
# tests/fuzz/fuzz_http2.c, cut from the capture (h2c_fuzz_seeds.py).
#
#   sh tests/gen/h2c_capture.sh [OUTDIR]     (root: it creates a namespace)
#
# Four connections: nghttp sending three GETs on one connection (the second
# and third reuse the HPACK dynamic table, one carries identifiers in its
# query and a cookie); curl POSTing a JSON body; curl POSTing the same body
# gzip-coded (Content-Encoding: gzip); and, to a second server on port 8081
# that pads its frames, pushes a resource (PUSH_PROMISE) and allows the
# client a header table of 128 bytes only, nghttp with padded frames, a
# header table of 512 bytes for the server, and a 40,000-byte header that
# goes out as HEADERS + CONTINUATION. Needs nghttp2-server, nghttp2-client,
# curl, tcpdump, tshark.
set -eu
OUT=${1:-$(cd "$(dirname "$0")/../fixtures/http2" && pwd)}
if [ -z "${H2C_IN_NS:-}" ]; then
	exec env H2C_IN_NS=1 unshare -n sh "$0" "$OUT"
fi
ip link set lo up
W=$(mktemp -d)
trap 'kill $SRV $SRV2 $DUMP 2>/dev/null || true; rm -rf "$W"' EXIT
mkdir "$W/htdocs"
printf 'hello\n' >"$W/htdocs/index.html"
printf '{"android_id":"9774d56d682e549c","imei":"356938035643809","event":"open"}' >"$W/body.json"
gzip -9 -n -c "$W/body.json" >"$W/body.json.gz"
PORT=8080
printf 'body{}\n' >"$W/htdocs/style.css"
PORT2=8081
tcpdump -Z root -i lo -s 0 -U -w "$W/cap.pcap" "tcp port $PORT or tcp port $PORT2" 2>"$W/tcpdump.log" &
DUMP=$!
nghttpd --no-tls -d "$W/htdocs" "$PORT" >"$W/nghttpd.log" 2>&1 &
SRV=$!
nghttpd --no-tls -d "$W/htdocs" --padding=8 --header-table-size=128 \
	--push=/index.html=/style.css "$PORT2" >"$W/nghttpd2.log" 2>&1 &
SRV2=$!
sleep 1
nghttp -n -H 'user-agent: DemoApp/2.1 (Android 13; Pixel 7)' \
	-H 'cookie: uid=9774d56d682e549c; theme=dark' \
	"http://127.0.0.1:$PORT/index.html" \
	"http://127.0.0.1:$PORT/v1/config?imei=356938035643809&lang=en" \
	"http://127.0.0.1:$PORT/v1/ping"
curl -s -o /dev/null --http2-prior-knowledge -A 'okhttp/4.12.0' \
	-H 'content-type: application/json' --data-binary @"$W/body.json" \
	"http://localhost:$PORT/v1/events"
curl -s -o /dev/null --http2-prior-knowledge -A 'okhttp/4.12.0' \
	-H 'content-type: application/json' -H 'content-encoding: gzip' \
	--data-binary @"$W/body.json.gz" "http://localhost:$PORT/v1/events?z=1"
BIG=$(head -c 30000 /dev/urandom | base64 -w 0 | head -c 40000)
nghttp -n --padding=16 --header-table-size=512 -H 'user-agent: DemoApp/2.1 (Android 13; Pixel 7)' \
	-H "x-big: $BIG" -H 'x-aid: 9774d56d682e549c' \
	"http://127.0.0.1:$PORT2/index.html" "http://127.0.0.1:$PORT2/v1/config?aid=9774d56d682e549c"
sleep 1
kill "$DUMP" "$SRV" "$SRV2"
wait "$DUMP" 2>/dev/null || true
cp "$W/cap.pcap" "$OUT/h2c.pcap"
tshark -r "$OUT/h2c.pcap" -d "tcp.port==$PORT,http2" -d "tcp.port==$PORT2,http2" -Y 'http2.type==1' -T fields -E aggregator='|' \
	-e http2.headers.method -e http2.headers.path -e http2.headers.authority \
	-e http2.headers.user_agent >"$OUT/h2c.tshark.tsv" 2>/dev/null
/usr/bin/python3 "$(dirname "$0")/h2c_fuzz_seeds.py" "$OUT/h2c.pcap" \
	"$(dirname "$0")/../fuzz/seeds/fuzz_http2"
echo "wrote $OUT/h2c.pcap ($(wc -c <"$OUT/h2c.pcap") bytes), $(wc -l <"$OUT/h2c.tshark.tsv") HEADERS frames"
