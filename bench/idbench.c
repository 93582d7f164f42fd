/*
 * idbench.c - identifier scanner throughput.
 *
 * Builds a scanner for a profile of 12 identifiers (every kind the profile
 * knows, two "other" entries and a location) and scans 256 MiB of
 * pseudo-random HTTP-like printable text generated in memory, in 64 KiB
 * feeds as the engine hands them over. Prints the pattern count, the
 * matches found (the text plants one IMEI per MiB so the reporting path is
 * exercised) and "idscan MB/s: N". Build optimised, without sanitizers:
 * `make bench-build` links it against $(BUILD)/libflowaudit.a as
 * $(BUILD)/bench/idbench, and `make bench` runs it.
 */
#include "flowaudit/identifiers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOTAL ((size_t)256 * 1024 * 1024)
#define FEED (64 * 1024)

static struct device_identifier ids[] = {
	{"imei", (char *)"356938035643809", NULL},
	{"imsi", (char *)"310150123456789", NULL},
	{"iccid", (char *)"8991101200003204510", NULL},
	{"android_id", (char *)"9774d56d682e549c", NULL},
	{"advertising_id", (char *)"38400000-8cf0-11bd-b23e-10b96e40000d", NULL},
	{"serial", (char *)"R58M12ABCDE", NULL},
	{"mac", (char *)"02:00:00:00:00:17", NULL},
	{"phone", (char *)"+33612345678", NULL},
	{"email", (char *)"tester@example.org", NULL},
	{"customer_id", (char *)"CUST-778899", NULL},
	{"push_token", (char *)"fcm-token-1234567890abcdef", NULL},
};

static void on_match(const struct idscan_match *m, void *user)
{
	(void)m;
	(*(size_t *)user)++;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct device_profile p = {
		.path = (char *)"bench",
		.ids = ids,
		.n_ids = sizeof(ids) / sizeof(ids[0]),
		.has_location = true,
		.lat = 48.8566,
		.lon = 2.3522,
	};
	struct fa_err err;
	struct idscan *s = idscan_new(&p, &err);
	if (s == NULL) {
		fprintf(stderr, "idbench: %s\n", err.msg);
		return 1;
	}
	uint8_t *buf = malloc(TOTAL);
	if (buf == NULL) {
		fprintf(stderr, "idbench: out of memory\n");
		return 1;
	}
	static const char *const words[] = {
		"GET ", "POST ", "/api/v1/", "events", "?id=", "&ts=", "1700000000", " HTTP/1.1\r\n",
		"Host: ", "collect.example.com", "\r\n", "User-Agent: ", "okhttp/4.9.0",
		"Content-Type: application/json\r\n", "{\"k\":", "\"value\",", "null", "true}",
		"Accept-Encoding: gzip\r\n", "Cookie: sid=", "a8f3", "=", ";", " ",
	};
	size_t nw = sizeof(words) / sizeof(words[0]);
	uint64_t x = 88172645463325252ull;
	size_t o = 0;
	while (o < TOTAL) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (x % 4 == 0) { /* random printable run */
			size_t n = 4 + (x >> 8) % 24;
			for (size_t i = 0; i < n && o < TOTAL; i++)
				buf[o++] = (uint8_t)(' ' + ((x >> (i % 50)) + i * 31) % 95);
		} else {
			const char *w = words[(x >> 16) % nw];
			size_t n = strlen(w);
			for (size_t i = 0; i < n && o < TOTAL; i++)
				buf[o++] = (uint8_t)w[i];
		}
	}
	size_t planted = 0;
	for (size_t at = 512 * 1024; at + 32 < TOTAL; at += 1024 * 1024) {
		memcpy(buf + at, "imei=356938035643809", 20);
		planted++;
	}
	size_t matches = 0;
	double t0 = now();
	uint32_t st = idscan_start(s);
	for (size_t off = 0; off < TOTAL; off += FEED)
		st = idscan_feed(s, st, buf + off, FEED, off, on_match, &matches);
	double dt = now() - t0;
	printf("patterns: %zu, planted: %zu, matches: %zu\n", idscan_pattern_count(s), planted,
	       matches);
	printf("idscan MB/s: %.0f\n", (double)TOTAL / 1e6 / dt);
	free(buf);
	idscan_free(s);
	return 0;
}
