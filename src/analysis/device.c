/*
 * device.c - loads and checks the device profile (-d DEVICE.json).
 *
 * Receives a path; hands on a struct device_profile whose identifiers the
 * identifier scanner turns into patterns. Owns the profile it returns.
 * Workload: one small file per run, read whole (at most 64 KiB).
 *
 * Checking is strict because a typo in a profile is silent otherwise: an
 * IMEI with a digit missing is never found, and the audit would report a
 * clean device. So each value is checked for the shape its kind has, unknown
 * fields are refused, and messages name the field without echoing the value
 * (profiles hold personal data that should not land in CI logs).
 */
#include "flowaudit/device.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*shape_fn)(const char *v, size_t n);

static bool all_digits(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)v[i]))
			return false;
	return true;
}

static bool all_hex(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]))
			return false;
	return true;
}

static bool shape_imei(const char *v, size_t n) { return n == 15 && all_digits(v, n); }
static bool shape_imsi(const char *v, size_t n) { return (n == 14 || n == 15) && all_digits(v, n); }
static bool shape_iccid(const char *v, size_t n) { return n >= 18 && n <= 22 && all_digits(v, n); }
static bool shape_android_id(const char *v, size_t n) { return n == 16 && all_hex(v, n); }

static bool shape_uuid(const char *v, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? v[i] != '-' : !isxdigit((unsigned char)v[i]))
			return false;
	}
	return true;
}

static bool shape_mac(const char *v, size_t n)
{
	if (n == 12)
		return all_hex(v, n);
	if (n != 17)
		return false;
	char sep = v[2];
	if (sep != ':' && sep != '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 2 ? v[i] != sep : !isxdigit((unsigned char)v[i]))
			return false;
	}
	return true;
}

/* E.164: up to 15 digits; fewer than 6 cannot identify a subscriber. */
static bool shape_phone(const char *v, size_t n)
{
	if (n > 0 && v[0] == '+') {
		v++;
		n--;
	}
	return n >= 6 && n <= 15 && all_digits(v, n);
}

static bool shape_email(const char *v, size_t n)
{
	const char *at = memchr(v, '@', n);
	if (at == NULL || at == v || at == v + n - 1 || memchr(at + 1, '@', n - (size_t)(at - v) - 1))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return false;
	return true;
}

static bool shape_printable(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return false;
	return true;
}

static const struct field {
	const char *name;
	shape_fn shape;
	const char *want;
} fields[] = {
	{"imei", shape_imei, "15 digits"},
	{"imsi", shape_imsi, "14 or 15 digits"},
	{"iccid", shape_iccid, "18 to 22 digits"},
	{"android_id", shape_android_id, "16 hex digits"},
	{"advertising_id", shape_uuid, "a UUID (8-4-4-4-12 hex digits)"},
	{"serial", shape_printable, "printable characters without spaces"},
	{"mac", shape_mac, "6 octets in hex, separated by ':' or '-' or not at all"},
	{"phone", shape_phone, "6 to 15 digits with an optional leading '+'"},
	{"email", shape_email, "an address with one '@' and no spaces"},
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

void device_free(struct device_profile *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_ids; i++) {
		free(d->ids[i].value);
		free(d->ids[i].type_store);
	}
	free(d->ids);
	free(d->name);
	free(d->path);
	free(d);
}

static int read_file(const char *path, char **buf, size_t *len, struct fa_err *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fa_err_set(err, "%s: cannot open device profile: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	char *b = malloc(DEVICE_FILE_MAX + 1);
	if (b == NULL) {
		fclose(f);
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	size_t n = fread(b, 1, DEVICE_FILE_MAX + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad) {
		free(b);
		fa_err_set(err, "%s: read error", path);
		return FA_ERUNTIME;
	}
	if (n > DEVICE_FILE_MAX) {
		free(b);
		fa_err_set(err, "%s: device profile larger than %d KiB", path, DEVICE_FILE_MAX / 1024);
		return FA_EINPUT;
	}
	*buf = b;
	*len = n;
	return FA_OK;
}

static int add_id(struct device_profile *d, const char *type, const char *type_owned,
		  const char *value, struct fa_err *err)
{
	struct device_identifier *x = &d->ids[d->n_ids];
	x->value = strdup(value);
	x->type_store = type_owned ? strdup(type_owned) : NULL;
	if (x->value == NULL || (type_owned && x->type_store == NULL)) {
		free(x->value);
		free(x->type_store);
		fa_err_set(err, "%s: out of memory", d->path);
		return FA_ERUNTIME;
	}
	x->type = type_owned ? x->type_store : type;
	d->n_ids++;
	return FA_OK;
}

static int string_field(const char *path, const char *key, json_t *v, const char **out,
			struct fa_err *err)
{
	if (!json_is_string(v)) {
		fa_err_set(err, "%s: field '%s': expected a string", path, key);
		return FA_EINPUT;
	}
	*out = json_string_value(v);
	size_t n = json_string_length(v);
	if (n > DEVICE_VALUE_MAX || strlen(*out) != n) {
		fa_err_set(err, "%s: field '%s': at most %d characters, no NUL", path, key,
			   DEVICE_VALUE_MAX);
		return FA_EINPUT;
	}
	return FA_OK;
}

static bool type_name_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)t[i]) && !isdigit((unsigned char)t[i]) && t[i] != '_')
			return false;
	return true;
}

static int load_other(struct device_profile *d, json_t *arr, struct fa_err *err)
{
	const char *path = d->path;
	if (!json_is_array(arr)) {
		fa_err_set(err, "%s: field 'other': expected an array of {\"type\", \"value\"}", path);
		return FA_EINPUT;
	}
	if (json_array_size(arr) > DEVICE_OTHER_MAX) {
		fa_err_set(err, "%s: field 'other': at most %d entries", path, DEVICE_OTHER_MAX);
		return FA_EINPUT;
	}
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		if (!json_is_object(o)) {
			fa_err_set(err, "%s: field 'other[%zu]': expected an object", path, i);
			return FA_EINPUT;
		}
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			if (strcmp(k, "type") != 0 && strcmp(k, "value") != 0) {
				fa_err_set(err, "%s: field 'other[%zu].%s': unknown field (allowed: type, value)",
					   path, i, k);
				return FA_EINPUT;
			}
		}
		char key[64];
		const char *type, *value;
		snprintf(key, sizeof(key), "other[%zu].type", i);
		int rc = string_field(path, key, json_object_get(o, "type"), &type, err);
		if (rc != FA_OK)
			return rc;
		if (!type_name_ok(type)) {
			fa_err_set(err, "%s: field '%s': 1 to 32 of a-z, 0-9, '_'", path, key);
			return FA_EINPUT;
		}
		snprintf(key, sizeof(key), "other[%zu].value", i);
		rc = string_field(path, key, json_object_get(o, "value"), &value, err);
		if (rc != FA_OK)
			return rc;
		if (!shape_printable(value, strlen(value))) {
			fa_err_set(err, "%s: field '%s': printable characters without spaces", path, key);
			return FA_EINPUT;
		}
		rc = add_id(d, NULL, type, value, err);
		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

static int load_coord(const char *path, json_t *root, const char *key, double lo, double hi,
		      bool *present, double *out, struct fa_err *err)
{
	json_t *v = json_object_get(root, key);
	*present = v != NULL;
	if (v == NULL)
		return FA_OK;
	if (!json_is_number(v)) {
		fa_err_set(err, "%s: field '%s': expected a number of decimal degrees", path, key);
		return FA_EINPUT;
	}
	*out = json_number_value(v);
	if (!(*out >= lo && *out <= hi)) {
		fa_err_set(err, "%s: field '%s': must be between %g and %g", path, key, lo, hi);
		return FA_EINPUT;
	}
	return FA_OK;
}

static int load_root(struct device_profile *d, json_t *root, struct fa_err *err)
{
	const char *path = d->path;
	if (!json_is_object(root)) {
		fa_err_set(err, "%s: expected a JSON object of identifiers", path);
		return FA_EINPUT;
	}
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		bool known = strcmp(k, "name") == 0 || strcmp(k, "latitude") == 0 ||
			     strcmp(k, "longitude") == 0 || strcmp(k, "other") == 0 ||
			     strcmp(k, "vantage") == 0;
		for (size_t i = 0; i < N_FIELDS && !known; i++)
			known = strcmp(k, fields[i].name) == 0;
		if (!known) {
			fa_err_set(err,
				   "%s: field '%s': unknown field (allowed: name, imei, imsi, iccid, "
				   "android_id, advertising_id, serial, mac, phone, email, latitude, "
				   "longitude, other, vantage)",
				   path, k);
			return FA_EINPUT;
		}
	}
	json_t *other = json_object_get(root, "other");
	size_t cap = N_FIELDS + (json_is_array(other) ? json_array_size(other) : 0);
	d->ids = calloc(cap ? cap : 1, sizeof(*d->ids));
	if (d->ids == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	const char *s;
	int rc;
	if ((v = json_object_get(root, "name")) != NULL) {
		if ((rc = string_field(path, "name", v, &s, err)) != FA_OK)
			return rc;
		if ((d->name = strdup(s)) == NULL) {
			fa_err_set(err, "%s: out of memory", path);
			return FA_ERUNTIME;
		}
	}
	if ((v = json_object_get(root, "vantage")) != NULL) {
		const char *why;
		if ((rc = string_field(path, "vantage", v, &s, err)) != FA_OK)
			return rc;
		if (!vantage_parse(s, &d->vantage, &why)) {
			fa_err_set(err, "%s: field 'vantage': '%s': %s", path, s, why);
			return FA_EINPUT;
		}
	}
	for (size_t i = 0; i < N_FIELDS; i++) {
		v = json_object_get(root, fields[i].name);
		if (v == NULL)
			continue;
		if ((rc = string_field(path, fields[i].name, v, &s, err)) != FA_OK)
			return rc;
		if (!fields[i].shape(s, strlen(s))) {
			fa_err_set(err, "%s: field '%s': expected %s", path, fields[i].name,
				   fields[i].want);
			return FA_EINPUT;
		}
		if ((rc = add_id(d, fields[i].name, NULL, s, err)) != FA_OK)
			return rc;
	}
	if (other != NULL && (rc = load_other(d, other, err)) != FA_OK)
		return rc;
	bool has_lat, has_lon;
	if ((rc = load_coord(path, root, "latitude", -90, 90, &has_lat, &d->lat, err)) != FA_OK ||
	    (rc = load_coord(path, root, "longitude", -180, 180, &has_lon, &d->lon, err)) != FA_OK)
		return rc;
	if (has_lat != has_lon) {
		fa_err_set(err, "%s: field '%s': latitude and longitude go together", path,
			   has_lat ? "longitude" : "latitude");
		return FA_EINPUT;
	}
	d->has_location = has_lat;
	if (d->n_ids == 0 && !d->has_location) {
		fa_err_set(err, "%s: no identifier: give at least one of imei, imsi, iccid, android_id, "
			   "advertising_id, serial, mac, phone, email, latitude/longitude, other",
			   path);
		return FA_EINPUT;
	}
	return FA_OK;
}

static int hex_val(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

bool device_profile_mac(const struct device_profile *d, uint8_t mac[6])
{
	for (size_t i = 0; d != NULL && i < d->n_ids; i++) {
		const char *v = d->ids[i].value;
		if (d->ids[i].type_store != NULL || strcmp(d->ids[i].type, "mac") != 0)
			continue;
		/* shape_mac() let in 12 hex digits, bare or in pairs split by ':' or '-' */
		size_t step = strlen(v) == 17 ? 3 : 2;
		for (size_t k = 0; k < 6; k++)
			mac[k] = (uint8_t)(hex_val(v[k * step]) << 4 | hex_val(v[k * step + 1]));
		return true;
	}
	return false;
}

int device_load(const char *path, struct device_profile **out, struct fa_err *err)
{
	*out = NULL;
	char *buf;
	size_t len;
	int rc = read_file(path, &buf, &len, err);
	if (rc != FA_OK)
		return rc;
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (root == NULL) {
		fa_err_set(err, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
		return FA_EINPUT;
	}
	struct device_profile *d = calloc(1, sizeof(*d));
	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		json_decref(root);
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	rc = load_root(d, root, err);
	json_decref(root);
	if (rc != FA_OK) {
		device_free(d);
		return rc;
	}
	*out = d;
	return FA_OK;
}
