/*
 * test_consent.c - the consent timeline: loading, order, state at a time,
 * live lines.
 *
 * Run from the top of the tree: fixtures are under tests/fixtures/consent/.
 */
#include "flowaudit/consent.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FIX "tests/fixtures/consent/"

/* "10:00:30" on 2026-11-22, UTC */
static fa_time at(const char *hms)
{
	char buf[64];
	fa_time t = 0;
	snprintf(buf, sizeof(buf), "2026-11-22T%sZ", hms);
	assert_true(fa_time_parse(buf, &t));
	return t;
}

static struct consent_timeline *load_ok(const char *path)
{
	struct consent_timeline *tl = NULL;
	struct fa_err err = {""};
	int rc = consent_load(path, &tl, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, FA_OK);
	assert_non_null(tl);
	return tl;
}

static void expect(const struct consent_timeline *tl, const char *purpose, const char *hms,
		   enum consent_state want, long want_index)
{
	const struct consent_event *ev = (const struct consent_event *)1;
	enum consent_state s = consent_state_at(tl, purpose, at(hms), &ev);
	if (s != want || (ev ? (long)ev->index : -1) != want_index)
		fprintf(stderr, "%s at %s: state %s event %ld, expected %s event %ld\n", purpose, hms,
			consent_state_name(s), ev ? (long)ev->index : -1L, consent_state_name(want),
			want_index);
	assert_int_equal(s, want);
	assert_int_equal(ev ? (long)ev->index : -1, want_index);
}

static void test_load_sorts(void **state)
{
	(void)state;
	struct consent_timeline *tl = load_ok(FIX "good.json");
	assert_int_equal(consent_count(tl), 5);
	static const size_t order[] = {1, 2, 0, 3, 4}; /* by time; equal times keep file order */
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(consent_get(tl, i)->index, order[i]);
	assert_null(consent_get(tl, 5));
	const struct consent_event *e = consent_get(tl, 0);
	assert_true(e->granted);
	assert_int_equal(e->time, at("10:00:10"));
	assert_int_equal(e->n_purposes, 2);
	assert_string_equal(e->purposes[1], "cross_border");
	assert_string_equal(e->note, "the user accepts the dialog");
	assert_int_equal(consent_get(tl, 1)->time, at("10:00:20")); /* +00:00 offset */
	assert_null(consent_get(tl, 1)->note);
	e = consent_get(tl, 4);
	assert_false(e->granted);
	assert_int_equal(e->n_purposes, 0);
	consent_free(tl);
	consent_free(NULL);
}

static void test_state(void **state)
{
	(void)state;
	struct consent_timeline *tl = load_ok(FIX "good.json");
	/* before the grant, at it (inclusive), after */
	expect(tl, "advertising", "10:00:05", CONSENT_NONE, -1);
	expect(tl, "advertising", "10:00:09", CONSENT_NONE, -1);
	expect(tl, "advertising", "10:00:10", CONSENT_GRANTED, 1);
	expect(tl, "advertising", "10:00:25", CONSENT_GRANTED, 1);
	/* after withdrawal of that purpose */
	expect(tl, "advertising", "10:00:30", CONSENT_WITHDRAWN, 0);
	expect(tl, "advertising", "10:00:39", CONSENT_WITHDRAWN, 0);
	/* a grant and a withdrawal of everything at the same instant: the later one wins */
	expect(tl, "advertising", "10:00:40", CONSENT_WITHDRAWN, 4);
	/* a grant for another purpose does not cover this one */
	expect(tl, "analytics", "10:00:15", CONSENT_NONE, -1);
	expect(tl, "analytics", "10:00:20", CONSENT_GRANTED, 2);
	expect(tl, "analytics", "10:00:35", CONSENT_GRANTED, 2); /* withdrawal named advertising */
	expect(tl, "analytics", "10:00:41", CONSENT_WITHDRAWN, 4);
	expect(tl, "cross_border", "10:00:31", CONSENT_GRANTED, 1);
	expect(tl, "location", "10:00:31", CONSENT_NONE, -1);
	expect(tl, "location", "10:00:40", CONSENT_WITHDRAWN, 4);
	consent_free(tl);
}

static void test_no_events(void **state)
{
	(void)state;
	expect(NULL, "advertising", "10:00:00", CONSENT_NONE, -1);
	struct consent_timeline *tl = consent_new();
	assert_non_null(tl);
	assert_int_equal(consent_count(tl), 0);
	expect(tl, "advertising", "23:59:59", CONSENT_NONE, -1);
	consent_free(tl);
	tl = load_ok(FIX "empty.json");
	expect(tl, "advertising", "23:59:59", CONSENT_NONE, -1);
	consent_free(tl);
	assert_null(consent_get(NULL, 0));
	assert_int_equal(consent_count(NULL), 0);
}

static void test_wrapped(void **state)
{
	(void)state;
	struct consent_timeline *tl = load_ok(FIX "wrapped.json");
	assert_int_equal(consent_count(tl), 1);
	expect(tl, "push", "10:00:10", CONSENT_GRANTED, 0);
	consent_free(tl);
}

struct bad_case {
	const char *file;
	const char *must[3];
};

static const struct bad_case bad_cases[] = {
	{"bad-time", {"bad-time.json:5:4: event 2, field 'time'", "'2026-11-22 10:00'",
		      "RFC 3339"}},
	{"local-time", {"event 2, field 'time'", "not an RFC 3339 UTC time"}},
	{"unknown-event", {"event 2, field 'event'", "unknown event 'consent_given'"}},
	{"unknown-purpose", {"event 2, field 'purposes[0]'", "unknown purpose 'analytic'"}},
	{"unknown-field", {"event 1, field 'notes'", "unknown field"}},
	{"missing-time", {"event 2, field 'time': missing"}},
	{"grant-without-purposes", {"event 2, field 'purposes'", "a grant names"}},
	{"empty-purposes", {"event 2, field 'purposes'", "at least one purpose"}},
	{"wrong-type", {"event 2, field 'purposes'", "expected an array, found a string"}},
	{"bad-json", {"bad-json.json:7:", "invalid JSON"}},
	{"duplicate-key", {"duplicate-key.json:7:", "field '[4].event'", "duplicate key"}},
	{"not-array", {"not-array.json:1:1:", "expected an array of events"}},
	{"wrapped-unknown", {"field 'event'", "unknown field (expected events)"}},
	{"no-such-file", {"no-such-file.json: cannot open"}},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char path[256];
		snprintf(path, sizeof(path), FIX "%s.json", c->file);
		struct consent_timeline *tl = (struct consent_timeline *)1;
		struct fa_err err = {""};
		int rc = consent_load(path, &tl, &err);
		if (rc != FA_EINPUT)
			fprintf(stderr, "%s: expected FA_EINPUT, got %d (%s)\n", c->file, rc, err.msg);
		assert_int_equal(rc, FA_EINPUT);
		assert_null(tl);
		assert_non_null(strstr(err.msg, path));
		assert_null(strchr(err.msg, '\n'));
		for (size_t k = 0; k < 3 && c->must[k] != NULL; k++) {
			if (strstr(err.msg, c->must[k]) == NULL)
				fprintf(stderr, "%s: '%s' lacks '%s'\n", c->file, err.msg, c->must[k]);
			assert_non_null(strstr(err.msg, c->must[k]));
		}
	}
}

static void test_add_keeps_order(void **state)
{
	(void)state;
	struct consent_timeline *tl = consent_new();
	struct fa_err err = {""};
	const char *ads[] = {"advertising"};
	assert_int_equal(consent_add(tl, at("10:00:10"), true, ads, 1, &err), FA_OK);
	assert_int_equal(consent_add(tl, at("10:00:20"), false, NULL, 0, &err), FA_OK);
	/* a late arrival with an earlier time goes before, its index says it came third */
	assert_int_equal(consent_add(tl, at("10:00:15"), false, ads, 1, &err), FA_OK);
	assert_int_equal(consent_count(tl), 3);
	assert_int_equal(consent_get(tl, 0)->index, 0);
	assert_int_equal(consent_get(tl, 1)->index, 2);
	assert_int_equal(consent_get(tl, 2)->index, 1);
	expect(tl, "advertising", "10:00:16", CONSENT_WITHDRAWN, 2);
	/* a grant without purposes, an unknown purpose */
	assert_int_equal(consent_add(tl, at("10:00:30"), true, NULL, 0, &err), FA_EINPUT);
	const char *bad[] = {"advertising", "ads"};
	assert_int_equal(consent_add(tl, at("10:00:30"), true, bad, 2, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "'ads'"));
	assert_int_equal(consent_count(tl), 3);
	consent_free(tl);
}

static void test_parse_line(void **state)
{
	(void)state;
	struct consent_timeline *tl = consent_new();
	struct fa_err err = {""};
	assert_int_equal(consent_parse_line(tl, "consent_granted advertising analytics", at("10:00:01"),
					    &err), FA_OK);
	assert_int_equal(consent_parse_line(tl, "  consent_withdrawn analytics\r\n", at("10:00:02"),
					    &err), FA_OK);
	assert_int_equal(consent_parse_line(tl, "{\"event\": \"consent_granted\", \"purposes\": "
					    "[\"push\"], \"note\": \"n\"}", at("10:00:03"), &err),
			 FA_OK);
	assert_int_equal(consent_parse_line(tl, "{\"time\": \"2026-11-22T10:00:04Z\", "
					    "\"event\": \"consent_withdrawn\"}", at("10:00:09"), &err),
			 FA_OK);
	assert_int_equal(consent_parse_line(tl, "consent_withdrawn", at("10:00:05"), &err), FA_OK);
	assert_int_equal(consent_count(tl), 5);
	expect(tl, "advertising", "10:00:01", CONSENT_GRANTED, 0);
	expect(tl, "analytics", "10:00:02", CONSENT_WITHDRAWN, 1);
	expect(tl, "advertising", "10:00:02", CONSENT_GRANTED, 0);
	expect(tl, "push", "10:00:03", CONSENT_GRANTED, 2);
	expect(tl, "push", "10:00:04", CONSENT_WITHDRAWN, 3);
	assert_string_equal(consent_get(tl, 2)->note, "n");

	static const char *const bad[][2] = {
		{"consent_maybe advertising", "unknown event 'consent_maybe'"},
		{"consent_granted", "names at least one purpose"},
		{"consent_granted ads", "unknown purpose 'ads'"},
		{"   ", "empty"},
		{"{\"event\": \"consent_granted\"", "invalid JSON"},
		{"{\"event\": \"consent_granted\", \"purposes\": [\"ads\"]}", "unknown purpose 'ads'"},
		{"{\"event\": \"consent_granted\", \"purposes\": [\"push\"], \"time\": \"soon\"}",
		 "field 'time'"},
		{"{\"event\": \"consent_granted\", \"purposes\": [\"push\"], \"x\": 1}", "unknown field"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(consent_parse_line(tl, bad[i][0], at("10:00:06"), &err), FA_EINPUT);
		if (strstr(err.msg, bad[i][1]) == NULL)
			fprintf(stderr, "'%s': '%s' lacks '%s'\n", bad[i][0], err.msg, bad[i][1]);
		assert_non_null(strstr(err.msg, bad[i][1]));
		assert_non_null(strstr(err.msg, "consent"));
	}
	assert_int_equal(consent_count(tl), 5);
	char longline[CONSENT_MAX_LINE + 10];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(consent_parse_line(tl, longline, 0, &err), FA_EINPUT);
	consent_free(tl);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(consent_state_name(CONSENT_NONE), "none");
	assert_string_equal(consent_state_name(CONSENT_GRANTED), "granted");
	assert_string_equal(consent_state_name(CONSENT_WITHDRAWN), "withdrawn");
	assert_true(consent_purpose_valid("cross_border"));
	assert_true(consent_purpose_valid("advertising"));
	assert_false(consent_purpose_valid("everything"));
	assert_false(consent_purpose_valid(NULL));
}

/* Capture files may claim any second; the conversion saturates, never overflows. */
static void test_time_from_parts(void **state)
{
	(void)state;
	bool clamped = false;
	assert_int_equal(fa_time_from_parts(1764000000, 250000, &clamped), 1764000000250000LL);
	assert_false(clamped);
	fa_time hi = fa_time_from_parts(INT64_MAX, 0, &clamped);
	assert_true(clamped);
	assert_int_equal(hi, FA_TIME_MAX_SEC * 1000000);
	/* room left for an idle timeout or a linger on top of the latest time */
	assert_true(hi < INT64_MAX / 2);
	clamped = false;
	fa_time lo = fa_time_from_parts(INT64_MIN, 999999, &clamped);
	assert_true(clamped);
	assert_int_equal(lo, 999999);
	clamped = false;
	assert_int_equal(fa_time_from_parts(10, 1000000, &clamped), 10000000);
	assert_true(clamped);
	char buf[64];
	assert_non_null(fa_time_str(hi, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_sorts),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_no_events),
		cmocka_unit_test(test_wrapped),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_add_keeps_order),
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_time_from_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
