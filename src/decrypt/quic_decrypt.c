/*
 * quic_decrypt.c - one QUIC connection's packets, opened with the key
 * log's secrets, to in-order stream bytes (quic_decrypt.h).
 *
 * Receives the UDP payloads of both directions; hands on STREAM bytes in
 * order, per stream and direction, to a callback. Owns per connection: the
 * keys of each packet number space and direction (cipher contexts made
 * when the secret is found), the first bytes of each direction's Initial
 * CRYPTO stream (as far as the client random and the cipher suite), the
 * largest packet number per space and direction, and the streams' held
 * out-of-order pieces.
 *
 * Workload: every datagram of a keyed QUIC flow. Per packet: a header
 * parse, one header-protection mask, one AEAD open into a buffer of the
 * connection, a walk over the frames; no allocation except for held
 * stream pieces and a plaintext buffer as large as the largest packet. Every byte is read through the cursor.
 *
 *   long header  flags(1) version(4) dcid_len(1) dcid scid_len(1) scid
 *                [Initial: token_len(varint) token] length(varint)
 *                packet_number(1..4) payload
 *   short header flags(1) dcid(length known from the handshake)
 *                packet_number(1..4) payload
 */
#include "flowaudit/quic_decrypt.h"

#include "flowaudit/crypto.h"
#include "flowaudit/cursor.h"
#include "flowaudit/quic.h"

#include <stdlib.h>
#include <string.h>

#define PLAIN_MAX 65536  /* the largest UDP payload, so the largest packet */
#define HELLO_BYTES 128  /* of each Initial CRYPTO stream: up to the cipher suite */

enum { LT_INITIAL, LT_ZERO_RTT, LT_HANDSHAKE, LT_RETRY };

/* One direction's keys of one packet number space (or one key phase). */
struct qkey {
	struct crypto_aead_ctx *aead;
	uint8_t iv[CRYPTO_NONCE_LEN];
};

struct piece {
	struct piece *next;
	uint64_t off;
	size_t len;
	uint8_t d[];
};

struct qstream {
	bool used, dead;
	int dir;
	uint64_t id, next, fin_off;
	bool fin_known;
	struct piece *held; /* sorted by offset, none below next */
	size_t held_bytes;
	uint64_t last_use;
};

struct qdir {
	uint8_t scid[QUIC_CID_MAX]; /* this endpoint's connection ID: a short header to it carries it */
	uint8_t scid_len;
	bool have_scid;
	uint8_t hello[HELLO_BYTES];
	uint8_t hello_have[HELLO_BYTES / 8];
	uint64_t largest[3];
	bool any[3];
	struct qkey initial, hs;
	struct crypto_hp_ctx *hp_initial, *hp_hs, *hp_app;
	bool initial_ok, hs_ok, hs_tried;
	/* 1-RTT: the current phase's secret and keys, the next phase's, the previous */
	uint8_t secret[CRYPTO_HASH_MAX];
	struct qkey cur, next, prev;
	bool app_ok, next_ok, prev_ok, app_tried;
	unsigned phase;
	uint64_t tried_gen;
};

struct quic_dec {
	const struct keylog *kl;
	struct quic_dec_cbs cbs;
	struct quic_dec_info info;
	bool v2;
	bool suite_known;
	enum crypto_aead aead;
	enum crypto_hash hash;
	struct crypto_kdf *kdf;
	uint8_t initial_dcid[QUIC_CID_MAX];
	uint8_t initial_dcid_len;
	bool have_initial_dcid;
	unsigned rekeys;
	bool unsupported, no_handshake_seen;
	struct qdir d[2];
	struct qstream streams[QDEC_STREAMS];
	size_t held_total;
	uint64_t clock;
	uint8_t *plain;   /* the last packet's plaintext, grown to the largest packet */
	size_t plain_cap;
};

/* ---- keys ---- */

static void key_clear(struct qkey *k)
{
	crypto_aead_free(k->aead);
	memset(k, 0, sizeof(*k));
}

static const char *label(const struct quic_dec *q, const char *what)
{
	static const char *const v1[] = {"quic key", "quic iv", "quic hp", "quic ku"};
	static const char *const v2[] = {"quicv2 key", "quicv2 iv", "quicv2 hp", "quicv2 ku"};
	const char *const *t = q->v2 ? v2 : v1;
	if (strcmp(what, "key") == 0)
		return t[0];
	if (strcmp(what, "iv") == 0)
		return t[1];
	return strcmp(what, "hp") == 0 ? t[2] : t[3];
}

/* Packet protection key and IV (and, if hp != NULL, header protection) of one secret. */
static bool key_from_secret(struct quic_dec *q, const uint8_t *secret, struct qkey *k,
			    struct crypto_hp_ctx **hp)
{
	size_t hl = crypto_hash_len(q->hash), kl = crypto_aead_key_len(q->aead);
	uint8_t key[CRYPTO_KEY_MAX], hpk[CRYPTO_KEY_MAX];
	bool ok = crypto_hkdf_expand_label(q->kdf, secret, hl, label(q, "key"), NULL, 0, key, kl) &&
		  crypto_hkdf_expand_label(q->kdf, secret, hl, label(q, "iv"), NULL, 0, k->iv,
					   CRYPTO_NONCE_LEN) &&
		  (hp == NULL || crypto_hkdf_expand_label(q->kdf, secret, hl, label(q, "hp"), NULL, 0,
							  hpk, kl));
	if (ok) {
		crypto_aead_free(k->aead);
		k->aead = crypto_aead_new(q->aead, key);
		ok = k->aead != NULL;
	}
	if (ok && hp != NULL) {
		crypto_hp_free(*hp);
		*hp = crypto_hp_new(q->aead, hpk);
		ok = *hp != NULL;
	}
	memset(key, 0, sizeof(key));
	memset(hpk, 0, sizeof(hpk));
	return ok;
}

/* The next key phase's secret (RFC 9001 6.1), in place. */
static bool secret_update(struct quic_dec *q, uint8_t *secret)
{
	size_t hl = crypto_hash_len(q->hash);
	uint8_t n[CRYPTO_HASH_MAX];
	bool ok = crypto_hkdf_expand_label(q->kdf, secret, hl, label(q, "ku"), NULL, 0, n, hl);
	if (ok)
		memcpy(secret, n, hl);
	memset(n, 0, sizeof(n));
	return ok;
}

static bool suite(struct quic_dec *q, uint16_t cs)
{
	switch (cs) {
	case 0x1301: q->aead = CRYPTO_AES_128_GCM; q->hash = CRYPTO_SHA256; return true;
	case 0x1302: q->aead = CRYPTO_AES_256_GCM; q->hash = CRYPTO_SHA384; return true;
	case 0x1303: q->aead = CRYPTO_CHACHA20_POLY1305; q->hash = CRYPTO_SHA256; return true;
	default: return false;
	}
}

/* Initial keys of both directions from the client's Destination Connection ID. */
static void initial_keys(struct quic_dec *q, const uint8_t *dcid, size_t len)
{
	if (q->have_initial_dcid && len == q->initial_dcid_len &&
	    memcmp(dcid, q->initial_dcid, len) == 0)
		return;
	if (q->rekeys >= QDEC_REKEYS)
		return;
	q->rekeys++;
	memcpy(q->initial_dcid, dcid, len);
	q->initial_dcid_len = (uint8_t)len;
	q->have_initial_dcid = true;
	for (int dir = 0; dir < 2; dir++) {
		struct qdir *d = &q->d[dir];
		struct quic_keys k;
		d->initial_ok = false;
		if (!quic_initial_keys(q->info.version, dcid, len, dir == QDEC_FROM_SERVER, &k))
			continue;
		crypto_aead_free(d->initial.aead);
		d->initial.aead = crypto_aead_new(CRYPTO_AES_128_GCM, k.key);
		memcpy(d->initial.iv, k.iv, sizeof(k.iv));
		crypto_hp_free(d->hp_initial);
		d->hp_initial = crypto_hp_new(CRYPTO_AES_128_GCM, k.hp);
		d->initial_ok = d->initial.aead != NULL && d->hp_initial != NULL;
		memset(&k, 0, sizeof(k));
	}
}

/* Looks the direction's Handshake and 1-RTT secrets up, once per key log generation. */
static void find_secrets(struct quic_dec *q, struct qdir *d, int dir)
{
	if (!q->info.have_random || !q->suite_known || q->kl == NULL)
		return;
	uint64_t gen = keylog_generation(q->kl);
	if ((d->hs_ok || d->hs_tried) && (d->app_ok || d->app_tried) && d->tried_gen == gen)
		return;
	d->tried_gen = gen;
	size_t hl = crypto_hash_len(q->hash), len;
	const uint8_t *s;
	if (!d->hs_ok) {
		s = keylog_find(q->kl, q->info.client_random,
				dir == QDEC_FROM_CLIENT ? KEYLOG_CLIENT_HANDSHAKE : KEYLOG_SERVER_HANDSHAKE,
				&len);
		d->hs_tried = true;
		if (s != NULL && len == hl)
			d->hs_ok = key_from_secret(q, s, &d->hs, &d->hp_hs);
	}
	if (!d->app_ok) {
		s = keylog_find(q->kl, q->info.client_random,
				dir == QDEC_FROM_CLIENT ? KEYLOG_CLIENT_TRAFFIC_0 : KEYLOG_SERVER_TRAFFIC_0,
				&len);
		d->app_tried = true;
		if (s != NULL && len == hl) {
			memcpy(d->secret, s, hl);
			d->app_ok = key_from_secret(q, d->secret, &d->cur, &d->hp_app);
			d->phase = 0;
		}
	}
}

/* ---- life cycle ---- */

struct quic_dec *quic_dec_new(const struct keylog *kl, const struct quic_dec_cbs *cbs)
{
	struct quic_dec *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->kl = kl;
	if (cbs != NULL)
		q->cbs = *cbs;
	return q;
}

static void stream_drop(struct quic_dec *q, struct qstream *s)
{
	struct piece *p = s->held;
	while (p != NULL) {
		struct piece *n = p->next;
		free(p);
		p = n;
	}
	q->held_total -= s->held_bytes;
	s->held = NULL;
	s->held_bytes = 0;
}

void quic_dec_free(struct quic_dec *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < QDEC_STREAMS; i++)
		stream_drop(q, &q->streams[i]);
	for (int dir = 0; dir < 2; dir++) {
		struct qdir *d = &q->d[dir];
		key_clear(&d->initial);
		key_clear(&d->hs);
		key_clear(&d->cur);
		key_clear(&d->next);
		key_clear(&d->prev);
		crypto_hp_free(d->hp_initial);
		crypto_hp_free(d->hp_hs);
		crypto_hp_free(d->hp_app);
	}
	crypto_kdf_free(q->kdf);
	free(q->plain);
	memset(q, 0, sizeof(*q));
	free(q);
}

const struct quic_dec_info *quic_dec_info(const struct quic_dec *q)
{
	return &q->info;
}

enum tls_dec_status quic_dec_status(const struct quic_dec *q)
{
	const struct quic_dec_info *i = &q->info;
	if (i->opened[QDEC_APP][0] + i->opened[QDEC_APP][1] > 0)
		return TLS_DEC_DECRYPTED;
	if (q->unsupported)
		return TLS_DEC_UNSUPPORTED;
	if (!i->have_random || !q->suite_known)
		return TLS_DEC_NO_HANDSHAKE;
	if (q->d[0].app_ok || q->d[1].app_ok)
		return i->auth_failed > 0 ? TLS_DEC_AUTH_FAILED : TLS_DEC_NO_DATA;
	return TLS_DEC_NO_KEY;
}

/* ---- streams ---- */

static struct qstream *stream_get(struct quic_dec *q, int dir, uint64_t id)
{
	struct qstream *free_slot = NULL, *oldest = NULL;
	for (size_t i = 0; i < QDEC_STREAMS; i++) {
		struct qstream *s = &q->streams[i];
		if (!s->used) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (s->dir == dir && s->id == id) {
			s->last_use = ++q->clock;
			return s;
		}
		/* the oldest ended stream goes first, then the oldest live one */
		if (oldest == NULL || (s->dead && !oldest->dead) ||
		    (s->dead == oldest->dead && s->last_use < oldest->last_use))
			oldest = s;
	}
	struct qstream *s = free_slot;
	if (s == NULL) {
		s = oldest;
		if (!s->dead) {
			if (q->cbs.gap != NULL)
				q->cbs.gap(q->cbs.user, s->dir, s->id);
			q->info.streams_evicted++;
		}
		stream_drop(q, s);
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->dir = dir;
	s->id = id;
	s->last_use = ++q->clock;
	return s;
}

static void stream_kill(struct quic_dec *q, struct qstream *s)
{
	stream_drop(q, s);
	if (!s->dead && q->cbs.gap != NULL)
		q->cbs.gap(q->cbs.user, s->dir, s->id);
	s->dead = true;
}

static void deliver(struct quic_dec *q, struct qstream *s, const uint8_t *d, size_t n)
{
	s->next += n;
	q->info.stream_bytes[s->dir] += n;
	bool fin = s->fin_known && s->next >= s->fin_off;
	if (q->cbs.stream != NULL && (n > 0 || fin))
		q->cbs.stream(q->cbs.user, s->dir, s->id, d, n, fin);
	if (fin) {
		stream_drop(q, s);
		s->dead = true;
	}
}

/* Hands on what is now contiguous at the stream's next offset. */
static void drain(struct quic_dec *q, struct qstream *s)
{
	while (!s->dead && s->held != NULL && s->held->off <= s->next) {
		struct piece *p = s->held;
		s->held = p->next;
		s->held_bytes -= p->len;
		q->held_total -= p->len;
		uint64_t end = p->off + p->len;
		if (end > s->next)
			deliver(q, s, p->d + (s->next - p->off), (size_t)(end - s->next));
		free(p);
	}
}

static void stream_frame(struct quic_dec *q, int dir, uint64_t id, uint64_t off, const uint8_t *d,
			 size_t n, bool fin)
{
	struct qstream *s = stream_get(q, dir, id);
	if (s->dead)
		return;
	if (fin) {
		if (s->fin_known && s->fin_off != off + n) {
			q->info.malformed++;
			stream_kill(q, s);
			return;
		}
		s->fin_known = true;
		s->fin_off = off + n;
	}
	uint64_t end = off + n;
	if (end <= s->next) { /* all seen already (a retransmission) */
		if (fin && s->next >= s->fin_off)
			deliver(q, s, NULL, 0);
		return;
	}
	if (off <= s->next) {
		deliver(q, s, d + (s->next - off), (size_t)(end - s->next));
		drain(q, s);
		return;
	}
	if (s->held_bytes + n > QDEC_STREAM_HOLD || q->held_total + n > QDEC_CONN_HOLD) {
		q->info.held_refused += n;
		stream_kill(q, s);
		return;
	}
	struct piece *p = malloc(sizeof(*p) + n);
	if (p == NULL) {
		stream_kill(q, s);
		return;
	}
	p->off = off;
	p->len = n;
	memcpy(p->d, d, n);
	struct piece **at = &s->held;
	while (*at != NULL && (*at)->off < off)
		at = &(*at)->next;
	p->next = *at;
	*at = p;
	s->held_bytes += n;
	q->held_total += n;
}

/* ---- the handshake in the clear ---- */

static bool hello_has(const struct qdir *d, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		if (i >= HELLO_BYTES || !(d->hello_have[i / 8] & (1u << (i % 8))))
			return false;
	return true;
}

/* Initial CRYPTO bytes: kept as far as HELLO_BYTES, then read for the random and the suite. */
static void crypto_frame(struct quic_dec *q, int dir, uint64_t off, const uint8_t *p, size_t n)
{
	struct qdir *d = &q->d[dir];
	for (size_t i = 0; i < n && off + i < HELLO_BYTES; i++) {
		size_t at = (size_t)off + i;
		if (!(d->hello_have[at / 8] & (1u << (at % 8)))) {
			d->hello[at] = p[i];
			d->hello_have[at / 8] |= (uint8_t)(1u << (at % 8));
		}
	}
	/* handshake type(1) length(3) legacy_version(2) random(32) */
	if (dir == QDEC_FROM_CLIENT && !q->info.have_random && hello_has(d, 0, 38)) {
		if (d->hello[0] != 1) {
			q->info.malformed++;
			return;
		}
		memcpy(q->info.client_random, d->hello + 6, KEYLOG_RANDOM_LEN);
		q->info.have_random = true;
	}
	/* ... session_id_len(1) session_id cipher_suite(2) */
	if (dir == QDEC_FROM_SERVER && !q->suite_known && hello_has(d, 0, 39)) {
		size_t sl = d->hello[38];
		if (d->hello[0] != 2 || sl > 32) {
			q->info.malformed++;
			return;
		}
		if (!hello_has(d, 39, 41 + sl))
			return;
		uint16_t cs = (uint16_t)(d->hello[39 + sl] << 8 | d->hello[40 + sl]);
		q->info.cipher_suite = cs;
		if (suite(q, cs)) {
			q->kdf = crypto_kdf_new(q->hash);
			q->suite_known = q->kdf != NULL;
		} else {
			q->unsupported = true;
		}
	}
}

/* ---- frames ---- */

/* RFC 9000 19: walks the frames of an opened packet; false at one that breaks the protocol. */
static bool frames(struct quic_dec *q, int dir, int space, const uint8_t *p, size_t n)
{
	struct cursor c = cur_make(p, n);
	while (cur_left(&c) > 0 && cur_ok(&c)) {
		uint64_t t = cur_quic_varint(&c);
		if (t == 0x00 || t == 0x01 || t == 0x1e) /* PADDING, PING, HANDSHAKE_DONE */
			continue;
		if (t == 0x02 || t == 0x03) { /* ACK */
			cur_quic_varint(&c);
			cur_quic_varint(&c);
			uint64_t ranges = cur_quic_varint(&c);
			cur_quic_varint(&c);
			for (uint64_t i = 0; i < ranges && cur_ok(&c); i++) {
				cur_quic_varint(&c);
				cur_quic_varint(&c);
			}
			if (t == 0x03)
				for (int i = 0; i < 3; i++)
					cur_quic_varint(&c);
		} else if (t == 0x04) { /* RESET_STREAM */
			uint64_t id = cur_quic_varint(&c);
			cur_quic_varint(&c);
			cur_quic_varint(&c);
			if (cur_ok(&c)) {
				struct qstream *s = stream_get(q, dir, id);
				stream_kill(q, s);
			}
		} else if (t == 0x05) { /* STOP_SENDING */
			cur_quic_varint(&c);
			cur_quic_varint(&c);
		} else if (t == 0x06) { /* CRYPTO */
			uint64_t off = cur_quic_varint(&c), len = cur_quic_varint(&c);
			const uint8_t *d = len <= cur_left(&c) ? cur_take(&c, (size_t)len) : NULL;
			if (d == NULL)
				return false;
			if (space == QDEC_INITIAL)
				crypto_frame(q, dir, off, d, (size_t)len);
		} else if (t == 0x07) { /* NEW_TOKEN */
			uint64_t len = cur_quic_varint(&c);
			if (len > cur_left(&c))
				return false;
			cur_skip(&c, (size_t)len);
		} else if (t >= 0x08 && t <= 0x0f) { /* STREAM */
			uint64_t id = cur_quic_varint(&c);
			uint64_t off = (t & 0x04) ? cur_quic_varint(&c) : 0;
			uint64_t len = (t & 0x02) ? cur_quic_varint(&c) : cur_left(&c);
			if (!cur_ok(&c) || len > cur_left(&c) || off + len >= (1ull << 62))
				return false;
			const uint8_t *d = cur_take(&c, (size_t)len);
			if (space != QDEC_APP)
				return false; /* RFC 9000 12.4: STREAM only in 0-RTT and 1-RTT */
			stream_frame(q, dir, id, off, d, (size_t)len, (t & 0x01) != 0);
		} else if (t == 0x10 || t == 0x12 || t == 0x13 || t == 0x14 || t == 0x16 ||
			   t == 0x17 || t == 0x19) { /* one varint */
			cur_quic_varint(&c);
		} else if (t == 0x11 || t == 0x15) { /* MAX_STREAM_DATA, STREAM_DATA_BLOCKED */
			cur_quic_varint(&c);
			cur_quic_varint(&c);
		} else if (t == 0x18) { /* NEW_CONNECTION_ID */
			cur_quic_varint(&c);
			cur_quic_varint(&c);
			uint8_t len = cur_u8(&c);
			if (len < 1 || len > QUIC_CID_MAX)
				return false;
			const uint8_t *cid = cur_take(&c, len);
			cur_skip(&c, 16);
			/* a packet's short header names the receiver's CID: the same length */
			if (cid != NULL && cur_ok(&c) && space == QDEC_APP &&
			    len == q->d[dir].scid_len && q->cbs.cid != NULL)
				q->cbs.cid(q->cbs.user, dir, cid, len);
		} else if (t == 0x1a || t == 0x1b) { /* PATH_CHALLENGE, PATH_RESPONSE */
			cur_skip(&c, 8);
		} else if (t == 0x1c || t == 0x1d) { /* CONNECTION_CLOSE */
			cur_quic_varint(&c);
			if (t == 0x1c)
				cur_quic_varint(&c);
			uint64_t len = cur_quic_varint(&c);
			if (len > cur_left(&c))
				return false;
			cur_skip(&c, (size_t)len);
		} else if (t == 0x30) { /* DATAGRAM to the end */
			cur_skip(&c, cur_left(&c));
		} else if (t == 0x31) {
			uint64_t len = cur_quic_varint(&c);
			if (len > cur_left(&c))
				return false;
			cur_skip(&c, (size_t)len);
		} else {
			return false;
		}
	}
	return cur_ok(&c);
}

/* ---- packets ---- */

/* RFC 9000 A.3: the full packet number from its truncated form. */
static uint64_t pn_decode(uint64_t largest, bool any, uint64_t trunc, unsigned bits)
{
	uint64_t expected = any ? largest + 1 : 0;
	uint64_t win = 1ull << bits, hwin = win / 2, mask = win - 1;
	uint64_t cand = (expected & ~mask) | trunc;
	if (expected >= hwin && cand <= expected - hwin && cand < (1ull << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

struct hdr {
	const uint8_t *pkt; /* the packet, from its first byte */
	size_t len;         /* through the end of its payload */
	size_t pn_off;      /* where the protected packet number starts */
	bool long_form;
};

/* A packet with its header protection removed, ready to be opened. */
struct unmasked {
	uint8_t flags, pnb[4];
	const uint8_t *mid, *ct; /* the header between flags and packet number; the ciphertext */
	size_t mid_len, ct_len;
	unsigned pn_len;
	uint64_t pn;             /* the full packet number */
	unsigned phase;          /* the key phase bit (short headers) */
};

/*
 * Removes header protection from h with hp, and recovers the packet
 * number in its space; false (counted) when the packet breaks a bound.
 */
static bool unmask(struct quic_dec *q, struct qdir *d, int space, const struct hdr *h,
		   struct crypto_hp_ctx *hp, struct unmasked *u)
{
	struct cursor pc = cur_make(h->pkt, h->len);
	u->flags = cur_u8(&pc);
	u->mid_len = h->pn_off - 1;
	u->mid = cur_take(&pc, u->mid_len);
	struct cursor sc = pc;
	cur_skip(&sc, 4);
	const uint8_t *sample = cur_take(&sc, CRYPTO_HP_SAMPLE);
	uint8_t mask[CRYPTO_HP_MASK];
	if (u->mid == NULL || sample == NULL || !crypto_hp_mask(hp, sample, mask)) {
		q->info.malformed++;
		return false;
	}
	u->flags ^= mask[0] & (h->long_form ? 0x0f : 0x1f);
	u->pn_len = (u->flags & 3u) + 1;
	uint64_t trunc = 0;
	for (unsigned i = 0; i < u->pn_len; i++) {
		u->pnb[i] = cur_u8(&pc) ^ mask[1 + i];
		trunc = trunc << 8 | u->pnb[i];
	}
	u->ct_len = cur_left(&pc);
	u->ct = cur_take(&pc, u->ct_len);
	if (u->ct == NULL || u->ct_len < CRYPTO_TAG_LEN || u->ct_len - CRYPTO_TAG_LEN > PLAIN_MAX) {
		q->info.malformed++;
		return false;
	}
	u->pn = pn_decode(d->largest[space], d->any[space], trunc, u->pn_len * 8);
	u->phase = (u->flags >> 2) & 1u;
	return true;
}

/*
 * Opens u's payload with the first of keys[0..nk) that authenticates (*which
 * says which) into q->plain. The plaintext length, or -1.
 */
static long open_with(struct quic_dec *q, struct qdir *d, int space, const struct unmasked *u,
		      struct qkey *const *keys, size_t nk, size_t *which)
{
	if (q->plain_cap < u->ct_len) {
		size_t cap = u->ct_len < 2048 ? 2048 : u->ct_len;
		uint8_t *np = realloc(q->plain, cap);
		if (np == NULL)
			return -1;
		q->plain = np;
		q->plain_cap = cap;
	}
	struct crypto_aad aad = {{&u->flags, u->mid, u->pnb}, {1, u->mid_len, u->pn_len}};
	for (size_t i = 0; i < nk; i++) {
		if (keys[i] == NULL || keys[i]->aead == NULL)
			continue;
		uint8_t nonce[CRYPTO_NONCE_LEN];
		crypto_nonce(keys[i]->iv, u->pn, nonce);
		if (crypto_aead_open(keys[i]->aead, nonce, &aad, u->ct, u->ct_len, q->plain)) {
			if (!d->any[space] || u->pn > d->largest[space])
				d->largest[space] = u->pn;
			d->any[space] = true;
			*which = i;
			return (long)(u->ct_len - CRYPTO_TAG_LEN);
		}
	}
	q->info.auth_failed++;
	return -1;
}

/* Makes the next phase's keys from the current secret, once. */
static bool next_keys(struct quic_dec *q, struct qdir *d)
{
	if (d->next_ok)
		return true;
	uint8_t s[CRYPTO_HASH_MAX];
	memcpy(s, d->secret, sizeof(s));
	d->next_ok = secret_update(q, s) && key_from_secret(q, s, &d->next, NULL);
	memset(s, 0, sizeof(s));
	return d->next_ok;
}

/* A 1-RTT packet: the current phase's keys, or the next phase's (a key update), or the last. */
static long open_app(struct quic_dec *q, int dir, const struct hdr *h)
{
	struct qdir *d = &q->d[dir];
	find_secrets(q, d, dir);
	if (!d->app_ok) {
		q->info.no_key++;
		return -1;
	}
	/* the phase bit is protected: it is read once the mask is removed */
	struct unmasked u;
	if (!unmask(q, d, QDEC_APP, h, d->hp_app, &u))
		return -1;
	size_t which;
	if (u.phase == d->phase) {
		struct qkey *k[1] = {&d->cur};
		return open_with(q, d, QDEC_APP, &u, k, 1, &which);
	}
	next_keys(q, d);
	struct qkey *k[2] = {d->next_ok ? &d->next : NULL, d->prev_ok ? &d->prev : NULL};
	long n = open_with(q, d, QDEC_APP, &u, k, 2, &which);
	if (n >= 0 && which == 0) { /* the peer updated its keys */
		key_clear(&d->prev);
		d->prev = d->cur;
		d->prev_ok = true;
		d->cur = d->next;
		memset(&d->next, 0, sizeof(d->next));
		d->next_ok = false;
		secret_update(q, d->secret);
		d->phase ^= 1u;
		q->info.key_updates[dir]++;
	}
	return n;
}

static unsigned long_type(const struct quic_dec *q, uint8_t b0)
{
	unsigned t = (b0 >> 4) & 3u;
	if (!q->v2)
		return t;
	/* RFC 9369 3.2: Initial 1, 0-RTT 2, Handshake 3, Retry 0 */
	static const unsigned v2map[4] = {LT_RETRY, LT_INITIAL, LT_ZERO_RTT, LT_HANDSHAKE};
	return v2map[t];
}

/* One long-header packet at c; false when the rest of the datagram cannot be read. */
static bool long_packet(struct quic_dec *q, int dir, struct cursor *c)
{
	const uint8_t *start = c->p;
	uint8_t b0 = cur_u8(c);
	uint32_t version = cur_be32(c);
	if (!cur_ok(c) || version == 0) /* version negotiation */
		return false;
	if (q->info.version == 0) {
		if (version != QUIC_V1 && version != QUIC_V2 && (version >> 8) != 0xff0000) {
			q->unsupported = true;
			return false;
		}
		q->info.version = version;
		q->v2 = version == QUIC_V2;
	} else if (version != q->info.version) {
		q->info.malformed++;
		return false;
	}
	uint8_t dl = cur_u8(c);
	const uint8_t *dcid = dl <= QUIC_CID_MAX ? cur_take(c, dl) : NULL;
	uint8_t sl = cur_u8(c);
	const uint8_t *scid = sl <= QUIC_CID_MAX ? cur_take(c, sl) : NULL;
	if (!cur_ok(c) || (dl && dcid == NULL) || (sl && scid == NULL)) {
		q->info.malformed++;
		return false;
	}
	unsigned type = long_type(q, b0);
	if (type == LT_RETRY)
		return false; /* the rest of the datagram is the Retry */
	struct qdir *d = &q->d[dir];
	bool fresh = !d->have_scid || d->scid_len != sl || (sl > 0 && memcmp(d->scid, scid, sl) != 0);
	if (sl > 0)
		memcpy(d->scid, scid, sl);
	d->scid_len = sl;
	d->have_scid = true;
	if (fresh && sl > 0 && q->cbs.cid != NULL)
		q->cbs.cid(q->cbs.user, dir, scid, sl);
	if (type == LT_INITIAL) {
		uint64_t tl = cur_quic_varint(c);
		if (!cur_ok(c) || tl > cur_left(c)) {
			q->info.malformed++;
			return false;
		}
		cur_skip(c, (size_t)tl);
		if (dir == QDEC_FROM_CLIENT)
			initial_keys(q, dcid, dl);
	}
	uint64_t len = cur_quic_varint(c);
	if (!cur_ok(c) || len > cur_left(c) || len < 4 + CRYPTO_HP_SAMPLE) {
		q->info.malformed++;
		return false;
	}
	struct hdr h = {start, (size_t)(c->p - start) + (size_t)len, (size_t)(c->p - start), true};
	cur_skip(c, (size_t)len);
	if (type == LT_ZERO_RTT) {
		q->info.zero_rtt++;
		return true;
	}
	int space = type == LT_INITIAL ? QDEC_INITIAL : QDEC_HANDSHAKE;
	struct crypto_hp_ctx *hp;
	struct qkey *k;
	if (space == QDEC_INITIAL) {
		if (!d->initial_ok) {
			q->info.no_key++;
			return true;
		}
		hp = d->hp_initial;
		k = &d->initial;
	} else {
		find_secrets(q, d, dir);
		if (!d->hs_ok) {
			q->info.no_key++;
			return true;
		}
		hp = d->hp_hs;
		k = &d->hs;
	}
	size_t which;
	struct unmasked u;
	struct qkey *keys[1] = {k};
	long n = unmask(q, d, space, &h, hp, &u) ? open_with(q, d, space, &u, keys, 1, &which) : -1;
	if (n >= 0) {
		q->info.opened[space][dir]++;
		quic_dec_frames(q, dir, space, q->plain, (size_t)n);
	}
	return true;
}

bool quic_dec_frames(struct quic_dec *q, int dir, int space, const uint8_t *p, size_t n)
{
	if (q == NULL || (dir != QDEC_FROM_CLIENT && dir != QDEC_FROM_SERVER) || space < QDEC_INITIAL ||
	    space > QDEC_APP)
		return false;
	if (frames(q, dir, space, p, n))
		return true;
	q->info.malformed++;
	return false;
}

void quic_dec_datagram(struct quic_dec *q, int dir, const uint8_t *p, size_t n)
{
	if (q == NULL || (dir != QDEC_FROM_CLIENT && dir != QDEC_FROM_SERVER))
		return;
	struct cursor c = cur_make(p, n);
	while (cur_left(&c) > 0) {
		if (c.p[0] & 0x80) {
			if (!long_packet(q, dir, &c))
				return;
			continue;
		}
		/* a short header: the rest of the datagram; its DCID is the receiver's SCID */
		const struct qdir *to = &q->d[dir ^ 1];
		if (!to->have_scid) {
			q->info.no_key++;
			return;
		}
		struct hdr h = {c.p, cur_left(&c), 1 + (size_t)to->scid_len, false};
		if (h.len < h.pn_off + 4 + CRYPTO_HP_SAMPLE) {
			q->info.malformed++;
			return;
		}
		long m = open_app(q, dir, &h);
		if (m >= 0) {
			q->info.opened[QDEC_APP][dir]++;
			quic_dec_frames(q, dir, QDEC_APP, q->plain, (size_t)m);
		}
		return;
	}
}
