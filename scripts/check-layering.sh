#!/bin/sh
# Fails the build when a module includes a library that belongs to another
# stage. Keeps nDPI, libmaxminddb and jansson behind their one owner each.
status=0
check() { # $1 = include pattern, $2 = allowed files (regex on path)
	bad=$(grep -l "#include *<$1" src/*.c include/flowaudit/*.h 2>/dev/null | grep -Ev "$2")
	if [ -n "$bad" ]; then
		echo "layering: $1 may be included only by $2, found in: $bad" >&2
		status=1
	fi
}
check 'ndpi' 'src/classify\.c$'
check 'maxminddb' 'src/geo\.c$'
check 'jansson' 'src/(policy[a-z_]*|consent|device|signatures|sig_index|report_[a-z_]+|manifest|jsonw)\.c$|include/flowaudit/(report|report_json|jsonw)\.h$'
check 'pcap' 'src/(source|evidence|capture|pcapng)\.c$'
check 'openssl' 'src/(crypto|hash)\.c$'
exit $status
