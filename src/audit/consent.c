/*
 * consent.c - the consent timeline: loads events, answers "was this purpose
 * consented at time t?".
 *
 * Receives: a JSON events file (-e EVENTS.json), or single events as they
 * arrive during a live capture (a FIFO or standard input). Hands on: events
 * in time order and the state of a purpose at any instant. Owns: the events
 * and their strings.
 *
 * Workload: a handful of events written by a test script, asked about once
 * per flow and purpose; a linear walk over the sorted events is enough. The
 * file is read through policy_json_read(), which bounds its size and depth
 * and gives the positions used in messages. Loading is strict because a
 * misspelt purpose would silently leave a grant without effect and turn
 * every later flow into a false finding.
 */
#include "flowaudit/consent.h"

#include "flowaudit/policy.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

struct consent_timeline {
	struct consent_event *ev;
	size_t n, cap;
	size_t arrivals; /* index of the next event added */
};

bool consent_purpose_valid(const char *purpose)
{
	return purpose != NULL && (policy_purpose_valid(purpose) || strcmp(purpose, "cross_border") == 0);
}

struct consent_timeline *consent_new(void)
{
	return calloc(1, sizeof(struct consent_timeline));
}

static void event_clear(struct consent_event *e)
{
	for (size_t i = 0; e->purposes != NULL && i < e->n_purposes; i++)
		free(e->purposes[i]);
	free(e->purposes);
	free(e->note);
	memset(e, 0, sizeof(*e));
}

void consent_free(struct consent_timeline *tl)
{
	if (tl == NULL)
		return;
	for (size_t i = 0; i < tl->n; i++)
		event_clear(&tl->ev[i]);
	free(tl->ev);
	free(tl);
}

size_t consent_count(const struct consent_timeline *tl)
{
	return tl ? tl->n : 0;
}

const struct consent_event *consent_get(const struct consent_timeline *tl, size_t i)
{
	return tl != NULL && i < tl->n ? &tl->ev[i] : NULL;
}

static bool covers(const struct consent_event *e, const char *purpose)
{
	if (!e->granted && e->n_purposes == 0)
		return true;
	for (size_t i = 0; i < e->n_purposes; i++)
		if (strcmp(e->purposes[i], purpose) == 0)
			return true;
	return false;
}

enum consent_state consent_state_at(const struct consent_timeline *tl, const char *purpose,
				    fa_time t, const struct consent_event **deciding)
{
	const struct consent_event *last = NULL;
	for (size_t i = 0; tl != NULL && purpose != NULL && i < tl->n && tl->ev[i].time <= t; i++)
		if (covers(&tl->ev[i], purpose))
			last = &tl->ev[i];
	if (deciding != NULL)
		*deciding = last;
	if (last == NULL)
		return CONSENT_NONE;
	return last->granted ? CONSENT_GRANTED : CONSENT_WITHDRAWN;
}

const char *consent_state_name(enum consent_state s)
{
	switch (s) {
	case CONSENT_NONE: return "none";
	case CONSENT_GRANTED: return "granted";
	case CONSENT_WITHDRAWN: return "withdrawn";
	}
	return "?";
}

/* Makes room for one more event; the caller fills tl->ev[tl->n]. */
static int reserve(struct consent_timeline *tl, const char *who, struct fa_err *err)
{
	if (tl->n >= CONSENT_MAX_EVENTS) {
		fa_err_set(err, "%s: more than %d consent events", who, CONSENT_MAX_EVENTS);
		return FA_EINPUT;
	}
	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 16;
		struct consent_event *ev = realloc(tl->ev, cap * sizeof(*ev));
		if (ev == NULL) {
			fa_err_set(err, "%s: out of memory", who);
			return FA_ERUNTIME;
		}
		tl->ev = ev;
		tl->cap = cap;
	}
	return FA_OK;
}

/* Takes e; places it after every event at or before its time. */
static void insert(struct consent_timeline *tl, struct consent_event *e)
{
	size_t at = tl->n;
	while (at > 0 && tl->ev[at - 1].time > e->time)
		at--;
	memmove(&tl->ev[at + 1], &tl->ev[at], (tl->n - at) * sizeof(*e));
	tl->ev[at] = *e;
	tl->n++;
	tl->arrivals++;
}

/* ---- one event from JSON ---- */

struct src {
	const char *name; /* file name, or "consent line" */
	const char *text;  /* for positions; NULL for live lines */
	size_t len;
	struct fa_err *err;
};

__attribute__((format(printf, 4, 5))) static int bad(const struct src *s, const char *path,
						     const char *field, const char *fmt, ...)
{
	char msg[700], pos[48] = "", where[PATH_MAX_LEN], ev[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned line, col;
	snprintf(where, sizeof(where), "%s%s%s", path, field[0] && path[0] ? "." : "", field);
	if (s->text != NULL && (policy_json_locate(s->text, s->len, where, &line, &col) ||
				policy_json_locate(s->text, s->len, path, &line, &col)))
		snprintf(pos, sizeof(pos), ":%u:%u", line, col);
	const char *br = strrchr(path, '[');
	if (br != NULL)
		snprintf(ev, sizeof(ev), "event %lu, ", strtoul(br + 1, NULL, 10));
	if (field[0] != '\0')
		fa_err_set(s->err, "%s%s: %sfield '%s': %s", s->name, pos, ev, field, msg);
	else
		fa_err_set(s->err, "%s%s: %s%s", s->name, pos, ev, msg);
	return FA_EINPUT;
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

/* Fills e from o (path names o in the document); e owns what it holds even on failure. */
static int parse_event(const struct src *s, json_t *o, const char *path, bool need_time,
		       fa_time now, struct consent_event *e)
{
	if (!json_is_object(o))
		return bad(s, path, "", "expected an object, found %s", type_name(o));
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "time") != 0 && strcmp(key, "event") != 0 &&
		    strcmp(key, "purposes") != 0 && strcmp(key, "note") != 0)
			return bad(s, path, key, "unknown field (expected one of: time, event, "
				   "purposes, note)");
	}
	e->time = now;
	v = json_object_get(o, "time");
	if (v == NULL && need_time)
		return bad(s, path, "time", "missing (required)");
	if (v != NULL && !json_is_string(v))
		return bad(s, path, "time", "expected a string, found %s", type_name(v));
	if (v != NULL && !fa_time_parse(json_string_value(v), &e->time))
		return bad(s, path, "time", "'%s' is not an RFC 3339 UTC time "
			   "(write e.g. \"2026-11-22T10:00:03Z\")", json_string_value(v));
	v = json_object_get(o, "event");
	if (v == NULL)
		return bad(s, path, "event", "missing (required)");
	if (!json_is_string(v))
		return bad(s, path, "event", "expected a string, found %s", type_name(v));
	if (strcmp(json_string_value(v), "consent_granted") == 0)
		e->granted = true;
	else if (strcmp(json_string_value(v), "consent_withdrawn") != 0)
		return bad(s, path, "event", "unknown event '%s' (expected consent_granted or "
			   "consent_withdrawn)", json_string_value(v));
	v = json_object_get(o, "note");
	if (v != NULL && !json_is_string(v))
		return bad(s, path, "note", "expected a string, found %s", type_name(v));
	if (v != NULL && (e->note = strdup(json_string_value(v))) == NULL)
		return bad(s, path, "note", "out of memory");
	v = json_object_get(o, "purposes");
	if (v == NULL && e->granted)
		return bad(s, path, "purposes", "missing: a grant names the purposes it covers");
	if (v == NULL)
		return FA_OK;
	if (!json_is_array(v))
		return bad(s, path, "purposes", "expected an array, found %s", type_name(v));
	if (json_array_size(v) == 0)
		return bad(s, path, "purposes", e->granted ? "a grant names at least one purpose"
			   : "empty: leave purposes out to withdraw every purpose");
	e->purposes = calloc(json_array_size(v), sizeof(char *));
	if (e->purposes == NULL)
		return bad(s, path, "purposes", "out of memory");
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		char f[64];
		snprintf(f, sizeof(f), "purposes[%zu]", i);
		if (!json_is_string(x))
			return bad(s, path, f, "expected a string, found %s", type_name(x));
		if (!consent_purpose_valid(json_string_value(x)))
			return bad(s, path, f, "unknown purpose '%s' (a purpose of the policy "
				   "vocabulary, or cross_border; see docs/policy.md)",
				   json_string_value(x));
		if ((e->purposes[i] = strdup(json_string_value(x))) == NULL)
			return bad(s, path, f, "out of memory");
		e->n_purposes = i + 1;
	}
	return FA_OK;
}

static int cmp_event(const void *a, const void *b)
{
	const struct consent_event *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int load_events(const struct src *s, json_t *root, struct consent_timeline *tl)
{
	json_t *arr = root;
	const char *base = "";
	if (json_is_object(root)) {
		const char *key;
		json_t *v;
		json_object_foreach(root, key, v) {
			if (strcmp(key, "events") != 0)
				return bad(s, "", key, "unknown field (expected events)");
		}
		arr = json_object_get(root, "events");
		base = "events";
		if (arr == NULL)
			return bad(s, "", "", "field 'events' is missing");
		if (!json_is_array(arr))
			return bad(s, "", "events", "expected an array, found %s", type_name(arr));
	} else if (!json_is_array(root)) {
		return bad(s, "", "", "expected an array of events (or {\"events\": [...]}), found %s",
			   type_name(root));
	}
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		char path[PATH_MAX_LEN];
		snprintf(path, sizeof(path), "%s[%zu]", base, i);
		int rc = reserve(tl, s->name, s->err);
		if (rc != FA_OK)
			return rc;
		struct consent_event e = {.index = i};
		rc = parse_event(s, o, path, true, 0, &e);
		if (rc != FA_OK) {
			event_clear(&e);
			return rc;
		}
		tl->ev[tl->n++] = e;
	}
	tl->arrivals = tl->n;
	if (tl->n > 1)
		qsort(tl->ev, tl->n, sizeof(*tl->ev), cmp_event);
	return FA_OK;
}

int consent_load(const char *path, struct consent_timeline **out, struct fa_err *err)
{
	*out = NULL;
	json_t *root;
	char *text;
	size_t len;
	int rc = policy_json_read(path, CONSENT_MAX_FILE_BYTES, &root, &text, &len, err);
	if (rc != FA_OK)
		return rc;
	struct consent_timeline *tl = consent_new();
	struct src s = {.name = path, .text = text, .len = len, .err = err};
	if (tl == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		rc = FA_ERUNTIME;
	} else {
		rc = load_events(&s, root, tl);
	}
	json_decref(root);
	free(text);
	if (rc != FA_OK) {
		consent_free(tl);
		return rc;
	}
	*out = tl;
	return FA_OK;
}

/* ---- live events ---- */

int consent_add(struct consent_timeline *tl, fa_time t, bool granted,
		const char *const *purposes, size_t n, struct fa_err *err)
{
	if (granted && n == 0) {
		fa_err_set(err, "consent event: a grant names at least one purpose");
		return FA_EINPUT;
	}
	for (size_t i = 0; i < n; i++) {
		if (!consent_purpose_valid(purposes[i])) {
			fa_err_set(err, "consent event: unknown purpose '%s' (a purpose of the policy "
				   "vocabulary, or cross_border)", purposes[i] ? purposes[i] : "");
			return FA_EINPUT;
		}
	}
	int rc = reserve(tl, "consent event", err);
	if (rc != FA_OK)
		return rc;
	struct consent_event e = {.time = t, .granted = granted, .index = tl->arrivals};
	if (n > 0 && (e.purposes = calloc(n, sizeof(char *))) == NULL) {
		fa_err_set(err, "consent event: out of memory");
		return FA_ERUNTIME;
	}
	for (size_t i = 0; i < n; i++) {
		if ((e.purposes[i] = strdup(purposes[i])) == NULL) {
			event_clear(&e);
			fa_err_set(err, "consent event: out of memory");
			return FA_ERUNTIME;
		}
		e.n_purposes = i + 1;
	}
	insert(tl, &e);
	return FA_OK;
}

static int parse_json_line(struct consent_timeline *tl, const char *line, fa_time now,
			   struct fa_err *err)
{
	json_error_t je;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		fa_err_set(err, "consent line:%d: invalid JSON: %s", je.column, je.text);
		return FA_EINPUT;
	}
	struct src s = {.name = "consent line", .err = err};
	struct consent_event e = {.index = tl->arrivals};
	int rc = reserve(tl, s.name, err);
	if (rc == FA_OK)
		rc = parse_event(&s, o, "", false, now, &e);
	json_decref(o);
	if (rc != FA_OK) {
		event_clear(&e);
		return rc;
	}
	insert(tl, &e);
	return FA_OK;
}

int consent_parse_line(struct consent_timeline *tl, const char *line, fa_time now,
		       struct fa_err *err)
{
	char buf[CONSENT_MAX_LINE];
	size_t n = strlen(line);
	if (n >= sizeof(buf)) {
		fa_err_set(err, "consent line: longer than %d bytes", CONSENT_MAX_LINE - 1);
		return FA_EINPUT;
	}
	memcpy(buf, line, n + 1);
	char *p = buf;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '{')
		return parse_json_line(tl, p, now, err);
	const char *words[64];
	size_t nw = 0;
	for (char *save = NULL, *w = strtok_r(p, " \t\r\n,", &save); w != NULL;
	     w = strtok_r(NULL, " \t\r\n,", &save)) {
		if (nw == sizeof(words) / sizeof(*words)) {
			fa_err_set(err, "consent line: more than %zu words", nw);
			return FA_EINPUT;
		}
		words[nw++] = w;
	}
	if (nw == 0) {
		fa_err_set(err, "consent line: empty (write 'consent_granted PURPOSE...' or "
			   "'consent_withdrawn [PURPOSE...]')");
		return FA_EINPUT;
	}
	bool granted = strcmp(words[0], "consent_granted") == 0;
	if (!granted && strcmp(words[0], "consent_withdrawn") != 0) {
		fa_err_set(err, "consent line: unknown event '%s' (expected consent_granted or "
			   "consent_withdrawn)", words[0]);
		return FA_EINPUT;
	}
	return consent_add(tl, now, granted, words + 1, nw - 1, err);
}
