/*
 * idbench.c - identifier scanner throughput.
 *
 * Builds a scanner for a profile of 12 identifiers (every kind the profile
 * knows, two "other" entries and a location) and scans 256 MiB of
 * pseudo-random HTTP-like printable text generated in memory, in 64 KiB
 * feeds as the engine hands them over. Prints the pattern count, the
 * matches found (the text plants one IMEI per MiB so the reporting path is
 * exercised) and "idscan MB/s: N". Then the hashing the scanner and the
 * manifest rely on (hash.c): building the scanner (every identifier in
 * every form, each hashed with MD5, SHA-1 and SHA-256), one million
 * digests of each kind over identifier-sized strings ("idhash md5 k/s: N"),
 * and, given a FILE argument, sha256_file() over it ("sha256_file MB/s: N",
 * best of three; run it on a file larger than the page cache is cold for a
 * disk-bound figure). Build optimised, without sanitizers:
 * `make bench-build` links it against $(BUILD)/libflowaudit.a as
 * $(BUILD)/bench/idbench, and `make bench` runs it.
 */
#include "flowaudit/hash.h"
#include "flowaudit/identifiers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define N_DIGESTS 1000000

/* Digests per second of identifier-sized strings (15 to 36 bytes). */
static void bench_idhash(void)
{
	static const char *const names[] = {"md5", "sha1", "sha256"};
	for (int kind = 0; kind < 3; kind++) {
		uint8_t d[SHA256_DIGEST_LEN], acc = 0;
		double t0 = now();
		for (size_t i = 0; i < N_DIGESTS; i++) {
			const char *v = ids[i % (sizeof(ids) / sizeof(ids[0]))].value;
			size_t n = strlen(v);
			if (kind == 0) {
				struct md5_ctx c;
				md5_init(&c);
				md5_update(&c, v, n);
				md5_final(&c, d);
			} else if (kind == 1) {
				struct sha1_ctx c;
				sha1_init(&c);
				sha1_update(&c, v, n);
				sha1_final(&c, d);
			} else {
				struct sha256_ctx c;
				sha256_init(&c);
				sha256_update(&c, v, n);
				sha256_final(&c, d);
			}
			acc ^= d[0];
		}
		double dt = now() - t0;
		printf("idhash %s k/s: %.0f (xor %02x)\n", names[kind], N_DIGESTS / 1e3 / dt, acc);
	}
}

/* sha256_file() over path, best of three. */
static int bench_file(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		perror(path);
		return 1;
	}
	double best = 0;
	char hex[65];
	for (int k = 0; k < 3; k++) {
		struct fa_err err;
		double t0 = now();
		if (sha256_file(path, hex, &err) != FA_OK) {
			fprintf(stderr, "idbench: %s\n", err.msg);
			return 1;
		}
		double dt = now() - t0;
		if (best == 0 || dt < best)
			best = dt;
	}
	printf("sha256_file %s: %s\n", path, hex);
	printf("sha256_file MB/s: %.0f (%.2f s for %.0f MB)\n", (double)sb.st_size / 1e6 / best, best,
	       (double)sb.st_size / 1e6);
	return 0;
}

int main(int argc, char **argv)
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
	double tb = now();
	struct idscan *s = idscan_new(&p, &err);
	tb = now() - tb;
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
	printf("idscan build ms: %.2f\n", tb * 1e3);
	free(buf);
	idscan_free(s);
	bench_idhash();
	return argc > 1 ? bench_file(argv[1]) : 0;
}
