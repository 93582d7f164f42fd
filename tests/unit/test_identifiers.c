/*
 * test_identifiers.c - the identifier scanner: every encoding of the test
 * device's identifiers is found at the right offset, across every split of
 * the stream into two feeds, in both letter cases of hex digests, and as
 * base64 at all three alignments inside a longer string; look-alikes (random
 * hex of the same length, another device's IMEI) are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/hash.h"
#include "flowaudit/identifiers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMEI "356938035643809"
#define OTHER_IMEI "490154203237518"
#define ANDROID_ID "9774d56d682e549c"
#define GAID "38400000-8cf0-11bd-b23e-10b96e40000d"
#define MAC "02:00:00:00:ab:17"
#define EMAIL "Tester@Example.org"

static struct device_identifier ids[] = {
	{"imei", (char *)IMEI, NULL},
	{"android_id", (char *)ANDROID_ID, NULL},
	{"advertising_id", (char *)GAID, NULL},
	{"mac", (char *)MAC, NULL},
	{"email", (char *)EMAIL, NULL},
	{"phone", (char *)"+33612345678", NULL},
	{"serial", (char *)"abc12", NULL}, /* too short: never looked for */
};
#define N_IDS (sizeof(ids) / sizeof(ids[0]))
enum { I_IMEI, I_AID, I_GAID, I_MAC, I_EMAIL, I_PHONE, I_SERIAL };

static struct device_profile profile = {
	.path = (char *)"test-device.json",
	.ids = ids,
	.n_ids = N_IDS,
	.has_location = true,
	.lat = 48.8566,
	.lon = 2.3522,
};

struct hits {
	struct idscan_match m[256];
	size_t n;
};

static void on_match(const struct idscan_match *m, void *user)
{
	struct hits *h = user;
	if (h->n < 256)
		h->m[h->n++] = *m;
}

static struct idscan *scanner(void)
{
	struct fa_err err;
	struct idscan *s = idscan_new(&profile, &err);
	assert_non_null(s);
	return s;
}

static void scan(const struct idscan *s, const char *text, struct hits *h)
{
	h->n = 0;
	idscan_feed(s, idscan_start(s), (const uint8_t *)text, strlen(text), 0, on_match, h);
}

/* Index of a hit with this type, encoding and offset, or -1. */
static int find(const struct hits *h, const char *type, const char *enc, size_t off)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->m[i].type, type) == 0 && strcmp(h->m[i].encoding, enc) == 0 &&
		    h->m[i].offset == off)
			return (int)i;
	return -1;
}

static void expect_in(const struct idscan *s, const char *prefix, const char *enc_text,
		      const char *type, const char *enc, size_t id_index)
{
	char text[1024];
	snprintf(text, sizeof(text), "%s%s&z=1 HTTP/1.1\r\n", prefix, enc_text);
	struct hits h;
	scan(s, text, &h);
	int i = find(&h, type, enc, strlen(prefix));
	if (i < 0)
		fail_msg("%s/%s not found in: %s", type, enc, text);
	assert_int_equal(h.m[i].id_index, id_index);
}

static void hex_of(const char *s, char *out, bool upper)
{
	for (size_t i = 0; s[i]; i++)
		sprintf(out + 2 * i, upper ? "%02X" : "%02x", (unsigned char)s[i]);
}

static void b64(const uint8_t *in, size_t n, char *out, bool url)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
}

static void digest_hex(const char *enc, const char *s, char *out, bool upper)
{
	uint8_t d[32];
	size_t n = strlen(s);
	if (strcmp(enc, "md5") == 0) {
		struct md5_ctx c;
		md5_init(&c);
		md5_update(&c, s, n);
		md5_final(&c, d);
		hash_hex(d, 16, out);
	} else if (strcmp(enc, "sha1") == 0) {
		struct sha1_ctx c;
		sha1_init(&c);
		sha1_update(&c, s, n);
		sha1_final(&c, d);
		hash_hex(d, 20, out);
	} else {
		struct sha256_ctx c;
		sha256_init(&c);
		sha256_update(&c, s, n);
		sha256_final(&c, d);
		hash_hex(d, 32, out);
	}
	if (upper)
		for (char *p = out; *p; p++)
			*p = (char)toupper((unsigned char)*p);
}

/* plain, hex (both cases), md5/sha1/sha256 (both cases) of one form */
static void expect_common(const struct idscan *s, const char *type, size_t idx, const char *form)
{
	char buf[512];
	expect_in(s, "GET /c?v=", form, type, "plain", idx);
	hex_of(form, buf, false);
	expect_in(s, "GET /c?v=", buf, type, "hex", idx);
	hex_of(form, buf, true);
	expect_in(s, "GET /c?v=", buf, type, "hex", idx);
	static const char *const hashes[] = {"md5", "sha1", "sha256"};
	for (int i = 0; i < 3; i++) {
		digest_hex(hashes[i], form, buf, false);
		expect_in(s, "GET /c?h=", buf, type, hashes[i], idx);
		digest_hex(hashes[i], form, buf, true);
		expect_in(s, "GET /c?h=", buf, type, hashes[i], idx);
	}
}

static void test_plain_hex_hashes(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	expect_common(s, "imei", I_IMEI, IMEI);
	expect_common(s, "android_id", I_AID, ANDROID_ID);
	expect_common(s, "android_id", I_AID, "9774D56D682E549C");
	expect_common(s, "advertising_id", I_GAID, GAID);
	expect_common(s, "advertising_id", I_GAID, "38400000-8CF0-11BD-B23E-10B96E40000D");
	expect_common(s, "email", I_EMAIL, "tester@example.org");
	expect_common(s, "phone", I_PHONE, "+33612345678");
	expect_common(s, "phone", I_PHONE, "33612345678");
	idscan_free(s);
}

static void test_mac_forms(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	static const char *const forms[] = {"02:00:00:00:ab:17", "02:00:00:00:AB:17",
					    "02-00-00-00-ab-17", "02-00-00-00-AB-17",
					    "02000000ab17",      "02000000AB17"};
	for (size_t i = 0; i < 6; i++)
		expect_common(s, "mac", I_MAC, forms[i]);
	expect_in(s, "GET /c?m=", "02%3A00%3A00%3A00%3Aab%3A17", "mac", "url", I_MAC);
	expect_in(s, "GET /c?m=", "02%3a00%3a00%3a00%3aAB%3a17", "mac", "url", I_MAC);
	idscan_free(s);
}

static void test_url(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	expect_in(s, "GET /c?mail=", "tester%40example.org", "email", "url", I_EMAIL);
	expect_in(s, "GET /c?p=", "%2B33612345678", "phone", "url", I_PHONE);
	/* an alphanumeric identifier's URL form is itself: reported once, as plain */
	struct hits h;
	scan(s, "imei=" IMEI, &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.m[0].encoding, "plain");
	idscan_free(s);
}

/* {"x":"<base64 of pre + 'id=' + value>"} for pre of 0, 1, 2 bytes, both alphabets. */
static void test_base64_alignments(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	static const struct {
		const char *type, *value;
		size_t idx;
	} v[] = {{"imei", IMEI, I_IMEI}, {"advertising_id", GAID, I_GAID}, {"android_id", ANDROID_ID, I_AID}};
	for (size_t k = 0; k < 3; k++) {
		for (int pre = 0; pre < 3; pre++) {
			for (int url = 0; url < 2; url++) {
				char raw[128], enc[256], text[400];
				snprintf(raw, sizeof(raw), "%.*sid=%s", pre, "ab", v[k].value);
				b64((const uint8_t *)raw, strlen(raw), enc, url);
				snprintf(text, sizeof(text), "{\"x\":\"%s\"}", enc);
				struct hits h;
				scan(s, text, &h);
				bool found = false;
				for (size_t i = 0; i < h.n; i++)
					if (strcmp(h.m[i].type, v[k].type) == 0 &&
					    strcmp(h.m[i].encoding, url ? "base64url" : "base64") == 0 &&
					    h.m[i].id_index == v[k].idx)
						found = true;
				/* base64url equals base64 when neither '+' nor '/' appears; then
				   the first label ("base64") is the one reported */
				if (!found && url) {
					for (size_t i = 0; i < h.n; i++)
						if (strcmp(h.m[i].type, v[k].type) == 0 &&
						    strcmp(h.m[i].encoding, "base64") == 0 &&
						    strpbrk(enc, "-_") == NULL)
							found = true;
				}
				if (!found)
					fail_msg("%s base64%s pre=%d not found in %s", v[k].type,
						 url ? "url" : "", pre, text);
			}
		}
	}
	idscan_free(s);
}

/* The IMEI in a request split into two feeds at every position. */
static void test_split_every_point(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	const char *req = "GET /c?imei=" IMEI "&x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n";
	size_t n = strlen(req), at = strlen("GET /c?imei=");
	for (size_t cut = 0; cut <= n; cut++) {
		struct hits h = {.n = 0};
		uint32_t st = idscan_start(s);
		st = idscan_feed(s, st, (const uint8_t *)req, cut, 1000, on_match, &h);
		idscan_feed(s, st, (const uint8_t *)req + cut, n - cut, 1000 + cut, on_match, &h);
		assert_int_equal(h.n, 1);
		assert_string_equal(h.m[0].type, "imei");
		assert_string_equal(h.m[0].encoding, "plain");
		assert_int_equal(h.m[0].offset, 1000 + at);
	}
	/* and byte by byte */
	struct hits h = {.n = 0};
	uint32_t st = idscan_start(s);
	for (size_t i = 0; i < n; i++)
		st = idscan_feed(s, st, (const uint8_t *)req + i, 1, i, on_match, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.m[0].offset, at);
	idscan_free(s);
}

/*
 * Long feeds are walked in two lanes that meet half-way: planting IMEIs and
 * digests at every position around the middle must report the same matches,
 * in the same order, as feeding the same bytes one at a time.
 */
static void test_long_feed_matches_bytewise(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	static char buf[3000];
	char sha[65];
	digest_hex("sha256", "02:00:00:00:ab:17", sha, false);
	for (size_t len = 2200; len <= 3000; len += 800) {
		size_t mid = len / 2;
		for (size_t at = mid - 140; at < mid + 80; at++) {
			uint32_t x = (uint32_t)at;
			for (size_t i = 0; i < len; i++) {
				x = x * 1103515245 + 12345;
				buf[i] = (char)(' ' + (x >> 16) % 95);
			}
			memcpy(buf + at, IMEI, 15);
			memcpy(buf + at - 70, sha, 64);
			memcpy(buf + 10, ANDROID_ID, 16);
			memcpy(buf + len - 16, ANDROID_ID, 16);
			memcpy(buf + at + 40, IMEI, 15);
			struct hits whole = {.n = 0}, bytes = {.n = 0};
			idscan_feed(s, idscan_start(s), (const uint8_t *)buf, len, 7, on_match, &whole);
			uint32_t st = idscan_start(s);
			for (size_t i = 0; i < len; i++)
				st = idscan_feed(s, st, (const uint8_t *)buf + i, 1, 7 + i, on_match, &bytes);
			assert_int_equal(whole.n, 5);
			assert_int_equal(whole.n, bytes.n);
			for (size_t i = 0; i < whole.n; i++) {
				assert_int_equal(whole.m[i].offset, bytes.m[i].offset);
				assert_string_equal(whole.m[i].type, bytes.m[i].type);
				assert_string_equal(whole.m[i].encoding, bytes.m[i].encoding);
			}
			for (size_t i = 1; i < whole.n; i++)
				assert_true(whole.m[i - 1].offset < whole.m[i].offset);
		}
	}
	/* the state after a long feed carries a split match into the next feed */
	memset(buf, 'x', 2500);
	memcpy(buf + 2500 - 7, IMEI, 7);
	struct hits h = {.n = 0};
	uint32_t st = idscan_feed(s, idscan_start(s), (const uint8_t *)buf, 2500, 0, on_match, &h);
	idscan_feed(s, st, (const uint8_t *)IMEI + 7, 8, 2500, on_match, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.m[0].offset, 2493);
	idscan_free(s);
}

static void test_negatives(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	struct hits h;
	scan(s, "GET /c?x=8f1e2d3c4b5a6978&imei=" OTHER_IMEI " HTTP/1.1\r\n", &h);
	assert_int_equal(h.n, 0);
	/* one digit off, and a prefix of the IMEI */
	scan(s, "imei=356938035643808 imei=35693803564380", &h);
	assert_int_equal(h.n, 0);
	/* the too-short serial is not looked for */
	scan(s, "serial=abc12", &h);
	assert_int_equal(h.n, 0);
	/* random printable text of a few KB */
	char buf[8192];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf) - 1; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (char)(' ' + (x >> 16) % 95);
	}
	buf[sizeof(buf) - 1] = '\0';
	scan(s, buf, &h);
	assert_int_equal(h.n, 0);
	idscan_free(s);
}

static void test_location(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	struct hits h;
	scan(s, "{\"lat\":48.8566123,\"lon\":2.35221}", &h);
	assert_true(find(&h, "location", "plain", 7) >= 0);
	assert_true(find(&h, "location", "plain", 24) >= 0);
	assert_int_equal(h.m[0].id_index, N_IDS);
	scan(s, "{\"lat\":48.86,\"lon\":2.35}", &h);
	assert_int_equal(h.n, 0);
	scan(s, "lat=48.857", &h); /* rounded to 3 decimals */
	assert_true(find(&h, "location", "plain", 4) >= 0);
	idscan_free(s);
}

static void test_pattern_count_and_short(void **state)
{
	(void)state;
	struct idscan *s = scanner();
	assert_true(idscan_pattern_count(s) > 100);
	idscan_free(s);
	idscan_free(NULL);

	struct device_identifier one[] = {{"serial", (char *)"abc12", NULL}};
	struct device_profile p = {.path = (char *)"short.json", .ids = one, .n_ids = 1};
	struct fa_err err;
	assert_null(idscan_new(&p, &err));
	assert_non_null(strstr(err.msg, "short.json"));
}

static void test_other_type(void **state)
{
	(void)state;
	struct device_identifier one[] = {{"customer_id", (char *)"CUST-778899", NULL}};
	struct device_profile p = {.path = (char *)"o.json", .ids = one, .n_ids = 1};
	struct fa_err err;
	struct idscan *s = idscan_new(&p, &err);
	assert_non_null(s);
	struct hits h;
	scan(s, "uid=cust-778899;", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.m[0].type, "customer_id");
	assert_ptr_not_equal(h.m[0].type, one[0].type); /* the scanner's own copy */
	idscan_free(s);
}

static void test_mask(void **state)
{
	(void)state;
	char out[64];
	idscan_mask(IMEI, out, sizeof(out));
	assert_string_equal(out, "***********3809");
	idscan_mask("abcd", out, sizeof(out));
	assert_string_equal(out, "****");
	idscan_mask("", out, sizeof(out));
	assert_string_equal(out, "");
	char small[8];
	idscan_mask(IMEI, small, sizeof(small));
	assert_string_equal(small, "***3809");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_hex_hashes),
		cmocka_unit_test(test_mac_forms),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_base64_alignments),
		cmocka_unit_test(test_split_every_point),
		cmocka_unit_test(test_long_feed_matches_bytewise),
		cmocka_unit_test(test_negatives),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_pattern_count_and_short),
		cmocka_unit_test(test_other_type),
		cmocka_unit_test(test_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
