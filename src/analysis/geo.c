/*
 * geo.c - registration country and autonomous system of public addresses.
 *
 * Receives addresses from the attribution stage; hands back a geo_result of
 * copied, sanitised values (two-letter country, AS number, AS organisation).
 * Owns up to two memory-mapped MaxMind DB files and their metadata; this is
 * the only file that includes <maxminddb.h>.
 *
 * Workload: one lookup per distinct remote address of a capture, a few
 * thousand at most; each is a walk of at most 128 tree nodes in the mapped
 * file, no allocation. Opening maps the file; libmaxminddb checks the
 * metadata and the search tree's shape then, and each lookup checks the
 * pointers it follows, so a corrupt file gives errors, not wild reads.
 *
 * IPv4 is looked up as IPv4 (an AF_INET sockaddr): libmaxminddb then starts
 * from the ::/96 subtree of an IPv6 database, where MaxMind-format writers
 * put IPv4, rather than from ::ffff:0:0/96, which many files leave empty.
 * Strings from the file are read through a cursor and copied only as whole,
 * valid UTF-8 sequences without control characters, because they end up in
 * JSON and HTML reports.
 */
#include "flowaudit/geo.h"

#include <errno.h>
#include <limits.h>
#include <maxminddb.h>

#ifndef FLOWAUDIT_GEO_DIR
#define FLOWAUDIT_GEO_DIR "/usr/local/share/flowaudit/geo"
#endif
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowaudit/cursor.h"

struct geo_db {
	bool open;
	MMDB_s mmdb;
	char *path;
	struct geo_db_info info;
};

struct geo {
	struct geo_db country;
	struct geo_db asn;
};

static const char *metadata_description(const MMDB_s *m)
{
	MMDB_description_s *const *d = m->metadata.description.descriptions;
	size_t n = m->metadata.description.count;
	if (d == NULL || n == 0)
		return "";
	for (size_t i = 0; i < n; i++) {
		if (d[i] != NULL && d[i]->language != NULL && strcmp(d[i]->language, "en") == 0 &&
		    d[i]->description != NULL)
			return d[i]->description;
	}
	return d[0] != NULL && d[0]->description != NULL ? d[0]->description : "";
}

static int db_open(struct geo_db *db, const char *path, const char *what, struct fa_err *err)
{
	db->path = strdup(path);
	if (db->path == NULL) {
		fa_err_set(err, "%s database %s: out of memory", what, path);
		return FA_ERUNTIME;
	}
	int rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
	if (rc != MMDB_SUCCESS) {
		int saved = errno;
		if (rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR)
			fa_err_set(err, "%s database %s: %s (%s); give a MaxMind DB file or run make setup",
				   what, path, MMDB_strerror(rc), strerror(saved));
		else if (rc == MMDB_OUT_OF_MEMORY_ERROR)
			fa_err_set(err, "%s database %s: %s", what, path, MMDB_strerror(rc));
		else
			fa_err_set(err, "%s database %s: %s; give a MaxMind DB (.mmdb) file", what,
				   path, MMDB_strerror(rc));
		free(db->path);
		db->path = NULL;
		return rc == MMDB_OUT_OF_MEMORY_ERROR ? FA_ERUNTIME : FA_EINPUT;
	}
	db->open = true;
	db->info.path = db->path;
	db->info.database_type =
		db->mmdb.metadata.database_type != NULL ? db->mmdb.metadata.database_type : "";
	db->info.description = metadata_description(&db->mmdb);
	db->info.build_epoch = db->mmdb.metadata.build_epoch;
	db->info.ip_version = db->mmdb.metadata.ip_version;
	db->info.node_count = db->mmdb.metadata.node_count;
	return FA_OK;
}

static void db_close(struct geo_db *db)
{
	if (db->open)
		MMDB_close(&db->mmdb);
	db->open = false;
	free(db->path);
	db->path = NULL;
}

int geo_open(const char *country_path, const char *asn_path, struct geo **out,
	     struct fa_err *err)
{
	struct geo *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		fa_err_set(err, "geo: out of memory");
		return FA_ERUNTIME;
	}
	int rc = FA_OK;
	if (country_path != NULL)
		rc = db_open(&g->country, country_path, "country", err);
	if (rc == FA_OK && asn_path != NULL)
		rc = db_open(&g->asn, asn_path, "ASN", err);
	if (rc != FA_OK) {
		geo_free(g);
		return rc;
	}
	*out = g;
	return FA_OK;
}

void geo_free(struct geo *g)
{
	if (g == NULL)
		return;
	db_close(&g->country);
	db_close(&g->asn);
	free(g);
}

const struct geo_db_info *geo_country_info(const struct geo *g)
{
	return g != NULL && g->country.open ? &g->country.info : NULL;
}

const struct geo_db_info *geo_asn_info(const struct geo *g)
{
	return g != NULL && g->asn.open ? &g->asn.info : NULL;
}

/*
 * Copies a string from the database into dst (size > 0), always terminated.
 * Control characters (C0, DEL, C1) and bytes that are not valid UTF-8 become '?'; a
 * sequence that does not fit is left out whole, so dst stays valid UTF-8.
 */
static void copy_text(char *dst, size_t size, const char *src, uint32_t len)
{
	struct cursor c = cur_make((const uint8_t *)src, len);
	size_t o = 0;
	while (cur_left(&c) > 0) {
		size_t left = cur_left(&c);
		struct cursor peek = c;
		const uint8_t *rest = cur_take(&peek, left);
		size_t n = fa_utf8_len(rest, left);
		uint8_t lead = rest[0];
		const uint8_t *seq = rest;
		bool control = lead < 0x20 || lead == 0x7f || (n == 2 && lead == 0xc2 && rest[1] < 0xa0);
		if (n == 0 || control) {
			cur_skip(&c, 1);
			seq = (const uint8_t *)"?";
			n = 1;
		} else {
			cur_skip(&c, n);
		}
		if (n >= size - o)
			break;
		memcpy(dst + o, seq, n);
		o += n;
	}
	dst[o] = '\0';
}

/* Two ASCII letters, upper-cased into dst[3]; false for anything else. */
static bool copy_country(char dst[3], const MMDB_entry_data_s *d)
{
	if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size != 2)
		return false;
	struct cursor c = cur_make((const uint8_t *)d->utf8_string, d->data_size);
	for (int i = 0; i < 2; i++) {
		uint8_t ch = cur_u8(&c);
		if (ch >= 'a' && ch <= 'z')
			ch = (uint8_t)(ch - 'a' + 'A');
		if (ch < 'A' || ch > 'Z')
			return false;
		dst[i] = (char)ch;
	}
	dst[2] = '\0';
	return cur_ok(&c);
}

static void find_country(MMDB_entry_s *e, struct geo_result *out)
{
	/* ip-location-db files carry a top-level country_code; GeoLite2 and
	 * DB-IP carry where the block is used (country) and where it is
	 * registered (registered_country). */
	static const char *const paths[][3] = {
		{"country_code", NULL, NULL},
		{"country", "iso_code", NULL},
		{"registered_country", "iso_code", NULL},
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		MMDB_entry_data_s d;
		if (MMDB_aget_value(e, &d, paths[i]) == MMDB_SUCCESS &&
		    copy_country(out->country, &d)) {
			out->found_country = true;
			return;
		}
	}
}

static bool read_uint32(const MMDB_entry_data_s *d, uint32_t *v)
{
	if (!d->has_data)
		return false;
	switch (d->type) {
	case MMDB_DATA_TYPE_UINT16:
		*v = d->uint16;
		return true;
	case MMDB_DATA_TYPE_UINT32:
		*v = d->uint32;
		return true;
	case MMDB_DATA_TYPE_UINT64:
		if (d->uint64 > UINT32_MAX)
			return false;
		*v = (uint32_t)d->uint64;
		return true;
	case MMDB_DATA_TYPE_INT32:
		if (d->int32 < 0)
			return false;
		*v = (uint32_t)d->int32;
		return true;
	default:
		return false;
	}
}

static void find_asn(MMDB_entry_s *e, struct geo_result *out)
{
	static const char *const num_path[] = {"autonomous_system_number", NULL};
	static const char *const org_path[] = {"autonomous_system_organization", NULL};
	MMDB_entry_data_s d;
	if (MMDB_aget_value(e, &d, num_path) != MMDB_SUCCESS || !read_uint32(&d, &out->asn))
		return;
	out->found_asn = true;
	if (MMDB_aget_value(e, &d, org_path) == MMDB_SUCCESS && d.has_data &&
	    d.type == MMDB_DATA_TYPE_UTF8_STRING)
		copy_text(out->as_org, sizeof(out->as_org), d.utf8_string, d.data_size);
}

/* Looks sa up in db; false when the database has no entry or fails. */
static bool db_entry(const struct geo_db *db, const struct sockaddr *sa, MMDB_entry_s *entry)
{
	if (!db->open)
		return false;
	int mmdb_err = MMDB_SUCCESS;
	MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&db->mmdb, sa, &mmdb_err);
	if (mmdb_err != MMDB_SUCCESS || !r.found_entry)
		return false;
	*entry = r.entry;
	return true;
}

void geo_lookup(const struct geo *g, const fa_addr *a, struct geo_result *out)
{
	memset(out, 0, sizeof(*out));
	out->scope = fa_addr_scope(a);
	if (g == NULL || out->scope != FA_SCOPE_PUBLIC || (!g->country.open && !g->asn.open))
		return;

	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (a->v == 4) {
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, a->b, 4);
		sa = (const struct sockaddr *)&sin;
	} else if (memcmp(a->b, v4mapped, sizeof(v4mapped)) == 0) {
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, a->b + 12, 4);
		sa = (const struct sockaddr *)&sin;
	} else {
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, a->b, 16);
		sa = (const struct sockaddr *)&sin6;
	}

	out->looked_up = true;
	MMDB_entry_s e;
	if (db_entry(&g->country, sa, &e))
		find_country(&e, out);
	if (db_entry(&g->asn, sa, &e))
		find_asn(&e, out);
}

/* The first candidate that is readable, copied into buf; NULL if none. */
static const char *first_readable(char *buf, size_t size, const char *env, const char *file)
{
	const char *v = getenv(env);
	if (v != NULL && v[0] != '\0') {
		snprintf(buf, size, "%s", v);
		return buf;
	}

	snprintf(buf, size, "data/geo/%s", file);
	if (access(buf, R_OK) == 0)
		return buf;

	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "../data/geo/%s", file);
	if (fa_path_beside_binary(rel, buf, size) != NULL && access(buf, R_OK) == 0)
		return buf;

	snprintf(buf, size, "%s/%s", FLOWAUDIT_GEO_DIR, file);
	if (access(buf, R_OK) == 0)
		return buf;
	return NULL;
}

const char *geo_default_country_path(void)
{
	static char buf[PATH_MAX];
	return first_readable(buf, sizeof(buf), "FLOWAUDIT_GEO_COUNTRY", "country.mmdb");
}

const char *geo_default_asn_path(void)
{
	static char buf[PATH_MAX];
	return first_readable(buf, sizeof(buf), "FLOWAUDIT_GEO_ASN", "asn.mmdb");
}

const char *geo_attribution(void)
{
	return "Geolocation: ip-location-db (geo-whois-asn-country, asn), with modifications, "
	       "from data by the Number Resource Organization (nro.net), RouteViews "
	       "(routeviews.org) and DB-IP (IP Geolocation by DB-IP, https://db-ip.com), "
	       "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)";
}
