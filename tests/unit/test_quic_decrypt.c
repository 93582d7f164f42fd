/*
 * test_quic_decrypt.c - QUIC decryption with a key log: the client and
 * server Initials of RFC 9001 Appendix A (A.2, A.3) give the client random
 * and the cipher suite, and after A.4's Retry the keys follow the new DCID; connections built here with the crypto layer, under
 * each cipher suite, carry STREAM frames out of order, retransmitted and
 * past the hold bounds, a key update with a late packet of the old phase,
 * and packets that cannot be opened, which are counted and never fatal.
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

#include "flowaudit/keylog.h"
#include "flowaudit/quic_decrypt.h"

#include "bytebuf.h"
#include "quicpkt.h"
#include "rfc9001.h"

/* RFC 9001 A.3: the server Initial (ACK and the ServerHello, TLS_AES_128_GCM_SHA256). */
static const char a3[] =
	"cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
	"5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
	"dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
	"022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
	"2158407dd074ee";

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* What the callbacks received, per (direction, stream). */
struct got {
	struct {
		int dir;
		uint64_t sid;
		uint8_t d[600000];
		size_t n;
		int fins, gaps;
	} s[8];
	size_t ns;
	uint64_t calls, gaps;
	int cid_dir[4];
	uint8_t cid[4][20], cid_len[4];
	size_t n_cids;
};

static size_t got_slot(struct got *g, int dir, uint64_t sid)
{
	for (size_t i = 0; i < g->ns; i++)
		if (g->s[i].dir == dir && g->s[i].sid == sid)
			return i;
	if (g->ns == 8)
		return 7; /* further streams share the last slot */
	g->s[g->ns].dir = dir;
	g->s[g->ns].sid = sid;
	return g->ns++;
}

static void on_stream(void *user, int dir, uint64_t sid, const uint8_t *d, size_t n, bool fin)
{
	struct got *g = user;
	g->calls++;
	size_t i = got_slot(g, dir, sid);
	assert_true(g->s[i].n + n <= sizeof(g->s[i].d));
	if (n > 0)
		memcpy(g->s[i].d + g->s[i].n, d, n);
	g->s[i].n += n;
	g->s[i].fins += fin;
}

static void on_gap(void *user, int dir, uint64_t sid)
{
	struct got *g = user;
	g->gaps++;
	g->s[got_slot(g, dir, sid)].gaps++;
}

static void on_cid(void *user, int dir, const uint8_t *cid, size_t len)
{
	struct got *g = user;
	assert_true(g->n_cids < 4 && len <= 20);
	g->cid_dir[g->n_cids] = dir;
	memcpy(g->cid[g->n_cids], cid, len);
	g->cid_len[g->n_cids++] = (uint8_t)len;
}

/* One datagram, from an exactly sized heap copy (so ASan sees any overread). */
static void feed(struct quic_dec *q, int dir, const struct buf *dg)
{
	uint8_t *copy = malloc(dg->n ? dg->n : 1);
	assert_non_null(copy);
	memcpy(copy, dg->b, dg->n);
	quic_dec_datagram(q, dir, copy, dg->n);
	free(copy);
}

static void test_rfc9001_initials(void **state)
{
	(void)state;
	struct buf *dg = calloc(1, sizeof(*dg));
	assert_non_null(dg);
	struct quic_dec *q = quic_dec_new(NULL, NULL);
	assert_non_null(q);
	assert_int_equal(quic_dec_status(q), TLS_DEC_NO_HANDSHAKE);
	dg->n = unhex(rfc9001_client_initial, dg->b, sizeof(dg->b));
	feed(q, QDEC_FROM_CLIENT, dg);
	dg->n = unhex(a3, dg->b, sizeof(dg->b));
	feed(q, QDEC_FROM_SERVER, dg);
	const struct quic_dec_info *i = quic_dec_info(q);
	assert_int_equal(i->version, QUIC_V1);
	assert_int_equal(i->opened[QDEC_INITIAL][0], 1);
	assert_int_equal(i->opened[QDEC_INITIAL][1], 1);
	assert_true(i->have_random);
	uint8_t want[32];
	unhex("ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c", want, 32);
	assert_memory_equal(i->client_random, want, 32);
	assert_int_equal(i->cipher_suite, 0x1301);
	assert_int_equal(i->auth_failed, 0);
	assert_int_equal(quic_dec_status(q), TLS_DEC_NO_KEY);
	/* a flipped byte in the server's payload: counted, nothing else changes */
	dg->b[dg->n - 20] ^= 1;
	feed(q, QDEC_FROM_SERVER, dg);
	assert_int_equal(i->auth_failed, 1);
	assert_int_equal(i->opened[QDEC_INITIAL][1], 1);
	quic_dec_free(q);
	quic_dec_free(NULL);
	free(dg);
}

/* RFC 9001 A.4: the server's Retry to A.2's Initial, SCID f067a5502a4262b5. */
static const char a4[] = "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";

static void hello(struct buf *f, int type, const uint8_t *random, uint16_t suite);

/*
 * After a Retry the client's next Initial goes to the Retry's SCID, and
 * the Initial keys of both directions come from that new DCID.
 */
static void test_rfc9001_retry(void **state)
{
	(void)state;
	struct buf *dg = calloc(1, sizeof(*dg)), *f = calloc(1, sizeof(*f));
	assert_true(dg && f);
	struct quic_dec *q = quic_dec_new(NULL, NULL);
	dg->n = unhex(rfc9001_client_initial, dg->b, sizeof(dg->b));
	feed(q, QDEC_FROM_CLIENT, dg);
	dg->n = unhex(a4, dg->b, sizeof(dg->b));
	feed(q, QDEC_FROM_SERVER, dg);
	const struct quic_dec_info *i = quic_dec_info(q);
	assert_int_equal(i->malformed + i->auth_failed, 0);
	/* the second Initial, to the Retry's SCID, with the token */
	static const uint8_t retry_scid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};
	uint8_t rnd[32];
	memset(rnd, 0x5a, sizeof(rnd));
	hello(f, 1, rnd, 0);
	struct qp_keys k;
	qp_initial_keys(QUIC_V1, retry_scid, 8, false, &k);
	dg->n = 0;
	qp_long(dg, QUIC_V1, 0, retry_scid, 8, NULL, 0, 3, f, 1162, &k);
	feed(q, QDEC_FROM_CLIENT, dg);
	assert_int_equal(i->opened[QDEC_INITIAL][0], 2);
	assert_int_equal(i->auth_failed, 0);
	quic_dec_free(q);
	free(dg);
	free(f);
}

/* ---- connections built here ---- */

struct conn {
	uint16_t suite;
	enum crypto_hash h;
	enum crypto_aead a;
	uint8_t random[32];
	uint8_t dcid0[8], ccid[4], scid[6];
	uint8_t secret[2][48];
	struct qp_keys app[2];
	unsigned phase[2];
	uint64_t pn[3][2];
	struct keylog *kl;
	struct quic_dec *q;
	struct got *g;
	struct buf *dg, *f;
};

static void hello(struct buf *f, int type, const uint8_t *random, uint16_t suite)
{
	struct buf m = {.n = 0};
	put8(&m, (unsigned)type);
	put8(&m, 0);
	put16(&m, 0);
	put16(&m, 0x0303);
	put_bytes(&m, random, 32);
	put8(&m, 0); /* session id */
	if (type == 1) {
		put16(&m, 2);
	}
	put16(&m, suite);
	if (type == 1)
		put8(&m, 1);
	put8(&m, 0);
	put16(&m, 0); /* no extensions */
	m.b[3] = (uint8_t)(m.n - 4);
	put8(f, 0x06);
	put8(f, 0);
	put_varint2(f, m.n);
	put_bytes(f, m.b, m.n);
}

/* A connection through its Initials, with its 1-RTT secrets in the key log (keyed). */
static void conn_open(struct conn *c, uint16_t suite, bool keyed)
{
	memset(c, 0, sizeof(*c));
	c->suite = suite;
	c->h = suite == 0x1302 ? CRYPTO_SHA384 : CRYPTO_SHA256;
	c->a = suite == 0x1301 ? CRYPTO_AES_128_GCM
	       : suite == 0x1302 ? CRYPTO_AES_256_GCM : CRYPTO_CHACHA20_POLY1305;
	for (int i = 0; i < 32; i++)
		c->random[i] = (uint8_t)(0xa0 + i);
	memcpy(c->dcid0, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	memcpy(c->ccid, "\xc1\xc2\xc3\xc4", 4);
	memcpy(c->scid, "\x51\x52\x53\x54\x55\x56", 6);
	size_t hl = crypto_hash_len(c->h);
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < hl; i++)
			c->secret[d][i] = (uint8_t)(d * 100 + i);
		qp_keys_from_secret(c->h, c->a, c->secret[d], &c->app[d]);
	}
	c->kl = keylog_new(0);
	assert_non_null(c->kl);
	if (keyed) {
		char line[400], r[65], s[2][97];
		for (int i = 0; i < 32; i++)
			snprintf(r + 2 * i, 3, "%02x", c->random[i]);
		for (int d = 0; d < 2; d++)
			for (size_t i = 0; i < hl; i++)
				snprintf(s[d] + 2 * i, 3, "%02x", c->secret[d][i]);
		int n = snprintf(line, sizeof(line), "CLIENT_TRAFFIC_SECRET_0 %s %s\n"
			 "SERVER_TRAFFIC_SECRET_0 %s %s\n", r, s[0], r, s[1]);
		keylog_add_text(c->kl, (const uint8_t *)line, (size_t)n, "test");
	}
	c->g = calloc(1, sizeof(*c->g));
	c->dg = calloc(1, sizeof(*c->dg));
	c->f = calloc(1, sizeof(*c->f));
	assert_true(c->g && c->dg && c->f);
	struct quic_dec_cbs cbs = {on_stream, on_gap, on_cid, c->g};
	c->q = quic_dec_new(c->kl, &cbs);
	assert_non_null(c->q);

	struct qp_keys ki;
	c->f->n = 0;
	hello(c->f, 1, c->random, 0);
	c->dg->n = 0;
	qp_initial_keys(QUIC_V1, c->dcid0, 8, false, &ki);
	qp_long(c->dg, QUIC_V1, 0, c->dcid0, 8, c->ccid, 4, 0, c->f, 1162, &ki);
	feed(c->q, QDEC_FROM_CLIENT, c->dg);
	uint8_t srandom[32] = {0};
	c->f->n = 0;
	hello(c->f, 2, srandom, suite);
	c->dg->n = 0;
	qp_initial_keys(QUIC_V1, c->dcid0, 8, true, &ki);
	qp_long(c->dg, QUIC_V1, 0, c->ccid, 4, c->scid, 6, 0, c->f, 0, &ki);
	feed(c->q, QDEC_FROM_SERVER, c->dg);
	const struct quic_dec_info *i = quic_dec_info(c->q);
	assert_true(i->have_random);
	assert_int_equal(i->cipher_suite, suite);
	assert_int_equal(i->opened[QDEC_INITIAL][0] + i->opened[QDEC_INITIAL][1], 2);
}

static void conn_close(struct conn *c)
{
	quic_dec_free(c->q);
	keylog_free(c->kl);
	free(c->g);
	free(c->dg);
	free(c->f);
}

/* A STREAM frame with offset and length. */
static void stream_frame(struct buf *f, uint64_t sid, size_t off, const uint8_t *d, size_t n, bool fin)
{
	put8(f, 0x0e | (fin ? 1 : 0));
	put_varint2(f, sid);
	put_varint2(f, off);
	put_varint2(f, n);
	put_bytes(f, d, n);
}

/* One 1-RTT packet of direction dir holding the frames in c->f. */
static void send_app(struct conn *c, int dir)
{
	c->dg->n = 0;
	const uint8_t *dcid = dir == QDEC_FROM_CLIENT ? c->scid : c->ccid;
	size_t dl = dir == QDEC_FROM_CLIENT ? 6 : 4;
	qp_short(c->dg, dcid, dl, c->phase[dir], c->pn[2][dir]++, c->f, &c->app[dir]);
	feed(c->q, dir, c->dg);
}

static void test_streams(void **state)
{
	(void)state;
	static const uint16_t suites[] = {0x1301, 0x1302, 0x1303};
	for (size_t si = 0; si < 3; si++) {
		struct conn c;
		conn_open(&c, suites[si], true);
		uint8_t msg[3000];
		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (uint8_t)(i * 31 + si);
		/* [2000, 3000) with FIN, then [0, 1000), a retransmission of [0, 1000),
		   then [900, 2100) overlapping both */
		c.f->n = 0;
		stream_frame(c.f, 0, 2000, msg + 2000, 1000, true);
		send_app(&c, QDEC_FROM_CLIENT);
		assert_int_equal(c.g->calls, 0);
		c.f->n = 0;
		stream_frame(c.f, 0, 0, msg, 1000, false);
		send_app(&c, QDEC_FROM_CLIENT);
		send_app(&c, QDEC_FROM_CLIENT);
		c.f->n = 0;
		stream_frame(c.f, 0, 900, msg + 900, 1200, false);
		send_app(&c, QDEC_FROM_CLIENT);
		/* each side's SCID was reported; a NEW_CONNECTION_ID of the server's length too,
		   one of another length not (short headers could not carry it) */
		assert_int_equal(c.g->n_cids, 2);
		assert_int_equal(c.g->cid_dir[0], QDEC_FROM_CLIENT);
		assert_int_equal(c.g->cid_len[0], 4);
		assert_int_equal(c.g->cid_dir[1], QDEC_FROM_SERVER);
		assert_memory_equal(c.g->cid[1], c.scid, 6);
		c.f->n = 0;
		put8(c.f, 0x18);
		put8(c.f, 1);
		put8(c.f, 0);
		put8(c.f, 6);
		put_bytes(c.f, "\x61\x62\x63\x64\x65\x66", 6);
		put_bytes(c.f, "0123456789abcdef", 16);
		put8(c.f, 0x18);
		put8(c.f, 2);
		put8(c.f, 0);
		put8(c.f, 9);
		put_bytes(c.f, "\x71\x72\x73\x74\x75\x76\x77\x78\x79", 9);
		put_bytes(c.f, "0123456789abcdef", 16);
		send_app(&c, QDEC_FROM_SERVER);
		assert_int_equal(c.g->n_cids, 3);
		assert_int_equal(c.g->cid_dir[2], QDEC_FROM_SERVER);
		assert_memory_equal(c.g->cid[2], "\x61\x62\x63\x64\x65\x66", 6);
		/* the server answers on the same stream, with PING and ACK first */
		c.f->n = 0;
		put8(c.f, 0x01);
		put8(c.f, 0x02);
		put8(c.f, 3);
		put8(c.f, 0);
		put8(c.f, 0);
		put8(c.f, 0);
		stream_frame(c.f, 0, 0, (const uint8_t *)"ok", 2, true);
		send_app(&c, QDEC_FROM_SERVER);
		assert_int_equal(c.g->ns, 2);
		assert_int_equal(c.g->s[0].n, 3000);
		assert_memory_equal(c.g->s[0].d, msg, 3000);
		assert_int_equal(c.g->s[0].fins, 1);
		assert_int_equal(c.g->s[1].dir, QDEC_FROM_SERVER);
		assert_int_equal(c.g->s[1].n, 2);
		assert_int_equal(c.g->s[1].fins, 1);
		const struct quic_dec_info *i = quic_dec_info(c.q);
		assert_int_equal(i->opened[QDEC_APP][0], 4);
		assert_int_equal(i->opened[QDEC_APP][1], 2);
		assert_int_equal(i->malformed + i->auth_failed + i->no_key, 0);
		assert_int_equal(quic_dec_status(c.q), TLS_DEC_DECRYPTED);
		conn_close(&c);
	}
}

static void test_key_update(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, 0x1301, true);
	struct buf *old = calloc(1, sizeof(*old));
	assert_non_null(old);
	/* phase 0: "ab"; a phase-0 packet held back ("cd"); phase 1: "ef"; then the
	   held packet arrives late and still opens under the previous keys */
	c.f->n = 0;
	stream_frame(c.f, 4, 0, (const uint8_t *)"ab", 2, false);
	send_app(&c, QDEC_FROM_CLIENT);
	c.f->n = 0;
	stream_frame(c.f, 4, 2, (const uint8_t *)"cd", 2, false);
	old->n = 0;
	qp_short(old, c.scid, 6, 0, c.pn[2][0]++, c.f, &c.app[0]);
	/* header protection keeps the first key (RFC 9001 6) */
	uint8_t hp0[CRYPTO_KEY_MAX];
	memcpy(hp0, c.app[0].hp, sizeof(hp0));
	qp_secret_update(c.h, c.secret[0]);
	qp_keys_from_secret(c.h, c.a, c.secret[0], &c.app[0]);
	memcpy(c.app[0].hp, hp0, sizeof(hp0));
	c.phase[0] = 1;
	c.f->n = 0;
	stream_frame(c.f, 4, 4, (const uint8_t *)"ef", 2, false);
	send_app(&c, QDEC_FROM_CLIENT);
	const struct quic_dec_info *i = quic_dec_info(c.q);
	assert_int_equal(i->key_updates[0], 1);
	feed(c.q, QDEC_FROM_CLIENT, old);
	assert_int_equal(c.g->s[0].n, 6);
	assert_memory_equal(c.g->s[0].d, "abcdef", 6);
	assert_int_equal(i->opened[QDEC_APP][0], 3);
	assert_int_equal(i->auth_failed, 0);
	free(old);
	conn_close(&c);
}

static void test_hold_bounds(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, 0x1303, true);
	static uint8_t chunk[1000];
	/* stream 0: pieces after a hole until the per-stream bound is passed */
	size_t sent = 0;
	for (size_t off = 1000; sent <= QDEC_STREAM_HOLD; off += 1000, sent += 1000) {
		c.f->n = 0;
		put8(c.f, 0x0e);
		put8(c.f, 0x00);
		put8(c.f, (uint8_t)(0x80 | (off >> 24)));
		put8(c.f, (uint8_t)(off >> 16));
		put8(c.f, (uint8_t)(off >> 8));
		put8(c.f, (uint8_t)off);
		put_varint2(c.f, sizeof(chunk));
		put_bytes(c.f, chunk, sizeof(chunk));
		send_app(&c, QDEC_FROM_CLIENT);
	}
	const struct quic_dec_info *i = quic_dec_info(c.q);
	assert_true(i->held_refused > 0);
	assert_int_equal(c.g->s[0].gaps, 1);
	/* the hole filled now: nothing more of the stream is handed on */
	c.f->n = 0;
	stream_frame(c.f, 0, 0, chunk, 1000, false);
	send_app(&c, QDEC_FROM_CLIENT);
	assert_int_equal(c.g->s[0].n, 0);
	/* more streams than followed at once: the oldest are forgotten, with a gap */
	for (uint64_t sid = 4; sid < 4 * (QDEC_STREAMS + 6); sid += 4) {
		c.f->n = 0;
		stream_frame(c.f, sid, 10, chunk, 10, false);
		send_app(&c, QDEC_FROM_CLIENT);
	}
	assert_int_equal(i->streams_evicted, 5); /* the ended stream 0 made room first */
	assert_int_equal(c.g->gaps, 1 + i->streams_evicted);
	conn_close(&c);
}

static void test_unopenable(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, 0x1301, false);
	c.f->n = 0;
	stream_frame(c.f, 0, 0, (const uint8_t *)"secret", 6, true);
	send_app(&c, QDEC_FROM_CLIENT);
	const struct quic_dec_info *i = quic_dec_info(c.q);
	assert_int_equal(i->no_key, 1);
	assert_int_equal(c.g->calls, 0);
	assert_int_equal(quic_dec_status(c.q), TLS_DEC_NO_KEY);
	/* garbage and every truncation of a long header: counted, never read past the end */
	uint8_t junk[64];
	for (size_t n = 0; n <= sizeof(junk); n++) {
		for (size_t k = 0; k < n; k++)
			junk[k] = (uint8_t)(k * 37 + n);
		if (n > 0)
			junk[0] = 0xc0;
		if (n > 4)
			memcpy(junk + 1, "\x00\x00\x00\x01", 4);
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, junk, n);
		quic_dec_datagram(c.q, QDEC_FROM_SERVER, copy, n);
		free(copy);
	}
	assert_true(i->malformed > 0);
	/* a frame type no version defines ends the packet, counted */
	conn_close(&c);
	conn_open(&c, 0x1301, true);
	c.f->n = 0;
	put8(c.f, 0x01);
	put8(c.f, 0x21);
	send_app(&c, QDEC_FROM_CLIENT);
	assert_int_equal(quic_dec_info(c.q)->malformed, 1);
	assert_int_equal(quic_dec_status(c.q), TLS_DEC_DECRYPTED);
	conn_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9001_initials),
		cmocka_unit_test(test_rfc9001_retry),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_key_update),
		cmocka_unit_test(test_hold_bounds),
		cmocka_unit_test(test_unopenable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
