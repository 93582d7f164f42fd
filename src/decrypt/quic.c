/*
 * quic.c - QUIC Initial packets (RFC 9000 17.2.2, RFC 9001 5, RFC 9369)
 * from a client's datagrams to its TLS ClientHello (quic.h).
 *
 * Receives the client's UDP payloads; hands on the ClientHello's SNI, ALPN
 * and ECH flag from tls.c's parser. Owns, per engine, the cipher contexts
 * and a plaintext buffer (struct quic_ctx); per flow, the Initial keys and
 * the CRYPTO bytes received so far (struct quic_conn), freed as soon as the
 * hello is complete or the flow is given up.
 *
 * Workload: the first one to three client datagrams of each QUIC flow (a
 * Chrome hello with post-quantum key shares spans two or three Initials);
 * a non-QUIC UDP flow costs one look at its first byte. Every byte is read
 * through the cursor.
 *
 *   long header: flags(1) version(4) dcid_len(1) dcid scid_len(1) scid
 *                [Initial: token_len(varint) token] length(varint)
 *                packet_number(1..4, protected) payload(protected)
 *   header protection: sample = 16 bytes from packet_number + 4;
 *                mask = AES-ECB(hp, sample); flags ^= mask[0] & 0x0f,
 *                packet number ^= mask[1..4]
 */
#include "flowaudit/quic.h"

#include "flowaudit/crypto.h"
#include "flowaudit/cursor.h"

#include <stdlib.h>
#include <string.h>

#define FORM_LONG 0x80
#define PLAIN_MAX 65536 /* the largest UDP payload, so the largest packet */

#define FRAME_PADDING 0x00
#define FRAME_PING 0x01
#define FRAME_ACK 0x02
#define FRAME_ACK_ECN 0x03
#define FRAME_CRYPTO 0x06
#define FRAME_CLOSE 0x1c
#define FRAME_CLOSE_APP 0x1d

/* Initial salts (RFC 9001 5.2, RFC 9369 3.3.1, and the drafts'). */
static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
				    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
				    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t salt_d22[20] = {0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a,
				     0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a};
static const uint8_t salt_d23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
				     0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};
static const uint8_t salt_d29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
				     0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
static const uint8_t salt_t50[20] = {0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80,
				     0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83, 0x10};
static const uint8_t salt_t51[20] = {0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50,
				     0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d};

/* How a version protects its Initial packets. */
struct version_info {
	const uint8_t *salt;
	bool v2;         /* "quicv2 " labels, and RFC 9369's packet type numbers */
};

static bool version_info(uint32_t v, struct version_info *vi)
{
	vi->v2 = false;
	vi->salt = NULL;
	if (v == QUIC_V1) {
		vi->salt = salt_v1;
	} else if (v == QUIC_V2) {
		vi->salt = salt_v2;
		vi->v2 = true;
	} else if ((v >> 8) == 0xff0000) { /* IETF drafts */
		unsigned d = v & 0xff;
		if (d >= 21 && d <= 22)
			vi->salt = salt_d22;
		else if (d >= 23 && d <= 28)
			vi->salt = salt_d23;
		else if (d >= 29 && d <= 32)
			vi->salt = salt_d29;
		else if (d >= 33 && d <= 34)
			vi->salt = salt_v1;
	} else if (v == 0xfaceb001) { /* mvfst, after draft-22 */
		vi->salt = salt_d22;
	} else if (v == 0xfaceb002 || v == 0xfaceb00e) { /* mvfst, after draft-27 */
		vi->salt = salt_d23;
	} else if (v == 0x54303530) { /* Google T050 */
		vi->salt = salt_t50;
	} else if (v == 0x54303531) { /* Google T051 */
		vi->salt = salt_t51;
	}
	return vi->salt != NULL;
}

bool quic_version_known(uint32_t version)
{
	struct version_info vi;
	return version_info(version, &vi);
}

/* The long-header packet type of an Initial (v1 0, v2 1) and a Retry (v1 3, v2 0). */
static unsigned type_initial(const struct version_info *vi) { return vi->v2 ? 1 : 0; }
static unsigned type_retry(const struct version_info *vi) { return vi->v2 ? 0 : 3; }

/* RFC 9001 5.2: initial secret from the salt and DCID, then the direction's secret, then its keys. */
static bool derive_keys(struct crypto_kdf *kdf, uint32_t version, const uint8_t *dcid,
			size_t dcid_len, bool server, struct quic_keys *out)
{
	struct version_info vi;
	if (kdf == NULL || !version_info(version, &vi) || dcid_len > QUIC_CID_MAX)
		return false;
	uint8_t initial[32], secret[32];
	const char *key_l = vi.v2 ? "quicv2 key" : "quic key";
	const char *iv_l = vi.v2 ? "quicv2 iv" : "quic iv";
	const char *hp_l = vi.v2 ? "quicv2 hp" : "quic hp";
	bool ok = crypto_hkdf_extract(kdf, vi.salt, 20, dcid, dcid_len, initial) &&
		  crypto_hkdf_expand_label(kdf, initial, 32, server ? "server in" : "client in",
					   NULL, 0, secret, 32) &&
		  crypto_hkdf_expand_label(kdf, secret, 32, key_l, NULL, 0, out->key,
					   sizeof(out->key)) &&
		  crypto_hkdf_expand_label(kdf, secret, 32, iv_l, NULL, 0, out->iv, sizeof(out->iv)) &&
		  crypto_hkdf_expand_label(kdf, secret, 32, hp_l, NULL, 0, out->hp, sizeof(out->hp));
	memset(initial, 0, sizeof(initial));
	memset(secret, 0, sizeof(secret));
	return ok;
}

bool quic_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, bool server,
		       struct quic_keys *out)
{
	struct crypto_kdf *kdf = crypto_kdf_new(CRYPTO_SHA256);
	bool ok = derive_keys(kdf, version, dcid, dcid_len, server, out);
	crypto_kdf_free(kdf);
	return ok;
}

/* ---- state ---- */

struct range {
	uint32_t lo, hi; /* [lo, hi) of the CRYPTO stream */
};

struct quic_conn {
	uint32_t version;
	uint8_t dcid[QUIC_CID_MAX];
	uint8_t dcid_len;
	bool keyed, seen_long, done;
	uint16_t datagrams;
	uint16_t initials;  /* Initial packets tried */
	uint8_t derived;    /* key derivations done */
	struct quic_keys keys;
	uint8_t *buf;      /* CRYPTO stream bytes [0, cap) */
	uint32_t cap;
	uint32_t checked;  /* contiguous length at the last hello attempt */
	struct range r[QUIC_RANGES]; /* received, sorted, disjoint, not touching */
	uint8_t n_ranges;
};

struct quic_ctx {
	struct crypto_kdf *kdf;    /* HKDF-SHA256, for every connection's keys */
	struct crypto_aead_ctx *aead;
	struct crypto_hp_ctx *hp;
	struct quic_keys loaded;   /* the keys the contexts hold */
	bool loaded_ok;
	struct quic_stats st;
	uint8_t plain[PLAIN_MAX];
};

struct quic_ctx *quic_ctx_new(void)
{
	struct quic_ctx *q = calloc(1, sizeof(*q));
	if (q != NULL && (q->kdf = crypto_kdf_new(CRYPTO_SHA256)) == NULL) {
		free(q);
		return NULL;
	}
	return q;
}

void quic_ctx_free(struct quic_ctx *q)
{
	if (q == NULL)
		return;
	crypto_kdf_free(q->kdf);
	crypto_aead_free(q->aead);
	crypto_hp_free(q->hp);
	free(q);
}

void quic_ctx_stats(const struct quic_ctx *q, struct quic_stats *out)
{
	if (q == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = q->st;
}

struct quic_conn *quic_conn_new(void) { return calloc(1, sizeof(struct quic_conn)); }

static void conn_release(struct quic_conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	c->n_ranges = 0;
	memset(&c->keys, 0, sizeof(c->keys));
}

void quic_conn_free(struct quic_conn *c)
{
	if (c == NULL)
		return;
	conn_release(c);
	free(c);
}

/* ---- packets ---- */

/* The cipher contexts, keyed for k (made on first use, re-keyed on change). */
static bool load_keys(struct quic_ctx *q, const struct quic_keys *k)
{
	if (q->loaded_ok && memcmp(&q->loaded, k, sizeof(*k)) == 0)
		return true;
	if (q->aead != NULL && q->hp != NULL) {
		q->loaded_ok = crypto_aead_rekey(q->aead, k->key) && crypto_hp_rekey(q->hp, k->hp);
	} else {
		crypto_aead_free(q->aead);
		crypto_hp_free(q->hp);
		q->aead = crypto_aead_new(CRYPTO_AES_128_GCM, k->key);
		q->hp = crypto_hp_new(CRYPTO_AES_128_GCM, k->hp);
		q->loaded_ok = q->aead != NULL && q->hp != NULL;
	}
	q->loaded = *k;
	return q->loaded_ok;
}

/*
 * Removes header protection from one Initial packet (pkt, pkt_len bytes,
 * its packet number at pn_off) and opens its payload into q->plain.
 * Returns the plaintext length, or -1.
 */
static long open_packet(struct quic_ctx *q, const struct quic_keys *k, const uint8_t *pkt,
			size_t pkt_len, size_t pn_off)
{
	if (!load_keys(q, k))
		return -1;
	struct cursor pc = cur_make(pkt, pkt_len);
	uint8_t flags = cur_u8(&pc);
	const uint8_t *mid = cur_take(&pc, pn_off - 1);
	struct cursor sc = pc;
	cur_skip(&sc, 4);
	const uint8_t *sample = cur_take(&sc, CRYPTO_HP_SAMPLE);
	uint8_t mask[CRYPTO_HP_MASK];
	if (mid == NULL || sample == NULL || !crypto_hp_mask(q->hp, sample, mask))
		return -1;
	flags ^= mask[0] & 0x0f;
	size_t pn_len = (size_t)(flags & 3) + 1;
	uint8_t pnb[4];
	uint64_t pn = 0;
	for (size_t i = 0; i < pn_len; i++) {
		pnb[i] = cur_u8(&pc) ^ mask[1 + i];
		pn = pn << 8 | pnb[i];
	}
	size_t ct_len = cur_left(&pc);
	const uint8_t *ct = cur_take(&pc, ct_len);
	if (ct == NULL || ct_len < CRYPTO_TAG_LEN || ct_len - CRYPTO_TAG_LEN > PLAIN_MAX)
		return -1;
	/* the associated data is the unprotected header, given in three pieces */
	struct crypto_aad aad = {{&flags, mid, pnb}, {1, pn_off - 1, pn_len}};
	uint8_t nonce[CRYPTO_NONCE_LEN];
	crypto_nonce(k->iv, pn, nonce);
	if (!crypto_aead_open(q->aead, nonce, &aad, ct, ct_len, q->plain)) {
		q->st.open_failed++;
		return -1;
	}
	q->st.packets++;
	return (long)(ct_len - CRYPTO_TAG_LEN);
}

/* ---- CRYPTO stream ---- */

/* Keeps CRYPTO bytes [off, off + len); bytes already held stay as they were. */
static void crypto_add(struct quic_ctx *q, struct quic_conn *c, uint64_t off, const uint8_t *d,
		       uint64_t len)
{
	if (len == 0)
		return;
	if (off >= QUIC_CRYPTO_MAX) {
		q->st.crypto_refused += len;
		return;
	}
	uint64_t end = off + len;
	if (end > QUIC_CRYPTO_MAX) {
		q->st.crypto_refused += end - QUIC_CRYPTO_MAX;
		end = QUIC_CRYPTO_MAX;
	}
	struct range nr = {(uint32_t)off, (uint32_t)end};
	struct range out[QUIC_RANGES + 1];
	size_t k = 0;
	bool placed = false;
	for (size_t i = 0; i < c->n_ranges; i++) {
		struct range r = c->r[i];
		if (r.hi < nr.lo) {
			out[k++] = r;
		} else if (r.lo > nr.hi) {
			if (!placed) {
				out[k++] = nr;
				placed = true;
			}
			if (k < QUIC_RANGES + 1)
				out[k++] = r;
		} else { /* overlapping or touching: one range */
			nr.lo = r.lo < nr.lo ? r.lo : nr.lo;
			nr.hi = r.hi > nr.hi ? r.hi : nr.hi;
		}
		if (k > QUIC_RANGES)
			break;
	}
	if (!placed && k <= QUIC_RANGES)
		out[k++] = nr;
	if (k > QUIC_RANGES) {
		q->st.crypto_refused += end - off;
		return;
	}
	if (end > c->cap) {
		uint32_t cap = c->cap ? c->cap : 4096;
		while (cap < end)
			cap *= 2;
		if (cap > QUIC_CRYPTO_MAX)
			cap = QUIC_CRYPTO_MAX;
		uint8_t *nb = realloc(c->buf, cap);
		if (nb == NULL) {
			q->st.crypto_refused += end - off;
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	/* copy the parts no earlier piece covered */
	uint64_t pos = off;
	for (size_t i = 0; i < c->n_ranges && pos < end; i++) {
		const struct range *r = &c->r[i];
		if (r->hi <= pos || r->lo >= end)
			continue;
		if (r->lo > pos)
			memcpy(c->buf + pos, d + (pos - off), r->lo - pos);
		pos = r->hi;
	}
	if (pos < end)
		memcpy(c->buf + pos, d + (pos - off), end - pos);
	memcpy(c->r, out, k * sizeof(out[0]));
	c->n_ranges = (uint8_t)k;
}

/*
 * The frames of one opened Initial (RFC 9000 19). Only the frames an
 * Initial may carry are understood; anything else ends the walk, keeping
 * what was read before it.
 */
static void read_frames(struct quic_ctx *q, struct quic_conn *c, const uint8_t *p, size_t n)
{
	struct cursor f = cur_make(p, n);
	while (cur_left(&f) > 0) {
		uint64_t type = cur_quic_varint(&f);
		switch (type) {
		case FRAME_PADDING:
		case FRAME_PING:
			break;
		case FRAME_ACK:
		case FRAME_ACK_ECN: {
			cur_quic_varint(&f); /* largest acknowledged */
			cur_quic_varint(&f); /* delay */
			uint64_t ranges = cur_quic_varint(&f);
			cur_quic_varint(&f); /* first range */
			for (uint64_t i = 0; i < ranges && cur_ok(&f); i++) {
				cur_quic_varint(&f); /* gap */
				cur_quic_varint(&f); /* range length */
			}
			if (type == FRAME_ACK_ECN) {
				cur_quic_varint(&f);
				cur_quic_varint(&f);
				cur_quic_varint(&f);
			}
			break;
		}
		case FRAME_CRYPTO: {
			uint64_t off = cur_quic_varint(&f);
			uint64_t len = cur_quic_varint(&f);
			const uint8_t *d = len <= cur_left(&f) ? cur_take(&f, (size_t)len) : NULL;
			if (d == NULL)
				return;
			crypto_add(q, c, off, d, len);
			break;
		}
		case FRAME_CLOSE:
		case FRAME_CLOSE_APP: {
			cur_quic_varint(&f); /* error code */
			if (type == FRAME_CLOSE)
				cur_quic_varint(&f); /* frame type */
			uint64_t reason = cur_quic_varint(&f);
			if (reason > cur_left(&f))
				return;
			cur_skip(&f, (size_t)reason);
			break;
		}
		default:
			return;
		}
		if (!cur_ok(&f))
			return;
	}
}

/* Keys for an Initial whose DCID is dcid: the connection's, or a Retry's new ones. */
static long open_initial(struct quic_ctx *q, struct quic_conn *c, uint32_t version,
			 const uint8_t *dcid, size_t dcid_len, const uint8_t *pkt, size_t pkt_len,
			 size_t pn_off)
{
	bool same = c->keyed && c->version == version && c->dcid_len == dcid_len &&
		    memcmp(c->dcid, dcid, dcid_len) == 0;
	if (c->keyed && c->version == version) {
		long n = open_packet(q, &c->keys, pkt, pkt_len, pn_off);
		if (n >= 0 || same)
			return n;
	}
	/* the first Initial, or one under a DCID the client took from a Retry */
	struct quic_keys k;
	if (c->derived >= QUIC_DERIVE_MAX)
		return -1;
	c->derived++;
	if (!derive_keys(q->kdf, version, dcid, dcid_len, false, &k))
		return -1;
	long n = open_packet(q, &k, pkt, pkt_len, pn_off);
	if (n >= 0 || !c->keyed) {
		c->keys = k;
		c->version = version;
		memcpy(c->dcid, dcid, dcid_len);
		c->dcid_len = (uint8_t)dcid_len;
		c->keyed = true;
	}
	return n;
}

/*
 * The packets of one datagram: each long-header packet is delimited by its
 * Length field; Initials are opened, other types skipped. A short-header
 * packet, a Retry, a version negotiation or a header that does not parse
 * ends the datagram.
 */
static void read_datagram(struct quic_ctx *q, struct quic_conn *c, const uint8_t *d, size_t n)
{
	struct cursor dg = cur_make(d, n);
	while (cur_left(&dg) > 0) {
		const uint8_t *pkt = dg.p;
		struct cursor h = dg;
		uint8_t flags = cur_u8(&h);
		if ((flags & FORM_LONG) == 0)
			return;
		uint32_t version = cur_be32(&h);
		struct version_info vi;
		if (!cur_ok(&h) || !version_info(version, &vi))
			return;
		c->seen_long = true;
		uint8_t dcid_len = cur_u8(&h);
		const uint8_t *dcid = cur_take(&h, dcid_len);
		uint8_t scid_len = cur_u8(&h);
		cur_skip(&h, scid_len);
		if (!cur_ok(&h) || dcid_len > QUIC_CID_MAX || scid_len > QUIC_CID_MAX)
			return;
		unsigned type = (flags >> 4) & 3;
		if (type == type_retry(&vi))
			return;
		if (type == type_initial(&vi)) {
			uint64_t token = cur_quic_varint(&h);
			if (token > cur_left(&h))
				return;
			cur_skip(&h, (size_t)token);
		}
		uint64_t length = cur_quic_varint(&h);
		if (!cur_ok(&h) || length > cur_left(&h))
			return;
		size_t pn_off = cur_offset(&h, pkt);
		size_t pkt_len = pn_off + (size_t)length;
		cur_skip(&dg, pkt_len);
		if (type != type_initial(&vi))
			continue;
		if (++c->initials > QUIC_INITIALS_MAX)
			return;
		long plain = open_initial(q, c, version, dcid, dcid_len, pkt, pkt_len, pn_off);
		if (plain >= 0)
			read_frames(q, c, q->plain, (size_t)plain);
	}
}

enum quic_status quic_client_datagram(struct quic_ctx *q, struct quic_conn *c, const uint8_t *d,
				      size_t n, struct tls_hello *out)
{
	if (c->done)
		return QUIC_DONE;
	if (d == NULL)
		n = 0;
	c->datagrams++;
	read_datagram(q, c, d, n);
	enum tls_parse_status st = TLS_PARSE_NEED_MORE;
	uint32_t have = c->n_ranges > 0 && c->r[0].lo == 0 ? c->r[0].hi : 0;
	if (have != c->checked) {
		c->checked = have;
		st = tls_handshake_hello(c->buf, have, out);
	}
	if (st == TLS_PARSE_NEED_MORE && c->seen_long && c->datagrams < QUIC_DATAGRAMS_MAX &&
	    c->initials < QUIC_INITIALS_MAX)
		return QUIC_MORE;
	c->done = true;
	conn_release(c);
	return st == TLS_PARSE_OK ? QUIC_HELLO : QUIC_DONE;
}
