/*
 * tls_crypto.h - what TLS 1.2 record protection needs beyond crypto.h: the
 * TLS 1.2 PRF (RFC 5246 5) for the key block, and AES-CBC records with an
 * HMAC (SHA-1, SHA-256, SHA-384), MAC-then-encrypt (RFC 5246 6.2.3.2) or
 * encrypt-then-MAC (RFC 7366); and the table of the cipher suites these
 * and crypto.h's AEADs decrypt. The AEAD records go through crypto.h.
 *
 * Every primitive is an OpenSSL 3 EVP call (EVP_KDF "TLS1-PRF", EVP_MAC
 * "HMAC", AES-CBC through EVP_CIPHER). A struct tls_cbc_ctx holds one
 * direction's cipher key and MAC key, scheduled once; it is owned by the
 * caller (tls_cbc_free accepts NULL) and used by one thread at a time.
 */
#ifndef FLOWAUDIT_TLS_CRYPTO_H
#define FLOWAUDIT_TLS_CRYPTO_H

#include "flowaudit/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a cipher suite's records need: TLS 1.3 AEAD, or TLS 1.2 GCM, ChaCha20, CBC. */
enum tls_suite_kind { TLS_K_TLS13, TLS_K_GCM, TLS_K_CHACHA, TLS_K_CBC };

enum tls_mac {
	TLS_MAC_SHA1 = 0,
	TLS_MAC_SHA256,
	TLS_MAC_SHA384,
};

struct tls_suite {
	uint16_t id;
	uint8_t kind;          /* enum tls_suite_kind */
	enum crypto_aead aead; /* all kinds but TLS_K_CBC */
	uint8_t key_len;       /* cipher key bytes */
	enum tls_mac mac;      /* TLS_K_CBC */
	enum crypto_hash hash; /* the PRF's (1.2) or HKDF's (1.3) hash */
};

/* The suite with this IANA number, or NULL when flowaudit cannot decrypt it. */
const struct tls_suite *tls_suite_find(uint16_t id);

/* P_hash of the TLS 1.2 PRF: out_len bytes of PRF(secret, label, seed). */
bool tls_prf(enum crypto_hash h, const uint8_t *secret, size_t secret_len, const char *label,
	     const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len);

size_t tls_mac_len(enum tls_mac m);

/* Zeroes n bytes of a secret in a way the compiler may not drop (OPENSSL_cleanse). */
void tls_wipe(void *p, size_t n);

#define TLS_CBC_IV_LEN 16

struct tls_cbc_ctx;
/* key_len 16 (AES-128) or 32 (AES-256); mac_key of tls_mac_len(m) bytes. NULL on failure. */
struct tls_cbc_ctx *tls_cbc_new(const uint8_t *key, size_t key_len, enum tls_mac m,
				const uint8_t *mac_key);
void tls_cbc_free(struct tls_cbc_ctx *c);

/*
 * Opens one record's fragment (in: explicit IV, ciphertext, and for
 * encrypt-then-MAC the MAC after it) of content type `type` and record
 * version `version`, sequence number seq. Writes the plaintext to out
 * (room for in_len bytes) and its length to *out_len. False when the
 * length is impossible, the padding is wrong or the MAC does not verify.
 */
bool tls_cbc_open(struct tls_cbc_ctx *c, bool etm, uint64_t seq, uint8_t type, uint16_t version,
		  const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len);

#endif
