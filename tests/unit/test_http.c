/*
 * test_http.c - the HTTP/1.x body decoder: chunked, gzip, zlib and raw
 * deflate bodies, gzip inside chunks, pipelined requests, a message split
 * at every byte, a compression bomb, and streams that are not HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/http.h"
#include "zlib_compress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	uint8_t *buf;
	size_t n, cap;
	int calls;
};

static void on_body(const uint8_t *d, size_t n, void *user)
{
	struct out *o = user;
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2;
		o->buf = realloc(o->buf, o->cap);
		assert_non_null(o->buf);
	}
	memcpy(o->buf + o->n, d, n);
	o->n += n;
	o->calls++;
}

/* A message: headers text, then body bytes. */
static size_t message(uint8_t *dst, const char *headers, const uint8_t *body, size_t n)
{
	size_t h = strlen(headers);
	memcpy(dst, headers, h);
	if (n > 0)
		memcpy(dst + h, body, n);
	return h + n;
}

/* Wraps body in chunks of `step` bytes (with an extension on the first). */
static size_t chunked(uint8_t *dst, const uint8_t *body, size_t n, size_t step)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		o += (size_t)sprintf((char *)dst + o, i == 0 ? "%zx;name=val\r\n" : "%zX\r\n", k);
		memcpy(dst + o, body + i, k);
		o += k;
		memcpy(dst + o, "\r\n", 2);
		o += 2;
	}
	memcpy(dst + o, "0\r\nX-Trailer: 1\r\n\r\n", 19);
	return o + 19;
}

static void feed_all(const uint8_t *d, size_t n, struct http_stream *h, struct out *o)
{
	http_stream_feed(h, d, n, on_body, o);
}

static const char *PAYLOAD = "{\"android_id\":\"9774d56d682e549c\",\"imei\":\"356938035643809\","
			     "\"padding\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";

static void test_chunked(void **state)
{
	(void)state;
	uint8_t msg[4096], body[2048];
	size_t bn = chunked(body, (const uint8_t *)PAYLOAD, strlen(PAYLOAD), 7);
	size_t n = message(msg, "POST /v1/e?x=1 HTTP/1.1\r\nHost: api.example.com:8080\r\n"
				"User-Agent: okhttp/4.9\r\nTransfer-Encoding: chunked\r\n\r\n",
			   body, bn);
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	assert_null(http_stream_info(&h));
	feed_all(msg, n, &h, &o);
	assert_int_equal(o.n, strlen(PAYLOAD));
	assert_memory_equal(o.buf, PAYLOAD, o.n);
	const struct http_info *hi = http_stream_info(&h);
	assert_non_null(hi);
	assert_string_equal(hi->method, "POST");
	assert_string_equal(hi->target, "/v1/e?x=1");
	assert_string_equal(hi->host, "api.example.com:8080");
	assert_string_equal(hi->user_agent, "okhttp/4.9");
	assert_int_equal(h.messages, 1);
	assert_false(h.inactive);
	http_stream_free(&h);
	free(o.buf);
}

static void check_coded(const char *coding, int wbits, bool chunk)
{
	uint8_t z[4096], body[8192], msg[16384];
	size_t zn = zlib_compress(PAYLOAD, strlen(PAYLOAD), z, sizeof(z), wbits);
	char hdr[256];
	size_t bn;
	if (chunk) {
		bn = chunked(body, z, zn, 10);
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
			 coding);
	} else {
		memcpy(body, z, zn);
		bn = zn;
		snprintf(hdr, sizeof(hdr), "POST / HTTP/1.1\r\nContent-Encoding: %s\r\nContent-Length: %zu\r\n\r\n",
			 coding, zn);
	}
	size_t n = message(msg, hdr, body, bn);
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	feed_all(msg, n, &h, &o);
	if (o.n != strlen(PAYLOAD))
		fail_msg("%s wbits=%d chunked=%d: %zu bytes out", coding, wbits, chunk, o.n);
	assert_memory_equal(o.buf, PAYLOAD, o.n);
	assert_int_equal(h.inflate_errors, 0);
	assert_null(h.body.z); /* the inflater is released at the end of the stream */
	http_stream_free(&h);
	free(o.buf);
}

static void test_gzip_deflate(void **state)
{
	(void)state;
	check_coded("gzip", 31, false);
	check_coded("x-gzip", 31, false);
	check_coded("deflate", 15, false);  /* zlib-wrapped, as the RFC says */
	check_coded("deflate", -15, false); /* raw, as some servers send */
	check_coded("gzip", 31, true);
	check_coded("deflate", -15, true);
}

/* A plain Content-Length body is in the raw bytes already: nothing handed on. */
static void test_plain_body_not_repeated(void **state)
{
	(void)state;
	const char *m = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	feed_all((const uint8_t *)m, strlen(m), &h, &o);
	assert_int_equal(o.n, 0);
	assert_int_equal(h.messages, 2);
	assert_false(h.inactive);
	http_stream_free(&h);
}

static void test_pipelined(void **state)
{
	(void)state;
	uint8_t all[16384], body[4096], z[4096];
	size_t n = 0;
	n += message(all + n, "GET /first HTTP/1.1\r\nHost: one.example\r\n\r\n", NULL, 0);
	size_t bn = chunked(body, (const uint8_t *)"AAAA", 4, 3);
	n += message(all + n, "POST /2 HTTP/1.1\r\nHost: two.example\r\nTransfer-Encoding: chunked\r\n\r\n",
		     body, bn);
	size_t zn = zlib_compress("BBBBBB", 6, z, sizeof(z), 31);
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "POST /3 HTTP/1.1\r\nContent-Length: %zu\r\nContent-Encoding: gzip\r\n\r\n", zn);
	n += message(all + n, hdr, z, zn);
	n += message(all + n, "\r\nDELETE /4 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxx", NULL, 0);
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	feed_all(all, n, &h, &o);
	assert_int_equal(h.messages, 4);
	assert_int_equal(o.n, 10);
	assert_memory_equal(o.buf, "AAAABBBBBB", 10);
	assert_string_equal(http_stream_info(&h)->target, "/first");
	assert_string_equal(http_stream_info(&h)->host, "one.example");
	assert_false(h.inactive);
	http_stream_free(&h);
	free(o.buf);
}

/* One gzip+chunked message cut into two feeds at every position, and fed byte by byte. */
static void test_split_everywhere(void **state)
{
	(void)state;
	uint8_t z[4096], body[8192], msg[16384];
	size_t zn = zlib_compress(PAYLOAD, strlen(PAYLOAD), z, sizeof(z), 31);
	size_t bn = chunked(body, z, zn, 13);
	size_t n = message(msg, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
			   body, bn);
	memcpy(msg + n, "HTTP/1.1 204 No Content\r\n\r\n", 27);
	n += 27;
	for (size_t cut = 0; cut <= n; cut++) {
		struct http_stream h;
		struct out o = {0};
		http_stream_init(&h);
		feed_all(msg, cut, &h, &o);
		feed_all(msg + cut, n - cut, &h, &o);
		if (o.n != strlen(PAYLOAD) || memcmp(o.buf, PAYLOAD, o.n) != 0)
			fail_msg("cut at %zu: %zu bytes out", cut, o.n);
		assert_int_equal(h.messages, 2);
		assert_false(h.inactive);
		http_stream_free(&h);
		free(o.buf);
	}
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	for (size_t i = 0; i < n; i++)
		feed_all(msg + i, 1, &h, &o);
	assert_int_equal(o.n, strlen(PAYLOAD));
	assert_memory_equal(o.buf, PAYLOAD, o.n);
	http_stream_free(&h);
	free(o.buf);
}

static void test_bomb_bounded(void **state)
{
	(void)state;
	size_t big = 64 * 1024 * 1024;
	uint8_t *zeros = calloc(1, big);
	uint8_t *z = malloc(1024 * 1024);
	assert_non_null(zeros);
	assert_non_null(z);
	size_t zn = zlib_compress(zeros, big, z, 1024 * 1024, 31);
	free(zeros);
	char hdr[128];
	int hn = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	feed_all((const uint8_t *)hdr, (size_t)hn, &h, &o);
	feed_all(z, zn, &h, &o);
	assert_true(o.n <= HTTP_BODY_MAX);
	assert_true(o.n < 1024 * 1024);
	assert_int_equal(h.bombs, 1);
	/* the next message on the stream is decoded normally */
	const char *next = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	size_t before = o.n;
	feed_all((const uint8_t *)next, strlen(next), &h, &o);
	assert_int_equal(o.n, before + 3);
	http_stream_free(&h);
	free(z);
	free(o.buf);
}

static void test_not_http(void **state)
{
	(void)state;
	static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	feed_all(tls, sizeof(tls), &h, &o);
	assert_true(h.inactive);
	assert_null(h.hdr);
	feed_all((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &h, &o);
	assert_int_equal(h.messages, 0);
	http_stream_free(&h);

	/* looks like a method for 3 bytes, then is not */
	http_stream_init(&h);
	feed_all((const uint8_t *)"GE", 2, &h, &o);
	assert_false(h.inactive);
	feed_all((const uint8_t *)"X stuff", 7, &h, &o);
	assert_true(h.inactive);
	http_stream_free(&h);

	/* bad chunk size */
	const char *m = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	http_stream_init(&h);
	feed_all((const uint8_t *)m, strlen(m), &h, &o);
	assert_true(h.inactive);
	http_stream_free(&h);
	assert_int_equal(o.n, 0);
}

static void test_header_too_long(void **state)
{
	(void)state;
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	const char *start = "GET / HTTP/1.1\r\nCookie: ";
	feed_all((const uint8_t *)start, strlen(start), &h, &o);
	char junk[1024];
	memset(junk, 'c', sizeof(junk));
	for (int i = 0; i < 20; i++)
		feed_all((const uint8_t *)junk, sizeof(junk), &h, &o);
	assert_true(h.inactive);
	assert_int_equal(h.header_too_long, 1);
	assert_null(h.hdr);
	http_stream_free(&h);
	http_stream_free(&h); /* twice is harmless */
}

static void test_connect_and_101(void **state)
{
	(void)state;
	struct http_stream h;
	struct out o = {0};
	http_stream_init(&h);
	const char *c = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n\x16\x03\x01";
	feed_all((const uint8_t *)c, strlen(c), &h, &o);
	assert_true(h.inactive);
	assert_string_equal(http_stream_info(&h)->method, "CONNECT");
	http_stream_free(&h);

	http_stream_init(&h);
	const char *r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
	feed_all((const uint8_t *)r, strlen(r), &h, &o);
	assert_true(h.inactive);
	assert_null(http_stream_info(&h));
	http_stream_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_gzip_deflate),
		cmocka_unit_test(test_plain_body_not_repeated),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_bomb_bounded),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_header_too_long),
		cmocka_unit_test(test_connect_and_101),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
