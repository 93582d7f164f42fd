/* The number, time and address text of common.c, written without printf,
   must be byte for byte what gmtime_r with snprintf and inet_ntop write. */
#include "flowaudit/common.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* The reference: what fa_time_str wrote with gmtime_r and snprintf. */
static void ref_time(fa_time t, char *buf, size_t len)
{
	time_t sec = (time_t)(t / 1000000);
	long us = (long)(t % 1000000);
	if (us < 0) {
		us += 1000000;
		sec -= 1;
	}
	struct tm tm;
	assert_non_null(gmtime_r(&sec, &tm));
	char full[64];
	if (us)
		snprintf(full, sizeof(full), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	else
		snprintf(full, sizeof(full), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	size_t n = strlen(full); /* cut as snprintf cuts */
	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(buf, full, n);
	buf[n] = '\0';
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void check_time(fa_time t)
{
	char a[40], b[40];
	memset(a, 'x', sizeof(a));
	memset(b, 'x', sizeof(b));
	ref_time(t, a, sizeof(a));
	assert_ptr_equal(fa_time_str(t, b, sizeof(b)), b);
	assert_string_equal(a, b);
	/* cut short as snprintf cuts */
	for (size_t len = 1; len < 30; len += 7) {
		memset(a, 'x', sizeof(a));
		memset(b, 'x', sizeof(b));
		ref_time(t, a, len);
		fa_time_str(t, b, len);
		assert_memory_equal(a, b, len);
	}
}

static void test_time(void **state)
{
	(void)state;
	const fa_time fixed[] = {
		1, 999999, 1000000, 86399999999LL, 86400000000LL, 951782400000000LL, /* 2000-02-29 */
		951868800000000LL, 4102444800000000LL, 253402300799999999LL, /* 9999-12-31 */
		253402300800000000LL, FA_TIME_MAX_SEC * 1000000, -1, -1000000, -86400000001LL,
		1700000000123456LL, 1700000000000000LL,
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_time(fixed[i]);
	for (int i = 0; i < 200000; i++) {
		fa_time t = (fa_time)(next() % (uint64_t)(300000000000000000LL));
		if (i & 1)
			t -= t % 1000000; /* whole seconds: no fraction */
		check_time(t);
	}
}

static void test_addr(void **state)
{
	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = next();
		uint8_t b[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
		if (i % 4 == 1)
			b[0] = b[1] = b[2] = b[3] = (uint8_t)(i % 3 == 0 ? 0 : 255);
		fa_addr a;
		fa_addr_v4(&a, b);
		for (size_t len = 0; len <= 18; len++) {
			char want[20], got[20];
			memset(want, 'x', sizeof(want));
			memset(got, 'x', sizeof(got));
			if (len > 0) {
				want[0] = '\0';
				inet_ntop(AF_INET, b, want, (socklen_t)len);
			}
			fa_addr_str(&a, got, len);
			assert_memory_equal(want, got, sizeof(want));
		}
	}
}

static void test_int(void **state)
{
	(void)state;
	const int64_t fixed[] = {0, 1, -1, 9, 10, -10, 99, 100, INT64_MAX, INT64_MIN,
				 INT64_MIN + 1, 4294967296LL, -4294967296LL};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 100000; i++) {
		int64_t v = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i]
				  : (int64_t)(next() >> (next() % 64));
		if (i % 3 == 0 && v != INT64_MIN)
			v = -v;
		char want[32], got[32];
		snprintf(want, sizeof(want), "%" PRId64, v);
		char *end = fa_put_int(got, v);
		*end = '\0';
		assert_string_equal(want, got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_int),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
