/*
 * http3.c - HTTP/3 frames and QPACK header blocks over a QUIC
 * connection's decrypted streams (http3.h).
 *
 * Receives in-order stream bytes per stream and direction from
 * quic_decrypt.c through the engine; hands on header fields, requests and
 * decoded body bytes through the HTTP/2 callbacks. Owns one libnghttp3
 * QPACK decoder per direction (made when that direction first needs it,
 * with the table capacity the other side's SETTINGS allow), and a small
 * state per stream: the frame being read, a header block being collected
 * or waiting for the encoder stream, the body decoder.
 *
 *   stream     request streams: client-initiated bidirectional (id % 4 == 0);
 *              unidirectional (id & 2): a type first: 0x00 control,
 *              0x01 push, 0x02 QPACK encoder, 0x03 QPACK decoder
 *   frame      type(varint) length(varint) payload; DATA 0x00, HEADERS 0x01,
 *              SETTINGS 0x04 (control stream only); others skipped
 *   SETTINGS   pairs of varints; 0x01 QPACK_MAX_TABLE_CAPACITY,
 *              0x07 QPACK_BLOCKED_STREAMS
 */
#include "flowaudit/http3.h"

#include "flowaudit/cursor.h"
#include "flowaudit/http_body.h"

#include <nghttp3/nghttp3.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (2 * HTTP3_STREAMS + 8)
#define SETTINGS_MAX ((size_t)1024) /* a SETTINGS frame's payload */

enum kind { K_NEW, K_REQUEST, K_CONTROL, K_ENCODER, K_IGNORE };

struct h3s {
	uint64_t sid;
	uint64_t last_use;
	uint64_t ftype, fleft;       /* the frame being read */
	uint8_t *buf;                /* a HEADERS block or SETTINGS payload being collected */
	size_t buf_len;
	nghttp3_qpack_stream_context *sctx; /* a complete block being decoded, or waiting */
	size_t consumed;
	uint8_t *pend;               /* stream bytes that came while blocked */
	size_t pend_len;
	struct http2_request req;    /* the message */
	struct http_body body;
	int dir;
	enum kind kind;
	int coding;
	uint32_t user_state;
	size_t head_len;
	uint8_t head[16];
	bool used, dead, pinned;
	bool in_frame, skipping, blocked, pend_fin;
	bool has_method, informational, trailer, headers_done, body_on;
};

struct http3_conn {
	nghttp3_qpack_decoder *dec[2];
	bool dec_failed[2];
	uint64_t table_cap[2];    /* the SETTINGS of side i: the table for the other side's blocks */
	bool have_encoder[2], have_control[2];
	struct h3s *s[SLOTS]; /* made at a stream's first bytes, freed when it ends */
	size_t held;          /* header blocks and waiting stream bytes, every stream */
	uint64_t clock;
	bool have_first;
	struct http_info first;
	struct http3_stats st;
};

struct http3_conn *http3_conn_new(void)
{
	return calloc(1, sizeof(struct http3_conn));
}

static void slot_clear(struct http3_conn *c, struct h3s *s)
{
	c->held -= s->buf_len + s->pend_len;
	free(s->buf);
	free(s->pend);
	if (s->sctx != NULL)
		nghttp3_qpack_stream_context_del(s->sctx);
	http_body_end(&s->body);
	memset(s, 0, sizeof(*s));
}

/* Frees slot i's stream. */
static void slot_free(struct http3_conn *c, size_t i)
{
	if (c->s[i] == NULL)
		return;
	slot_clear(c, c->s[i]);
	free(c->s[i]);
	c->s[i] = NULL;
}

void http3_conn_free(struct http3_conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		slot_free(c, i);
	for (int d = 0; d < 2; d++)
		if (c->dec[d] != NULL)
			nghttp3_qpack_decoder_del(c->dec[d]);
	free(c);
}

const struct http_info *http3_first_request(const struct http3_conn *c)
{
	return c->have_first ? &c->first : NULL;
}

void http3_stats(const struct http3_conn *c, struct http3_stats *out)
{
	*out = c->st;
}

static struct h3s *slot(struct http3_conn *c, int dir, uint64_t sid, bool make)
{
	size_t free_i = SLOTS, old_i = SLOTS;
	for (size_t i = 0; i < SLOTS; i++) {
		struct h3s *s = c->s[i];
		if (s == NULL || !s->used) {
			if (free_i == SLOTS)
				free_i = i;
		} else if (s->dir == dir && s->sid == sid) {
			s->last_use = ++c->clock;
			return s;
		} else if (!s->pinned && (old_i == SLOTS || s->last_use < c->s[old_i]->last_use)) {
			old_i = i;
		}
	}
	if (!make)
		return NULL;
	if (free_i == SLOTS) {
		if (old_i == SLOTS)
			return NULL;
		slot_free(c, old_i);
		c->st.streams_evicted++;
		free_i = old_i;
	}
	struct h3s *s = c->s[free_i];
	if (s == NULL && (s = c->s[free_i] = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->used = true;
	s->dir = dir;
	s->sid = sid;
	s->last_use = ++c->clock;
	s->req.stream_id = (uint32_t)sid;
	return s;
}

/* ---- QPACK ---- */

static nghttp3_qpack_decoder *decoder(struct http3_conn *c, int dir)
{
	if (c->dec_failed[dir])
		return NULL;
	if (c->dec[dir] == NULL) {
		uint64_t cap = c->table_cap[dir ^ 1];
		if (cap > HTTP3_TABLE_MAX)
			cap = HTTP3_TABLE_MAX;
		if (nghttp3_qpack_decoder_new(&c->dec[dir], (size_t)cap, HTTP3_BLOCKED,
					      nghttp3_mem_default()) != 0) {
			c->dec[dir] = NULL;
			c->dec_failed[dir] = true;
		}
	}
	return c->dec[dir];
}

static void qpack_fail(struct http3_conn *c, int dir)
{
	c->st.qpack_failed++;
	c->dec_failed[dir] = true;
}

static void emit_field(struct http3_conn *c, struct h3s *s, const nghttp3_qpack_nv *nv,
		       const struct http2_callbacks *cb)
{
	nghttp3_vec n = nghttp3_rcbuf_get_buf(nv->name), v = nghttp3_rcbuf_get_buf(nv->value);
	(void)c;
	if (!s->trailer && http_name_is(n.base, n.len, "content-encoding"))
		s->coding = http_body_coding(v.base, v.len);
	if (http_name_is(n.base, n.len, ":status") && v.len > 0 && v.base[0] == '1')
		s->informational = true;
	if (s->dir == HTTP2_C2S && !s->trailer &&
	    http_request_field(&s->req.info, s->req.scheme, sizeof(s->req.scheme), n.base, n.len,
			       v.base, v.len))
		s->has_method = true;
	if (cb == NULL || cb->field == NULL)
		return;
	struct http2_field f = {
		.stream_id = (uint32_t)s->sid, .dir = s->dir, .trailer = s->trailer,
		.name = n.base, .name_len = n.len, .value = v.base, .value_len = v.len,
	};
	cb->field(&f, cb->user);
}

static void stream_feed(struct http3_conn *c, struct h3s *s, const uint8_t *d, size_t n, bool fin,
			const struct http2_callbacks *cb);

/* The header block ended: the message starts (or a 1xx ended, or trailers came). */
static void block_done(struct http3_conn *c, struct h3s *s, const struct http2_callbacks *cb)
{
	if (s->informational) {
		s->informational = false;
		return;
	}
	if (s->trailer)
		return;
	s->trailer = true;
	s->headers_done = true;
	http_body_start(&s->body, s->coding);
	s->body_on = true;
	if (s->dir == HTTP2_S2C) {
		c->st.responses++;
	} else if (s->has_method) {
		c->st.requests++;
		if (!c->have_first) {
			c->first = s->req.info;
			c->have_first = true;
		}
		if (cb != NULL && cb->request != NULL)
			cb->request(&s->req, cb->user);
	}
}

/* Decodes the collected block as far as the table allows; false while blocked. */
static bool block_decode(struct http3_conn *c, struct h3s *s, const struct http2_callbacks *cb)
{
	nghttp3_qpack_decoder *dec = decoder(c, s->dir);
	if (dec == NULL || s->buf_len == 0) { /* no decoder, or an empty block: not a field section */
		c->st.frames_skipped++;
		return true;
	}
	if (s->sctx == NULL &&
	    nghttp3_qpack_stream_context_new(&s->sctx, (int64_t)s->sid, nghttp3_mem_default()) != 0) {
		s->sctx = NULL;
		return true;
	}
	for (;;) {
		nghttp3_qpack_nv nv;
		uint8_t flags = NGHTTP3_QPACK_DECODE_FLAG_NONE;
		nghttp3_ssize r = nghttp3_qpack_decoder_read_request(
			dec, s->sctx, &nv, &flags, s->buf + s->consumed, s->buf_len - s->consumed, 1);
		if (r < 0) {
			qpack_fail(c, s->dir);
			break;
		}
		s->consumed += (size_t)r;
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
			emit_field(c, s, &nv, cb);
			nghttp3_rcbuf_decref(nv.name);
			nghttp3_rcbuf_decref(nv.value);
		}
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) {
			block_done(c, s, cb);
			break;
		}
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED) {
			s->blocked = true;
			return false;
		}
		if (r == 0 && !(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT)) {
			qpack_fail(c, s->dir);
			break;
		}
	}
	s->blocked = false;
	nghttp3_qpack_stream_context_del(s->sctx);
	s->sctx = NULL;
	c->held -= s->buf_len;
	free(s->buf);
	s->buf = NULL;
	s->buf_len = s->consumed = 0;
	return true;
}

/* The encoder stream of dir brought entries: blocked blocks of dir may decode now. */
static void unblock(struct http3_conn *c, int dir, const struct http2_callbacks *cb)
{
	for (size_t i = 0; i < SLOTS; i++) {
		struct h3s *s = c->s[i];
		if (s == NULL || !s->used || s->dir != dir || !s->blocked)
			continue;
		if (!block_decode(c, s, cb))
			continue;
		uint8_t *p = s->pend;
		size_t n = s->pend_len;
		bool fin = s->pend_fin;
		s->pend = NULL;
		s->pend_len = 0;
		s->pend_fin = false;
		c->held -= n;
		if (n > 0 || fin)
			stream_feed(c, s, p, n, fin, cb);
		free(p);
	}
}

/* ---- frames ---- */

static void settings(struct http3_conn *c, int dir, const uint8_t *p, size_t n)
{
	struct cursor k = cur_make(p, n);
	while (cur_left(&k) > 0) {
		uint64_t id = cur_quic_varint(&k), v = cur_quic_varint(&k);
		if (!cur_ok(&k))
			break;
		if (id == 0x01)
			c->table_cap[dir] = v;
	}
}

struct body_ctx {
	struct h3s *s;
	const struct http2_callbacks *cb;
};

static void on_body(const uint8_t *d, size_t n, void *user)
{
	struct body_ctx *x = user;
	struct http2_data p = {
		.stream_id = (uint32_t)x->s->sid, .dir = x->s->dir, .d = d, .n = n,
		.offset = x->s->body.out - n, .state = &x->s->user_state,
	};
	x->cb->data(&p, x->cb->user);
}

/* Payload bytes of the current frame. */
static void frame_bytes(struct http3_conn *c, struct h3s *s, const uint8_t *d, size_t n,
			const struct http2_callbacks *cb)
{
	bool collect = (s->kind == K_REQUEST && s->ftype == 0x01) ||
		       (s->kind == K_CONTROL && s->ftype == 0x04);
	if (s->kind == K_REQUEST && s->ftype == 0x00) {
		if (!s->body_on)
			return;
		struct body_ctx x = {s, cb};
		bool want = cb != NULL && cb->data != NULL;
		int rc = http_body_feed(&s->body, d, n, want ? on_body : NULL, &x);
		if (rc == HTTP_BODY_CUT)
			c->st.bombs++;
		else if (rc == HTTP_BODY_ERROR)
			c->st.inflate_errors++;
		return;
	}
	if (!collect || s->skipping)
		return;
	if (c->held + n > HTTP3_CONN_HOLD) {
		s->skipping = true;
		c->st.frames_skipped++;
		return;
	}
	uint8_t *nb = realloc(s->buf, s->buf_len + n);
	if (nb == NULL) {
		s->skipping = true;
		return;
	}
	s->buf = nb;
	memcpy(s->buf + s->buf_len, d, n);
	s->buf_len += n;
	c->held += n;
}

static bool frame_end(struct http3_conn *c, struct h3s *s, const struct http2_callbacks *cb)
{
	c->st.frames[s->dir]++;
	bool go_on = true;
	if (!s->skipping && s->kind == K_REQUEST && s->ftype == 0x01) {
		s->consumed = 0;
		go_on = block_decode(c, s, cb);
	} else if (!s->skipping && s->kind == K_CONTROL && s->ftype == 0x04) {
		settings(c, s->dir, s->buf, s->buf_len);
	}
	if (go_on) {
		c->held -= s->buf_len;
		free(s->buf);
		s->buf = NULL;
		s->buf_len = 0;
	}
	s->skipping = false;
	s->in_frame = false;
	return go_on;
}

/* Bytes of the length of a QUIC varint starting with b. */
static size_t vlen(uint8_t b) { return (size_t)1 << (b >> 6); }

static void stream_feed(struct http3_conn *c, struct h3s *s, const uint8_t *d, size_t n, bool fin,
			const struct http2_callbacks *cb)
{
	if (s->blocked) {
		if (c->held + n > HTTP3_CONN_HOLD) {
			c->st.frames_skipped++;
			s->dead = true;
			return;
		}
		uint8_t *np = realloc(s->pend, s->pend_len + n + 1);
		if (np == NULL) {
			s->dead = true;
			return;
		}
		s->pend = np;
		if (n > 0)
			memcpy(s->pend + s->pend_len, d, n);
		s->pend_len += n;
		c->held += n;
		s->pend_fin = s->pend_fin || fin;
		return;
	}
	size_t i = 0;
	if (s->kind == K_NEW) {
		if ((s->sid & 2) == 0) {
			s->kind = K_REQUEST;
		} else {
			/* the stream type: a varint, which may be cut across calls */
			while (i < n && (s->head_len == 0 || s->head_len < vlen(s->head[0])))
				s->head[s->head_len++] = d[i++];
			if (s->head_len == 0 || s->head_len < vlen(s->head[0]))
				return;
			struct cursor k = cur_make(s->head, s->head_len);
			uint64_t type = cur_quic_varint(&k);
			s->head_len = 0;
			if (type == 0x00 && !c->have_control[s->dir]) {
				s->kind = K_CONTROL;
				s->pinned = c->have_control[s->dir] = true;
			} else if (type == 0x02 && !c->have_encoder[s->dir]) {
				s->kind = K_ENCODER;
				s->pinned = c->have_encoder[s->dir] = true;
			} else {
				s->kind = K_IGNORE;
			}
		}
	}
	if (s->kind == K_IGNORE)
		return;
	if (s->kind == K_ENCODER) {
		nghttp3_qpack_decoder *dec = decoder(c, s->dir);
		if (dec != NULL && i < n) {
			nghttp3_ssize r = nghttp3_qpack_decoder_read_encoder(dec, d + i, n - i);
			if (r < 0)
				qpack_fail(c, s->dir);
			else
				unblock(c, s->dir, cb);
		}
		return;
	}
	while (i < n && !s->dead) {
		if (!s->in_frame) {
			/* type and length: two varints, which may be cut across calls */
			s->head[s->head_len++] = d[i++];
			size_t l1 = vlen(s->head[0]);
			if (s->head_len < l1 + 1 || s->head_len < l1 + vlen(s->head[l1]))
				continue;
			struct cursor k = cur_make(s->head, s->head_len);
			s->ftype = cur_quic_varint(&k);
			s->fleft = cur_quic_varint(&k);
			s->head_len = 0;
			s->in_frame = true;
			bool bounded = (s->kind == K_REQUEST && s->ftype == 0x01 &&
					s->fleft > HTTP3_FRAME_MAX) ||
				       (s->kind == K_CONTROL && s->ftype == 0x04 && s->fleft > SETTINGS_MAX);
			if (bounded) {
				s->skipping = true;
				c->st.frames_skipped++;
			}
			if (s->fleft == 0 && !frame_end(c, s, cb)) {
				stream_feed(c, s, d + i, n - i, fin, cb); /* keep the rest while blocked */
				return;
			}
			continue;
		}
		size_t take = n - i;
		if (take > s->fleft)
			take = (size_t)s->fleft;
		frame_bytes(c, s, d + i, take, cb);
		i += take;
		s->fleft -= take;
		if (s->fleft == 0 && !frame_end(c, s, cb)) {
			stream_feed(c, s, d + i, n - i, fin, cb);
			return;
		}
	}
	if (fin && !s->blocked) {
		http_body_end(&s->body);
		s->body_on = false;
		if (!s->pinned)
			slot_clear(c, s);
	}
}

void http3_stream(struct http3_conn *c, int dir, uint64_t sid, const uint8_t *d, size_t n,
		  bool fin, const struct http2_callbacks *cb)
{
	if (c == NULL || (dir != HTTP2_C2S && dir != HTTP2_S2C))
		return;
	struct h3s *s = slot(c, dir, sid, true);
	if (s == NULL || s->dead)
		return;
	stream_feed(c, s, d, n, fin, cb);
}

void http3_stream_gap(struct http3_conn *c, int dir, uint64_t sid)
{
	if (c == NULL)
		return;
	struct h3s *s = slot(c, dir, sid, false);
	c->st.stream_gaps++;
	if (s == NULL)
		return;
	if (s->kind == K_ENCODER)
		c->dec_failed[dir] = true; /* the table is no longer known */
	bool pinned = s->pinned;
	slot_clear(c, s);
	if (pinned) { /* a control or encoder stream stays taken, so no other takes its place */
		s->used = s->dead = s->pinned = true;
		s->dir = dir;
		s->sid = sid;
	}
}
