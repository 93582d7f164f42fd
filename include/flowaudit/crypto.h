/*
 * crypto.h - the TLS 1.3 and QUIC key schedule and record protection, on
 * OpenSSL 3's libcrypto.
 *
 * Receives: secrets, keys and protected bytes. Hands on: derived secrets
 * (HKDF-Extract, TLS 1.3 HKDF-Expand-Label with any label, so QUIC's
 * "quic key" / "quic iv" / "quic hp" and QUIC v2's "quicv2 ..." labels
 * work alike), opened or sealed AEAD records, and QUIC header-protection
 * masks. Nothing here is hand-written cryptography: every primitive is an
 * EVP call.
 *
 * Contexts: a KDF context holds HKDF with its hash, fetched once and used
 * for every derivation of a key schedule. An AEAD or header-protection
 * context holds the cipher with its key already scheduled, made once per
 * key and reused for every packet protected under it (only the nonce or
 * sample changes per packet). The caller owns each context: the *_free()
 * functions release it, and accept NULL. A context is used by one thread
 * at a time.
 *
 * Status: functions return true on success. An AEAD open that fails (a tag
 * that does not verify, a record shorter than the tag) returns false and
 * leaves the output unspecified; nothing is ever printed.
 */
#ifndef FLOWAUDIT_CRYPTO_H
#define FLOWAUDIT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum crypto_hash {
	CRYPTO_SHA256 = 0,
	CRYPTO_SHA384,
};
#define CRYPTO_HASH_MAX 48 /* the longest digest (SHA-384) */

enum crypto_aead {
	CRYPTO_AES_128_GCM = 0,
	CRYPTO_AES_256_GCM,
	CRYPTO_CHACHA20_POLY1305,
};
#define CRYPTO_KEY_MAX 32   /* the longest AEAD key */
#define CRYPTO_NONCE_LEN 12 /* every AEAD here: RFC 8446 5.3's iv_length */
#define CRYPTO_TAG_LEN 16
#define CRYPTO_HP_SAMPLE 16 /* RFC 9001 5.4.2 */
#define CRYPTO_HP_MASK 5

size_t crypto_hash_len(enum crypto_hash h);
size_t crypto_aead_key_len(enum crypto_aead a);
/* The header-protection key has the AEAD key's length (RFC 9001 5.4.3). */
#define crypto_hp_key_len(a) crypto_aead_key_len(a)

struct crypto_kdf;
/* HKDF over hash h; NULL without memory or without the algorithm. */
struct crypto_kdf *crypto_kdf_new(enum crypto_hash h);
void crypto_kdf_free(struct crypto_kdf *k);

/* HKDF-Extract (RFC 5869 2.2): prk gets the hash's length in bytes. */
bool crypto_hkdf_extract(struct crypto_kdf *k, const uint8_t *salt, size_t salt_len,
			 const uint8_t *ikm, size_t ikm_len, uint8_t *prk);

/*
 * HKDF-Expand-Label (RFC 8446 7.1): out_len bytes of
 * HKDF-Expand(secret, HkdfLabel(out_len, "tls13 " + label, context)).
 * secret_len is normally the hash's length; label is at most 249 bytes,
 * context at most 255, out_len at most 255 * hash length.
 */
bool crypto_hkdf_expand_label(struct crypto_kdf *k, const uint8_t *secret, size_t secret_len,
			      const char *label, const uint8_t *context, size_t context_len,
			      uint8_t *out, size_t out_len);

/*
 * The per-record nonce of TLS 1.3 (RFC 8446 5.3) and QUIC (RFC 9001
 * 5.3): the 64-bit sequence or packet number, big-endian, left-padded to
 * 12 bytes and XORed with the static iv.
 */
void crypto_nonce(const uint8_t iv[CRYPTO_NONCE_LEN], uint64_t seq,
		  uint8_t nonce[CRYPTO_NONCE_LEN]);

struct crypto_aead_ctx;
/* A context for one key (crypto_aead_key_len(a) bytes); NULL without memory. */
struct crypto_aead_ctx *crypto_aead_new(enum crypto_aead a, const uint8_t *key);
void crypto_aead_free(struct crypto_aead_ctx *c);
/* Replaces the key (same algorithm), keeping the context. */
bool crypto_aead_rekey(struct crypto_aead_ctx *c, const uint8_t *key);

/*
 * Opens in (in_len bytes: ciphertext then the 16-byte tag) into out
 * (in_len - 16 bytes; may equal in). The associated data may be given in
 * up to three pieces (a NULL piece of length 0 is skipped), so that a
 * header need not be copied to be authenticated. False when in_len < 16 or
 * the tag does not verify.
 */
struct crypto_aad {
	const uint8_t *p[3];
	size_t n[3];
};
bool crypto_aead_open(struct crypto_aead_ctx *c, const uint8_t nonce[CRYPTO_NONCE_LEN],
		      const struct crypto_aad *aad, const uint8_t *in, size_t in_len,
		      uint8_t *out);
/* Seals in (in_len bytes) into out (in_len + 16 bytes: ciphertext, tag). */
bool crypto_aead_seal(struct crypto_aead_ctx *c, const uint8_t nonce[CRYPTO_NONCE_LEN],
		      const struct crypto_aad *aad, const uint8_t *in, size_t in_len,
		      uint8_t *out);

struct crypto_hp_ctx;
/*
 * QUIC header protection (RFC 9001 5.4): AES-ECB of the sample for the
 * AES AEADs, ChaCha20 keyed by the sample for ChaCha20-Poly1305.
 */
struct crypto_hp_ctx *crypto_hp_new(enum crypto_aead a, const uint8_t *hp_key);
void crypto_hp_free(struct crypto_hp_ctx *c);
bool crypto_hp_rekey(struct crypto_hp_ctx *c, const uint8_t *hp_key);
bool crypto_hp_mask(struct crypto_hp_ctx *c, const uint8_t sample[CRYPTO_HP_SAMPLE],
		    uint8_t mask[CRYPTO_HP_MASK]);

#endif
