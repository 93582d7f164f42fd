#!/bin/sh
# Regenerates tests/fixtures/tls/: real TLS 1.2 and 1.3 sessions between
# `openssl s_server -rev` (it answers each line reversed) and
# `openssl s_client -keylogfile`, captured with tcpdump on the loopback of a
# network namespace of their own (nothing leaves the machine), and what
# tshark 4.0 reads in them: for each TCP stream N of NAME.pcap,
#   NAME.tcp.N.txt.gz  tshark -z follow,tcp,raw,N  (the stream bytes, in order)
#   NAME.tls.N.txt.gz  tshark -o tls.keylog_file:NAME.keys -z follow,tls,raw,N
#                    (the decrypted application data: the reference)
# NAME.keys is the NSS key log s_client wrote. tests/unit/test_tls_decrypt.c
# feeds the first to the decryptor and compares its plaintext with the second.
#
#   sh tests/gen/tls_fixtures.sh [OUTDIR [NAME...]]
#
# (as root: it needs unshare -n and tcpdump). With NAMEs, only those
# sessions are made again.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/tests/fixtures/tls}
[ $# -gt 0 ] && shift
ONLY=" $* "
if [ "${TLSFIX_IN_NETNS:-}" != 1 ]; then
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	exec env TLSFIX_IN_NETNS=1 unshare -n sh "$0" "$OUT" "$@"
fi
ip link set lo up
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 \
	-subj /CN=tls-fixture.test >/dev/null 2>&1
PORT=44330

# The client's input: short lines, one long line (in four sessions longer
# than a record, 16 KiB, so that it is cut into two), and pauses so that the answers come back
# before the client closes. "K" (alone on a line) is s_client's command for
# a KeyUpdate that asks the server to update its keys too, "R" for a TLS 1.2
# renegotiation.
client_input() { # $1 = 1: KeyUpdates, R: a renegotiation, $2 = length of the long line
	sleep 0.4
	printf 'GET /first?id=3f2c1a HTTP/1.1\n'
	sleep 0.3
	head -c "$(($2 - 500))" /dev/zero | tr '\0' 'a'
	head -c 500 /dev/zero | tr '\0' 'b'
	printf '\n'
	sleep 0.3
	if [ "$1" = R ]; then
		printf 'R\n'
		sleep 0.5
		printf 'after the renegotiation\n'
		sleep 0.3
	fi
	if [ "$1" = 1 ]; then
		printf 'K\n'
		sleep 0.3
		printf 'after the key update\n'
		sleep 0.3
		printf 'K\n'
		sleep 0.3
		printf 'after the second update\n'
		sleep 0.3
	fi
	printf 'last line\n'
	sleep 0.5
}

# What the server sends when it does not run -rev: two lines into each connection.
server_input() { # $1 = the session's resume mode
	[ "$1" = 2 ] || return 0
	for _ in 1 2; do
		sleep 0.9
		printf 'server line one\n'
		sleep 0.6
		printf 'server line two\n'
		sleep 1.5
	done
}

# $1 = name, $2 = s_server options, $3 = s_client options, $4 = client_input's $1,
# $5 = resume (1: a second connection resumes the first one's session; 2:
# and sends 0-RTT early data),
# $6 = length of the long line
session() {
	name=$1
	PORT=$((PORT + 1))
	case $ONLY in
	"  " | *" $name "*) ;;
	*) return 0 ;;
	esac
	rm -f keys sess.pem
	naccept=1
	[ "$5" != 0 ] && naccept=2
	tcpdump -i lo -U -s 0 -w "$OUT/$name.pcap" "tcp port $PORT" >/dev/null 2>&1 &
	tcpd=$!
	sleep 0.5
	# -rev cannot take early data: that session's server answers with lines of its own.
	mode=-rev
	[ "$5" = 2 ] && mode=
	# shellcheck disable=SC2086
	server_input "$5" | openssl s_server -accept "$PORT" -cert cert.pem -key key.pem $mode \
		-naccept "$naccept" $2 >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	sess=
	[ "$5" != 0 ] && sess="-sess_out sess.pem"
	# shellcheck disable=SC2086
	client_input "$4" "$6" | openssl s_client -connect "127.0.0.1:$PORT" -keylogfile keys \
		$3 $sess >/dev/null 2>&1 || true
	if [ "$5" != 0 ]; then
		sleep 0.3
		early=
		if [ "$5" = 2 ]; then
			printf 'early data line\n' >early.txt
			early="-early_data early.txt"
		fi
		# shellcheck disable=SC2086
		client_input 0 "$6" | openssl s_client -connect "127.0.0.1:$PORT" -keylogfile keys \
			$3 -sess_in sess.pem $early >/dev/null 2>&1 || true
	fi
	wait "$srv" || true
	sleep 0.5
	kill "$tcpd"
	wait "$tcpd" || true
	cp keys "$OUT/$name.keys"
	n=$(tshark -r "$OUT/$name.pcap" -T fields -e tcp.stream 2>/dev/null | sort -un)
	for s in $n; do
		tshark -r "$OUT/$name.pcap" -q -z "follow,tcp,raw,$s" 2>/dev/null |
			gzip -n9 >"$OUT/$name.tcp.$s.txt.gz"
		tshark -r "$OUT/$name.pcap" -o "tls.keylog_file:$OUT/$name.keys" -q \
			-z "follow,tls,raw,$s" 2>/dev/null | gzip -n9 >"$OUT/$name.tls.$s.txt.gz"
	done
	echo "$name: $(echo "$n" | wc -w) connection(s), $(wc -c <"$OUT/$name.pcap") bytes"
}

T12="-tls1_2"
session t12-aes128gcm "" "$T12 -cipher ECDHE-RSA-AES128-GCM-SHA256" 0 0 16500
session t12-aes256gcm "" "$T12 -cipher ECDHE-RSA-AES256-GCM-SHA384" 0 0 2000
session t12-chacha20 "" "$T12 -cipher ECDHE-RSA-CHACHA20-POLY1305" 0 0 2000
session t12-cbc-sha1-etm "" "$T12 -cipher ECDHE-RSA-AES128-SHA" 0 0 2000
session t12-cbc-sha1 "-no_etm" "$T12 -cipher ECDHE-RSA-AES128-SHA -no_etm" 0 0 16500
session t12-cbc-sha256 "-no_etm" "$T12 -cipher ECDHE-RSA-AES128-SHA256 -no_etm" 0 0 2000
session t12-cbc256-sha384-etm "" "$T12 -cipher ECDHE-RSA-AES256-SHA384" 0 0 2000
# The client asks to renegotiate; s_server refuses with an encrypted alert.
session t12-reneg-refused "" "$T12 -cipher ECDHE-RSA-AES128-GCM-SHA256" R 0 2000
session t12-resumed "" "$T12 -cipher ECDHE-RSA-AES128-GCM-SHA256" 0 1 2000
T13="-tls1_3"
session t13-aes128gcm "" "$T13 -ciphersuites TLS_AES_128_GCM_SHA256" 0 0 16500
session t13-aes256gcm "" "$T13 -ciphersuites TLS_AES_256_GCM_SHA384" 0 0 2000
# TLSInnerPlaintext padding: records padded to a multiple of 512 bytes.
session t13-chacha20 "-record_padding 512" "$T13 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -record_padding 512" 0 0 2000
session t13-keyupdate "" "$T13 -ciphersuites TLS_AES_128_GCM_SHA256" 1 0 16500
# The client's key share (X25519) is not the server's group: HelloRetryRequest.
session t13-hrr "-groups P-256" "$T13 -ciphersuites TLS_AES_128_GCM_SHA256 -groups X25519:P-256" 0 0 2000
session t13-resumed "" "$T13 -ciphersuites TLS_AES_256_GCM_SHA384" 0 1 2000
# The resumed connection sends 0-RTT data, which the server accepts; its key
# (CLIENT_EARLY_TRAFFIC_SECRET) is one flowaudit does not use.
session t13-early "-early_data" "$T13 -ciphersuites TLS_AES_128_GCM_SHA256" 0 2 2000
