/* jsonw: one description, written as text and as a jansson tree, must agree
   with jansson's own compact dump byte for byte. */
#include "flowaudit/jsonw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef void (*describe_fn)(struct jsonw *w, const void *arg);

/* The text form of what fn describes. */
static char *as_text(describe_fn fn, const void *arg, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	struct jsonw w;
	assert_int_equal(jsonw_open_text(&w, out), FA_OK);
	fn(&w, arg);
	*rc = jsonw_close(&w);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* The tree form, dumped by jansson. */
static char *tree_dump(describe_fn fn, const void *arg, json_t **tree)
{
	struct jsonw w;
	jsonw_open_tree(&w);
	fn(&w, arg);
	*tree = jsonw_tree_take(&w);
	assert_int_equal(jsonw_close(&w), FA_OK);
	assert_non_null(*tree);
	return json_dumps(*tree, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static void assert_forms_agree(describe_fn fn, const void *arg)
{
	int rc;
	char *text = as_text(fn, arg, &rc);
	assert_int_equal(rc, FA_OK);
	json_t *tree;
	char *dump = tree_dump(fn, arg, &tree);
	assert_string_equal(text, dump);
	json_error_t e;
	json_t *back = json_loads(text, JSON_DECODE_ANY, &e);
	assert_non_null(back);
	assert_true(json_equal(back, tree));
	json_decref(back);
	json_decref(tree);
	free(dump);
	free(text);
}

static void describe_everything(struct jsonw *w, const void *arg)
{
	(void)arg;
	jsonw_object(w, NULL);
	jsonw_string(w, "plain", "hello");
	jsonw_string(w, "empty", "");
	jsonw_string(w, "escapes", "q\" b\\ / \b\f\n\r\t \x01\x1f \x7f");
	jsonw_string(w, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	jsonw_string(w, "null string", NULL);
	jsonw_int(w, "zero", 0);
	jsonw_int(w, "min", INT64_MIN);
	jsonw_int(w, "max", INT64_MAX);
	jsonw_int(w, "neg", -42);
	jsonw_bool(w, "t", true);
	jsonw_bool(w, "f", false);
	jsonw_null(w, "n");
	jsonw_time(w, "never", 0);
	jsonw_time(w, "at", (fa_time)1700000000 * 1000000 + 123456);
	jsonw_object(w, "empty object");
	jsonw_end(w);
	jsonw_array(w, "empty array");
	jsonw_end(w);
	jsonw_array(w, "nested");
	jsonw_int(w, NULL, 1);
	jsonw_array(w, NULL);
	jsonw_string(w, NULL, "x");
	jsonw_object(w, NULL);
	jsonw_null(w, "deep");
	jsonw_end(w);
	jsonw_end(w);
	jsonw_bool(w, NULL, true);
	jsonw_end(w);
	json_t *v = json_pack("{s:[i,s,n], s:{}}", "a", 7, "\xc3\xa9\n", "b");
	jsonw_value(w, "embedded", v);
	jsonw_value(w, "embedded null", NULL);
	json_decref(v);
	jsonw_end(w);
}

static void test_forms_agree(void **state)
{
	(void)state;
	assert_forms_agree(describe_everything, NULL);
}

static void describe_string(struct jsonw *w, const void *arg)
{
	jsonw_array(w, NULL);
	jsonw_string(w, NULL, arg);
	jsonw_end(w);
}

/* Bytes that are not UTF-8 become U+FFFD, one for each, in both forms. */
static void test_bad_utf8_replaced(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xff" "b", "[\"a\xef\xbf\xbd" "b\"]"},          /* never a lead byte */
		{"\xc0\x80", "[\"\xef\xbf\xbd\xef\xbf\xbd\"]"},    /* overlong NUL */
		{"\x80x", "[\"\xef\xbf\xbdx\"]"},                  /* lone continuation */
		{"\xe2\x82", "[\"\xef\xbf\xbd\xef\xbf\xbd\"]"},    /* cut short at the end */
		{"\xed\xa0\x80", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]"}, /* surrogate */
		{"\xf4\x90\x80\x80", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]"},
		{"ok \xe2\x82\xac", "[\"ok \xe2\x82\xac\"]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		char *text = as_text(describe_string, cases[i].in, &rc);
		assert_int_equal(rc, FA_OK);
		assert_string_equal(text, cases[i].out);
		json_t *tree;
		char *dump = tree_dump(describe_string, cases[i].in, &tree);
		assert_string_equal(dump, cases[i].out);
		json_decref(tree);
		free(dump);
		free(text);
	}
}

/* Random bytes: the two forms still agree, and the text parses. */
static void test_random_strings(void **state)
{
	(void)state;
	uint32_t x = 2463534242u;
	char s[64];
	for (int round = 0; round < 5000; round++) {
		size_t n = 0;
		for (; n < sizeof(s) - 1; n++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			if ((x & 63) == 0)
				break;
			/* mostly printable, then UTF-8 leads and continuations, and controls */
			uint32_t k = (x >> 8) % 10;
			s[n] = (char)(k < 5 ? 0x20 + (x >> 12) % 95
				      : k < 8 ? 0x80 + (x >> 12) % 128
					      : (x >> 12) % 32);
			if (s[n] == 0)
				s[n] = 1;
		}
		s[n] = '\0';
		assert_forms_agree(describe_string, s);
	}
}

/* s as a key and as its value. */
static void describe_member(struct jsonw *w, const void *arg)
{
	jsonw_object(w, NULL);
	jsonw_string(w, arg, arg);
	jsonw_end(w);
}

/*
 * About size bytes of mostly plain text with pieces[1] to pieces[n - 1]
 * among it (malloc'd): runs long enough to reach the writer's cuts, and
 * the other pieces at every offset.
 */
static char *long_string(size_t size, const char *const *pieces, uint32_t n, uint32_t *x)
{
	char *s = malloc(size + 8);
	assert_non_null(s);
	size_t len = 0;
	while (len < size) {
		*x ^= *x << 13;
		*x ^= *x >> 17;
		*x ^= *x << 5;
		const char *p = (*x & 7) != 0 ? pieces[0] + (*x >> 8) % 7 : pieces[1 + (*x >> 8) % (n - 1)];
		size_t k = strlen(p);
		memcpy(s + len, p, k);
		len += k;
	}
	s[len] = '\0';
	return s;
}

/*
 * Strings longer than the one-pass copy and than one pass of escaping,
 * whole UTF-8 sequences of two to four bytes, escapes and stray bytes at
 * every offset, so that some sequence spans each place where the writer
 * cuts: still the same as jansson's, as a value and (UTF-8 only, as a
 * tree's keys must be) as a key.
 */
static void test_long_strings(void **state)
{
	(void)state;
	/* the first nine are UTF-8 */
	static const char *const pieces[] = {"abcdefg", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
					     "\"", "\\", "\n", "\x01", "\x1f", "\xff", "\xc3"};
	const size_t sizes[] = {127, 128, 129, 130, 300, 10919, 10920, 10921, 10923, 30000, 70000};
	uint32_t x = 88172645u;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *s = long_string(sizes[k], pieces, 11, &x);
		assert_forms_agree(describe_string, s);
		free(s);
		s = long_string(sizes[k], pieces, 9, &x);
		assert_forms_agree(describe_member, s);
		free(s);
	}
}

static void describe_milli(struct jsonw *w, const void *arg)
{
	jsonw_array(w, NULL);
	jsonw_milli(w, NULL, *(const int64_t *)arg);
	jsonw_end(w);
}

/* Thousandths as text: sign, whole part, three places, as printf writes them. */
static void test_milli(void **state)
{
	(void)state;
	const int64_t v[] = {0,      1,        -1,       999,       1000,      3021,
			     180000, -5,       -1234567, 10000001,  INT64_MAX, INT64_MIN + 1};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc;
		char *text = as_text(describe_milli, &v[i], &rc);
		assert_int_equal(rc, FA_OK);
		char want[48];
		int64_t a = v[i] < 0 ? -v[i] : v[i];
		snprintf(want, sizeof(want), "[%s%lld.%03lld]", v[i] < 0 ? "-" : "",
			 (long long)(a / 1000), (long long)(a % 1000));
		assert_string_equal(text, want);
		free(text);
	}
	int64_t min = INT64_MIN;
	int rc;
	char *text = as_text(describe_milli, &min, &rc);
	assert_string_equal(text, "[-9223372036854775.808]");
	free(text);
}

static void describe_many(struct jsonw *w, const void *arg)
{
	const size_t *n = arg;
	jsonw_array(w, NULL);
	for (size_t i = 0; i < *n; i++)
		jsonw_string(w, NULL, "0123456789abcdef0123456789abcdef0123456789abcdef");
	jsonw_end(w);
}

/* More than the writer's buffer: flushed in pieces, still the same. */
static void test_past_the_buffer(void **state)
{
	(void)state;
	size_t n = 3 * JSONW_BUF / 50;
	assert_forms_agree(describe_many, &n);
	char *big = malloc(2 * JSONW_BUF);
	assert_non_null(big);
	memset(big, 'z', 2 * JSONW_BUF - 1);
	big[2 * JSONW_BUF - 1] = '\0';
	assert_forms_agree(describe_string, big);
	free(big);
}

/* A stream that fails, an unbalanced end and too deep a value: reported, never a crash. */
static void test_failures(void **state)
{
	(void)state;
	FILE *full = fopen("/dev/full", "w");
	if (full != NULL) {
		struct jsonw w;
		assert_int_equal(jsonw_open_text(&w, full), FA_OK);
		size_t n = 4 * JSONW_BUF / 50;
		describe_many(&w, &n);
		assert_int_equal(jsonw_close(&w), FA_ERUNTIME);
		fclose(full);
	}
	struct jsonw w;
	jsonw_open_tree(&w);
	jsonw_end(&w);
	assert_null(jsonw_tree_take(&w));
	assert_int_equal(jsonw_close(&w), FA_ERUNTIME);

	jsonw_open_tree(&w);
	for (int i = 0; i < JSONW_DEPTH + 1; i++)
		jsonw_array(&w, NULL);
	assert_null(jsonw_tree_take(&w));
	assert_int_equal(jsonw_close(&w), FA_ERUNTIME);

	/* a member without a key, and a second value at the top of a tree */
	jsonw_open_tree(&w);
	jsonw_object(&w, NULL);
	jsonw_int(&w, NULL, 1);
	assert_int_equal(jsonw_close(&w), FA_ERUNTIME);
	jsonw_open_tree(&w);
	jsonw_int(&w, NULL, 1);
	jsonw_int(&w, NULL, 2);
	assert_null(jsonw_tree_take(&w));
	assert_int_equal(jsonw_close(&w), FA_ERUNTIME);
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xe0\x80\x80", 3), 0);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xef\xbf\xbf", 3), 3);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xf0\x90\x80\x80", 4), 4);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4), 4);
	assert_int_equal(fa_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(fa_utf8_len((const unsigned char *)"A", 1), 1);
	assert_int_equal(fa_utf8_len((const unsigned char *)"A", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms_agree),
		cmocka_unit_test(test_bad_utf8_replaced),
		cmocka_unit_test(test_random_strings),
		cmocka_unit_test(test_past_the_buffer),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_milli),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_utf8_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
