/*
 * test_http3.c - HTTP/3 frames and QPACK over in-order stream bytes:
 * requests whose header blocks use the static table, literals and the
 * dynamic table (inserted before the block, or after it: a blocked
 * stream decoded when the insert arrives, with the DATA that came while
 * it waited); every stream fed whole and one byte at a time; a gzip
 * body; SETTINGS; frames past the bounds; QPACK that cannot be decoded;
 * stream types that are ignored; and streams that lose bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowaudit/http3.h"

#include "bytebuf.h"
#include "zlib_compress.h"

struct seen {
	char fields[4096];
	size_t fields_len;
	int requests;
	char first_target[512], host[256], ua[256];
	uint8_t body[8192];
	size_t body_len;
};

static void on_field(const struct http2_field *f, void *user)
{
	struct seen *s = user;
	int n = snprintf(s->fields + s->fields_len, sizeof(s->fields) - s->fields_len, "%d %.*s=%.*s;",
			 f->dir, (int)f->name_len, (const char *)f->name, (int)f->value_len,
			 (const char *)f->value);
	assert_true(n > 0 && (size_t)n < sizeof(s->fields) - s->fields_len);
	s->fields_len += (size_t)n;
}

static void on_request(const struct http2_request *r, void *user)
{
	struct seen *s = user;
	if (s->requests++ == 0) {
		snprintf(s->first_target, sizeof(s->first_target), "%s", r->info.target);
		snprintf(s->host, sizeof(s->host), "%s", r->info.host);
		snprintf(s->ua, sizeof(s->ua), "%s", r->info.user_agent);
	}
}

static void on_data(const struct http2_data *d, void *user)
{
	struct seen *s = user;
	assert_int_equal(d->offset, s->body_len);
	assert_true(s->body_len + d->n <= sizeof(s->body));
	memcpy(s->body + s->body_len, d->d, d->n);
	s->body_len += d->n;
}

static void varint(struct buf *b, uint64_t v)
{
	if (v < 64) {
		put8(b, (unsigned)v);
	} else if (v < 16384) {
		put16(b, 0x4000 | (unsigned)v);
	} else {
		assert_true(v < (1u << 30));
		put16(b, 0x8000 | (unsigned)(v >> 16));
		put16(b, (unsigned)(v & 0xffff));
	}
}

/* An HPACK/QPACK integer with an N-bit prefix, high holding the bits above it. */
static void pint(struct buf *b, uint64_t v, unsigned bits, unsigned high)
{
	uint64_t lim = (1u << bits) - 1;
	if (v < lim) {
		put8(b, high | (unsigned)v);
		return;
	}
	put8(b, high | (unsigned)lim);
	v -= lim;
	while (v >= 128) {
		put8(b, (unsigned)(v & 0x7f) | 0x80);
		v >>= 7;
	}
	put8(b, (unsigned)v);
}

static void literal(struct buf *b, const char *name, const char *value)
{
	pint(b, strlen(name), 3, 0x20);
	put_bytes(b, name, strlen(name));
	pint(b, strlen(value), 7, 0);
	put_bytes(b, value, strlen(value));
}

static void name_ref(struct buf *b, unsigned index, const char *value)
{
	pint(b, index, 4, 0x50);
	pint(b, strlen(value), 7, 0);
	put_bytes(b, value, strlen(value));
}

static void frame(struct buf *out, uint64_t type, const struct buf *payload)
{
	varint(out, type);
	varint(out, payload->n);
	put_bytes(out, payload->b, payload->n);
}

/* A request's field section: GET or POST, https, host, path, a user agent, then extra. */
static void request_block(struct buf *b, bool post, const char *path, const struct buf *extra,
			  const uint8_t prefix[2])
{
	b->n = 0;
	put8(b, prefix ? prefix[0] : 0);
	put8(b, prefix ? prefix[1] : 0);
	put8(b, post ? 0xd4 : 0xd1);
	put8(b, 0xd7);
	name_ref(b, 0, "api.example.net");
	name_ref(b, 1, path);
	literal(b, "user-agent", "test-h3");
	if (extra != NULL)
		put_bytes(b, extra->b, extra->n);
}

struct conn_in {
	struct buf ctl_c, ctl_s, enc, req0, req4, resp0;
};

/* Feeds n bytes whole, or one byte at a time. */
static void feed(struct http3_conn *c, int dir, uint64_t sid, const struct buf *b, bool fin,
		 bool bytewise, const struct http2_callbacks *cb)
{
	if (!bytewise) {
		http3_stream(c, dir, sid, b->b, b->n, fin, cb);
		return;
	}
	for (size_t i = 0; i < b->n; i++)
		http3_stream(c, dir, sid, b->b + i, 1, fin && i + 1 == b->n, cb);
	if (b->n == 0 && fin)
		http3_stream(c, dir, sid, NULL, 0, true, cb);
}

static void test_requests(void **state)
{
	(void)state;
	struct conn_in *in = calloc(1, sizeof(*in));
	struct buf *tmp = calloc(1, sizeof(*tmp)), *extra = calloc(1, sizeof(*extra));
	assert_true(in && tmp && extra);
	/* control streams: SETTINGS with a 4096-byte table each way */
	tmp->n = 0;
	varint(tmp, 0x01);
	varint(tmp, 4096);
	varint(tmp, 0x07);
	varint(tmp, 8);
	put8(&in->ctl_c, 0x00);
	frame(&in->ctl_c, 0x04, tmp);
	put8(&in->ctl_s, 0x00);
	frame(&in->ctl_s, 0x04, tmp);
	/* the client's encoder stream: capacity 4096, insert x-device-id: 9774d56d682e549c */
	put8(&in->enc, 0x02);
	pint(&in->enc, 4096, 5, 0x20);
	pint(&in->enc, 11, 5, 0x40);
	put_bytes(&in->enc, "x-device-id", 11);
	pint(&in->enc, 16, 7, 0);
	put_bytes(&in->enc, "9774d56d682e549c", 16);
	/* stream 0: GET with a static-only block */
	request_block(tmp, false, "/a?imei=356938035643809", NULL, NULL);
	frame(&in->req0, 0x01, tmp);
	/* stream 4: POST whose block needs dynamic entry 0 (Required Insert Count 1,
	   encoded 2; base 1; relative index 0), then a gzip body */
	static const uint8_t ric1[2] = {0x02, 0x00};
	extra->n = 0;
	put8(extra, 0x80);
	literal(extra, "content-encoding", "gzip");
	request_block(tmp, true, "/b", extra, ric1);
	frame(&in->req4, 0x01, tmp);
	const char *json = "{\"ad_id\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}";
	uint8_t z[512];
	size_t zn = zlib_compress(json, strlen(json), z, sizeof(z), 31);
	assert_true(zn > 0);
	tmp->n = 0;
	put_bytes(tmp, z, zn);
	frame(&in->req4, 0x00, tmp);
	/* the response to stream 0: :status 200, static */
	tmp->n = 0;
	put8(tmp, 0);
	put8(tmp, 0);
	put8(tmp, 0xd9);
	frame(&in->resp0, 0x01, tmp);

	for (int mode = 0; mode < 4; mode++) {
		bool bytewise = mode & 1, blocked = mode & 2;
		struct seen *s = calloc(1, sizeof(*s));
		struct http3_conn *c = http3_conn_new();
		assert_true(s && c);
		struct http2_callbacks cb = {on_field, on_request, on_data, s};
		feed(c, HTTP2_C2S, 2, &in->ctl_c, false, bytewise, &cb);
		feed(c, HTTP2_S2C, 3, &in->ctl_s, false, bytewise, &cb);
		if (!blocked)
			feed(c, HTTP2_C2S, 6, &in->enc, false, bytewise, &cb);
		feed(c, HTTP2_C2S, 0, &in->req0, true, bytewise, &cb);
		feed(c, HTTP2_C2S, 4, &in->req4, true, bytewise, &cb);
		if (blocked) { /* stream 4 waits, with its DATA, for the insert */
			assert_int_equal(s->requests, 1);
			assert_int_equal(s->body_len, 0);
			feed(c, HTTP2_C2S, 6, &in->enc, false, bytewise, &cb);
		}
		feed(c, HTTP2_S2C, 0, &in->resp0, true, bytewise, &cb);
		assert_int_equal(s->requests, 2);
		assert_string_equal(s->first_target, "/a?imei=356938035643809");
		assert_string_equal(s->host, "api.example.net");
		assert_string_equal(s->ua, "test-h3");
		assert_non_null(strstr(s->fields, "0 :path=/a?imei=356938035643809;"));
		assert_non_null(strstr(s->fields, "0 x-device-id=9774d56d682e549c;"));
		assert_non_null(strstr(s->fields, "1 :status=200;"));
		assert_int_equal(s->body_len, strlen(json));
		assert_memory_equal(s->body, json, strlen(json));
		struct http3_stats st;
		http3_stats(c, &st);
		assert_int_equal(st.requests, 2);
		assert_int_equal(st.responses, 1);
		assert_int_equal(st.qpack_failed, 0);
		assert_non_null(http3_first_request(c));
		http3_conn_free(c);
		free(s);
	}
	http3_conn_free(NULL);
	free(in);
	free(tmp);
	free(extra);
}

static void test_bounds_and_failures(void **state)
{
	(void)state;
	struct buf *b = calloc(1, sizeof(*b)), *p = calloc(1, sizeof(*p));
	struct seen *s = calloc(1, sizeof(*s));
	assert_true(b && p && s);
	struct http2_callbacks cb = {on_field, on_request, on_data, s};
	struct http3_conn *c = http3_conn_new();
	/* a HEADERS frame over the bound is skipped, counted; the next request is read */
	varint(b, 0x01);
	varint(b, HTTP3_FRAME_MAX + 1);
	http3_stream(c, HTTP2_C2S, 0, b->b, b->n, false, &cb);
	uint8_t *big = malloc(HTTP3_FRAME_MAX + 1);
	assert_non_null(big);
	memset(big, 0x41, HTTP3_FRAME_MAX + 1);
	http3_stream(c, HTTP2_C2S, 0, big, HTTP3_FRAME_MAX + 1, false, &cb);
	free(big);
	request_block(p, false, "/after", NULL, NULL);
	b->n = 0;
	frame(b, 0x01, p);
	http3_stream(c, HTTP2_C2S, 0, b->b, b->n, true, &cb);
	struct http3_stats st;
	http3_stats(c, &st);
	assert_int_equal(st.frames_skipped, 1);
	assert_int_equal(s->requests, 1);
	assert_string_equal(s->first_target, "/after");
	/* a block that refers to an entry no table holds (no SETTINGS: capacity 0) fails */
	static const uint8_t ric1[2] = {0x02, 0x00};
	request_block(p, false, "/x", NULL, ric1);
	b->n = 0;
	frame(b, 0x01, p);
	http3_stream(c, HTTP2_C2S, 8, b->b, b->n, true, &cb);
	http3_stats(c, &st);
	assert_int_equal(st.qpack_failed, 1);
	/* an unknown unidirectional stream type, a push stream, a second control stream:
	   ignored, whatever follows */
	static const uint8_t junk[] = {0x21, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
	http3_stream(c, HTTP2_C2S, 14, junk, sizeof(junk), false, &cb);
	uint8_t push[] = {0x01, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
	http3_stream(c, HTTP2_S2C, 15, push, sizeof(push), false, &cb);
	/* a stream that lost bytes is read no further */
	request_block(p, false, "/gap", NULL, NULL);
	b->n = 0;
	frame(b, 0x01, p);
	http3_stream(c, HTTP2_C2S, 12, b->b, 3, false, &cb);
	http3_stream_gap(c, HTTP2_C2S, 12);
	http3_stream(c, HTTP2_C2S, 12, b->b + 3, b->n - 3, true, &cb);
	assert_null(strstr(s->fields, "/gap"));
	http3_stats(c, &st);
	assert_int_equal(st.stream_gaps, 1);
	/* more request streams than followed: the oldest are forgotten */
	for (uint64_t sid = 16; sid < 16 + 4 * (HTTP3_STREAMS * 2 + 20); sid += 4)
		http3_stream(c, HTTP2_C2S, sid, b->b, 2, false, &cb);
	http3_stats(c, &st);
	assert_true(st.streams_evicted > 0);
	http3_conn_free(c);
	free(b);
	free(p);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_bounds_and_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
