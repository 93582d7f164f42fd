/*
 * http2.c - HTTP/2 frames of one connection, header blocks decoded with
 * libnghttp2's HPACK inflater, bodies reassembled from DATA frames and
 * inflated.
 *
 * Receives the in-order bytes of both directions of a connection, in pieces
 * of any size (a piece can end inside a frame header, a padded DATA frame or
 * a header block split over CONTINUATION frames); hands on header fields,
 * requests and decoded bodies through callbacks (http2.h). Owns, once the
 * first byte arrives, per direction one HPACK inflater (each direction has
 * its own dynamic table) and a buffer for the non-DATA frame being read, and
 * a table of up to HTTP2_STREAMS_MAX streams, each with the content-coding
 * state of its two bodies.
 *
 * Workload: a few long-lived connections per app, many requests on each,
 * bodies of a few KiB. DATA payload is never copied unless it must be
 * inflated; every other frame is collected whole and then read through a
 * cursor. Streams are found by a linear search over the open ones, which a
 * client keeps to around a hundred.
 */
#include "flowaudit/http2.h"

#include "flowaudit/cursor.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { T_DATA = 0, T_HEADERS, T_PRIORITY, T_RST_STREAM, T_SETTINGS, T_PUSH_PROMISE, T_PING,
       T_GOAWAY, T_WINDOW_UPDATE, T_CONTINUATION };

enum { F_END_STREAM = 0x1, F_ACK = 0x1, F_END_HEADERS = 0x4, F_PADDED = 0x8, F_PRIORITY = 0x20 };

enum { S_PREFACE = 0, S_HEADER, S_PAYLOAD, S_DATA_PAD, S_DATA, S_DATA_SKIP };

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define FRAME_DEFAULT 16384     /* SETTINGS_MAX_FRAME_SIZE before any SETTINGS */
#define PENDING_MAX 8           /* SETTINGS awaiting their ACK, per sender */
#define NO_VALUE UINT32_MAX

struct stream {
	uint32_t id;
	uint64_t seq;             /* order of opening, for eviction */
	bool blocks[2];           /* a header block was seen in that direction */
	bool ended[2];            /* END_STREAM seen in that direction */
	struct http_body body[2];
	uint32_t user[2];         /* the caller's word for each body */
};

/* The header block being decoded in one direction. */
struct block {
	uint32_t sid;             /* the stream the fields belong to (the promised one) */
	uint32_t frame_sid;       /* the stream its frames are sent on */
	bool open, end_stream, promise, trailer, informational;
	int coding;
	size_t list_bytes;
	bool cut, has_method;
	struct http2_request req;
};

struct dir {
	struct nghttp2_hd_inflater *hd;
	int state;
	uint8_t fh[9];
	size_t fh_len, pref_len;
	uint32_t len, sid;
	uint8_t type, flags;
	uint8_t *buf;
	size_t buf_len, buf_cap;
	uint32_t data_left, pad_left; /* of the DATA frame being read */
	uint32_t max_frame;       /* frames in this direction: the receiver's limit */
	uint32_t pending[PENDING_MAX]; /* this sender's HEADER_TABLE_SIZE per unacknowledged SETTINGS */
	size_t n_pending;
	uint32_t early_acks;      /* ACKs this sender sent before the peer's SETTINGS was fed */
	bool seen_frame;
	struct block blk;
};

struct http2_state {
	struct dir d[2];
	struct stream *streams;
	size_t n_streams, cap_streams;
	uint64_t next_seq;
};

void http2_conn_init(struct http2_conn *c) { memset(c, 0, sizeof(*c)); }

const struct http_info *http2_conn_info(const struct http2_conn *c)
{
	return c->have_info ? &c->info : NULL;
}

size_t http2_conn_buffered(const struct http2_conn *c)
{
	return c->st != NULL ? c->st->d[0].buf_cap + c->st->d[1].buf_cap : 0;
}

const char *http2_off_str(enum http2_off r)
{
	switch (r) {
	case HTTP2_ON: return "";
	case HTTP2_OFF_NOT_HTTP2: return "not_http2";
	case HTTP2_OFF_FRAME_SIZE: return "frame_size";
	case HTTP2_OFF_PROTOCOL: return "protocol";
	case HTTP2_OFF_COMPRESSION: return "compression";
	case HTTP2_OFF_NOMEM: return "nomem";
	}
	return "";
}

static void state_free(struct http2_state *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		if (st->d[i].hd != NULL)
			nghttp2_hd_inflate_del(st->d[i].hd);
		free(st->d[i].buf);
	}
	for (size_t i = 0; i < st->n_streams; i++) {
		http_body_end(&st->streams[i].body[0]);
		http_body_end(&st->streams[i].body[1]);
	}
	free(st->streams);
	free(st);
}

void http2_conn_free(struct http2_conn *c)
{
	if (c == NULL)
		return;
	state_free(c->st);
	c->st = NULL;
}

static void go_off(struct http2_conn *c, enum http2_off why)
{
	c->inactive = true;
	c->off_reason = why;
	state_free(c->st);
	c->st = NULL;
}

static struct http2_state *state_new(void)
{
	struct http2_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	for (int i = 0; i < 2; i++) {
		st->d[i].max_frame = FRAME_DEFAULT;
		st->d[i].state = i == HTTP2_C2S ? S_PREFACE : S_HEADER;
		if (nghttp2_hd_inflate_new(&st->d[i].hd) != 0) {
			state_free(st);
			return NULL;
		}
	}
	return st;
}

/* ---- streams ---- */

static struct stream *stream_find(struct http2_state *st, uint32_t id)
{
	for (size_t i = 0; i < st->n_streams; i++)
		if (st->streams[i].id == id)
			return &st->streams[i];
	return NULL;
}

static void stream_close(struct http2_state *st, struct stream *s)
{
	http_body_end(&s->body[0]);
	http_body_end(&s->body[1]);
	*s = st->streams[--st->n_streams];
}

static struct stream *stream_open(struct http2_conn *c, uint32_t id)
{
	struct http2_state *st = c->st;
	if (st->n_streams == HTTP2_STREAMS_MAX) {
		struct stream *old = &st->streams[0];
		for (size_t i = 1; i < st->n_streams; i++)
			if (st->streams[i].seq < old->seq)
				old = &st->streams[i];
		stream_close(st, old);
		c->streams_evicted++;
	}
	if (st->n_streams == st->cap_streams) {
		size_t cap = st->cap_streams ? st->cap_streams * 2 : 8;
		struct stream *ns = realloc(st->streams, cap * sizeof(*ns));
		if (ns == NULL)
			return NULL;
		st->streams = ns;
		st->cap_streams = cap;
	}
	struct stream *s = &st->streams[st->n_streams++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->seq = st->next_seq++;
	return s;
}

/* END_STREAM in direction dir; a stream ended both ways is forgotten. */
static void stream_end(struct http2_state *st, struct stream *s, int dir)
{
	s->ended[dir] = true;
	http_body_end(&s->body[dir]);
	if (s->ended[!dir])
		stream_close(st, s);
}

/* ---- bodies ---- */

struct data_ctx {
	struct stream *s;
	int dir;
	const struct http2_callbacks *cb;
};

static void on_body(const uint8_t *d, size_t n, void *user)
{
	struct data_ctx *x = user;
	struct http2_data p = {
		.stream_id = x->s->id, .dir = x->dir, .d = d, .n = n,
		.offset = x->s->body[x->dir].out - n, .state = &x->s->user[x->dir],
	};
	x->cb->data(&p, x->cb->user);
}

static void data_bytes(struct http2_conn *c, struct dir *dd, int dir, const uint8_t *d, size_t n,
		       const struct http2_callbacks *cb)
{
	struct stream *s = stream_find(c->st, dd->sid);
	if (s == NULL || s->ended[dir]) {
		c->data_skipped += n;
		return;
	}
	struct data_ctx x = {s, dir, cb};
	bool want = cb != NULL && cb->data != NULL;
	int rc = http_body_feed(&s->body[dir], d, n, want ? on_body : NULL, &x);
	if (rc == HTTP_BODY_CUT)
		c->bombs++;
	else if (rc == HTTP_BODY_ERROR)
		c->inflate_errors++;
}

/* ---- header blocks ---- */

static bool name_is(const nghttp2_nv *nv, const char *want)
{
	return http_name_is(nv->name, nv->namelen, want);
}

static void block_field(struct http2_conn *c, struct block *b, int dir, const nghttp2_nv *nv,
			const struct http2_callbacks *cb)
{
	if (!b->trailer && name_is(nv, "content-encoding"))
		b->coding = http_body_coding(nv->value, nv->valuelen);
	if (name_is(nv, ":status") && nv->valuelen > 0 && nv->value[0] == '1')
		b->informational = true; /* 1xx: the final response's block follows */
	if (dir == HTTP2_C2S && !b->trailer && !b->promise &&
	    http_request_field(&b->req.info, b->req.scheme, sizeof(b->req.scheme), nv->name,
			       nv->namelen, nv->value, nv->valuelen))
		b->has_method = true;
	if (b->cut)
		return;
	b->list_bytes += nv->namelen + nv->valuelen;
	if (b->list_bytes > HTTP2_HEADER_LIST_MAX) {
		b->cut = true;
		c->lists_cut++;
		return;
	}
	if (cb == NULL || cb->field == NULL)
		return;
	struct http2_field f = {
		.stream_id = b->sid, .dir = dir, .trailer = b->trailer,
		.name = nv->name, .name_len = nv->namelen, .value = nv->value, .value_len = nv->valuelen,
	};
	cb->field(&f, cb->user);
}

static void block_start(struct http2_conn *c, struct block *b, int dir, uint32_t sid,
			bool end_stream, bool promise)
{
	memset(b, 0, sizeof(*b));
	b->open = true;
	b->sid = sid;
	b->end_stream = end_stream;
	b->promise = promise;
	b->req.stream_id = sid;
	struct stream *s = stream_find(c->st, sid);
	b->trailer = s != NULL && s->blocks[dir];
}

static void block_end(struct http2_conn *c, struct block *b, int dir, const struct http2_callbacks *cb)
{
	struct http2_state *st = c->st;
	b->open = false;
	struct stream *s = stream_find(st, b->sid);
	if (s == NULL) {
		s = stream_open(c, b->sid);
		if (s == NULL) {
			go_off(c, HTTP2_OFF_NOMEM);
			return;
		}
	}
	if (b->promise) {
		/* the promised request came from the server, and so will its response */
		s->ended[HTTP2_C2S] = true;
		return;
	}
	if (!s->blocks[dir] && !b->informational) {
		s->blocks[dir] = true;
		http_body_start(&s->body[dir], b->coding);
		if (dir == HTTP2_S2C)
			c->responses++;
	}
	if (dir == HTTP2_C2S && b->has_method && !b->trailer) {
		c->requests++;
		if (!c->have_info) {
			c->info = b->req.info;
			c->have_info = true;
		}
		if (cb != NULL && cb->request != NULL)
			cb->request(&b->req, cb->user);
	}
	if (b->end_stream)
		stream_end(st, s, dir);
}

/* Decodes one fragment of the open header block; false when the connection went off. */
static bool block_bytes(struct http2_conn *c, int dir, const uint8_t *in, size_t n, bool final,
			const struct http2_callbacks *cb)
{
	static const uint8_t empty[1];
	struct dir *dd = &c->st->d[dir];
	if (in == NULL)
		in = empty; /* an empty fragment: no arithmetic on NULL */
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(dd->hd, &nv, &flags, in, n, final);
		if (rv < 0 || (size_t)rv > n) {
			go_off(c, rv == NGHTTP2_ERR_NOMEM ? HTTP2_OFF_NOMEM : HTTP2_OFF_COMPRESSION);
			return false;
		}
		in += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			block_field(c, &dd->blk, dir, &nv, cb);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(dd->hd);
			block_end(c, &dd->blk, dir, cb);
			return !c->inactive;
		}
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && n == 0)
			return true;
	}
}

/* ---- frames ---- */

/*
 * The header blocks of direction dir may now use a dynamic table of v bytes.
 * A change that arrives while a block of dir is open (possible only when the
 * two directions were fed out of step) is dropped: the limit only checks
 * the encoder, whose own size updates the table follows.
 */
static void apply_table_size(struct http2_conn *c, int dir, uint32_t v)
{
	if (v != NO_VALUE && nghttp2_hd_inflate_change_table_size(c->st->d[dir].hd, v) == NGHTTP2_ERR_NOMEM)
		go_off(c, HTTP2_OFF_NOMEM);
}

static void settings_frame(struct http2_conn *c, int dir, struct cursor *p, uint8_t flags)
{
	struct http2_state *st = c->st;
	struct dir *dd = &st->d[dir], *peer = &st->d[!dir];
	if (flags & F_ACK) {
		/* dir acknowledges the peer's oldest SETTINGS: from here on, dir's
		   header blocks may use the table size the peer's decoder allows */
		if (cur_left(p) != 0) {
			go_off(c, HTTP2_OFF_FRAME_SIZE);
			return;
		}
		if (peer->n_pending == 0) {
			dd->early_acks++;
			return;
		}
		uint32_t v = peer->pending[0];
		memmove(peer->pending, peer->pending + 1, (peer->n_pending - 1) * sizeof(uint32_t));
		peer->n_pending--;
		apply_table_size(c, dir, v);
		return;
	}
	if (cur_left(p) % 6 != 0) {
		go_off(c, HTTP2_OFF_FRAME_SIZE);
		return;
	}
	uint32_t table = NO_VALUE;
	while (cur_left(p) > 0) {
		uint16_t id = cur_be16(p);
		uint32_t v = cur_be32(p);
		if (id == 1) { /* SETTINGS_HEADER_TABLE_SIZE */
			table = v < HTTP2_TABLE_MAX ? v : HTTP2_TABLE_MAX;
		} else if (id == 5) { /* SETTINGS_MAX_FRAME_SIZE */
			if (v < FRAME_DEFAULT || v > 0xffffff) {
				go_off(c, HTTP2_OFF_PROTOCOL);
				return;
			}
			/* the larger of the old and new limits holds until the ACK */
			if (v > peer->max_frame)
				peer->max_frame = v;
		}
	}
	if (peer->early_acks > 0) {
		/* the two directions were fed out of step: the ACK came first */
		peer->early_acks--;
		apply_table_size(c, !dir, table);
		return;
	}
	if (dd->n_pending == PENDING_MAX) {
		apply_table_size(c, !dir, dd->pending[0]);
		if (c->inactive)
			return;
		memmove(dd->pending, dd->pending + 1, (PENDING_MAX - 1) * sizeof(uint32_t));
		dd->n_pending--;
	}
	dd->pending[dd->n_pending++] = table;
}

/* A complete non-DATA frame in dd->buf. */
static void frame(struct http2_conn *c, int dir, const struct http2_callbacks *cb)
{
	struct dir *dd = &c->st->d[dir];
	struct cursor p = cur_make(dd->buf, dd->len);
	uint32_t sid = dd->sid;
	switch (dd->type) {
	case T_HEADERS:
	case T_PUSH_PROMISE: {
		bool promise = dd->type == T_PUSH_PROMISE;
		size_t pad = (dd->flags & F_PADDED) ? cur_u8(&p) : 0;
		uint32_t fields_sid = sid;
		if (promise)
			fields_sid = cur_be32(&p) & 0x7fffffff;
		else if (dd->flags & F_PRIORITY)
			cur_skip(&p, 5);
		if (!cur_ok(&p) || pad > cur_left(&p) || sid == 0 || fields_sid == 0 ||
		    (promise && dir != HTTP2_S2C)) {
			go_off(c, HTTP2_OFF_PROTOCOL);
			return;
		}
		block_start(c, &dd->blk, dir, fields_sid, !promise && (dd->flags & F_END_STREAM), promise);
		dd->blk.frame_sid = sid;
		size_t n = cur_left(&p) - pad;
		const uint8_t *frag = n > 0 ? cur_take(&p, n) : NULL; /* buf is NULL until a frame needs it */
		block_bytes(c, dir, frag, n, dd->flags & F_END_HEADERS, cb);
		return;
	}
	case T_CONTINUATION:
		if (!dd->blk.open || sid != dd->blk.frame_sid) {
			go_off(c, HTTP2_OFF_PROTOCOL);
			return;
		}
		block_bytes(c, dir, dd->buf, dd->len, dd->flags & F_END_HEADERS, cb);
		return;
	case T_SETTINGS:
		if (sid != 0) {
			go_off(c, HTTP2_OFF_PROTOCOL);
			return;
		}
		settings_frame(c, dir, &p, dd->flags);
		return;
	case T_RST_STREAM:
	case T_WINDOW_UPDATE:
	case T_PING:
	case T_PRIORITY:
	case T_GOAWAY: {
		static const uint32_t want[] = {[T_RST_STREAM] = 4, [T_WINDOW_UPDATE] = 4,
						[T_PING] = 8, [T_PRIORITY] = 5, [T_GOAWAY] = 8};
		bool zero_only = dd->type == T_PING || dd->type == T_GOAWAY;
		bool size_ok = dd->type == T_GOAWAY ? dd->len >= 8 : dd->len == want[dd->type];
		if (!size_ok) {
			go_off(c, HTTP2_OFF_FRAME_SIZE);
		} else if ((sid == 0) != zero_only && dd->type != T_WINDOW_UPDATE) {
			go_off(c, HTTP2_OFF_PROTOCOL);
		} else if (dd->type == T_RST_STREAM) {
			struct stream *s = stream_find(c->st, sid);
			if (s != NULL)
				stream_close(c->st, s);
		} else if (dd->type == T_GOAWAY) {
			c->goaways++;
		}
		return;
	}
	default:
		return; /* extension frames are ignored (RFC 9113, 5.5) */
	}
}

/* Reads a frame header; false when the connection went off. */
static bool frame_header(struct http2_conn *c, int dir)
{
	struct dir *dd = &c->st->d[dir];
	struct cursor h = cur_make(dd->fh, sizeof(dd->fh));
	uint32_t l8 = cur_u8(&h);
	dd->len = l8 << 16 | cur_be16(&h);
	dd->type = cur_u8(&h);
	dd->flags = cur_u8(&h);
	dd->sid = cur_be32(&h) & 0x7fffffff;
	dd->fh_len = 0;
	if (!dd->seen_frame && dir == HTTP2_S2C && (dd->type != T_SETTINGS || (dd->flags & F_ACK))) {
		go_off(c, HTTP2_OFF_NOT_HTTP2); /* the server's preface is a SETTINGS frame */
		return false;
	}
	dd->seen_frame = true;
	if (dd->len > dd->max_frame || dd->len > HTTP2_FRAME_MAX) {
		go_off(c, HTTP2_OFF_FRAME_SIZE);
		return false;
	}
	if (dd->blk.open && dd->type != T_CONTINUATION) {
		go_off(c, HTTP2_OFF_PROTOCOL); /* a header block is interrupted */
		return false;
	}
	if (dd->type == T_DATA) {
		if (dd->sid == 0) {
			go_off(c, HTTP2_OFF_PROTOCOL);
			return false;
		}
		dd->data_left = dd->len;
		dd->pad_left = 0;
		dd->state = (dd->flags & F_PADDED) ? S_DATA_PAD : S_DATA;
		return true;
	}
	if (dd->len > dd->buf_cap) {
		size_t cap = dd->buf_cap ? dd->buf_cap : 1024;
		while (cap < dd->len)
			cap *= 2;
		uint8_t *b = realloc(dd->buf, cap);
		if (b == NULL) {
			go_off(c, HTTP2_OFF_NOMEM);
			return false;
		}
		dd->buf = b;
		dd->buf_cap = cap;
	}
	dd->buf_len = 0;
	dd->state = S_PAYLOAD;
	return true;
}

/* The current frame is complete: hand it on and expect the next header. */
static void frame_done(struct http2_conn *c, int dir, const struct http2_callbacks *cb)
{
	struct dir *dd = &c->st->d[dir];
	c->frames[dir]++;
	dd->state = S_HEADER;
	if (dd->type != T_DATA) {
		frame(c, dir, cb);
		if (!c->inactive && dd->buf_cap > FRAME_DEFAULT) {
			/* a frame over the default size was read: give its buffer back, so
			   each connection idles with at most 16 KiB per direction */
			free(dd->buf);
			dd->buf = NULL;
			dd->buf_cap = 0;
		}
		return;
	}
	if (dd->flags & F_END_STREAM) {
		struct stream *s = stream_find(c->st, dd->sid);
		if (s != NULL)
			stream_end(c->st, s, dir);
	}
}

/* Consumes bytes of the current state; returns how many. */
static size_t step(struct http2_conn *c, int dir, const uint8_t *d, size_t n,
		   const struct http2_callbacks *cb)
{
	struct dir *dd = &c->st->d[dir];
	size_t take;
	switch (dd->state) {
	case S_PREFACE:
		take = PREFACE_LEN - dd->pref_len < n ? PREFACE_LEN - dd->pref_len : n;
		if (memcmp(d, &PREFACE[dd->pref_len], take) != 0) {
			go_off(c, HTTP2_OFF_NOT_HTTP2);
			return n;
		}
		dd->pref_len += take;
		if (dd->pref_len == PREFACE_LEN) {
			c->active = true;
			dd->state = S_HEADER;
		}
		return take;
	case S_HEADER:
		take = sizeof(dd->fh) - dd->fh_len < n ? sizeof(dd->fh) - dd->fh_len : n;
		memcpy(dd->fh + dd->fh_len, d, take);
		dd->fh_len += take;
		if (dd->fh_len == sizeof(dd->fh) && frame_header(c, dir) && dd->len == 0)
			frame_done(c, dir, cb);
		return take;
	case S_PAYLOAD:
		take = dd->len - dd->buf_len < n ? dd->len - dd->buf_len : n;
		memcpy(dd->buf + dd->buf_len, d, take);
		dd->buf_len += take;
		if (dd->buf_len == dd->len)
			frame_done(c, dir, cb);
		return take;
	case S_DATA_PAD:
		dd->pad_left = d[0];
		dd->data_left--;
		if (dd->pad_left > dd->data_left) {
			go_off(c, HTTP2_OFF_PROTOCOL);
			return n;
		}
		dd->data_left -= dd->pad_left;
		dd->state = S_DATA;
		take = 1;
		break;
	case S_DATA:
		take = dd->data_left < n ? dd->data_left : n;
		data_bytes(c, dd, dir, d, take, cb);
		dd->data_left -= (uint32_t)take;
		break;
	case S_DATA_SKIP:
		take = dd->pad_left < n ? dd->pad_left : n;
		dd->pad_left -= (uint32_t)take;
		break;
	default:
		go_off(c, HTTP2_OFF_PROTOCOL);
		return n;
	}
	if (!c->inactive && dd->state == S_DATA && dd->data_left == 0)
		dd->state = S_DATA_SKIP;
	if (!c->inactive && dd->state == S_DATA_SKIP && dd->pad_left == 0)
		frame_done(c, dir, cb);
	return take;
}

void http2_conn_feed(struct http2_conn *c, int dir, const uint8_t *d, size_t n,
		     const struct http2_callbacks *cb)
{
	if (c->inactive || n == 0 || (dir != HTTP2_C2S && dir != HTTP2_S2C))
		return;
	if (c->st == NULL) {
		if (!http2_first_byte_ok(dir, d[0])) {
			go_off(c, HTTP2_OFF_NOT_HTTP2);
			return;
		}
		c->st = state_new();
		if (c->st == NULL) {
			go_off(c, HTTP2_OFF_NOMEM);
			return;
		}
	}
	size_t i = 0;
	while (i < n && !c->inactive)
		i += step(c, dir, d + i, n - i, cb);
}
