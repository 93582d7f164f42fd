#!/bin/sh
# Fails the build when the layering of docs/architecture.md is broken.
#
# 1. src/ has one folder per pipeline stage, in this order from the bottom:
#      common capture decrypt analysis audit report cli
#    A file includes only headers of its own folder or of folders below it.
#    The header include/flowaudit/NAME.h belongs to the folder that holds
#    src/*/NAME.c (or src/*/NAME.h); a header with no source of its own is
#    placed in HEADER_HOME below. The same rule holds between the headers.
# 2. Each outside library has its owners: nDPI classify.c, libmaxminddb
#    geo.c, jansson the loaders and JSON writers, libpcap the capture side,
#    OpenSSL crypto.c, hash.c and report_sign.c, libnghttp2 http2.c,
#    libnghttp3 http3.c, libcurl report_clickhouse.c.
cd "$(dirname "$0")/.." || exit 2
status=0
STAGES="common capture decrypt analysis audit report cli"
# headers that have no .c of their own: name:folder
HEADER_HOME="cursor:common report:report pcapng_read:capture"

rank() { # $1 = folder; prints its place in STAGES, or nothing
	i=0
	for s in $STAGES; do
		[ "$s" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done
}

home() { # $1 = header base name; prints its folder
	for pair in $HEADER_HOME; do
		[ "${pair%%:*}" = "$1" ] && { echo "${pair#*:}"; return; }
	done
	for f in src/*/"$1".c src/*/"$1".h; do
		[ -f "$f" ] && { basename "$(dirname "$f")"; return; }
	done
}

for d in src/*/; do
	folder=$(basename "$d")
	if [ -z "$(rank "$folder")" ]; then
		echo "layering: src/$folder is not a stage ($STAGES)" >&2
		status=1
	fi
done
for f in src/*.c src/*.h; do
	[ -f "$f" ] || continue
	echo "layering: $f belongs in a stage folder under src/" >&2
	status=1
done

# file, its folder's rank, then every header it includes
check_file() { # $1 = file, $2 = its folder
	r=$(rank "$2")
	for h in $(sed -n 's/^#include *"\(flowaudit\/\)\{0,1\}\([a-z0-9_]*\)\.h".*/\2/p' "$1"); do
		hf=$(home "$h")
		if [ -z "$hf" ]; then
			echo "layering: $1 includes $h.h, which no stage folder owns" >&2
			status=1
			continue
		fi
		if [ "$(rank "$hf")" -gt "$r" ]; then
			echo "layering: $1 ($2) includes $h.h of $hf, a later stage" >&2
			status=1
		fi
	done
}

for f in src/*/*.c src/*/*.h; do
	[ -f "$f" ] || continue
	check_file "$f" "$(basename "$(dirname "$f")")"
done
for f in include/flowaudit/*.h; do
	b=$(basename "$f" .h)
	hf=$(home "$b")
	if [ -z "$hf" ]; then
		echo "layering: $f has no stage (no src/*/$b.c; add it to HEADER_HOME)" >&2
		status=1
		continue
	fi
	check_file "$f" "$hf"
done

lib() { # $1 = include pattern, $2 = allowed files (regex on path)
	bad=$(grep -l "#include *<$1" src/*/*.c include/flowaudit/*.h 2>/dev/null | grep -Ev "$2")
	if [ -n "$bad" ]; then
		echo "layering: <$1...> may be included only by $2, found in: $bad" >&2
		status=1
	fi
}
lib 'ndpi' 'src/analysis/classify\.c$'
lib 'maxminddb' 'src/analysis/geo\.c$'
lib 'jansson' 'src/audit/(policy[a-z_]*|consent)\.c$|src/analysis/(device|signatures|sig_index|sig_import[a-z_]*)\.c$|src/report/(report_[a-z_]+|manifest|jsonw)\.c$|include/flowaudit/(report|report_json|jsonw)\.h$'
lib 'pcap' 'src/capture/(source|source_patched|pcapng)\.c$|src/report/evidence\.c$'
lib 'openssl' 'src/decrypt/(crypto|tls_crypto)\.c$|src/common/hash\.c$|src/report/report_sign\.c$'
lib 'nghttp2' 'src/analysis/http2\.c$'
lib 'nghttp3' 'src/analysis/http3\.c$'
lib 'curl' 'src/report/report_clickhouse\.c$'
exit $status
