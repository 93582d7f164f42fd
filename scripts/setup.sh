#!/bin/sh
# setup.sh - bring a Debian 12 machine to the point where flowaudit builds,
# tests and audits: the Debian packages it links and tests with, and the
# geolocation data under data/geo/ (fetched from npm, see docs and
# data/geo/*.README.md for the licences).
#
# Run by `make setup`. Idempotent: with everything present it prints nothing
# and exits 0. Each action it takes prints one line. Exits 1 with a message
# when it cannot finish (not root with packages missing, npm or network down).

# Debian packages the build, the test suite and the fuzz targets need.
PACKAGES="build-essential pkg-config libpcap-dev libndpi-dev libndpi-bin
libmaxminddb-dev mmdb-bin libjansson-dev libcmocka-dev zlib1g-dev tshark
libmaxmind-db-writer-perl python3 python3-scapy npm clang libclang-rt-dev
iproute2 dnsmasq openssl libssl-dev libnghttp2-dev libnghttp3-dev nghttp2-server nghttp2-client curl tcpdump tcpreplay chromium poppler-utils python3-jsonschema time dnsutils
libcurl4-openssl-dev clickhouse-server zookeeper"

COUNTRY_PKG=@ip-location-db/geo-whois-asn-country-mmdb
ASN_PKG=@ip-location-db/asn

TOP=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$TOP" || exit 1
GEO=data/geo

say() { echo "setup: $*"; }
die() {
	echo "setup: $*" >&2
	exit 1
}

pkg_present() {
	# npm also ships inside nodejs builds that do not come from Debian;
	# any working npm will do for `npm pack`.
	case $1 in
	npm) command -v npm >/dev/null 2>&1 && return 0 ;;
	esac
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
	missing=""
	for p in $PACKAGES; do
		pkg_present "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing Debian packages:$missing" >&2
		echo "setup: as root run: apt-get install$missing" >&2
		exit 1
	fi
	case " $missing " in
	*" tshark "*)
		# Otherwise the install stops to ask about non-root capture.
		echo "wireshark-common wireshark-common/install-setuid boolean false" |
			debconf-set-selections || die "debconf-set-selections failed"
		;;
	esac
	say "installing Debian packages:$missing"
	log=$(mktemp "${TMPDIR:-/tmp}/flowaudit-apt.XXXXXX") || die "mktemp failed"
	# apt and debconf chatter goes to the log; it is shown only on failure.
	# shellcheck disable=SC2086 # one word per package
	if ! { apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing; } >"$log" 2>&1; then
		tail -n 20 "$log" | sed 's/^/  apt: /' >&2
		rm -f "$log"
		die "apt-get install failed for:$missing"
	fi
	rm -f "$log"
}

TMP=""
# shellcheck disable=SC2317 # called from the trap
cleanup() { [ -n "$TMP" ] && rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# npm_fetch PKG: downloads the package tarball into $TMP, unpacks it to
# $TMP/package and prints its version.
npm_fetch() {
	command -v npm >/dev/null 2>&1 || die "npm not found; install the npm package"
	rm -rf "$TMP/package" "$TMP"/*.tgz
	if ! tgz=$(cd "$TMP" && npm pack --loglevel=error "$1" 2>"$TMP/npm.err"); then
		head -n 5 "$TMP/npm.err" | sed 's/^/  /' >&2
		die "npm pack $1 failed (no network or registry unreachable?)"
	fi
	tgz=$(echo "$tgz" | tail -n 1)
	[ -f "$TMP/$tgz" ] || die "npm pack $1 produced no tarball"
	tar -xzf "$TMP/$tgz" -C "$TMP" || die "cannot unpack $tgz from $1"
	sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$TMP/package/package.json" | head -n 1
}

# keep_docs PREFIX FILE...: copies the package's licence and readme files
# beside the database as data/geo/PREFIX.FILE.
keep_docs() {
	prefix=$1
	shift
	for f in "$@"; do
		[ -f "$TMP/package/$f" ] && cp "$TMP/package/$f" "$GEO/$prefix.$f"
	done
	return 0
}

fetch_country() {
	ver=$(npm_fetch "$COUNTRY_PKG") || exit 1
	src="$TMP/package/geo-whois-asn-country.mmdb"
	[ -s "$src" ] || die "$COUNTRY_PKG@$ver has no geo-whois-asn-country.mmdb"
	if command -v mmdblookup >/dev/null 2>&1; then
		mmdblookup --file "$src" --ip 8.8.8.8 country_code >/dev/null 2>&1 ||
			die "$COUNTRY_PKG@$ver: geo-whois-asn-country.mmdb does not read as a MaxMind DB"
	fi
	if ! cp "$src" "$GEO/country.mmdb.tmp" ||
		! mv -f "$GEO/country.mmdb.tmp" "$GEO/country.mmdb"; then
		die "cannot write $GEO/country.mmdb"
	fi
	keep_docs country README.md NRO_LICENSE package.json
	say "fetched $GEO/country.mmdb from $COUNTRY_PKG@$ver"
}

build_asn() {
	ver=$(npm_fetch "$ASN_PKG") || exit 1
	for f in asn-ipv4.csv asn-ipv6.csv; do
		[ -s "$TMP/package/$f" ] || die "$ASN_PKG@$ver has no $f"
	done
	start=$(date +%s)
	out=$(perl scripts/build-asn-mmdb.pl "$GEO/asn.mmdb" \
		"$TMP/package/asn-ipv4.csv" "$TMP/package/asn-ipv6.csv") ||
		die "building $GEO/asn.mmdb from $ASN_PKG@$ver failed"
	end=$(date +%s)
	keep_docs asn README.md NRO_LICENSE DBIP-LICENSE ROUTEVIEWS-LICENSE MODIFICATIONS package.json
	say "built $GEO/asn.mmdb from $ASN_PKG@$ver ($out, $((end - start)) s)"
}

install_packages

if [ ! -s "$GEO/country.mmdb" ] || [ ! -s "$GEO/asn.mmdb" ]; then
	mkdir -p "$GEO" || die "cannot create $GEO"
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/flowaudit-setup.XXXXXX") || die "mktemp failed"
	[ -s "$GEO/country.mmdb" ] || fetch_country
	[ -s "$GEO/asn.mmdb" ] || build_asn
fi
exit 0
