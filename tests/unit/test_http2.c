/*
 * test_http2.c - the HTTP/2 decoder: connection prefaces, SETTINGS, header
 * blocks made by libnghttp2's own HPACK deflater (split over CONTINUATION,
 * padded, with priority, reusing the dynamic table, after a table size
 * change), gzip bodies over several DATA frames, interleaved streams, byte
 * by byte feeding, the stream bound, malformed frames and HPACK garbage;
 * and a real h2c capture (nghttp and curl against nghttpd, made by
 * tests/gen/h2c_capture.sh: padding, PUSH_PROMISE, CONTINUATION, small
 * header tables from real implementations) read back as tshark reads it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/decode.h"
#include "flowaudit/http2.h"
#include "flowaudit/reasm.h"
#include "zlib_compress.h"

#include <nghttp2/nghttp2.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE_DIR "tests/fixtures/http2/"
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* ---- building connections ---- */

struct wire {
	uint8_t b[2][1 << 17];
	size_t n[2];
};

static void put_frame(struct wire *w, int dir, uint8_t type, uint8_t flags, uint32_t sid,
		      const void *payload, size_t len)
{
	assert_true(w->n[dir] + 9 + len <= sizeof(w->b[dir]));
	uint8_t *p = w->b[dir] + w->n[dir];
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(sid >> 24);
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
	if (len > 0)
		memcpy(p + 9, payload, len);
	w->n[dir] += 9 + len;
}

static void put_raw(struct wire *w, int dir, const void *d, size_t n)
{
	memcpy(w->b[dir] + w->n[dir], d, n);
	w->n[dir] += n;
}

/* Client preface + empty SETTINGS; server SETTINGS, then each side's ACK. */
static void handshake(struct wire *w)
{
	put_raw(w, HTTP2_C2S, PREFACE, 24);
	put_frame(w, HTTP2_C2S, 4, 0, 0, NULL, 0);
	static const uint8_t s[] = {0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 0xff, 0xff};
	put_frame(w, HTTP2_S2C, 4, 0, 0, s, sizeof(s));
	put_frame(w, HTTP2_S2C, 4, 1, 0, NULL, 0);
	put_frame(w, HTTP2_C2S, 4, 1, 0, NULL, 0);
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}

static nghttp2_hd_deflater *deflater(void)
{
	nghttp2_hd_deflater *d = NULL;
	assert_int_equal(nghttp2_hd_deflate_new(&d, 4096), 0);
	return d;
}

static size_t deflate_block(nghttp2_hd_deflater *d, const nghttp2_nv *nv, size_t n, uint8_t *out,
			    size_t cap)
{
	ssize_t r = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
	assert_true(r > 0);
	return (size_t)r;
}

/* ---- what the decoder hands on ---- */

struct got {
	char fields[2][1 << 18];  /* "sid name: value\n" */
	size_t fields_len[2];
	struct http2_request req[512];
	int n_req;
	uint8_t body[8][2][4096]; /* by stream id / 2 */
	size_t body_len[8][2];
	int data_calls;
};

static void on_field(const struct http2_field *f, void *user)
{
	struct got *g = user;
	size_t *l = &g->fields_len[f->dir];
	int k = snprintf(g->fields[f->dir] + *l, sizeof(g->fields[0]) - *l, "%u%s %.*s: %.*s\n",
			 f->stream_id, f->trailer ? "t" : "", (int)f->name_len, (const char *)f->name,
			 (int)f->value_len, (const char *)f->value);
	assert_true(k > 0 && (size_t)k < sizeof(g->fields[0]) - *l);
	*l += (size_t)k;
}

static void on_request(const struct http2_request *r, void *user)
{
	struct got *g = user;
	assert_true(g->n_req < 512);
	g->req[g->n_req++] = *r;
}

static void on_data(const struct http2_data *d, void *user)
{
	struct got *g = user;
	uint32_t slot = d->stream_id / 2;
	assert_true(slot < 8);
	size_t *l = &g->body_len[slot][d->dir];
	assert_int_equal(d->offset, *l); /* pieces arrive in order, offsets contiguous */
	if (d->offset == 0)
		assert_int_equal(*d->state, 0);
	*d->state += 1;
	assert_true(*l + d->n <= sizeof(g->body[0][0]));
	memcpy(g->body[slot][d->dir] + *l, d->d, d->n);
	*l += d->n;
	g->data_calls++;
}

static void reset(struct wire *w, struct got *g)
{
	memset(w, 0, sizeof(*w));
	memset(g, 0, sizeof(*g));
}

static void callbacks(struct http2_callbacks *cb, struct got *g)
{
	cb->field = on_field;
	cb->request = on_request;
	cb->data = on_data;
	cb->user = g;
}

/* Feeds one direction's bytes, then the other's, each in one piece; g NULL: no callbacks. */
static void feed_dirs(struct http2_conn *c, const struct wire *w, struct got *g, int first)
{
	struct http2_callbacks cb;
	callbacks(&cb, g);
	http2_conn_feed(c, first, w->b[first], w->n[first], g ? &cb : NULL);
	http2_conn_feed(c, !first, w->b[!first], w->n[!first], g ? &cb : NULL);
}

static void feed_whole(struct http2_conn *c, const struct wire *w, struct got *g)
{
	feed_dirs(c, w, g, HTTP2_C2S);
}

static const char *JSON = "{\"android_id\":\"9774d56d682e549c\",\"imei\":\"356938035643809\","
			  "\"note\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";

/*
 * A connection with most of what the decoder reads: a request split over
 * HEADERS (padded, with priority) and two CONTINUATIONs, a second request
 * on the same dynamic table with a gzip body in three DATA frames (one
 * padded), interleaved with the first's plain body, and responses.
 */
static void build_conversation(struct wire *w)
{
	memset(w, 0, sizeof(*w));
	handshake(w);
	nghttp2_hd_deflater *cd = deflater(), *sd = deflater();
	uint8_t blk[4096], pl[4096];

	const nghttp2_nv r1[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.example.com"),
		NV(":path", "/v1/e?aid=9774d56d682e549c"), NV("user-agent", "okhttp/4.12.0"),
		NV("cookie", "uid=356938035643809"), NV("x-device", "Pixel 7"),
	};
	size_t bn = deflate_block(cd, r1, 7, blk, sizeof(blk));
	/* HEADERS: pad length 3, priority (5 bytes), a third of the block, padding */
	size_t a = bn / 3, b = 2 * bn / 3;
	pl[0] = 3;
	memcpy(pl + 1, "\x80\x00\x00\x00\x10", 5);
	memcpy(pl + 6, blk, a);
	memset(pl + 6 + a, 0, 3);
	put_frame(w, HTTP2_C2S, 1, 0x08 | 0x20, 1, pl, 6 + a + 3);
	put_frame(w, HTTP2_C2S, 9, 0, 1, blk + a, b - a);
	put_frame(w, HTTP2_C2S, 9, 0x4, 1, blk + b, bn - b);

	const nghttp2_nv r2[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.example.com"),
		NV(":path", "/v1/batch"), NV("user-agent", "okhttp/4.12.0"),
		NV("cookie", "uid=356938035643809"), NV("content-encoding", "gzip"),
	};
	bn = deflate_block(cd, r2, 7, blk, sizeof(blk));
	put_frame(w, HTTP2_C2S, 1, 0x4, 3, blk, bn);

	uint8_t z[2048];
	size_t zn = zlib_compress(JSON, strlen(JSON), z, sizeof(z), 31);
	put_frame(w, HTTP2_C2S, 0, 0, 1, "plain-", 6);
	put_frame(w, HTTP2_C2S, 0, 0, 3, z, 10);
	pl[0] = 7; /* padded DATA */
	memcpy(pl + 1, z + 10, 10);
	memset(pl + 11, 0, 7);
	put_frame(w, HTTP2_C2S, 0, 0x8, 3, pl, 18);
	put_frame(w, HTTP2_C2S, 0, 0x1, 1, "body", 4);
	put_frame(w, HTTP2_C2S, 0, 0x1, 3, z + 20, zn - 20);

	const nghttp2_nv s1[] = {NV(":status", "200"), NV("content-type", "application/json")};
	bn = deflate_block(sd, s1, 2, blk, sizeof(blk));
	put_frame(w, HTTP2_S2C, 1, 0x4, 1, blk, bn);
	put_frame(w, HTTP2_S2C, 0, 0x1, 1, "{}", 2);
	bn = deflate_block(sd, s1, 2, blk, sizeof(blk));
	put_frame(w, HTTP2_S2C, 1, 0x4 | 0x1, 3, blk, bn);
	static const uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	put_frame(w, HTTP2_S2C, 6, 0, 0, ping, 8);
	static const uint8_t wu[4] = {0, 0, 0x10, 0};
	put_frame(w, HTTP2_C2S, 8, 0, 0, wu, 4);
	static const uint8_t ga[8] = {0, 0, 0, 3, 0, 0, 0, 0};
	put_frame(w, HTTP2_C2S, 7, 0, 0, ga, 8);
	nghttp2_hd_deflate_del(cd);
	nghttp2_hd_deflate_del(sd);
}

static void check_conversation(const struct http2_conn *c, const struct got *g)
{
	assert_false(c->inactive);
	assert_true(c->active);
	assert_int_equal(c->requests, 2);
	assert_int_equal(c->responses, 2);
	assert_int_equal(c->goaways, 1);
	assert_int_equal(g->n_req, 2);
	assert_int_equal(g->req[0].stream_id, 1);
	assert_string_equal(g->req[0].info.method, "POST");
	assert_string_equal(g->req[0].scheme, "https");
	assert_string_equal(g->req[0].info.host, "api.example.com");
	assert_string_equal(g->req[0].info.target, "/v1/e?aid=9774d56d682e549c");
	assert_string_equal(g->req[0].info.user_agent, "okhttp/4.12.0");
	assert_string_equal(g->req[1].info.target, "/v1/batch");
	/* the second block is mostly references into the dynamic table */
	assert_string_equal(g->req[1].info.host, "api.example.com");
	const struct http_info *hi = http2_conn_info(c);
	assert_non_null(hi);
	assert_string_equal(hi->target, "/v1/e?aid=9774d56d682e549c");
	assert_non_null(strstr(g->fields[0], "1 cookie: uid=356938035643809\n"));
	assert_non_null(strstr(g->fields[0], "1 x-device: Pixel 7\n"));
	assert_non_null(strstr(g->fields[0], "3 cookie: uid=356938035643809\n"));
	assert_non_null(strstr(g->fields[1], "3 :status: 200\n"));
	assert_int_equal(g->body_len[0][0], 10);
	assert_memory_equal(g->body[0][0], "plain-body", 10);
	assert_int_equal(g->body_len[1][0], strlen(JSON));
	assert_memory_equal(g->body[1][0], JSON, strlen(JSON));
	assert_int_equal(g->body_len[0][1], 2);
	assert_int_equal(c->frames[0], 2 + 4 + 5 + 2);
}

static void test_conversation(void **state)
{
	(void)state;
	static struct wire w;
	static struct got g;
	memset(&g, 0, sizeof(g));
	build_conversation(&w);
	struct http2_conn c;
	http2_conn_init(&c);
	assert_null(http2_conn_info(&c));
	feed_whole(&c, &w, &g);
	check_conversation(&c, &g);
	http2_conn_free(&c);
	http2_conn_free(&c); /* twice is harmless */
}

/* One byte at a time, the directions alternating, gives what one feed gives. */
static void test_bytewise(void **state)
{
	(void)state;
	static struct wire w;
	static struct got whole, bytes;
	memset(&whole, 0, sizeof(whole));
	memset(&bytes, 0, sizeof(bytes));
	build_conversation(&w);
	struct http2_conn c;
	http2_conn_init(&c);
	feed_whole(&c, &w, &whole);
	http2_conn_free(&c);

	struct http2_callbacks cb;
	callbacks(&cb, &bytes);
	http2_conn_init(&c);
	/* the server's first bytes before the client's: a server may speak first */
	size_t i[2] = {0, 0};
	while (i[0] < w.n[0] || i[1] < w.n[1]) {
		if (i[1] < w.n[1] && (i[1] < 40 || i[0] >= w.n[0])) {
			http2_conn_feed(&c, HTTP2_S2C, w.b[1] + i[1]++, 1, &cb);
			continue;
		}
		if (i[0] < w.n[0])
			http2_conn_feed(&c, HTTP2_C2S, w.b[0] + i[0]++, 1, &cb);
		if (i[1] < w.n[1] && i[0] > w.n[0] / 2)
			http2_conn_feed(&c, HTTP2_S2C, w.b[1] + i[1]++, 1, &cb);
	}
	check_conversation(&c, &bytes);
	assert_memory_equal(whole.fields, bytes.fields, sizeof(whole.fields));
	assert_memory_equal(whole.body, bytes.body, sizeof(whole.body));
	assert_true(bytes.data_calls > whole.data_calls);
	http2_conn_free(&c);
}

static void test_prefaces(void **state)
{
	(void)state;
	struct http2_conn c;
	/* HTTP/1.1 */
	http2_conn_init(&c);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, NULL);
	assert_true(c.inactive);
	assert_int_equal(c.off_reason, HTTP2_OFF_NOT_HTTP2);
	assert_string_equal(http2_off_str(c.off_reason), "not_http2");
	assert_null(c.st);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)PREFACE, 24, NULL);
	assert_false(c.active);
	http2_conn_free(&c);
	/* the preface cut short, then wrong in its last byte */
	http2_conn_init(&c);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)PREFACE, 10, NULL);
	assert_false(c.inactive);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)PREFACE "x" + 10, 13, NULL);
	assert_false(c.inactive);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)"x", 1, NULL);
	assert_true(c.inactive);
	http2_conn_free(&c);
	assert_true(http2_first_byte_ok(HTTP2_C2S, 'P'));
	assert_false(http2_first_byte_ok(HTTP2_C2S, 'G'));
	assert_true(http2_first_byte_ok(HTTP2_S2C, 0));
	assert_false(http2_first_byte_ok(HTTP2_S2C, 'H'));
	/* a server that talks first, not in frames (an SMTP banner) */
	http2_conn_init(&c);
	http2_conn_feed(&c, HTTP2_S2C, (const uint8_t *)"220 mail.example ESMTP\r\n", 24, NULL);
	assert_true(c.inactive);
	http2_conn_free(&c);
	/* the server's first frame is not SETTINGS */
	static struct wire w;
	memset(&w, 0, sizeof(w));
	put_raw(&w, HTTP2_C2S, PREFACE, 24);
	put_frame(&w, HTTP2_S2C, 6, 0, 0, "12345678", 8);
	http2_conn_init(&c);
	feed_whole(&c, &w, NULL);
	assert_true(c.active);
	assert_true(c.inactive);
	assert_int_equal(c.off_reason, HTTP2_OFF_NOT_HTTP2);
	http2_conn_free(&c);
}

/*
 * The server announces a header table of 64 bytes; once the client has
 * acknowledged, a client block that sets its table larger is a compression
 * error, and one within the limit decodes. Before the ACK the old limit
 * (4096) holds.
 */
static void test_table_size(void **state)
{
	(void)state;
	static struct wire w;
	static struct got g;
	uint8_t blk[1024];
	const nghttp2_nv r[] = {NV(":method", "GET"), NV(":path", "/a"), NV(":authority", "t.example"),
				NV("x-long-header-name", "a value long enough to be kept")};
	static const uint8_t hts[] = {0, 1, 0, 0, 0, 64};
	for (int round = 0; round < 3; round++) {
		reset(&w, &g);
		put_raw(&w, HTTP2_C2S, PREFACE, 24);
		put_frame(&w, HTTP2_C2S, 4, 0, 0, NULL, 0);
		put_frame(&w, HTTP2_S2C, 4, 0, 0, hts, sizeof(hts));
		if (round != 2)
			put_frame(&w, HTTP2_C2S, 4, 1, 0, NULL, 0); /* ACK */
		nghttp2_hd_deflater *d = deflater();
		/* round 0 keeps to 64 bytes; rounds 1 and 2 set 4096 */
		assert_int_equal(nghttp2_hd_deflate_change_table_size(d, round == 0 ? 64 : 4096), 0);
		for (uint32_t sid = 1; sid <= 5; sid += 2) {
			size_t bn = deflate_block(d, r, 4, blk, sizeof(blk));
			put_frame(&w, HTTP2_C2S, 1, 0x5, sid, blk, bn);
		}
		nghttp2_hd_deflate_del(d);
		struct http2_conn c;
		http2_conn_init(&c);
		feed_dirs(&c, &w, &g, HTTP2_S2C); /* the SETTINGS before its ACK, as on the wire */
		if (round == 1) {
			assert_true(c.inactive);
			assert_int_equal(c.off_reason, HTTP2_OFF_COMPRESSION);
			assert_int_equal(g.n_req, 0);
		} else {
			assert_false(c.inactive);
			assert_int_equal(g.n_req, 3);
			assert_string_equal(g.req[2].info.host, "t.example");
			assert_non_null(strstr(g.fields[0], "5 x-long-header-name: a value long enough"));
		}
		http2_conn_free(&c);
	}
}

/*
 * The server sends more SETTINGS than are kept waiting for their ACK while
 * a client header block is open: the oldest is applied at once, the block
 * decodes, nothing is freed under the decoder.
 */
static void test_settings_unacked(void **state)
{
	(void)state;
	static struct wire w;
	static struct got g;
	reset(&w, &g);
	put_raw(&w, HTTP2_C2S, PREFACE, 24);
	put_frame(&w, HTTP2_C2S, 4, 0, 0, NULL, 0);
	static const uint8_t hts[] = {0, 1, 0, 0, 0x08, 0};
	for (int i = 0; i < 12; i++)
		put_frame(&w, HTTP2_S2C, 4, 0, 0, hts, sizeof(hts));
	nghttp2_hd_deflater *d = deflater();
	uint8_t blk[256];
	const nghttp2_nv r[] = {NV(":method", "GET"), NV(":path", "/s"), NV(":authority", "s.example")};
	size_t bn = deflate_block(d, r, 3, blk, sizeof(blk));
	nghttp2_hd_deflate_del(d);
	size_t head = w.n[0];
	put_frame(&w, HTTP2_C2S, 1, 0, 1, blk, 2);
	put_frame(&w, HTTP2_C2S, 9, 0x4, 1, blk + 2, bn - 2);
	struct http2_callbacks cb;
	callbacks(&cb, &g);
	struct http2_conn c;
	http2_conn_init(&c);
	http2_conn_feed(&c, HTTP2_C2S, w.b[0], head + 9 + 2, &cb); /* up to the open block */
	http2_conn_feed(&c, HTTP2_S2C, w.b[1], w.n[1], &cb);
	http2_conn_feed(&c, HTTP2_C2S, w.b[0] + head + 11, w.n[0] - head - 11, &cb);
	assert_false(c.inactive);
	assert_int_equal(g.n_req, 1);
	assert_string_equal(g.req[0].info.target, "/s");
	http2_conn_free(&c);
}

static void test_interleaved_streams_and_trailers(void **state)
{
	(void)state;
	static struct wire w;
	static struct got g;
	reset(&w, &g);
	handshake(&w);
	nghttp2_hd_deflater *d = deflater();
	uint8_t blk[1024];
	const nghttp2_nv r5[] = {NV(":method", "PUT"), NV(":path", "/five"), NV("host", "h.example:8443")};
	const nghttp2_nv r7[] = {NV(":method", "PUT"), NV(":path", "/seven"), NV(":authority", "s.example")};
	const nghttp2_nv tr[] = {NV("x-checksum", "abc")};
	size_t bn = deflate_block(d, r5, 3, blk, sizeof(blk));
	put_frame(&w, HTTP2_C2S, 1, 0x4, 5, blk, bn);
	bn = deflate_block(d, r7, 3, blk, sizeof(blk));
	put_frame(&w, HTTP2_C2S, 1, 0x4, 7, blk, bn);
	for (int i = 0; i < 6; i++)
		put_frame(&w, HTTP2_C2S, 0, 0, (i & 1) ? 7 : 5, (i & 1) ? "77" : "55", 2);
	bn = deflate_block(d, tr, 1, blk, sizeof(blk));
	put_frame(&w, HTTP2_C2S, 1, 0x5, 5, blk, bn); /* trailers end stream 5 */
	static const uint8_t cancel[4] = {0, 0, 0, 8};
	put_frame(&w, HTTP2_C2S, 3, 0, 7, cancel, 4); /* RST_STREAM 7 */
	put_frame(&w, HTTP2_C2S, 0, 0, 7, "xx", 2);   /* on a closed stream: skipped */
	nghttp2_hd_deflate_del(d);
	/* the response to stream 5: 100 Continue, then 200 with a gzip body */
	d = deflater();
	const nghttp2_nv r100[] = {NV(":status", "100")};
	const nghttp2_nv r200[] = {NV(":status", "200"), NV("content-encoding", "gzip")};
	bn = deflate_block(d, r100, 1, blk, sizeof(blk));
	put_frame(&w, HTTP2_S2C, 1, 0x4, 5, blk, bn);
	bn = deflate_block(d, r200, 2, blk, sizeof(blk));
	put_frame(&w, HTTP2_S2C, 1, 0x4, 5, blk, bn);
	uint8_t z[1024];
	size_t zn = zlib_compress(JSON, strlen(JSON), z, sizeof(z), 31);
	put_frame(&w, HTTP2_S2C, 0, 0x1, 5, z, zn);
	nghttp2_hd_deflate_del(d);
	struct http2_conn c;
	http2_conn_init(&c);
	feed_whole(&c, &w, &g);
	assert_false(c.inactive);
	assert_int_equal(g.n_req, 2);
	assert_string_equal(g.req[0].info.host, "h.example:8443"); /* Host when no :authority */
	assert_string_equal(g.req[1].info.host, "s.example");
	assert_int_equal(g.body_len[2][0], 6);
	assert_memory_equal(g.body[2][0], "555555", 6);
	assert_memory_equal(g.body[3][0], "777777", 6);
	assert_non_null(strstr(g.fields[0], "5t x-checksum: abc\n"));
	assert_non_null(strstr(g.fields[1], "5 :status: 100\n5 :status: 200\n"));
	assert_int_equal(c.responses, 1);
	assert_int_equal(g.body_len[2][1], strlen(JSON));
	assert_memory_equal(g.body[2][1], JSON, strlen(JSON));
	assert_int_equal(c.data_skipped, 2);
	http2_conn_free(&c);
}

/*
 * 300 requests answered and ended both ways (HEADERS with END_STREAM) leave
 * nothing open; 300 more that never end keep at most HTTP2_STREAMS_MAX.
 */
static void test_streams_bounded(void **state)
{
	(void)state;
	static struct wire w;
	memset(&w, 0, sizeof(w));
	handshake(&w);
	struct http2_conn c;
	http2_conn_init(&c);
	feed_whole(&c, &w, NULL);
	nghttp2_hd_deflater *d = deflater(), *sd = deflater();
	uint8_t blk[256];
	const nghttp2_nv r[] = {NV(":method", "GET"), NV(":path", "/"), NV(":authority", "x.example")};
	const nghttp2_nv s[] = {NV(":status", "204")};
	for (uint32_t i = 0; i < 600; i++) {
		w.n[0] = w.n[1] = 0;
		size_t bn = deflate_block(d, r, 3, blk, sizeof(blk));
		put_frame(&w, HTTP2_C2S, 1, i < 300 ? 0x5 : 0x4, 1 + 2 * i, blk, bn);
		if (i < 300) {
			bn = deflate_block(sd, s, 1, blk, sizeof(blk));
			put_frame(&w, HTTP2_S2C, 1, 0x5, 1 + 2 * i, blk, bn);
		}
		feed_whole(&c, &w, NULL);
		if (i == 299)
			assert_int_equal(c.streams_evicted, 0);
	}
	w.n[0] = w.n[1] = 0;
	put_frame(&w, HTTP2_C2S, 0, 0, 1, "ended", 5);  /* ended: skipped */
	put_frame(&w, HTTP2_C2S, 0, 0, 601, "old", 3);  /* evicted: skipped */
	put_frame(&w, HTTP2_C2S, 0, 0, 1199, "new", 3);
	feed_whole(&c, &w, NULL);
	nghttp2_hd_deflate_del(d);
	nghttp2_hd_deflate_del(sd);
	assert_false(c.inactive);
	assert_int_equal(c.requests, 600);
	assert_int_equal(c.responses, 300);
	assert_int_equal(c.streams_evicted, 300 - HTTP2_STREAMS_MAX);
	assert_int_equal(c.data_skipped, 8);
	http2_conn_free(&c);
}

/* Frames after the handshake that switch the connection off, and why. */
static const struct {
	const char *what;
	uint8_t type, flags;
	uint32_t sid;
	const char *payload;      /* NULL: zeros */
	size_t len;
	const char *payload2;     /* a second frame (HEADERS, CONTINUATION, DATA), or NULL */
	uint8_t type2;
	uint32_t sid2;
	enum http2_off want;
} malformed[] = {
	{"DATA longer than SETTINGS_MAX_FRAME_SIZE", 0, 0, 1, NULL, 16385, NULL, 0, 0, HTTP2_OFF_FRAME_SIZE},
	{"HPACK index far past both tables", 1, 0x4, 1, "\xff\xff\xff\x7f\x82", 5, NULL, 0, 0,
	 HTTP2_OFF_COMPRESSION},
	{"HPACK literal longer than the block", 1, 0x4, 1, "\x40\x7f\x10" "ab", 5, NULL, 0, 0,
	 HTTP2_OFF_COMPRESSION},
	{"header block interrupted by DATA", 1, 0, 1, "\x82", 1, "x", 0, 1, HTTP2_OFF_PROTOCOL},
	{"CONTINUATION on another stream", 1, 0, 1, "\x82", 1, "\x84", 9, 3, HTTP2_OFF_PROTOCOL},
	{"DATA padding longer than the frame", 0, 0x8, 1, "\x09" "abc", 4, NULL, 0, 0, HTTP2_OFF_PROTOCOL},
	{"HEADERS padding longer than the frame", 1, 0xc, 1, "\x05\x82\x84", 3, NULL, 0, 0,
	 HTTP2_OFF_PROTOCOL},
	{"PING of 7 bytes", 6, 0, 0, NULL, 7, NULL, 0, 0, HTTP2_OFF_FRAME_SIZE},
	{"SETTINGS of 5 bytes", 4, 0, 0, NULL, 5, NULL, 0, 0, HTTP2_OFF_FRAME_SIZE},
	{"SETTINGS ACK with a payload", 4, 1, 0, NULL, 6, NULL, 0, 0, HTTP2_OFF_FRAME_SIZE},
	{"SETTINGS_MAX_FRAME_SIZE below 16384", 4, 0, 0, "\x00\x05\x00\x00\x01\x00", 6, NULL, 0, 0,
	 HTTP2_OFF_PROTOCOL},
	{"WINDOW_UPDATE of 3 bytes", 8, 0, 1, NULL, 3, NULL, 0, 0, HTTP2_OFF_FRAME_SIZE},
	{"RST_STREAM on stream 0", 3, 0, 0, NULL, 4, NULL, 0, 0, HTTP2_OFF_PROTOCOL},
	{"HEADERS on stream 0", 1, 0x4, 0, "\x82", 1, NULL, 0, 0, HTTP2_OFF_PROTOCOL},
	{"DATA on stream 0", 0, 0, 0, "x", 1, NULL, 0, 0, HTTP2_OFF_PROTOCOL},
	{"PUSH_PROMISE from the client", 5, 0x4, 1, "\x00\x00\x00\x02\x82", 5, NULL, 0, 0,
	 HTTP2_OFF_PROTOCOL},
};

static void test_malformed(void **state)
{
	(void)state;
	static struct wire w;
	static const uint8_t zeros[20000];
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		memset(&w, 0, sizeof(w));
		handshake(&w);
		const void *pl = malformed[i].payload ? (const void *)malformed[i].payload : zeros;
		put_frame(&w, HTTP2_C2S, malformed[i].type, malformed[i].flags, malformed[i].sid, pl,
			  malformed[i].len);
		if (malformed[i].payload2 != NULL)
			put_frame(&w, HTTP2_C2S, malformed[i].type2, 0x4, malformed[i].sid2,
				  malformed[i].payload2, 1);
		struct http2_conn c;
		http2_conn_init(&c);
		struct got *g = calloc(1, sizeof(*g));
		assert_non_null(g);
		feed_whole(&c, &w, g);
		if (!c.inactive || c.off_reason != malformed[i].want)
			fail_msg("%s: off_reason \"%s\", expected \"%s\"", malformed[i].what,
				 http2_off_str(c.off_reason), http2_off_str(malformed[i].want));
		assert_null(c.st);
		assert_int_equal(g->n_req, 0);
		http2_conn_feed(&c, HTTP2_C2S, w.b[0], w.n[0], NULL); /* later bytes are ignored */
		http2_conn_free(&c);
		free(g);
	}

	/* a larger SETTINGS_MAX_FRAME_SIZE admits a larger frame, up to HTTP2_FRAME_MAX */
	memset(&w, 0, sizeof(w));
	handshake(&w);
	static const uint8_t mfs[] = {0, 5, 0, 0x10, 0, 0}; /* 1 MiB */
	put_frame(&w, HTTP2_S2C, 4, 0, 0, mfs, sizeof(mfs));
	put_frame(&w, HTTP2_C2S, 0, 0, 1, zeros, 20000);
	struct http2_conn c;
	http2_conn_init(&c);
	feed_dirs(&c, &w, NULL, HTTP2_S2C);
	assert_false(c.inactive);
	http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)"\x04\x00\x01\x00\x00\x00\x00\x00\x01", 9, NULL);
	assert_true(c.inactive); /* a DATA frame of 256 KiB + 1 */
	assert_int_equal(c.off_reason, HTTP2_OFF_FRAME_SIZE);
	http2_conn_free(&c);
}

/* A gzip bomb in a request body is cut as HTTP/1.x bodies are. */
static void test_bomb(void **state)
{
	(void)state;
	size_t big = 32 * 1024 * 1024;
	uint8_t *zeros = calloc(1, big), *z = malloc(256 * 1024);
	assert_non_null(zeros);
	assert_non_null(z);
	size_t zn = zlib_compress(zeros, big, z, 256 * 1024, 31);
	free(zeros);
	static struct wire w;
	memset(&w, 0, sizeof(w));
	handshake(&w);
	nghttp2_hd_deflater *d = deflater();
	uint8_t blk[256];
	const nghttp2_nv r[] = {NV(":method", "POST"), NV(":path", "/"), NV("content-encoding", "gzip")};
	size_t bn = deflate_block(d, r, 3, blk, sizeof(blk));
	nghttp2_hd_deflate_del(d);
	put_frame(&w, HTTP2_C2S, 1, 0x4, 1, blk, bn);
	for (size_t o = 0; o < zn; o += 16384)
		put_frame(&w, HTTP2_C2S, 0, o + 16384 >= zn ? 1 : 0, 1, z + o,
			  zn - o < 16384 ? zn - o : 16384);
	free(z);
	struct http2_conn c;
	http2_conn_init(&c);
	http2_conn_feed(&c, HTTP2_C2S, w.b[0], w.n[0], NULL);
	assert_false(c.inactive);
	assert_int_equal(c.bombs, 1);
	http2_conn_free(&c);
}

/* ---- a real capture ---- */

struct capture {
	struct got g;
	int conn;                 /* index of the connection being fed */
	char body[4][512];        /* each connection's request body */
	size_t body_n[4];
};

static void cap_field(const struct http2_field *f, void *user)
{
	on_field(f, &((struct capture *)user)->g);
}

static void cap_request(const struct http2_request *r, void *user)
{
	on_request(r, &((struct capture *)user)->g);
}

static void cap_data(const struct http2_data *d, void *user)
{
	struct capture *x = user;
	if (d->dir != HTTP2_C2S)
		return;
	size_t *n = &x->body_n[x->conn];
	assert_true(*n + d->n < sizeof(x->body[0]));
	memcpy(x->body[x->conn] + *n, d->d, d->n);
	*n += d->n;
}

struct half {
	struct reasm ra;
	bool started;
	struct http2_conn *c;
	int dir;
	const struct http2_callbacks *cb;
};

static void on_stream(const uint8_t *d, size_t n, uint64_t off, void *user)
{
	(void)off;
	struct half *h = user;
	http2_conn_feed(h->c, h->dir, d, n, h->cb);
}

struct conn_slot {
	uint16_t client_port;
	struct http2_conn c;
	struct half h[2];
};

/* Splits an "a|b|c" field of tshark's into its values. */
static int split_bar(char *s, char **out, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(s, "|", &save); t != NULL && n < max; t = strtok_r(NULL, "|", &save))
		out[n++] = t;
	return n;
}

/* tshark's requests, one "method\tpath\tauthority\tua" line each, in frame order. */
static int read_tshark(FILE *f, char lines[][1024], int max)
{
	char buf[8192];
	int n = 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		char *col[4], *p = buf;
		for (int i = 0; i < 4; i++) {
			char *tab = strchr(p, '\t');
			if (tab != NULL)
				*tab = '\0';
			col[i] = p;
			p = tab != NULL ? tab + 1 : p + strlen(p);
		}
		char *v[4][16];
		int k = split_bar(col[0], v[0], 16);
		for (int i = 1; i < 4; i++)
			assert_int_equal(split_bar(col[i], v[i], 16), k);
		for (int j = 0; j < k && n < max; j++)
			snprintf(lines[n++], 1024, "%s\t%s\t%s\t%s", v[0][j], v[1][j], v[2][j], v[3][j]);
	}
	return n;
}

/*
 * Replays the capture of tests/gen/h2c_capture.sh as the engine does: TCP
 * segments through reassembly, each direction's stream bytes into its
 * connection's decoder.
 */
static int replay(const char *path, struct conn_slot *conns, int max, struct capture *x,
		  const struct http2_callbacks *cb)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	if (p == NULL)
		fail_msg("%s", err);
	int n_conns = 0;
	struct decode_stats ds = {0};
	struct pcap_pkthdr *ph;
	const u_char *data;
	while (pcap_next_ex(p, &ph, &data) == 1) {
		struct decoded_pkt pkt;
		if (decode_frame(pcap_datalink(p), data, ph->caplen, &pkt, &ds) != DECODE_OK ||
		    pkt.l4_proto != 6)
			continue;
		int dir = pkt.dport == 8080 || pkt.dport == 8081 ? HTTP2_C2S : HTTP2_S2C;
		uint16_t cport = dir == HTTP2_C2S ? pkt.sport : pkt.dport;
		int k = 0;
		while (k < n_conns && conns[k].client_port != cport)
			k++;
		if (k == n_conns) {
			assert_true(n_conns < max);
			n_conns++;
			conns[k].client_port = cport;
			http2_conn_init(&conns[k].c);
		}
		struct half *h = &conns[k].h[dir];
		uint32_t seq = pkt.tcp_seq + ((pkt.tcp_flags & 0x02) ? 1 : 0);
		if (!h->started) {
			reasm_init(&h->ra, seq, 0, 0);
			h->started = true;
			h->c = &conns[k].c;
			h->dir = dir;
			h->cb = cb;
		}
		x->conn = k;
		reasm_segment(&h->ra, seq, pkt.payload, pkt.payload_len, on_stream, h);
	}
	pcap_close(p);
	for (int i = 0; i < n_conns; i++) {
		reasm_free(&conns[i].h[0].ra);
		reasm_free(&conns[i].h[1].ra);
	}
	return n_conns;
}

static void test_h2c_capture(void **state)
{
	(void)state;
	static struct capture x;
	memset(&x, 0, sizeof(x));
	struct http2_callbacks cb = {cap_field, cap_request, cap_data, &x};
	static struct conn_slot conns[4];
	memset(conns, 0, sizeof(conns));
	int n_conns = replay(FIXTURE_DIR "h2c.pcap", conns, 4, &x, &cb);
	assert_int_equal(n_conns, 4);
	for (int i = 0; i < n_conns; i++) {
		assert_true(conns[i].c.active);
		assert_false(conns[i].c.inactive);
	}
	assert_string_equal(http2_conn_info(&conns[0].c)->host, "127.0.0.1:8080");
	assert_string_equal(http2_conn_info(&conns[1].c)->user_agent, "okhttp/4.12.0");
	assert_int_equal(conns[0].c.requests, 3);
	assert_int_equal(conns[0].c.responses, 3);
	/* the fourth: two requests of 40 KB headers each, one pushed response */
	assert_int_equal(conns[3].c.requests, 2);
	assert_int_equal(conns[3].c.responses, 3);
	assert_non_null(strstr(x.g.fields[1], "2 :path: /style.css\n"));
	assert_non_null(strstr(x.g.fields[0], "15 x-aid: 9774d56d682e549c\n"));

	/* the decoder's requests against tshark's, in order */
	static char want[32][1024];
	FILE *f = fopen(FIXTURE_DIR "h2c.tshark.tsv", "r");
	assert_non_null(f);
	int n_want = read_tshark(f, want, 32);
	fclose(f);
	assert_int_equal(n_want, 7);
	assert_int_equal(x.g.n_req, n_want);
	for (int i = 0; i < n_want; i++) {
		char line[1024];
		const struct http_info *ri = &x.g.req[i].info;
		snprintf(line, sizeof(line), "%s\t%s\t%s\t%s", ri->method, ri->target, ri->host,
			 ri->user_agent);
		assert_string_equal(line, want[i]);
	}
	assert_non_null(strstr(x.g.fields[0], "cookie: uid=9774d56d682e549c; theme=dark\n"));

	/* the same JSON body, plain on the second connection, gzip-coded on the third */
	const char *json = "{\"android_id\":\"9774d56d682e549c\",\"imei\":\"356938035643809\","
			   "\"event\":\"open\"}";
	assert_int_equal(x.body_n[0], 0);
	assert_int_equal(x.body_n[3], 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(x.body_n[i], strlen(json));
		assert_memory_equal(x.body[i], json, strlen(json));
	}

	/* the committed reading is tshark's: read the capture again when tshark is here */
	if (system("command -v tshark >/dev/null 2>&1") == 0) {
		FILE *t = popen("tshark -r " FIXTURE_DIR "h2c.pcap -d tcp.port==8080,http2 "
				"-d tcp.port==8081,http2 "
				"-Y http2.type==1 -T fields -E aggregator='|' -e http2.headers.method "
				"-e http2.headers.path -e http2.headers.authority "
				"-e http2.headers.user_agent 2>/dev/null", "r");
		assert_non_null(t);
		static char now[32][1024];
		int n_now = read_tshark(t, now, 32);
		pclose(t);
		assert_int_equal(n_now, n_want);
		for (int i = 0; i < n_now; i++)
			assert_string_equal(now[i], want[i]);
	} else {
		printf("test_h2c_capture: tshark not installed; compared with its committed reading\n");
	}
	for (int i = 0; i < n_conns; i++)
		http2_conn_free(&conns[i].c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversation),
		cmocka_unit_test(test_bytewise),
		cmocka_unit_test(test_prefaces),
		cmocka_unit_test(test_table_size),
		cmocka_unit_test(test_settings_unacked),
		cmocka_unit_test(test_interleaved_streams_and_trailers),
		cmocka_unit_test(test_streams_bounded),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_h2c_capture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
