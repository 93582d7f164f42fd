/*
 * quicpkt.h - QUIC packets the tests build and protect with the crypto
 * layer (RFC 9000 17, RFC 9001 5): long headers (Initial, Handshake) and
 * short headers, AES-GCM or ChaCha20-Poly1305, a two-byte packet number.
 * Include after cmocka.h and bytebuf.h.
 */
#ifndef FLOWAUDIT_TESTS_QUICPKT_H
#define FLOWAUDIT_TESTS_QUICPKT_H

#include "flowaudit/crypto.h"
#include "flowaudit/quic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The packet protection keys of one direction. */
struct qp_keys {
	enum crypto_aead aead;
	uint8_t key[CRYPTO_KEY_MAX], iv[CRYPTO_NONCE_LEN], hp[CRYPTO_KEY_MAX];
};

/* A two-byte QUIC varint (values below 16384). */
static inline void put_varint2(struct buf *m, size_t v)
{
	assert_true(v < 16384);
	put16(m, 0x4000 | (unsigned)v);
}

/* Keys from a TLS 1.3 traffic secret with the "quic key/iv/hp" labels. */
static inline void qp_keys_from_secret(enum crypto_hash h, enum crypto_aead a, const uint8_t *secret,
				       struct qp_keys *k)
{
	struct crypto_kdf *kdf = crypto_kdf_new(h);
	assert_non_null(kdf);
	size_t hl = crypto_hash_len(h), kl = crypto_aead_key_len(a);
	k->aead = a;
	assert_true(crypto_hkdf_expand_label(kdf, secret, hl, "quic key", NULL, 0, k->key, kl));
	assert_true(crypto_hkdf_expand_label(kdf, secret, hl, "quic iv", NULL, 0, k->iv, 12));
	assert_true(crypto_hkdf_expand_label(kdf, secret, hl, "quic hp", NULL, 0, k->hp, kl));
	crypto_kdf_free(kdf);
}

/* The next key phase's secret (RFC 9001 6.1), in place. */
static inline void qp_secret_update(enum crypto_hash h, uint8_t *secret)
{
	struct crypto_kdf *kdf = crypto_kdf_new(h);
	size_t hl = crypto_hash_len(h);
	uint8_t n[CRYPTO_HASH_MAX];
	assert_true(crypto_hkdf_expand_label(kdf, secret, hl, "quic ku", NULL, 0, n, hl));
	memcpy(secret, n, hl);
	crypto_kdf_free(kdf);
}

/* Initial keys of a direction (AES-128-GCM). */
static inline void qp_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len,
				   bool server, struct qp_keys *k)
{
	struct quic_keys q;
	assert_true(quic_initial_keys(version, dcid, dcid_len, server, &q));
	k->aead = CRYPTO_AES_128_GCM;
	memcpy(k->key, q.key, 16);
	memcpy(k->iv, q.iv, 12);
	memcpy(k->hp, q.hp, 16);
}

/*
 * Seals the header written at dg->b[start .. dg->n) (ending with the two
 * packet number bytes at pn_off from start) and the payload f, padded with
 * zeros to pad_to bytes of plaintext, then masks the header.
 */
static inline void qp_protect(struct buf *dg, size_t start, size_t pn_off, uint64_t pn,
			      const struct buf *f, size_t pad_to, const struct qp_keys *k,
			      bool long_form)
{
	uint8_t plain[4096];
	size_t plain_len = f->n > pad_to ? f->n : pad_to;
	assert_true(plain_len <= sizeof(plain));
	memset(plain, 0, plain_len);
	memcpy(plain, f->b, f->n);
	size_t hdr_len = dg->n - start;
	assert_true(dg->n + plain_len + 16 <= sizeof(dg->b));
	struct crypto_aead_ctx *a = crypto_aead_new(k->aead, k->key);
	assert_non_null(a);
	uint8_t nonce[12];
	crypto_nonce(k->iv, pn, nonce);
	struct crypto_aad aad = {{dg->b + start}, {hdr_len}};
	assert_true(crypto_aead_seal(a, nonce, &aad, plain, plain_len, dg->b + dg->n));
	dg->n += plain_len + 16;
	crypto_aead_free(a);
	struct crypto_hp_ctx *hp = crypto_hp_new(k->aead, k->hp);
	uint8_t mask[5];
	assert_true(crypto_hp_mask(hp, dg->b + start + pn_off + 4, mask));
	crypto_hp_free(hp);
	dg->b[start] ^= mask[0] & (long_form ? 0x0f : 0x1f);
	dg->b[start + pn_off] ^= mask[1];
	dg->b[start + pn_off + 1] ^= mask[2];
}

/*
 * A long-header packet of `version` (type: 0 Initial, 2 Handshake, in v1's
 * numbering) carrying the frames f, appended to dg.
 */
static inline void qp_long(struct buf *dg, uint32_t version, unsigned type, const uint8_t *dcid,
			   size_t dcid_len, const uint8_t *scid, size_t scid_len, uint64_t pn,
			   const struct buf *f, size_t pad_to, const struct qp_keys *k)
{
	static const unsigned v2type[4] = {1, 2, 3, 0};
	size_t plain_len = f->n > pad_to ? f->n : pad_to;
	size_t start = dg->n;
	put8(dg, 0xc0 | (version == QUIC_V2 ? v2type[type] : type) << 4 | 1);
	put8(dg, version >> 24);
	put8(dg, (version >> 16) & 0xff);
	put8(dg, (version >> 8) & 0xff);
	put8(dg, version & 0xff);
	put8(dg, (unsigned)dcid_len);
	put_bytes(dg, dcid, dcid_len);
	put8(dg, (unsigned)scid_len);
	put_bytes(dg, scid, scid_len);
	if (type == 0)
		put8(dg, 0); /* no token */
	put_varint2(dg, 2 + plain_len + 16);
	size_t pn_off = dg->n - start;
	put16(dg, (unsigned)pn);
	qp_protect(dg, start, pn_off, pn, f, pad_to, k, true);
}

/* A short-header (1-RTT) packet with key phase bit `phase`, appended to dg. */
static inline void qp_short(struct buf *dg, const uint8_t *dcid, size_t dcid_len, unsigned phase,
			    uint64_t pn, const struct buf *f, const struct qp_keys *k)
{
	size_t start = dg->n;
	put8(dg, 0x40 | (phase & 1) << 2 | 1);
	put_bytes(dg, dcid, dcid_len);
	size_t pn_off = dg->n - start;
	put16(dg, (unsigned)pn);
	qp_protect(dg, start, pn_off, pn, f, 20, k, false);
}

#endif
