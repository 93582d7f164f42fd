/*
 * geo.h - place an address on the map: registration country and autonomous
 * system, from MaxMind DB format files (libmaxminddb).
 *
 * Any MaxMind-format database works: the default country file from
 * @ip-location-db (top-level "country_code"), GeoLite2 or DB-IP country/city
 * files (country.iso_code, registered_country.iso_code), and ASN files with
 * GeoLite2-ASN field names (autonomous_system_number,
 * autonomous_system_organization). Private, loopback, link-local, CGNAT,
 * multicast and reserved addresses are never looked up: databases place some
 * of them in a country (the default one puts 172.16/12 in AU).
 *
 * Ownership: geo_open() hands the caller a struct geo that owns both open
 * databases and every string a struct geo_db_info points to; they live until
 * geo_free(). geo_result holds copies, nothing borrowed. Lookups do not
 * modify the struct geo, so one may serve several readers.
 */
#ifndef FLOWAUDIT_GEO_H
#define FLOWAUDIT_GEO_H

#include <stdbool.h>
#include <stdint.h>

#include "flowaudit/common.h"

struct geo;

/* What a report says about the database it used. */
struct geo_db_info {
	const char *path;          /* as given to geo_open() */
	const char *database_type; /* metadata database_type, "" if none */
	const char *description;   /* English description, else the first; "" if none */
	uint64_t build_epoch;      /* seconds since the epoch, from the metadata */
	uint32_t ip_version;       /* 4 or 6 */
	uint64_t node_count;
};

struct geo_result {
	enum fa_addr_scope scope; /* always set */
	bool looked_up;           /* false for every scope but public, or no database */
	bool found_country;
	char country[3]; /* ISO 3166-1 alpha-2, upper case; "" when not found */
	bool found_asn;
	uint32_t asn;
	char as_org[128]; /* valid UTF-8 without control characters; may be "" */
};

/*
 * Opens the country and the ASN database; either path may be NULL, which
 * turns that lookup off. A file that cannot be opened or is not a MaxMind DB
 * gives FA_EINPUT with a message naming the file and libmaxminddb's reason;
 * out of memory gives FA_ERUNTIME. *out is set only on FA_OK.
 */
int geo_open(const char *country_path, const char *asn_path, struct geo **out,
	     struct fa_err *err);
/* Closes both databases. NULL is a no-op. */
void geo_free(struct geo *g);

/*
 * Fills *out for address a. IPv4 (and IPv4-mapped IPv6, ::ffff:a.b.c.d) is
 * looked up as IPv4. g NULL, an unset address or a non-public scope: nothing
 * found. A database error on one lookup reads as "not found".
 */
void geo_lookup(const struct geo *g, const fa_addr *a, struct geo_result *out);

/* Metadata of the open databases; NULL when that database is not open. */
const struct geo_db_info *geo_country_info(const struct geo *g);
const struct geo_db_info *geo_asn_info(const struct geo *g);

/*
 * Where to find the databases when the command line names none, first match
 * wins: $FLOWAUDIT_GEO_COUNTRY / $FLOWAUDIT_GEO_ASN (returned even if the file
 * is missing, so geo_open() can say so); data/geo/{country,asn}.mmdb under
 * the working directory; data/geo/ beside the directory of the running
 * executable (build/flowaudit in the source tree); then
 * /usr/local/share/flowaudit/geo/. NULL when none exists. The string is
 * static and stays valid until the next call of the same function.
 */
const char *geo_default_country_path(void);
const char *geo_default_asn_path(void);

/*
 * The attribution the CC BY 4.0 licences of the default databases ask for,
 * one line; every report that used them must carry it.
 */
const char *geo_attribution(void);

#endif
