/*
 * engine_app.c - the engine's application layer: what is read inside a
 * flow's stream.
 *
 * Receives the in-order bytes of a flow's TCP streams and its UDP payloads
 * from engine.c, with the flow's analysis (engine_int.h); hands on
 * identifier hits into that analysis, and the flow's HTTP host, request
 * line and user agent. Bytes go through the identifier scanner, with the
 * part of an HTTP request a match is in (query key, header name, body
 * offset); through the HTTP/2 decoder, over TLS or in the clear; and, for
 * a flow whose client opened with a TLS record and whose keys are in the
 * key log, through TLS decryption first, so that the plaintext takes the
 * same path.
 */
#include "engine_int.h"

#include "flowaudit/http.h"
#include "flowaudit/http2.h"
#include "flowaudit/http3.h"
#include "flowaudit/quic_decrypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLOW_HITS_MAX 64  /* distinct (type, encoding, direction) per flow */
#define TLS_SPECULATIVE_PENDING ((size_t)32 * 1024) /* ciphertext kept per direction while the key store is empty */

/* ---- identifier hits ---- */

static void add_hit(struct analysis *an, const struct id_hit *h)
{
	for (uint8_t i = 0; i < an->n_hits; i++) {
		struct id_hit *o = &an->hits[i];
		if (o->id_index == h->id_index && o->dir == h->dir && strcmp(o->encoding, h->encoding) == 0)
			return;
	}
	if (an->n_hits >= FLOW_HITS_MAX)
		return;
	if (an->hits == NULL) {
		an->hits = calloc(FLOW_HITS_MAX, sizeof(*an->hits));
		if (an->hits == NULL)
			return;
	}
	an->hits[an->n_hits++] = *h;
}

struct scan_ctx {
	const struct app *a;
	int dir;
	const char *where;
	const uint8_t *field;      /* header name, as sent; interned at a hit */
	size_t field_len;
	const struct h1_track *h1; /* set: a decrypted request stream, placed by h1_where() */
	const uint8_t *target;     /* set: the value scanned is a request target (:path) */
};

/* A header line ended: its name, and what it says of the body. */
static void h1_header_line(struct h1_track *t)
{
	const char *c = t->cur;
	size_t n = t->cur_len;
	const char *colon = memchr(c, ':', n);
	if (colon == NULL)
		return;
	size_t nl = (size_t)(colon - c);
	if (t->n_lines < H1_LINES) {
		t->line_start[t->n_lines] = t->cur_start;
		http_copy_text(t->name[t->n_lines], sizeof(t->name[0]), (const uint8_t *)c, nl);
		t->n_lines++;
	}
	const char *v = colon + 1;
	size_t vn = n - nl - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	if (nl == 14 && strncasecmp(c, "content-length", 14) == 0) {
		t->clen = 0;
		for (size_t i = 0; i < vn && v[i] >= '0' && v[i] <= '9' && t->clen < (1ULL << 40); i++)
			t->clen = t->clen * 10 + (uint64_t)(v[i] - '0');
	} else if (nl == 17 && strncasecmp(c, "transfer-encoding", 17) == 0 && vn >= 7 &&
		   memmem(v, vn, "chunked", 7) != NULL) {
		t->chunked = true;
	}
}

/* The next n in-order bytes of a decrypted request stream, at stream offset off. */
static void h1_track_feed(struct h1_track *t, const uint8_t *d, size_t n, uint64_t off)
{
	size_t i = 0;
	while (i < n && t->state != H1_OFF) {
		if (t->state == H1_BODY) {
			if (t->chunked)
				return; /* the body runs to the end of what is read */
			uint64_t take = n - i < t->body_left ? n - i : t->body_left;
			t->body_left -= take;
			i += (size_t)take;
			if (t->body_left == 0)
				t->state = H1_START;
			continue;
		}
		uint8_t c = d[i];
		uint64_t at = off + i++;
		if (t->state == H1_START) {
			if (c == '\r' || c == '\n')
				continue;
			if (c < 'A' || c > 'Z') {
				t->state = H1_OFF;
				return;
			}
			t->state = H1_REQ;
			t->begun = true;
			t->head_done = t->chunked = false;
			t->msg_start = t->cur_start = at;
			t->reqline_len = t->cur_len = 0;
			t->n_lines = 0;
			t->clen = 0;
		}
		if (c != '\n') {
			if (t->state == H1_REQ && t->reqline_len < sizeof(t->reqline))
				t->reqline[t->reqline_len++] = (char)c;
			if (t->cur_len < sizeof(t->cur))
				t->cur[t->cur_len++] = (char)c;
			continue;
		}
		bool blank = t->cur_len == 0 || (t->cur_len == 1 && t->cur[0] == '\r');
		if (t->state == H1_REQ) {
			t->state = H1_HDR;
		} else if (blank) {
			t->head_done = true;
			t->body_start = at + 1;
			t->body_left = t->clen;
			t->state = t->chunked || t->clen > 0 ? H1_BODY : H1_START;
		} else {
			h1_header_line(t);
		}
		t->cur_len = 0;
		t->cur_start = at + 1;
	}
}

/*
 * A match at offset at of a request target (or request line): when it is
 * in the query, the key of its parameter into field, and true.
 */
static bool query_key(const uint8_t *s, size_t at, char *field, size_t cap)
{
	const uint8_t *q = memchr(s, '?', at);
	if (q == NULL)
		return false;
	size_t k = at;
	while (k > (size_t)(q - s) + 1 && s[k - 1] != '&')
		k--;
	size_t e = k;
	while (e < at && s[e] != '=')
		e++;
	http_copy_text(field, cap, s + k, e - k);
	return true;
}

/*
 * The part of the current request a match at stream offset o is in:
 * "http_body" (*off becomes its offset in the body), "http_query" with
 * the key before it, "http_header" with the header name, or NULL.
 */
static const char *h1_where(const struct h1_track *t, uint64_t o, char *field, size_t cap,
			    uint64_t *off)
{
	/* after a message without body (H1_START) its parts stay known until the next */
	if (t->state == H1_OFF || !t->begun || o < t->msg_start)
		return NULL;
	if (t->head_done && o >= t->body_start) {
		*off = o - t->body_start;
		return "http_body";
	}
	uint64_t in_line = o - t->msg_start;
	if (in_line < t->reqline_len)
		return query_key((const uint8_t *)t->reqline, (size_t)in_line, field, cap)
			       ? "http_query"
			       : NULL;
	for (unsigned i = t->n_lines; i-- > 0;) {
		if (t->line_start[i] <= o) {
			snprintf(field, cap, "%s", t->name[i]);
			return "http_header";
		}
	}
	return NULL;
}

static const char *intern_text(struct engine *e, const uint8_t *s, size_t n)
{
	char buf[128];
	http_copy_text(buf, sizeof(buf), s, n);
	return intern(e, buf);
}

static void on_match(const struct idscan_match *m, void *user)
{
	struct scan_ctx *sc = user;
	const struct app *a = sc->a;
	struct id_hit h = {
		.flow_id = a->f->id,
		.type = m->type,
		.encoding = m->encoding,
		.where = sc->where,
		.field = sc->field_len ? intern_text(a->e, sc->field, sc->field_len) : NULL,
		.decrypted = a->decrypted,
		.id_index = m->id_index,
		.file = a->file,
		.frame = a->frame,
		.offset = m->offset,
		.dir = sc->dir,
	};
	char field[128];
	const char *w = sc->h1 ? h1_where(sc->h1, m->offset, field, sizeof(field), &h.offset) : NULL;
	if (sc->target != NULL && query_key(sc->target, (size_t)m->offset, field, sizeof(field)))
		w = "http_query";
	if (w != NULL) {
		h.where = w;
		h.field = strcmp(w, "http_body") != 0 ? intern(a->e, field) : NULL;
	}
	add_hit(a->an, &h);
}

static void app_scan(const struct scan_ctx *sc, const uint8_t *d, size_t n, uint64_t off,
		     uint32_t *state)
{
	const struct idscan *ids = sc->a->e->cfg.ids;
	if (ids == NULL || n == 0)
		return;
	*state = idscan_feed(ids, *state, d, n, off, on_match, (void *)sc);
}

struct app stream_app(const struct stream *s)
{
	return (struct app){s->e, s->an, s->f, s->cur_file, s->cur_frame, false};
}

void scan_bytes(struct stream *s, const uint8_t *d, size_t n, uint64_t off, const char *where,
		       uint32_t *state)
{
	struct app a = stream_app(s);
	struct scan_ctx sc = {&a, s->dir, where, NULL, 0, NULL, NULL};
	app_scan(&sc, d, n, off, state);
}

/* One piece of the decoded body of message h->messages: one scan per
   message body, so a match may straddle inflate blocks or chunks. */
static void body_piece(const struct app *a, int dir, const struct http_stream *h,
		       struct body_scan *b, const uint8_t *d, size_t n)
{
	if (b->off == 0 || h->messages != b->msg) {
		b->state = idscan_start(a->e->cfg.ids);
		b->msg = h->messages;
		b->off = 0;
	}
	struct scan_ctx sc = {a, dir, "http_body", NULL, 0, NULL, NULL};
	app_scan(&sc, d, n, b->off, &b->state);
	b->off += n;
}

void on_http_body(const uint8_t *d, size_t n, void *user)
{
	struct stream *s = user;
	struct app a = stream_app(s);
	body_piece(&a, s->dir, &s->http, &s->body, d, n);
}

/* ---- the flow's host and request, from HTTP ---- */

/* Host header value -> the flow's name: port and trailing dot dropped, lower case. */
void set_http_host(const struct app *a, const char *value)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", value);
	char *colon = strrchr(host, ':');
	if (colon && host[0] != '[')
		*colon = '\0';
	fa_host_normalize(host);
	a->an->http_host = intern(a->e, host);
	a->an->http_host_file = a->file;
	a->an->http_host_frame = a->frame;
}

/*
 * A request read by flowaudit's own decoders (decrypted HTTP/1.x, HTTP/2):
 * its Host or :authority names the flow as a cleartext Host does, and the
 * first request gives the flow's user agent and request line.
 */
static void app_request(const struct app *a, const struct http_info *hi)
{
	struct analysis *an = a->an;
	if (hi->host[0] && an->http_host == NULL)
		set_http_host(a, hi->host);
	if (an->req_url == NULL && hi->target[0]) {
		char url[sizeof(hi->host) + sizeof(hi->target)];
		bool path = hi->target[0] == '/';
		snprintf(url, sizeof(url), "%s%s", path ? hi->host : "", hi->target);
		an->req_url = intern(a->e, url);
		if (hi->user_agent[0])
			an->req_ua = intern(a->e, hi->user_agent);
	}
}

/* ---- HTTP/2, over TLS or in the clear ---- */

static void h2_on_field(const struct http2_field *f, void *user)
{
	const struct app *a = user;
	if (a->e->cfg.ids == NULL)
		return;
	struct scan_ctx sc = {a, f->dir, "http_header", f->name, f->name_len, NULL, NULL};
	if (f->name_len == 5 && memcmp(f->name, ":path", 5) == 0)
		sc.target = f->value;
	uint32_t st = idscan_start(a->e->cfg.ids);
	app_scan(&sc, f->value, f->value_len, 0, &st);
}

static void h2_on_request(const struct http2_request *r, void *user)
{
	app_request(user, &r->info);
}

static void h2_on_data(const struct http2_data *d, void *user)
{
	const struct app *a = user;
	if (a->e->cfg.ids == NULL)
		return;
	if (d->offset == 0)
		*d->state = idscan_start(a->e->cfg.ids);
	struct scan_ctx sc = {a, d->dir, "http_body", NULL, 0, NULL, NULL};
	app_scan(&sc, d->d, d->n, d->offset, d->state);
}

void h2_drop(struct analysis *an)
{
	if (an->h2 != NULL) {
		http2_conn_free(an->h2);
		free(an->h2);
		an->h2 = NULL;
	}
}

/*
 * In-order bytes of direction dir to the flow's HTTP/2 decoder, made at the
 * first byte of either direction that can start HTTP/2 (the server's
 * SETTINGS often comes before the client's preface). True while the
 * connection is read as HTTP/2 (the client's preface was seen).
 */
bool h2_feed(const struct app *a, int dir, const uint8_t *d, size_t n)
{
	struct analysis *an = a->an;
	if (an->h2_off || n == 0)
		return false;
	if (an->h2 == NULL) {
		if (!http2_first_byte_ok(dir, d[0]) || (an->h2 = malloc(sizeof(*an->h2))) == NULL) {
			an->h2_off = true;
			return false;
		}
		http2_conn_init(an->h2);
	}
	struct http2_callbacks cbs = {h2_on_field, h2_on_request, h2_on_data, (void *)a};
	http2_conn_feed(an->h2, dir, d, n, &cbs);
	if (an->h2->inactive && !an->h2->active) {
		h2_drop(an);
		an->h2_off = true;
		return false;
	}
	return an->h2->active;
}

/* ---- QUIC decryption and HTTP/3 ---- */

static void quic_on_stream(void *user, int dir, uint64_t sid, const uint8_t *d, size_t n, bool fin)
{
	struct quic_flow *q = user;
	struct http2_callbacks cbs = {h2_on_field, h2_on_request, h2_on_data, (void *)&q->a};
	http3_stream(q->h3, dir == QDEC_FROM_CLIENT ? HTTP2_C2S : HTTP2_S2C, sid, d, n, fin, &cbs);
}

static void quic_on_gap(void *user, int dir, uint64_t sid)
{
	struct quic_flow *q = user;
	http3_stream_gap(q->h3, dir == QDEC_FROM_CLIENT ? HTTP2_C2S : HTTP2_S2C, sid);
}

/* ---- connection IDs across paths ---- */

static struct quic_flow cid_tombstone;

static size_t cid_hash(const uint8_t *b, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static struct quic_cid_slot *cid_find(struct engine *e, const uint8_t *b, size_t n)
{
	if (e->cids == NULL)
		return NULL;
	size_t mask = e->cids_cap - 1;
	for (size_t i = cid_hash(b, n) & mask;; i = (i + 1) & mask) {
		struct quic_cid_slot *s = &e->cids[i];
		if (s->q == NULL)
			return NULL;
		if (s->q != &cid_tombstone && s->len == n && memcmp(s->b, b, n) == 0)
			return s;
	}
}

static void cid_put(struct engine *e, struct quic_flow *q, const uint8_t *b, size_t n)
{
	size_t mask = e->cids_cap - 1;
	size_t i = cid_hash(b, n) & mask;
	while (e->cids[i].q != NULL && e->cids[i].q != &cid_tombstone)
		i = (i + 1) & mask;
	if (e->cids[i].q == NULL)
		e->cids_used++;
	e->cids[i].q = q;
	e->cids[i].len = (uint8_t)n;
	memcpy(e->cids[i].b, b, n);
	e->cids_live++;
}

/* Rebuilds the table at cap slots, without its tombstones. */
static bool cid_table(struct engine *e, size_t cap)
{
	struct quic_cid_slot *old = e->cids;
	size_t old_cap = e->cids_cap;
	e->cids = calloc(cap, sizeof(*e->cids));
	if (e->cids == NULL) {
		e->cids = old;
		return false;
	}
	e->cids_cap = cap;
	e->cids_used = e->cids_live = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].q != NULL && old[i].q != &cid_tombstone)
			cid_put(e, old[i].q, old[i].b, old[i].len);
	free(old);
	return true;
}

/* A connection ID the server of q issued: a new path's flow may carry it. */
static void cid_add(struct engine *e, struct quic_flow *q, const uint8_t *b, size_t n)
{
	if (n == 0 || n > sizeof(q->cids[0].b) || q->n_cids >= QUIC_FLOW_CIDS ||
	    e->cids_live >= QUIC_CIDS_MAX || cid_find(e, b, n) != NULL)
		return;
	if ((e->cids_used + 1) * 2 > e->cids_cap &&
	    !cid_table(e, e->cids_live * 4 > e->cids_cap ? e->cids_cap * 2 : (e->cids_cap ? e->cids_cap : 256)))
		return;
	cid_put(e, q, b, n);
	q->cids[q->n_cids].len = (uint8_t)n;
	memcpy(q->cids[q->n_cids].b, b, n);
	q->n_cids++;
	e->cid_lens |= 1u << n;
}

void quic_cids_free(struct engine *e)
{
	free(e->cids);
	e->cids = NULL;
	e->cids_cap = e->cids_used = e->cids_live = 0;
}

static void quic_on_cid(void *user, int dir, const uint8_t *cid, size_t len)
{
	struct quic_flow *q = user;
	if (dir == QDEC_FROM_SERVER) /* clients move to new paths: they carry the server's IDs */
		cid_add(q->a.e, q, cid, len);
}

bool quic_flow_path(struct engine *e, struct analysis *an, const uint8_t *p, size_t n)
{
	if (e->cids_live == 0 || n < 2 || (p[0] & 0x80) != 0)
		return false;
	for (size_t len = 1; len <= 20; len++) {
		if (!(e->cid_lens & (1u << len)) || n < 1 + len)
			continue;
		struct quic_cid_slot *s = cid_find(e, p + 1, len);
		if (s != NULL) {
			an->qf = s->q;
			s->q->refs++;
			an->quic_seen = true;
			return true;
		}
	}
	return false;
}

void quic_flow_release(struct engine *e, struct quic_flow *q)
{
	if (q == NULL || --q->refs > 0)
		return;
	for (uint8_t i = 0; i < q->n_cids; i++) {
		struct quic_cid_slot *s = cid_find(e, q->cids[i].b, q->cids[i].len);
		if (s != NULL && s->q == q) {
			s->q = &cid_tombstone;
			e->cids_live--;
		}
	}
	quic_dec_free(q->dec);
	http3_conn_free(q->h3);
	free(q);
}

void quic_flow_datagram(struct engine *e, struct flow *f, struct analysis *an, int dir,
			const uint8_t *p, size_t n, const struct source_frame *fr)
{
	if (an->qf == NULL) {
		if (e->cfg.keys == NULL || dir != FLOW_OUT)
			return;
		struct quic_flow *q = calloc(1, sizeof(*q));
		if (q == NULL)
			return;
		q->refs = 1;
		q->a = (struct app){e, an, f, 0, 0, true};
		struct quic_dec_cbs cbs = {quic_on_stream, quic_on_gap, quic_on_cid, q};
		q->dec = quic_dec_new(e->cfg.keys, &cbs);
		q->h3 = http3_conn_new();
		an->qf = q;
		if (q->dec == NULL || q->h3 == NULL) {
			quic_flow_release(e, q);
			an->qf = NULL;
			return;
		}
	}
	/* hits go to the flow whose datagram carried them */
	an->qf->a.an = an;
	an->qf->a.f = f;
	an->qf->a.file = fr->file;
	an->qf->a.frame = fr->frame;
	quic_dec_datagram(an->qf->dec, dir == FLOW_OUT ? QDEC_FROM_CLIENT : QDEC_FROM_SERVER, p, n);
}

/* ---- TLS decryption ---- */

/* Does a client stream open with a TLS record (handshake, alert, CCS, data)? */
bool tls_record_start(const uint8_t *d, size_t n)
{
	return n >= 3 && d[0] >= 0x14 && d[0] <= 0x17 && d[1] == 0x03 && d[2] <= 0x04;
}

struct tls_body_ctx {
	struct tls_flow *t;
	int dir;
};

static void on_tls_body(const uint8_t *d, size_t n, void *user)
{
	struct tls_body_ctx *c = user;
	body_piece(&c->t->a, c->dir, &c->t->http[c->dir], &c->t->body[c->dir], d, n);
}

/* Decrypted application data of one direction, in stream order. */
static void on_plain(void *user, enum tls_dec_dir tdir, const uint8_t *d, size_t n)
{
	struct tls_flow *t = user;
	const struct app *a = &t->a;
	int dir = tdir == TLS_DEC_FROM_CLIENT ? FLOW_OUT : FLOW_IN;
	uint64_t off = t->plain_off[dir];
	t->plain_off[dir] += n;
	if (h2_feed(a, dir, d, n)) {
		t->http_on[FLOW_OUT] = t->http_on[FLOW_IN] = false;
		return; /* header fields and bodies come through the HTTP/2 callbacks */
	}
	const struct idscan *ids = a->e->cfg.ids;
	if (ids != NULL) {
		struct scan_ctx sc = {a, dir, "payload", NULL, 0, NULL, NULL};
		if (dir == FLOW_OUT && t->http_on[dir]) {
			h1_track_feed(&t->h1, d, n, off);
			sc.h1 = &t->h1;
		}
		app_scan(&sc, d, n, off, &t->scan_state[dir]);
	}
	if (!t->http_on[dir])
		return;
	struct tls_body_ctx bc = {t, dir};
	http_stream_feed(&t->http[dir], d, n, ids ? on_tls_body : NULL, &bc);
	const struct http_info *hi = http_stream_info(&t->http[dir]);
	if (dir == FLOW_OUT && hi != NULL && strcmp(hi->method, "PRI") != 0)
		app_request(a, hi);
	if (t->http[dir].inactive)
		t->http_on[dir] = false;
}

/* The client opened with a TLS record: decrypt the flow when there are keys. */
void tls_begin(struct stream *s)
{
	struct engine *e = s->e;
	struct analysis *an = s->an;
	an->tls_seen = true;
	if (e->cfg.keys == NULL)
		return;
	struct tls_flow *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return;
	t->a = stream_app(s);
	t->a.decrypted = true;
	/* A key store that holds nothing yet (a pcapng replayed without
	   --keylog, whose secrets blocks may still come) keeps only a little
	   ciphertext per connection while it waits, so that a capture with no
	   secrets at all costs little memory; a connection whose keys come
	   later than that says so (key_too_late). */
	struct tls_dec_cfg dc = {0};
	if (keylog_generation(e->cfg.keys) == 0)
		dc.max_pending = TLS_SPECULATIVE_PENDING;
	t->dec = tls_dec_new(e->cfg.keys, &dc, on_plain, t);
	if (t->dec == NULL) {
		free(t);
		return;
	}
	for (int d = 0; d < 2; d++) {
		http_stream_init(&t->http[d]);
		t->http_on[d] = true;
		t->scan_state[d] = e->cfg.ids ? idscan_start(e->cfg.ids) : 0;
		if (an->st[d] != NULL)
			an->st[d]->ra.limit = e->cfg.tls_stream_limit;
	}
	t->next = e->tls_list;
	if (e->tls_list != NULL)
		e->tls_list->prev = t;
	e->tls_list = t;
	an->tls = t;
	s->http_on = false; /* the stream itself is ciphertext */
}

void tls_flow_free(struct engine *e, struct tls_flow *t)
{
	if (t == NULL)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		e->tls_list = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	tls_dec_free(t->dec);
	for (int d = 0; d < 2; d++)
		http_stream_free(&t->http[d]);
	free(t);
}

/* In-order ciphertext of a flow being decrypted, with the stream offset it starts at. */
void tls_cipher_bytes(struct stream *s, const uint8_t *d, size_t n, uint64_t off)
{
	struct tls_flow *t = s->an->tls;
	if (off != s->tls_next && !s->tls_gap) {
		tls_dec_gap(t->dec, (enum tls_dec_dir)s->dir);
		s->tls_gap = true;
	}
	s->tls_next = off + n;
	t->a.file = s->cur_file;
	t->a.frame = s->cur_frame;
	tls_dec_feed(t->dec, (enum tls_dec_dir)s->dir, d, n);
}

/* Brings the key log up to frame fr (NULL: as far as it goes) and lets the
   connections that wait for keys look again when it changed. */
void keys_refresh(struct engine *e, const struct source_frame *fr)
{
	if (e->cfg.keys == NULL)
		return;
	if (e->cfg.keys_update != NULL)
		e->cfg.keys_update(e->cfg.keys_user, fr);
	uint64_t gen = keylog_generation(e->cfg.keys);
	if (gen == e->keys_gen)
		return;
	e->keys_gen = gen;
	for (struct tls_flow *t = e->tls_list; t != NULL; t = t->next) {
		if (!tls_dec_waiting(t->dec))
			continue;
		if (fr != NULL) {
			t->a.file = fr->file;
			t->a.frame = fr->frame;
		}
		tls_dec_retry(t->dec);
	}
}
