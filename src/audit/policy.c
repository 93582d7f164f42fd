/*
 * policy.c - loads and validates a policy declaration (flowaudit-policy/1).
 *
 * Receives: the path of a declaration and a way to ask whether an SDK id is
 * in the signature catalogue. Hands on: a struct policy the audit reads,
 * with storage regions expanded (EU, EEA) and sorted for lookup. Owns: every
 * string of the policy, each allocated separately and freed by policy_free().
 *
 * Workload: one file of a few kilobytes, once per run, read whole (at most
 * POLICY_MAX_FILE_BYTES) by policy_text.c, which also checks the nesting
 * depth and, when an error is reported here, turns its field path back into
 * a line and column.
 *
 * Loading is strict because a declaration that silently drops a misspelt
 * field makes every finding built on it wrong: each problem is FA_EINPUT
 * with the file, the position, the field path and what to write instead.
 */
#include "flowaudit/policy.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

/* ---- vocabularies ---- */

static const char *const purposes[] = {
	"advertising", "analytics", "attribution", "crash_reporting", "push", "social_login",
	"location", "maps", "payments", "customer_messaging", "remote_config", "authentication",
	"performance_monitoring", "cdn", "cloud", "security", "content", "other",
};

static const char *const categories[] = {
	"device_id", "advertising_id", "imei", "imsi", "iccid", "android_id", "serial", "mac",
	"phone", "email", "precise_location", "approx_location", "ip_address", "contacts",
	"audio", "images", "video", "clipboard", "usage_data", "crash_data", "account", "payment",
};

/* The hardware and system identifiers "device_id" stands for. */
static const char *const device_ids[] = {"imei", "imsi", "iccid", "android_id", "serial", "mac"};

/* Every assigned ISO 3166-1 alpha-2 code (249), in order. */
static const char iso_codes[] =
	"ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
	"CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFR"
	"GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJP"
	"KEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMT"
	"MUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURW"
	"SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUG"
	"UMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

static const char eu_members[] =
	"ATBEBGCYCZDEDKEEESFIFRGRHRHUIEITLTLULVMTNLPLPTROSESISK";
static const char eea_extra[] = "ISLINO";

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool in_pairs(const char *pairs, const char *cc)
{
	for (size_t i = 0; pairs[i] != '\0'; i += 2)
		if (pairs[i] == cc[0] && pairs[i + 1] == cc[1])
			return true;
	return false;
}

bool iso3166_valid(const char *cc)
{
	return cc != NULL && isupper((unsigned char)cc[0]) && isupper((unsigned char)cc[1]) &&
	       cc[2] == '\0' && in_pairs(iso_codes, cc);
}

bool policy_purpose_valid(const char *p)
{
	return in_list(purposes, sizeof(purposes) / sizeof(*purposes), p);
}

bool policy_category_valid(const char *c)
{
	return in_list(categories, sizeof(categories) / sizeof(*categories), c);
}

const char *const *policy_purposes(size_t *n)
{
	*n = sizeof(purposes) / sizeof(*purposes);
	return purposes;
}

const char *const *policy_categories(size_t *n)
{
	*n = sizeof(categories) / sizeof(*categories);
	return categories;
}

const char *policy_identifier_category(const char *type)
{
	if (type == NULL)
		return NULL;
	if (strcmp(type, "latitude") == 0 || strcmp(type, "longitude") == 0 ||
	    strcmp(type, "location") == 0)
		return "precise_location";
	for (size_t i = 0; i < sizeof(categories) / sizeof(*categories); i++)
		if (strcmp(categories[i], type) == 0)
			return categories[i];
	return NULL;
}

bool policy_data_covers(const char *const *data, size_t n, const char *category)
{
	if (category == NULL)
		return false;
	bool is_dev = in_list(device_ids, sizeof(device_ids) / sizeof(*device_ids), category);
	for (size_t i = 0; i < n; i++)
		if (strcmp(data[i], category) == 0 || (is_dev && strcmp(data[i], "device_id") == 0))
			return true;
	return false;
}

bool policy_recipient_receives(const struct policy_recipient *r, const char *category)
{
	return r != NULL && policy_data_covers((const char *const *)r->data, r->n_data, category);
}

bool policy_first_party_receives(const struct policy *p, const char *category)
{
	return p != NULL && policy_data_covers((const char *const *)p->fp_data, p->n_fp_data, category);
}

/* ---- the loader ---- */

struct ld {
	const char *path;
	const char *text;
	size_t len;
	struct fa_err *err;
	bool (*sdk_known)(const char *id, void *ctx);
	void *ctx;
};

/* Fails with the position of field, or of its nearest enclosing field present in the text. */
__attribute__((format(printf, 3, 4))) static int bad(struct ld *l, const char *field,
						     const char *fmt, ...)
{
	char msg[768], where[PATH_MAX_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s", field);
	unsigned line = 1, col = 1;
	for (;;) {
		if (policy_json_locate(l->text, l->len, where, &line, &col))
			break;
		char *cut = strrchr(where, '.'), *br = strrchr(where, '[');
		if (br != NULL && (cut == NULL || br > cut))
			cut = br;
		if (where[0] == '\0')
			break;
		if (cut == NULL)
			cut = where;
		*cut = '\0';
	}
	if (field[0] == '\0')
		fa_err_set(l->err, "%s:%u:%u: %s", l->path, line, col, msg);
	else
		fa_err_set(l->err, "%s:%u:%u: field '%s': %s", l->path, line, col, field, msg);
	return FA_EINPUT;
}

static const char *sub(char *buf, const char *base, const char *key)
{
	if (snprintf(buf, PATH_MAX_LEN, "%s%s%s", base, base[0] ? "." : "", key) >= PATH_MAX_LEN)
		buf[PATH_MAX_LEN - 1] = '\0'; /* a truncated path only loses its position */
	return buf;
}

static const char *idx(char *buf, const char *base, size_t i)
{
	if (snprintf(buf, PATH_MAX_LEN, "%s[%zu]", base, i) >= PATH_MAX_LEN)
		buf[PATH_MAX_LEN - 1] = '\0';
	return buf;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int check_keys(struct ld *l, json_t *obj, const char *opath, const char *allowed)
{
	const char *key;
	json_t *v;
	char path[PATH_MAX_LEN];
	json_object_foreach(obj, key, v) {
		size_t kl = strlen(key);
		/* "" is never a field, and strstr() finds it everywhere, past the end too */
		const char *s = kl ? strstr(allowed, key) : NULL;
		while (s != NULL && !((s == allowed || s[-1] == ' ') && (s[kl] == ' ' || s[kl] == '\0')))
			s = strstr(s + 1, key);
		if (s == NULL) {
			char list[256];
			size_t n = 0;
			for (const char *a = allowed; *a != '\0' && n + 3 < sizeof(list); a++) {
				if (*a == ' ')
					list[n++] = ',';
				list[n++] = *a;
			}
			list[n] = '\0';
			return bad(l, sub(path, opath, key), "unknown field (expected one of: %s)",
				   list);
		}
	}
	return FA_OK;
}

/* The member key of obj checked against type t; *out NULL when absent and optional. */
static int member(struct ld *l, json_t *obj, const char *opath, const char *key, json_type t,
		  bool required, json_t **out)
{
	char path[PATH_MAX_LEN];
	json_t *v = json_object_get(obj, key);
	*out = v;
	if (v == NULL)
		return required ? bad(l, sub(path, opath, key), "missing (required)") : FA_OK;
	bool ok = json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v));
	if (!ok) {
		static const char *const want[] = {"an object", "an array", "a string", "a number",
						   "a number", "a boolean", "a boolean", "null"};
		return bad(l, sub(path, opath, key), "expected %s, found %s", want[t], type_name(v));
	}
	return FA_OK;
}

static int get_str(struct ld *l, json_t *obj, const char *opath, const char *key, bool required,
		   char **out)
{
	json_t *v;
	char path[PATH_MAX_LEN];
	int rc = member(l, obj, opath, key, JSON_STRING, required, &v);
	if (rc != FA_OK || v == NULL)
		return rc;
	if (json_string_length(v) == 0)
		return bad(l, sub(path, opath, key), "must not be empty");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(l, sub(path, opath, key), "contains a NUL character");
	*out = strdup(json_string_value(v));
	if (*out == NULL) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

typedef int (*check_fn)(struct ld *l, const char *path, char *v);

static int get_list(struct ld *l, json_t *obj, const char *opath, const char *key, bool required,
		    check_fn check, char ***out, size_t *n)
{
	json_t *arr, *v;
	char base[PATH_MAX_LEN], path[PATH_MAX_LEN];
	int rc = member(l, obj, opath, key, JSON_ARRAY, required, &arr);
	if (rc != FA_OK || arr == NULL)
		return rc;
	sub(base, opath, key);
	*out = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (*out == NULL) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	size_t i;
	json_array_foreach(arr, i, v) {
		idx(path, base, i);
		if (!json_is_string(v))
			return bad(l, path, "expected a string, found %s", type_name(v));
		(*out)[i] = strdup(json_string_value(v));
		*n = i + 1;
		if ((*out)[i] == NULL) {
			fa_err_set(l->err, "%s: out of memory", l->path);
			return FA_ERUNTIME;
		}
		if ((rc = check(l, path, (*out)[i])) != FA_OK)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp((*out)[j], (*out)[i]) == 0)
				return bad(l, path, "'%s' is listed twice", (*out)[i]);
	}
	return FA_OK;
}

static int chk_purpose(struct ld *l, const char *path, char *v)
{
	if (policy_purpose_valid(v))
		return FA_OK;
	return bad(l, path, "unknown purpose '%s' (known: advertising, analytics, attribution, "
		   "crash_reporting, push, social_login, location, maps, payments, "
		   "customer_messaging, remote_config, authentication, performance_monitoring, cdn, "
		   "cloud, security, content, other)", v);
}

static int chk_category(struct ld *l, const char *path, char *v)
{
	if (policy_category_valid(v))
		return FA_OK;
	return bad(l, path, "unknown data category '%s' (known: device_id, advertising_id, imei, "
		   "imsi, iccid, android_id, serial, mac, phone, email, precise_location, "
		   "approx_location, ip_address, contacts, audio, images, video, clipboard, "
		   "usage_data, crash_data, account, payment)", v);
}

static int chk_domain(struct ld *l, const char *path, char *v)
{
	fa_host_normalize(v);
	size_t n = strlen(v), lab = 0, labels = 1;
	bool ok = n > 0 && n <= 253 && v[0] != '-';
	for (size_t i = 0; ok && i <= n; i++) {
		char c = v[i];
		if (c == '.' || c == '\0') {
			ok = lab > 0 && lab <= 63 && v[i - 1] != '-' && (c == '\0' || v[i + 1] != '-');
			labels += c == '.';
			lab = 0;
		} else {
			ok = isalnum((unsigned char)c) || c == '-';
			lab++;
		}
	}
	if (ok && labels >= 2 && !isdigit((unsigned char)v[n - 1]))
		return FA_OK;
	/* Echo at most 40 bytes (cut on a UTF-8 boundary) so the reason and the limit stay
	 * visible however long the value is. */
	int cut = n > 40 ? 40 : (int)n;
	while (cut > 0 && cut < (int)n && ((unsigned char)v[cut] & 0xC0) == 0x80)
		cut--;
	const char *more = (size_t)cut < n ? "\xe2\x80\xa6" : "";
	if (n > 253)
		return bad(l, path, "'%.*s%s' is %zu bytes long; a domain name is at most 253 "
			   "bytes", cut, v, more, n);
	size_t longest = 0;
	for (size_t i = 0, run = 0; i <= n; i++) {
		run = (v[i] == '.' || v[i] == '\0') ? 0 : run + 1;
		longest = run > longest ? run : longest;
	}
	if (longest > 63)
		return bad(l, path, "'%.*s%s' has a label of %zu bytes; each label (the part "
			   "between dots) is at most 63 bytes", cut, v, more, longest);
	return bad(l, path, "'%.*s%s' is not a domain name (write e.g. \"example.com\"; it covers "
		   "every subdomain)", cut, v, more);
}

static int chk_region(struct ld *l, const char *path, char *v)
{
	if (iso3166_valid(v) || strcmp(v, "EU") == 0 || strcmp(v, "EEA") == 0)
		return FA_OK;
	char up[4] = "";
	if (strlen(v) == 2) {
		up[0] = (char)toupper((unsigned char)v[0]);
		up[1] = (char)toupper((unsigned char)v[1]);
	}
	if (strcmp(up, "UK") == 0)
		return bad(l, path, "'%s' is not an ISO 3166-1 code: the United Kingdom is \"GB\"", v);
	if (strcmp(up, "EL") == 0)
		return bad(l, path, "'%s' is not an ISO 3166-1 code: Greece is \"GR\"", v);
	if (iso3166_valid(up))
		return bad(l, path, "country codes are upper case: write \"%s\"", up);
	return bad(l, path, "'%s' is not an assigned ISO 3166-1 alpha-2 country code or a group "
		   "(EU, EEA)", v);
}

/* "YYYY-MM-DD" or "YYYY-MM", a real calendar date. */
static bool chk_date(const char *s)
{
	size_t n = strlen(s);
	if (n != 7 && n != 10)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : !isdigit((unsigned char)s[i]))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = n == 10 ? atoi(s + 8) : 1;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

static int load_app(struct ld *l, json_t *root, struct policy *p)
{
	json_t *o;
	int rc = member(l, root, "", "app", JSON_OBJECT, true, &o);
	if (rc == FA_OK)
		rc = check_keys(l, o, "app", "name controller policy_date policy_url source comment");
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "name", true, &p->app_name);
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "controller", false, &p->controller);
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "policy_date", false, &p->policy_date);
	if (rc == FA_OK && p->policy_date != NULL && !chk_date(p->policy_date))
		rc = bad(l, "app.policy_date", "'%s' is not a date (YYYY-MM-DD or YYYY-MM)",
			 p->policy_date);
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "policy_url", false, &p->policy_url);
	if (rc == FA_OK && p->policy_url != NULL && strncmp(p->policy_url, "https://", 8) != 0 &&
	    strncmp(p->policy_url, "http://", 7) != 0)
		rc = bad(l, "app.policy_url", "'%s' is not an http(s) URL", p->policy_url);
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "source", false, &p->source);
	char *comment = NULL;
	if (rc == FA_OK)
		rc = get_str(l, o, "app", "comment", false, &comment);
	free(comment); /* explains the reading; only the top-level comment is kept */
	return rc;
}

static int load_first_party(struct ld *l, json_t *root, struct policy *p)
{
	json_t *o;
	int rc = member(l, root, "", "first_party", JSON_OBJECT, false, &o);
	if (rc != FA_OK || o == NULL)
		return rc;
	char *comment = NULL;
	rc = check_keys(l, o, "first_party", "domains data clause comment");
	if (rc == FA_OK)
		rc = get_list(l, o, "first_party", "domains", true, chk_domain, &p->fp_domains,
			      &p->n_fp_domains);
	if (rc == FA_OK && p->n_fp_domains == 0)
		rc = bad(l, "first_party.domains", "name at least one domain");
	if (rc == FA_OK)
		rc = get_list(l, o, "first_party", "data", false, chk_category, &p->fp_data,
			      &p->n_fp_data);
	if (rc == FA_OK)
		rc = get_str(l, o, "first_party", "clause", true, &p->fp_clause);
	if (rc == FA_OK)
		rc = get_str(l, o, "first_party", "comment", false, &comment);
	free(comment); /* explains the reading; the audit has no use for it */
	return rc;
}

static int load_recipients(struct ld *l, json_t *root, struct policy *p)
{
	json_t *arr, *o;
	char path[PATH_MAX_LEN], f[PATH_MAX_LEN];
	int rc = member(l, root, "", "recipients", JSON_ARRAY, false, &arr);
	if (rc != FA_OK || arr == NULL)
		return rc;
	p->recipients = calloc(json_array_size(arr) + 1, sizeof(*p->recipients));
	if (p->recipients == NULL) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	size_t i;
	json_array_foreach(arr, i, o) {
		struct policy_recipient *r = &p->recipients[i];
		p->n_recipients = i + 1;
		idx(path, "recipients", i);
		if (!json_is_object(o))
			return bad(l, path, "expected an object, found %s", type_name(o));
		rc = check_keys(l, o, path, "sdk purposes data clause comment");
		if (rc == FA_OK)
			rc = get_str(l, o, path, "sdk", true, &r->sdk);
		if (rc == FA_OK && l->sdk_known != NULL && !l->sdk_known(r->sdk, l->ctx))
			rc = bad(l, sub(f, path, "sdk"), "unknown SDK id '%s' (known ids: see flowaudit "
				 "sigs list)", r->sdk);
		for (size_t j = 0; rc == FA_OK && j < i; j++)
			if (strcmp(p->recipients[j].sdk, r->sdk) == 0)
				rc = bad(l, sub(f, path, "sdk"), "'%s' is declared twice (also "
					 "recipients[%zu])", r->sdk, j);
		if (rc == FA_OK)
			rc = get_list(l, o, path, "purposes", true, chk_purpose, &r->purposes,
				      &r->n_purposes);
		if (rc == FA_OK && r->n_purposes == 0)
			rc = bad(l, sub(f, path, "purposes"), "name at least one purpose");
		if (rc == FA_OK)
			rc = get_list(l, o, path, "data", true, chk_category, &r->data, &r->n_data);
		if (rc == FA_OK)
			rc = get_str(l, o, path, "clause", true, &r->clause);
		if (rc == FA_OK)
			rc = get_str(l, o, path, "comment", false, &r->comment);
		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

static int load_processors(struct ld *l, json_t *root, struct policy *p)
{
	json_t *arr, *o;
	char path[PATH_MAX_LEN];
	int rc = member(l, root, "", "generic_processors", JSON_ARRAY, false, &arr);
	if (rc != FA_OK || arr == NULL)
		return rc;
	p->processors = calloc(json_array_size(arr) + 1, sizeof(*p->processors));
	if (p->processors == NULL) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	size_t i;
	json_array_foreach(arr, i, o) {
		struct policy_processor *r = &p->processors[i];
		p->n_processors = i + 1;
		idx(path, "generic_processors", i);
		if (!json_is_object(o))
			return bad(l, path, "expected an object, found %s", type_name(o));
		rc = check_keys(l, o, path, "role purposes clause comment");
		if (rc == FA_OK)
			rc = get_str(l, o, path, "role", true, &r->role);
		if (rc == FA_OK)
			rc = get_list(l, o, path, "purposes", false, chk_purpose, &r->purposes,
				      &r->n_purposes);
		if (rc == FA_OK)
			rc = get_str(l, o, path, "clause", true, &r->clause);
		if (rc == FA_OK)
			rc = get_str(l, o, path, "comment", false, &r->comment);
		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

static int load_review(struct ld *l, json_t *root, struct policy *p)
{
	json_t *arr, *o;
	char path[PATH_MAX_LEN];
	int rc = member(l, root, "", "review", JSON_ARRAY, false, &arr);
	if (rc != FA_OK || arr == NULL)
		return rc;
	p->review = calloc(json_array_size(arr) + 1, sizeof(*p->review));
	if (p->review == NULL) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	size_t i;
	json_array_foreach(arr, i, o) {
		struct policy_review *r = &p->review[i];
		p->n_review = i + 1;
		idx(path, "review", i);
		if (!json_is_object(o))
			return bad(l, path, "expected an object {\"what\": ..., \"where\": ...}, found %s",
				   type_name(o));
		rc = check_keys(l, o, path, "what where");
		if (rc == FA_OK)
			rc = get_str(l, o, path, "what", true, &r->what);
		if (rc == FA_OK)
			rc = get_str(l, o, path, "where", true, &r->where);
		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int expand_regions(struct ld *l, struct policy *p)
{
	char codes[sizeof(iso_codes) / 2][3];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(iso_codes) / 2; i++) {
		const char *cc = &iso_codes[2 * i];
		bool take = false;
		for (size_t j = 0; j < p->n_regions_declared && !take; j++) {
			const char *r = p->regions_declared[j];
			take = (r[0] == cc[0] && r[1] == cc[1] && r[2] == '\0') ||
			       (strcmp(r, "EU") == 0 && in_pairs(eu_members, cc)) ||
			       (strcmp(r, "EEA") == 0 &&
				(in_pairs(eu_members, cc) || in_pairs(eea_extra, cc)));
		}
		if (take) {
			memcpy(codes[n], cc, 2);
			codes[n++][2] = '\0';
		}
	}
	p->regions = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; p->regions != NULL && i < n; i++) {
		if ((p->regions[i] = strdup(codes[i])) == NULL)
			break;
		p->n_regions = i + 1;
	}
	if (p->regions == NULL || p->n_regions != n) {
		fa_err_set(l->err, "%s: out of memory", l->path);
		return FA_ERUNTIME;
	}
	qsort(p->regions, p->n_regions, sizeof(char *), cmp_str);
	return FA_OK;
}

static int load_cross_border(struct ld *l, json_t *root, struct policy *p)
{
	json_t *o, *regions;
	int rc = member(l, root, "", "cross_border", JSON_OBJECT, false, &o);
	if (rc == FA_OK)
		rc = member(l, root, "", "storage_regions", JSON_ARRAY, false, &regions);
	if (rc != FA_OK)
		return rc;
	if (regions != NULL && o == NULL)
		return bad(l, "storage_regions", "declared without cross_border: add \"cross_border\": "
			   "{\"rule\": \"never\" | \"with_consent\" | \"allowed\", \"clause\": ...}");
	if (o != NULL && regions == NULL)
		return bad(l, "cross_border", "needs storage_regions (the countries data may be "
			   "stored in)");
	p->xb_rule = XB_ALLOWED;
	if (o == NULL)
		return FA_OK;
	rc = get_list(l, root, "", "storage_regions", true, chk_region, &p->regions_declared,
		      &p->n_regions_declared);
	if (rc == FA_OK && p->n_regions_declared == 0)
		rc = bad(l, "storage_regions", "name at least one country or group");
	if (rc == FA_OK)
		rc = expand_regions(l, p);
	if (rc == FA_OK)
		rc = check_keys(l, o, "cross_border", "rule clause comment");
	char *rule = NULL;
	if (rc == FA_OK)
		rc = get_str(l, o, "cross_border", "rule", true, &rule);
	if (rc == FA_OK) {
		if (strcmp(rule, "never") == 0)
			p->xb_rule = XB_NEVER;
		else if (strcmp(rule, "with_consent") == 0)
			p->xb_rule = XB_WITH_CONSENT;
		else if (strcmp(rule, "allowed") == 0)
			p->xb_rule = XB_ALLOWED;
		else
			rc = bad(l, "cross_border.rule", "unknown rule '%s' (expected never, "
				 "with_consent or allowed)", rule);
	}
	free(rule);
	if (rc == FA_OK)
		rc = get_str(l, o, "cross_border", "clause", true, &p->xb_clause);
	if (rc == FA_OK)
		rc = get_str(l, o, "cross_border", "comment", false, &p->xb_comment);
	return rc;
}

static int load_encryption(struct ld *l, json_t *root, struct policy *p)
{
	json_t *o, *v;
	char *comment = NULL;
	int rc = member(l, root, "", "encryption_in_transit", JSON_OBJECT, false, &o);
	if (rc != FA_OK || o == NULL)
		return rc;
	p->enc_declared = true;
	rc = check_keys(l, o, "encryption_in_transit", "promised clause comment");
	if (rc == FA_OK)
		rc = member(l, o, "encryption_in_transit", "promised", JSON_TRUE, true, &v);
	if (rc == FA_OK)
		p->enc_promised = json_is_true(v);
	if (rc == FA_OK)
		rc = get_str(l, o, "encryption_in_transit", "clause", true, &p->enc_clause);
	if (rc == FA_OK)
		rc = get_str(l, o, "encryption_in_transit", "comment", false, &comment);
	free(comment);
	return rc;
}

static int load(struct ld *l, json_t *root, struct policy *p)
{
	if (!json_is_object(root))
		return bad(l, "", "a declaration is a JSON object, found %s", type_name(root));
	json_t *schema;
	int rc = member(l, root, "", "schema", JSON_STRING, false, &schema);
	if (rc != FA_OK)
		return rc;
	if (schema == NULL)
		return bad(l, "", "field 'schema' is missing: begin with \"schema\": \"%s\"",
			   POLICY_SCHEMA);
	if (strcmp(json_string_value(schema), POLICY_SCHEMA) != 0)
		return bad(l, "schema", "'%s' is not supported (expected \"%s\")",
			   json_string_value(schema), POLICY_SCHEMA);
	rc = check_keys(l, root, "", "schema app comment first_party recipients generic_processors "
			"storage_regions cross_border consent_required_for consent_clause "
			"encryption_in_transit review");
	if (rc == FA_OK)
		rc = get_str(l, root, "", "comment", false, &p->comment);
	if (rc == FA_OK)
		rc = load_app(l, root, p);
	if (rc == FA_OK)
		rc = load_first_party(l, root, p);
	if (rc == FA_OK)
		rc = load_recipients(l, root, p);
	if (rc == FA_OK)
		rc = load_processors(l, root, p);
	if (rc == FA_OK)
		rc = load_cross_border(l, root, p);
	if (rc == FA_OK)
		rc = get_list(l, root, "", "consent_required_for", false, chk_purpose,
			      &p->consent_required_for, &p->n_consent_required);
	if (rc == FA_OK)
		rc = get_str(l, root, "", "consent_clause", false, &p->consent_clause);
	if (rc == FA_OK)
		rc = load_encryption(l, root, p);
	if (rc == FA_OK)
		rc = load_review(l, root, p);
	return rc;
}

int policy_load(const char *path, bool (*sdk_known)(const char *id, void *ctx), void *ctx,
		struct policy **out, struct fa_err *err)
{
	*out = NULL;
	struct ld l = {.path = path, .err = err, .sdk_known = sdk_known, .ctx = ctx};
	json_t *root;
	char *text;
	int rc = policy_json_read(path, POLICY_MAX_FILE_BYTES, &root, &text, &l.len, err);
	if (rc != FA_OK)
		return rc;
	l.text = text;
	struct policy *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->path = strdup(path)) == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		rc = FA_ERUNTIME;
	} else {
		rc = load(&l, root, p);
	}
	json_decref(root);
	free(text);
	if (rc != FA_OK) {
		policy_free(p);
		return rc;
	}
	*out = p;
	return FA_OK;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->path);
	free(p->app_name);
	free(p->controller);
	free(p->policy_date);
	free(p->policy_url);
	free(p->source);
	free(p->comment);
	free_list(p->fp_domains, p->n_fp_domains);
	free_list(p->fp_data, p->n_fp_data);
	free(p->fp_clause);
	for (size_t i = 0; p->recipients != NULL && i < p->n_recipients; i++) {
		struct policy_recipient *r = &p->recipients[i];
		free(r->sdk);
		free_list(r->purposes, r->n_purposes);
		free_list(r->data, r->n_data);
		free(r->clause);
		free(r->comment);
	}
	free(p->recipients);
	for (size_t i = 0; p->processors != NULL && i < p->n_processors; i++) {
		struct policy_processor *r = &p->processors[i];
		free(r->role);
		free_list(r->purposes, r->n_purposes);
		free(r->clause);
		free(r->comment);
	}
	free(p->processors);
	free_list(p->regions, p->n_regions);
	free_list(p->regions_declared, p->n_regions_declared);
	free(p->xb_clause);
	free(p->xb_comment);
	free_list(p->consent_required_for, p->n_consent_required);
	free(p->enc_clause);
	free(p->consent_clause);
	for (size_t i = 0; p->review != NULL && i < p->n_review; i++) {
		free(p->review[i].what);
		free(p->review[i].where);
	}
	free(p->review);
	free(p);
}

/* ---- lookups ---- */

bool policy_region_allowed(const struct policy *p, const char *cc)
{
	if (cc == NULL || strlen(cc) != 2)
		return false;
	if (p->n_regions_declared == 0)
		return true;
	char up[3] = {(char)toupper((unsigned char)cc[0]), (char)toupper((unsigned char)cc[1]), 0};
	const char *key = up;
	return bsearch(&key, p->regions, p->n_regions, sizeof(char *), cmp_str) != NULL;
}

bool policy_needs_consent(const struct policy *p, const char *purpose)
{
	return in_list((const char *const *)p->consent_required_for, p->n_consent_required, purpose);
}

const struct policy_recipient *policy_find_recipient(const struct policy *p, const char *sdk_id)
{
	for (size_t i = 0; sdk_id != NULL && i < p->n_recipients; i++)
		if (strcmp(p->recipients[i].sdk, sdk_id) == 0)
			return &p->recipients[i];
	return NULL;
}

bool policy_is_first_party(const struct policy *p, const char *host, const char **matched)
{
	char h[256];
	if (host == NULL || strlen(host) >= sizeof(h))
		return false;
	memcpy(h, host, strlen(host) + 1);
	fa_host_normalize(h);
	size_t hl = strlen(h), best = 0;
	const char *m = NULL;
	for (size_t i = 0; i < p->n_fp_domains; i++) {
		const char *d = p->fp_domains[i];
		size_t dl = strlen(d);
		if (dl > hl || dl <= best || strcmp(h + hl - dl, d) != 0)
			continue;
		if (dl == hl || h[hl - dl - 1] == '.') {
			m = d;
			best = dl;
		}
	}
	if (matched != NULL)
		*matched = m;
	return m != NULL;
}

const char *cross_border_rule_name(enum cross_border_rule r)
{
	switch (r) {
	case XB_NEVER: return "never";
	case XB_WITH_CONSENT: return "with_consent";
	case XB_ALLOWED: return "allowed";
	}
	return "?";
}
