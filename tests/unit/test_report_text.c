/*
 * test_report_text.c - the markup writers' look at a finding and their
 * escape (src/report/report_text.c): members read from a finding's JSON
 * text give what jansson gives for the same text (strings unescaped, the
 * last of two equal keys, null as absent, integers but not reals), arrays
 * and nested objects are walked, text that is not one JSON object is a
 * finding that is not there, and rt_esc() escapes for XML and HTML.
 */
#include "flowaudit/jsonw.h"
#include "flowaudit/report.h"

#include "../../src/report/report_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A findings source whose finding i is the raw JSON text texts[i]. */
static const char *const *texts;

static void raw_members(struct jsonw *w, size_t i, void *user)
{
	(void)user;
	jsonw_raw(w, texts[i], strlen(texts[i]));
}

static json_t *no_get(size_t i, void *user)
{
	(void)i;
	(void)user;
	return NULL;
}

static struct report_findings raw_source(const char *const *t, size_t n)
{
	texts = t;
	return (struct report_findings){.n = n, .get = no_get, .members = raw_members};
}

/* Members read in place are those jansson reads from the same text. */
static void test_members_as_jansson_reads_them(void **state)
{
	(void)state;
	/* raw_members writes inside the braces jsonw opens */
	static const char *const t[] = {
		"\"id\":\"F0001\",\"title\":\"a \\\"quoted\\\" \\\\ back\\/slash\\n\\t\\u0001\","
		"\"smile\":\"\\ud83d\\ude00 caf\xc3\xa9\",\"host\":null,\"n\":-42,\"r\":3.021,"
		"\"big\":9007199254740993,\"t\":true,\"f\":false,\"dup\":\"first\","
		"\"o\":{\"name\":\"inner\",\"dup\":1,\"dup\":2},\"dup\":\"last\","
		"\"frames\":[{\"file\":\"a.pcap\",\"numbers\":[1,2,3]},{\"file\":\"b\"}],\"e\":[]"};
	struct report_findings fs = raw_source(t, 1);
	struct rt_finding v;
	assert_int_equal(rt_finding_open(&v), FA_OK);
	assert_true(rt_finding_load(&v, &fs, 0));

	char text[1024];
	snprintf(text, sizeof(text), "{%s}", t[0]);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	static const char *const keys[] = {"id", "title", "smile", "host", "dup", "absent"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *want = json_string_value(json_object_get(j, keys[k]));
		const char *got = rt_gstr(&v, RT_ROOT, keys[k]);
		if (want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, want);
	}
	/* unescaped once, read again the same */
	assert_string_equal(rt_gstr(&v, RT_ROOT, "title"), "a \"quoted\" \\ back/slash\n\t\x01");
	assert_string_equal(rt_gstr(&v, RT_ROOT, "smile"), "\xf0\x9f\x98\x80 caf\xc3\xa9");
	assert_string_equal(rt_gstr(&v, RT_ROOT, "dup"), "last");
	assert_int_equal(rt_get(&v, RT_ROOT, "host"), -1); /* null is absent */

	long long x = 0;
	assert_true(rt_int(&v, rt_get(&v, RT_ROOT, "n"), &x));
	assert_int_equal(x, -42);
	assert_true(rt_int(&v, rt_get(&v, RT_ROOT, "big"), &x));
	assert_int_equal(x, 9007199254740993LL);
	assert_false(rt_int(&v, rt_get(&v, RT_ROOT, "r"), &x)); /* a real, as json_is_integer() says */
	assert_false(json_is_integer(json_object_get(j, "r")));
	assert_false(rt_int(&v, rt_get(&v, RT_ROOT, "id"), &x));
	assert_true(rt_true(&v, rt_get(&v, RT_ROOT, "t")));
	assert_false(rt_true(&v, rt_get(&v, RT_ROOT, "f")));
	assert_null(rt_gstr(&v, RT_ROOT, "n")); /* not a string */

	int o = rt_get(&v, RT_ROOT, "o");
	assert_true(rt_is_object(&v, o));
	assert_string_equal(rt_gstr(&v, o, "name"), "inner");
	assert_true(rt_int(&v, rt_get(&v, o, "dup"), &x));
	assert_int_equal(x, 2);
	assert_false(rt_is_object(&v, rt_get(&v, RT_ROOT, "frames")));
	assert_int_equal(rt_get(&v, rt_get(&v, RT_ROOT, "frames"), "file"), -1); /* not an object */

	int frames = rt_get(&v, RT_ROOT, "frames");
	assert_int_equal(rt_count(&v, frames), 2);
	int fr = rt_first(&v, frames);
	assert_string_equal(rt_gstr(&v, fr, "file"), "a.pcap");
	int nums = rt_get(&v, fr, "numbers");
	long long sum = 0;
	for (int n = rt_first(&v, nums); n >= 0; n = rt_next(&v, nums, n)) {
		assert_true(rt_int(&v, n, &x));
		sum = sum * 10 + x;
	}
	assert_int_equal(sum, 123);
	fr = rt_next(&v, frames, fr);
	assert_string_equal(rt_gstr(&v, fr, "file"), "b");
	assert_int_equal(rt_next(&v, frames, fr), -1);
	assert_int_equal(rt_first(&v, rt_get(&v, RT_ROOT, "e")), -1);
	assert_int_equal(rt_count(&v, rt_get(&v, RT_ROOT, "e")), 0);
	json_decref(j);
	rt_finding_close(&v);
}

/* A finding of the document itself (no members callback) reads the same,
   and a later load replaces the earlier one. */
static void test_document_findings(void **state)
{
	(void)state;
	json_t *doc = json_pack("{s:[{s:s, s:s, s:{s:s}}, {s:s, s:i}, s]}", "findings", "id", "F0001",
				"rule", "before-consent", "recipient", "name", "Tracker <&>", "id",
				"F0002", "asn", 15169, "not an object");
	assert_non_null(doc);
	struct report_findings fs = report_findings_of_doc(doc);
	struct rt_finding v;
	assert_int_equal(rt_finding_open(&v), FA_OK);
	assert_true(rt_finding_load(&v, &fs, 0));
	assert_string_equal(rt_gstr(&v, RT_ROOT, "rule"), "before-consent");
	assert_string_equal(rt_gstr(&v, rt_get(&v, RT_ROOT, "recipient"), "name"), "Tracker <&>");
	assert_true(rt_finding_load(&v, &fs, 1));
	assert_string_equal(rt_gstr(&v, RT_ROOT, "id"), "F0002");
	assert_null(rt_gstr(&v, RT_ROOT, "rule"));
	long long asn = 0;
	assert_true(rt_int(&v, rt_get(&v, RT_ROOT, "asn"), &asn));
	assert_int_equal(asn, 15169);
	/* a finding that is not an object is not there */
	assert_false(rt_finding_load(&v, &fs, 2));
	assert_null(rt_gstr(&v, RT_ROOT, "id"));
	assert_int_equal(rt_get(&v, RT_ROOT, "id"), -1);
	json_decref(doc);
	rt_finding_close(&v);
}

/* Text that is not one JSON object is refused, never read past its end;
   the next finding still loads. */
static void test_broken_text_refused(void **state)
{
	(void)state;
	static const char *const t[] = {
	    "\"a\":\"unterminated",
	    "\"a\":1}]",
	    "\"a\":\"b\"},{\"c\":1",
	    "\"a\":\"ends in \\",
	    "\"a\":[1,{\"b\":2}",
	    "\"a\":{\"b\" 1}",
	    "\"a\":[1 2]",
	    "\"a\" 1",
	    "\"a\":1,,\"b\":2",
	    "\"a\":[1,]",
	    "\"a\":{\"b\":1,}",
	    "\"a\":[1}",
	    "1:2",
	    "\"ok\":\"yes\"",
	};
	size_t n = sizeof(t) / sizeof(t[0]);
	struct report_findings fs = raw_source(t, n);
	struct rt_finding v;
	assert_int_equal(rt_finding_open(&v), FA_OK);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_false(rt_finding_load(&v, &fs, i));
		assert_null(rt_gstr(&v, RT_ROOT, "a"));
	}
	assert_true(rt_finding_load(&v, &fs, n - 1));
	assert_string_equal(rt_gstr(&v, RT_ROOT, "ok"), "yes");
	rt_finding_close(&v);
}

static char *escaped(const char *s, const struct rt_escapes *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	struct jsonw w;
	assert_int_equal(jsonw_open_text(&w, m), FA_OK);
	rt_esc(&w, s, e);
	rt_esc(&w, NULL, e);
	assert_int_equal(jsonw_close(&w), FA_OK);
	fclose(m);
	return buf;
}

static void test_escapes(void **state)
{
	(void)state;
	const char *s = "<a href='x'>&\"\x01\t\n\r\x7f|\xef\xbf\xbe|\xef\xbf\xbf|\xef\xbf\xbd|\xef\xbc\x81|caf\xc3\xa9";
	char *x = escaped(s, &rt_xml);
	assert_string_equal(x, "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&#9;&#10;&#13;||"
			       "|\xef\xbf\xbd|\xef\xbc\x81|caf\xc3\xa9");
	free(x);
	char *h = escaped(s, &rt_html);
	assert_string_equal(h, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\xef\xbf\xbd\t\n\xef\xbf\xbd"
			       "\xef\xbf\xbd|\xef\xbf\xbe|\xef\xbf\xbf|\xef\xbf\xbd|\xef\xbc\x81|caf\xc3\xa9");
	free(h);
	/* a lone 0xEF at the end, and one before a NUL, are copied */
	x = escaped("a\xef", &rt_xml);
	assert_string_equal(x, "a\xef");
	free(x);
	x = escaped("a\xef\xbf", &rt_xml);
	assert_string_equal(x, "a\xef\xbf");
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_as_jansson_reads_them),
		cmocka_unit_test(test_document_findings),
		cmocka_unit_test(test_broken_text_refused),
		cmocka_unit_test(test_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
