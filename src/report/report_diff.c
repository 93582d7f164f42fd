/*
 * report_diff.c - what changed between two reports (`flowaudit diff`).
 *
 * Receives two report.json paths, reads both whole (jansson), and hands on
 * one diff document (schema "flowaudit-diff/1") that the text and JSON
 * writers render. Owns both reports until report_diff_free().
 *
 * Findings are grouped by a key that two runs of one scenario share: rule,
 * destination, identifier types and device role (report_diff.h says why
 * nothing else).
 * Each side's groups live in a JSON object keyed by that string, so a
 * report of 20,000 findings is grouped in one pass; the union of the keys
 * is then walked in sorted order, which makes the output the same for the
 * same two reports whatever order their findings stand in.
 */
#include "flowaudit/report_diff.h"
#include "flowaudit/report_json.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPORT_SCHEMA "flowaudit-report/1"

struct side {
	char file[PATH_MAX];  /* the report.json read */
	json_t *doc;
	json_t *groups;       /* key -> {rule, destination, recipient, identifiers, device_role,
				 severity, findings} */
	json_t *recipients;   /* "kind:id" -> {kind, id, name, entity} */
	json_t *destinations; /* name -> true */
	json_t *countries;    /* code -> true */
	json_t *statements;   /* id -> verdict */
	bool roles;           /* its findings carry device_role (a version that writes it) */
};

struct report_diff {
	struct side s[2]; /* old, new */
	enum audit_severity fail_on;
	bool fails;
	bool by_role;     /* device_role is part of the key: both reports carry it */
	json_t *doc;      /* the diff */
};

/* ---------------------------------------------------------------- reading */

/* A member that may be absent or null (*out NULL then); a value of
   another type than want is an error naming the file and the member. */
static bool opt_member(const struct side *s, const json_t *obj, const char *key,
		       const char *where, json_type want, const json_t **out, struct fa_err *err)
{
	const json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (json_typeof(v) != want) {
		fa_err_set(err, "%s: %s.%s: expected %s or null", s->file, where, key,
			   want == JSON_STRING ? "a string" : "an array");
		return false;
	}
	*out = v;
	return true;
}

static bool opt_string(const struct side *s, const json_t *obj, const char *key,
		       const char *where, const char **out, struct fa_err *err)
{
	const json_t *v;
	bool ok = opt_member(s, obj, key, where, JSON_STRING, &v, err);
	*out = json_string_value(v);
	return ok;
}

static bool opt_array(const struct side *s, const json_t *obj, const char *key,
		      const char *where, const json_t **out, struct fa_err *err)
{
	return opt_member(s, obj, key, where, JSON_ARRAY, out, err);
}

static bool is_address(const char *s)
{
	fa_addr a;
	return s != NULL && fa_addr_parse(s, &a);
}

static int oom(struct fa_err *err)
{
	fa_err_set(err, "out of memory comparing reports");
	return FA_ERUNTIME;
}

static int load_doc(struct side *s, const char *path, struct fa_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fa_err_set(err, "%s: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	int n = S_ISDIR(st.st_mode) ? snprintf(s->file, sizeof(s->file), "%s/report.json", path)
				    : snprintf(s->file, sizeof(s->file), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(s->file)) {
		fa_err_set(err, "%s: path too long", path);
		return FA_EINPUT;
	}
	if (stat(s->file, &st) != 0) {
		fa_err_set(err, "%s: %s", s->file, strerror(errno));
		return FA_EINPUT;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > REPORT_DIFF_MAX_BYTES) {
		fa_err_set(err, "%s: not a report.json (%s)", s->file,
			   S_ISREG(st.st_mode) ? "larger than 4 GiB" : "not a regular file");
		return FA_EINPUT;
	}
	json_error_t je;
	s->doc = json_load_file(s->file, 0, &je);
	if (s->doc == NULL) {
		fa_err_set(err, "%s: line %d, column %d: %s", s->file, je.line, je.column, je.text);
		return FA_EINPUT;
	}
	if (!json_is_object(s->doc)) {
		fa_err_set(err, "%s: not a report: the document is not a JSON object", s->file);
		return FA_EINPUT;
	}
	const char *schema = json_string_value(json_object_get(s->doc, "schema"));
	if (schema == NULL || strcmp(schema, REPORT_SCHEMA) != 0) {
		fa_err_set(err, "%s: schema: '%s' is not %s; diff reads only that format", s->file,
			   schema ? schema : "(none)", REPORT_SCHEMA);
		return FA_EINPUT;
	}
	return FA_OK;
}

/* The finding's destination as two runs name it alike: the name, else the
   recipient's id, else where the address is registered. */
static void destination_of(const char *host, const char *kind, const char *rid,
			   const json_t *f, char *out, size_t size)
{
	if (host != NULL && !is_address(host)) {
		snprintf(out, size, "%s", host);
	} else if (rid != NULL) {
		snprintf(out, size, "unnamed %s %s", kind ? kind : "recipient", rid);
	} else {
		const json_t *asn = json_object_get(f, "asn");
		const char *cc = json_string_value(json_object_get(f, "country"));
		if (json_is_integer(asn))
			snprintf(out, size, "unnamed AS%lld %s", (long long)json_integer_value(asn),
				 cc ? cc : "unknown");
		else
			snprintf(out, size, "unnamed %s", cc ? cc : "unknown");
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The identifier types of a finding, sorted, each once. */
static int identifier_types(const struct side *s, const json_t *f, const char *where,
			    json_t *types, struct fa_err *err)
{
	const json_t *ids;
	if (!opt_array(s, f, "identifiers", where, &ids, err))
		return FA_EINPUT;
	size_t n = json_array_size(ids);
	if (n == 0)
		return FA_OK;
	const char **v = calloc(n, sizeof(*v));
	if (v == NULL)
		return oom(err);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t = json_string_value(json_object_get(json_array_get(ids, i), "type"));
		if (t == NULL) {
			fa_err_set(err, "%s: %s.identifiers[%zu].type: expected a string", s->file,
				   where, i);
			free(v);
			return FA_EINPUT;
		}
		v[k++] = t;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	int rc = FA_OK;
	for (size_t i = 0; i < k && rc == FA_OK; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			if (json_array_append_new(types, json_string(v[i])) != 0)
				rc = oom(err);
	free(v);
	return rc;
}

static int set_add(json_t *set, const char *name, json_t *value, struct fa_err *err)
{
	if (json_object_get(set, name) != NULL) {
		json_decref(value);
		return FA_OK;
	}
	return json_object_set_new(set, name, value ? value : json_true()) == 0 ? FA_OK : oom(err);
}

/* A recipient in the set of recipients: "kind:id" with its names. */
static int add_recipient(struct side *s, const char *kind, const char *id, const char *name,
			 const char *entity, struct fa_err *err)
{
	if (kind == NULL || id == NULL)
		return FA_OK;
	char key[512];
	snprintf(key, sizeof(key), "%s:%s", kind, id);
	json_t *r = json_pack("{s:s, s:s, s:s?, s:s?}", "kind", kind, "id", id, "name", name,
			      "entity", entity);
	return r ? set_add(s->recipients, key, r, err) : oom(err);
}

static int group_finding(struct side *s, const json_t *f, size_t i, bool by_role,
			 struct fa_err *err)
{
	char where[48];
	snprintf(where, sizeof(where), "findings[%zu]", i);
	if (!json_is_object(f)) {
		fa_err_set(err, "%s: %s: expected an object", s->file, where);
		return FA_EINPUT;
	}
	const char *rule, *host, *id, *sev, *kind = NULL, *rid = NULL, *rname = NULL,
				      *entity = NULL, *fpd = NULL, *cc, *role;
	if (!opt_string(s, f, "rule", where, &rule, err) ||
	    !opt_string(s, f, "device_role", where, &role, err) ||
	    !opt_string(s, f, "host", where, &host, err) ||
	    !opt_string(s, f, "id", where, &id, err) ||
	    !opt_string(s, f, "severity", where, &sev, err) ||
	    !opt_string(s, f, "country", where, &cc, err))
		return FA_EINPUT;
	if (rule == NULL) {
		fa_err_set(err, "%s: %s.rule: missing; every finding has one", s->file, where);
		return FA_EINPUT;
	}
	enum audit_severity level = SEV_INFO;
	if (sev != NULL && !audit_severity_parse(sev, &level)) {
		fa_err_set(err, "%s: %s.severity: '%s' is not info, low, medium or high", s->file,
			   where, sev);
		return FA_EINPUT;
	}
	const json_t *rec = json_object_get(f, "recipient");
	if (rec != NULL && !json_is_null(rec)) {
		char rwhere[64];
		snprintf(rwhere, sizeof(rwhere), "%s.recipient", where);
		if (!json_is_object(rec)) {
			fa_err_set(err, "%s: %s: expected an object or null", s->file, rwhere);
			return FA_EINPUT;
		}
		if (!opt_string(s, rec, "kind", rwhere, &kind, err) ||
		    !opt_string(s, rec, "id", rwhere, &rid, err) ||
		    !opt_string(s, rec, "name", rwhere, &rname, err) ||
		    !opt_string(s, rec, "entity", rwhere, &entity, err) ||
		    !opt_string(s, rec, "first_party_domain", rwhere, &fpd, err))
			return FA_EINPUT;
	}
	json_t *types = json_array();
	if (types == NULL)
		return oom(err);
	int rc = identifier_types(s, f, where, types, err);
	if (rc != FA_OK) {
		json_decref(types);
		return rc;
	}

	char dest[512], key[2048];
	destination_of(host, kind, rid, f, dest, sizeof(dest));
	if (!by_role || (role != NULL && role[0] == '\0'))
		role = NULL;
	int n = snprintf(key, sizeof(key), "%s\t%s\t%s%s\t", rule, dest, role ? "=" : "",
			 role ? role : "");
	size_t ti;
	json_t *t;
	json_array_foreach(types, ti, t) {
		if (n > 0 && (size_t)n < sizeof(key))
			n += snprintf(key + n, sizeof(key) - (size_t)n, "%s%s", ti ? "," : "",
				      json_string_value(t));
	}

	json_t *g = json_object_get(s->groups, key);
	if (g == NULL) {
		g = json_pack("{s:s, s:s, s:o, s:s?, s:s, s:[]}", "rule", rule, "destination",
			      dest, "identifiers", types, "device_role", role, "severity",
			      audit_severity_name(level), "findings");
		if (g == NULL || json_object_set_new(s->groups, key, g) != 0)
			return oom(err);
		json_t *r = kind ? json_pack("{s:s, s:s?, s:s?, s:s?}", "kind", kind, "id", rid,
					     "name", rname, "entity", entity)
				 : json_null();
		if (r == NULL || json_object_set_new(g, "recipient", r) != 0)
			return oom(err);
	} else {
		json_decref(types);
		enum audit_severity had = SEV_INFO;
		audit_severity_parse(json_string_value(json_object_get(g, "severity")), &had);
		if (level > had)
			json_object_set_new(g, "severity", json_string(audit_severity_name(level)));
	}
	if (json_array_append_new(json_object_get(g, "findings"), id ? json_string(id) : json_null()))
		return oom(err);

	if (kind != NULL && strcmp(kind, "first_party") == 0)
		rc = add_recipient(s, kind, fpd ? fpd : dest, rname, entity, err);
	else if (kind != NULL && strcmp(kind, "unknown") != 0)
		rc = add_recipient(s, kind, rid, rname, entity, err);
	if (rc == FA_OK && host != NULL && !is_address(host))
		rc = set_add(s->destinations, host, NULL, err);
	if (rc == FA_OK && cc != NULL)
		rc = set_add(s->countries, cc, NULL, err);
	return rc;
}

static int read_flow(struct side *s, const json_t *fl, size_t i, struct fa_err *err)
{
	char where[48];
	snprintf(where, sizeof(where), "flows[%zu]", i);
	if (!json_is_object(fl)) {
		fa_err_set(err, "%s: %s: expected an object", s->file, where);
		return FA_EINPUT;
	}
	const char *scope, *name, *cc;
	if (!opt_string(s, fl, "scope", where, &scope, err) ||
	    !opt_string(s, fl, "name", where, &name, err) ||
	    !opt_string(s, fl, "country", where, &cc, err))
		return FA_EINPUT;
	if (scope == NULL || strcmp(scope, "public") != 0)
		return FA_OK;
	int rc = FA_OK;
	if (name != NULL && !is_address(name))
		rc = set_add(s->destinations, name, NULL, err);
	if (rc == FA_OK && cc != NULL)
		rc = set_add(s->countries, cc, NULL, err);
	const json_t *sig = json_object_get(fl, "signature");
	if (rc == FA_OK && json_is_object(sig)) {
		char swhere[64];
		const char *kind, *id, *sname, *entity;
		snprintf(swhere, sizeof(swhere), "%s.signature", where);
		if (!opt_string(s, sig, "kind", swhere, &kind, err) ||
		    !opt_string(s, sig, "id", swhere, &id, err) ||
		    !opt_string(s, sig, "name", swhere, &sname, err) ||
		    !opt_string(s, sig, "entity", swhere, &entity, err))
			return FA_EINPUT;
		rc = add_recipient(s, kind, id, sname, entity, err);
	}
	return rc;
}

/* Whether the writer of the report knew device_role: its first finding
   has the member (null included). A report without findings says nothing. */
static void detect_roles(struct side *s)
{
	const json_t *arr = json_object_get(s->doc, "findings");
	const json_t *f = json_array_get(arr, 0);
	s->roles = f == NULL || json_object_get(f, "device_role") != NULL;
}

static int read_side(struct side *s, bool by_role, struct fa_err *err)
{
	int rc = FA_OK;
	s->groups = json_object();
	s->recipients = json_object();
	s->destinations = json_object();
	s->countries = json_object();
	s->statements = json_object();
	if (!s->groups || !s->recipients || !s->destinations || !s->countries || !s->statements)
		return oom(err);
	const json_t *arr;
	if (!opt_array(s, s->doc, "findings", "report", &arr, err))
		return FA_EINPUT;
	for (size_t i = 0; i < json_array_size(arr) && rc == FA_OK; i++)
		rc = group_finding(s, json_array_get(arr, i), i, by_role, err);
	if (rc == FA_OK && !opt_array(s, s->doc, "flows", "report", &arr, err))
		return FA_EINPUT;
	for (size_t i = 0; i < json_array_size(arr) && rc == FA_OK; i++)
		rc = read_flow(s, json_array_get(arr, i), i, err);
	/* the summary counts flows past the record limit too */
	const char *k;
	const json_t *v;
	json_object_foreach(json_object_get(json_object_get(s->doc, "summary"), "countries"), k, v)
		if (rc == FA_OK && strcmp(k, "unknown") != 0)
			rc = set_add(s->countries, k, NULL, err);
	if (rc == FA_OK && !opt_array(s, s->doc, "statements", "report", &arr, err))
		return FA_EINPUT;
	for (size_t i = 0; i < json_array_size(arr) && rc == FA_OK; i++) {
		char where[48];
		const char *id, *verdict;
		snprintf(where, sizeof(where), "statements[%zu]", i);
		if (!opt_string(s, json_array_get(arr, i), "id", where, &id, err) ||
		    !opt_string(s, json_array_get(arr, i), "verdict", where, &verdict, err))
			return FA_EINPUT;
		if (id != NULL)
			rc = json_object_set_new(s->statements, id,
						 verdict ? json_string(verdict) : json_null()) == 0
				     ? FA_OK
				     : oom(err);
	}
	return rc;
}

/* ---------------------------------------------------------------- comparing */

/* The keys of one object or of two, sorted, each once; NULL on no memory. */
static const char **sorted_keys(const json_t *a, const json_t *b, size_t *n)
{
	size_t cap = json_object_size(a) + json_object_size(b) + 1;
	const char **v = calloc(cap, sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)a, key, val) v[k++] = key;
	json_object_foreach((json_t *)b, key, val)
		if (a == NULL || json_object_get(a, key) == NULL)
			v[k++] = key;
	qsort(v, k, sizeof(*v), cmp_str);
	*n = k;
	return v;
}

/* {"appeared": [...], "disappeared": [...]} of two sets; with values (the
   recipients), the values are listed, else the names. */
static json_t *set_change(const json_t *old, const json_t *new_)
{
	json_t *out = json_pack("{s:[], s:[]}", "appeared", "disappeared");
	size_t n;
	const char **keys = sorted_keys(old, new_, &n);
	if (out == NULL || keys == NULL) {
		free(keys);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object_get(old, keys[i]), *nw = json_object_get(new_, keys[i]);
		if ((o != NULL) == (nw != NULL))
			continue;
		json_t *v = o ? o : nw;
		json_array_append_new(json_object_get(out, o ? "disappeared" : "appeared"),
				      json_is_true(v) ? json_string(keys[i]) : json_incref(v));
	}
	free(keys);
	return out;
}

/* A copy of v, or null when v is absent. */
static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static json_t *side_json(const struct side *s)
{
	const json_t *gen = json_object_get(s->doc, "generator");
	const json_t *app = json_object_get(json_object_get(s->doc, "policy"), "app");
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I}", "path", s->file, "version",
			 copy_or_null(json_object_get(gen, "version")), "generated_at",
			 copy_or_null(json_object_get(s->doc, "generated_at")), "app",
			 copy_or_null(json_object_get(app, "name")), "verdict",
			 copy_or_null(json_object_get(s->doc, "verdict")), "findings",
			 (json_int_t)json_array_size(json_object_get(s->doc, "findings")));
}

static int compare(struct report_diff *d, struct fa_err *err)
{
	const struct side *o = &d->s[0], *nw = &d->s[1];
	json_t *doc = json_pack("{s:s, s:o, s:o, s:s, s:[ssss*], s:[], s:[], s:[]}", "schema",
				"flowaudit-diff/1", "old", side_json(o), "new", side_json(nw),
				"fail_on", report_fail_on_name(d->fail_on), "matched_on", "rule",
				"destination", "identifiers", d->by_role ? "device_role" : NULL,
				"new_findings", "gone_findings", "unchanged_findings");
	if (doc == NULL)
		return oom(err);
	d->doc = doc;
	size_t n;
	const char **keys = sorted_keys(o->groups, nw->groups, &n);
	if (keys == NULL)
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		json_t *go = json_object_get(o->groups, keys[i]);
		json_t *gn = json_object_get(nw->groups, keys[i]);
		json_t *e = json_deep_copy(gn ? gn : go);
		if (e == NULL) {
			free(keys);
			return oom(err);
		}
		json_object_del(e, "findings");
		json_object_set_new(e, "old_count",
				    json_integer((json_int_t)json_array_size(json_object_get(go, "findings"))));
		json_object_set_new(e, "new_count",
				    json_integer((json_int_t)json_array_size(json_object_get(gn, "findings"))));
		json_object_set_new(e, "old_findings", go ? json_incref(json_object_get(go, "findings"))
							  : json_array());
		json_object_set_new(e, "new_findings", gn ? json_incref(json_object_get(gn, "findings"))
							  : json_array());
		const char *list = go && gn ? "unchanged_findings" : gn ? "new_findings" : "gone_findings";
		if (gn != NULL && go == NULL) {
			enum audit_severity sev = SEV_INFO;
			audit_severity_parse(json_string_value(json_object_get(e, "severity")), &sev);
			if (d->fail_on != REPORT_FAIL_NEVER && sev >= d->fail_on)
				d->fails = true;
		}
		json_array_append_new(json_object_get(doc, list), e);
	}
	free(keys);

	json_t *st = json_array();
	const char **ids = st ? sorted_keys(o->statements, nw->statements, &n) : NULL;
	if (ids == NULL) {
		json_decref(st);
		return oom(err);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *vo = json_object_get(o->statements, ids[i]);
		json_t *vn = json_object_get(nw->statements, ids[i]);
		if (vo && vn && json_equal(vo, vn))
			continue;
		json_array_append_new(st, json_pack("{s:s, s:O, s:O}", "id", ids[i], "old",
						    vo ? vo : json_null(), "new",
						    vn ? vn : json_null()));
	}
	free(ids);
	json_object_set_new(doc, "statements", st);
	json_object_set_new(doc, "recipients", set_change(o->recipients, nw->recipients));
	json_object_set_new(doc, "destinations", set_change(o->destinations, nw->destinations));
	json_object_set_new(doc, "countries", set_change(o->countries, nw->countries));
	json_object_set_new(doc, "verdict", json_string(d->fails ? "fail" : "pass"));
	if (!json_is_object(json_object_get(doc, "recipients")) ||
	    !json_is_object(json_object_get(doc, "destinations")) ||
	    !json_is_object(json_object_get(doc, "countries")))
		return oom(err);
	return FA_OK;
}

int report_diff_new(const char *old_path, const char *new_path, enum audit_severity fail_on,
		    struct report_diff **out, struct fa_err *err)
{
	*out = NULL;
	struct report_diff *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return oom(err);
	d->fail_on = fail_on;
	int rc = load_doc(&d->s[0], old_path, err);
	if (rc == FA_OK)
		rc = load_doc(&d->s[1], new_path, err);
	if (rc == FA_OK) {
		/* a report older than device_role is matched without it, on both
		   sides: else every finding would be new after an upgrade */
		detect_roles(&d->s[0]);
		detect_roles(&d->s[1]);
		d->by_role = d->s[0].roles && d->s[1].roles;
		rc = read_side(&d->s[0], d->by_role, err);
	}
	if (rc == FA_OK)
		rc = read_side(&d->s[1], d->by_role, err);
	if (rc == FA_OK)
		rc = compare(d, err);
	if (rc != FA_OK) {
		report_diff_free(d);
		return rc;
	}
	*out = d;
	return FA_OK;
}

void report_diff_free(struct report_diff *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		struct side *s = &d->s[i];
		json_decref(s->doc);
		json_decref(s->groups);
		json_decref(s->recipients);
		json_decref(s->destinations);
		json_decref(s->countries);
		json_decref(s->statements);
	}
	json_decref(d->doc);
	free(d);
}

bool report_diff_fails(const struct report_diff *d)
{
	return d->fails;
}

/* ---------------------------------------------------------------- writing */

int report_diff_write_json(const struct report_diff *d, FILE *out)
{
	if (json_dumpf(d->doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', out) == EOF)
		return FA_ERUNTIME;
	return FA_OK;
}

static void text_entry(FILE *out, char mark, const json_t *e)
{
	const json_t *rec = json_object_get(e, "recipient");
	const char *rname = json_string_value(json_object_get(rec, "name"));
	const char *rid = json_string_value(json_object_get(rec, "id"));
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	fprintf(out, "  %c %-6s %-28s %s", mark,
		json_string_value(json_object_get(e, "severity")),
		json_string_value(json_object_get(e, "rule")),
		json_string_value(json_object_get(e, "destination")));
	if (kind != NULL && (rid != NULL || rname != NULL))
		fprintf(out, " (%s %s)", kind, rname ? rname : rid);
	const json_t *types = json_object_get(e, "identifiers");
	size_t i;
	const json_t *t;
	json_array_foreach(types, i, t)
		fprintf(out, "%s%s", i ? ", " : " [", json_string_value(t));
	if (json_array_size(types))
		fputc(']', out);
	const char *role = json_string_value(json_object_get(e, "device_role"));
	if (role != NULL)
		fprintf(out, " on %s", role);
	json_int_t oc = json_integer_value(json_object_get(e, "old_count"));
	json_int_t nc = json_integer_value(json_object_get(e, "new_count"));
	if (mark == '=' && oc != nc)
		fprintf(out, " (%lld before, %lld now)", (long long)oc, (long long)nc);
	else if (oc > 1 || nc > 1)
		fprintf(out, " (%lld findings)", (long long)(oc > nc ? oc : nc));
	fputc('\n', out);
}

static bool count_changed(const json_t *e)
{
	return !json_equal(json_object_get(e, "old_count"), json_object_get(e, "new_count"));
}

/* The entries of one list; only_changed: those whose counts differ. */
static void text_list(FILE *out, const json_t *doc, const char *member, const char *head,
		      char mark, bool only_changed)
{
	const json_t *arr = json_object_get(doc, member);
	size_t i;
	const json_t *e;
	bool any = false;
	json_array_foreach(arr, i, e) {
		if (only_changed && !count_changed(e))
			continue;
		if (!any)
			fprintf(out, "%s:\n", head);
		any = true;
		text_entry(out, mark, e);
	}
}

static void text_set(FILE *out, const json_t *doc, const char *member, const char *label)
{
	const json_t *ch = json_object_get(doc, member);
	for (int k = 0; k < 2; k++) {
		const json_t *arr = json_object_get(ch, k ? "disappeared" : "appeared");
		size_t i;
		const json_t *v;
		json_array_foreach(arr, i, v) {
			if (json_is_string(v)) {
				fprintf(out, "  %c %s %s\n", k ? '-' : '+', label,
					json_string_value(v));
			} else {
				const char *name = json_string_value(json_object_get(v, "name"));
				const char *entity = json_string_value(json_object_get(v, "entity"));
				fprintf(out, "  %c recipient %s %s", k ? '-' : '+',
					json_string_value(json_object_get(v, "kind")),
					json_string_value(json_object_get(v, "id")));
				if (name || entity)
					fprintf(out, " (%s%s%s)", name ? name : "",
						name && entity ? ", " : "", entity ? entity : "");
				fputc('\n', out);
			}
		}
	}
}

static json_int_t set_changes(const json_t *doc, const char *member)
{
	const json_t *ch = json_object_get(doc, member);
	return (json_int_t)json_array_size(json_object_get(ch, "appeared")) +
	       (json_int_t)json_array_size(json_object_get(ch, "disappeared"));
}

int report_diff_write_text(const struct report_diff *d, FILE *out, bool verbose)
{
	const json_t *doc = d->doc;
	for (int k = 0; k < 2; k++) {
		const json_t *s = json_object_get(doc, k ? "new" : "old");
		const char *ver = json_string_value(json_object_get(s, "version"));
		const char *at = json_string_value(json_object_get(s, "generated_at"));
		const char *verdict = json_string_value(json_object_get(s, "verdict"));
		fprintf(out, "%s %s: %lld findings, verdict %s (flowaudit %s, %s)\n",
			k ? "new" : "old", json_string_value(json_object_get(s, "path")),
			(long long)json_integer_value(json_object_get(s, "findings")),
			verdict ? verdict : "unknown", ver ? ver : "unknown", at ? at : "time unknown");
	}
	fprintf(out, "findings: %zu new, %zu gone, %zu unchanged (matched on rule, destination%s "
		     "identifier types%s)\n",
		json_array_size(json_object_get(doc, "new_findings")),
		json_array_size(json_object_get(doc, "gone_findings")),
		json_array_size(json_object_get(doc, "unchanged_findings")),
		d->by_role ? "," : " and",
		d->by_role ? " and device role"
			   : "; not on device role, which the older report does not record");
	text_list(out, doc, "new_findings", "new", '+', false);
	text_list(out, doc, "gone_findings", "gone", '-', false);
	text_list(out, doc, "unchanged_findings",
		  verbose ? "unchanged" : "unchanged, in other numbers", '=', !verbose);
	if (set_changes(doc, "recipients") + set_changes(doc, "destinations") +
	    set_changes(doc, "countries") > 0) {
		fprintf(out, "recipients, destinations and countries:\n");
		text_set(out, doc, "recipients", "recipient");
		text_set(out, doc, "destinations", "destination");
		text_set(out, doc, "countries", "country");
	}
	const json_t *st = json_object_get(doc, "statements");
	if (json_array_size(st) > 0) {
		fprintf(out, "statements:\n");
		size_t i;
		const json_t *e;
		json_array_foreach(st, i, e) {
			const char *o = json_string_value(json_object_get(e, "old"));
			const char *n = json_string_value(json_object_get(e, "new"));
			fprintf(out, "  %s: %s -> %s\n", json_string_value(json_object_get(e, "id")),
				o ? o : "absent", n ? n : "absent");
		}
	}
	fprintf(out, "diff verdict: %s (fail-on %s: %s)\n", d->fails ? "fail" : "pass",
		report_fail_on_name(d->fail_on),
		d->fails ? "a new finding is at or above it" : "no new finding is at or above it");
	return ferror(out) ? FA_ERUNTIME : FA_OK;
}
