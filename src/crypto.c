/*
 * crypto.c - HKDF, TLS 1.3 HKDF-Expand-Label, AEAD records and QUIC header
 * protection through OpenSSL 3's EVP interfaces (crypto.h).
 *
 * Receives secrets, keys and protected bytes; hands on derived secrets,
 * plaintext or ciphertext, and header-protection masks. Owns the EVP KDF and
 * cipher contexts it makes.
 *
 * Workload: key derivation happens once per connection (QUIC Initial keys
 * come from each connection's first Destination Connection ID), record
 * protection once per packet. So HKDF is fetched, and its digest set, once
 * per KDF context; a cipher context is initialised with its algorithm and
 * key once, and per packet only the nonce (AEAD) or the sample (ChaCha20
 * header protection) is set on it again.
 */
#include "flowaudit/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

size_t crypto_hash_len(enum crypto_hash h) { return h == CRYPTO_SHA384 ? 48 : 32; }

size_t crypto_aead_key_len(enum crypto_aead a) { return a == CRYPTO_AES_128_GCM ? 16 : 32; }

static const char *hash_name(enum crypto_hash h) { return h == CRYPTO_SHA384 ? "SHA384" : "SHA256"; }

struct crypto_kdf {
	EVP_KDF_CTX *kc; /* HKDF, its digest set */
	enum crypto_hash h;
};

struct crypto_kdf *crypto_kdf_new(enum crypto_hash h)
{
	struct crypto_kdf *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->h = h;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	k->kc = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	OSSL_PARAM p[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)hash_name(h), 0),
		OSSL_PARAM_construct_end(),
	};
	if (k->kc == NULL || EVP_KDF_CTX_set_params(k->kc, p) != 1) {
		crypto_kdf_free(k);
		return NULL;
	}
	return k;
}

void crypto_kdf_free(struct crypto_kdf *k)
{
	if (k == NULL)
		return;
	EVP_KDF_CTX_free(k->kc);
	free(k);
}

/* One HKDF call in the given mode (EVP_KDF_HKDF_MODE_*). */
static bool hkdf(struct crypto_kdf *k, int mode, const uint8_t *salt, size_t salt_len,
		 const uint8_t *key, size_t key_len, const uint8_t *info, size_t info_len,
		 uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[5];
	size_t n = 0;
	params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	static const uint8_t none = 0; /* a valid pointer for an empty key */
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
							(void *)(key_len ? key : &none), key_len);
	if (salt != NULL && salt_len > 0)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
								(void *)salt, salt_len);
	if (info != NULL && info_len > 0)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
								(void *)info, info_len);
	params[n] = OSSL_PARAM_construct_end();
	return EVP_KDF_derive(k->kc, out, out_len, params) == 1;
}

bool crypto_hkdf_extract(struct crypto_kdf *k, const uint8_t *salt, size_t salt_len,
			 const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
	return hkdf(k, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL, 0, prk,
		    crypto_hash_len(k->h));
}

bool crypto_hkdf_expand_label(struct crypto_kdf *k, const uint8_t *secret, size_t secret_len,
			      const char *label, const uint8_t *context, size_t context_len,
			      uint8_t *out, size_t out_len)
{
	static const char prefix[] = "tls13 ";
	size_t label_len = strlen(label);
	size_t full = sizeof(prefix) - 1 + label_len;
	if (full > 255 || context_len > 255 || out_len > 0xFFFF || out_len == 0 ||
	    secret_len == 0)
		return false;
	/* struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
	uint8_t info[2 + 1 + 255 + 1 + 255];
	size_t n = 0;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)full;
	memcpy(info + n, prefix, sizeof(prefix) - 1);
	n += sizeof(prefix) - 1;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = (uint8_t)context_len;
	if (context_len > 0) {
		memcpy(info + n, context, context_len);
		n += context_len;
	}
	return hkdf(k, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, secret, secret_len, info, n, out,
		    out_len);
}

void crypto_nonce(const uint8_t iv[CRYPTO_NONCE_LEN], uint64_t seq, uint8_t nonce[CRYPTO_NONCE_LEN])
{
	memcpy(nonce, iv, CRYPTO_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[CRYPTO_NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* ---- AEAD ---- */

struct crypto_aead_ctx {
	EVP_CIPHER_CTX *dec, *enc; /* enc made on first seal */
	enum crypto_aead alg;
	uint8_t key[CRYPTO_KEY_MAX];
};

static const EVP_CIPHER *aead_cipher(enum crypto_aead a)
{
	switch (a) {
	case CRYPTO_AES_128_GCM: return EVP_aes_128_gcm();
	case CRYPTO_AES_256_GCM: return EVP_aes_256_gcm();
	case CRYPTO_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
	}
	return NULL;
}

/* A context with the algorithm, the 12-byte nonce length and the key set. */
static EVP_CIPHER_CTX *aead_ctx_make(enum crypto_aead a, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	if (x == NULL)
		return NULL;
	if (EVP_CipherInit_ex(x, aead_cipher(a), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, CRYPTO_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(x, NULL, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(x);
		return NULL;
	}
	return x;
}

struct crypto_aead_ctx *crypto_aead_new(enum crypto_aead a, const uint8_t *key)
{
	if (aead_cipher(a) == NULL)
		return NULL;
	struct crypto_aead_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->alg = a;
	memcpy(c->key, key, crypto_aead_key_len(a));
	c->dec = aead_ctx_make(a, key, 0);
	if (c->dec == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void crypto_aead_free(struct crypto_aead_ctx *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->dec);
	EVP_CIPHER_CTX_free(c->enc);
	memset(c->key, 0, sizeof(c->key));
	free(c);
}

bool crypto_aead_rekey(struct crypto_aead_ctx *c, const uint8_t *key)
{
	memcpy(c->key, key, crypto_aead_key_len(c->alg));
	if (EVP_CipherInit_ex(c->dec, NULL, NULL, key, NULL, 0) != 1)
		return false;
	return c->enc == NULL || EVP_CipherInit_ex(c->enc, NULL, NULL, key, NULL, 1) == 1;
}

static bool feed_aad(EVP_CIPHER_CTX *x, const struct crypto_aad *aad)
{
	for (int i = 0; aad != NULL && i < 3; i++) {
		int outl = 0;
		if (aad->n[i] == 0)
			continue;
		if (aad->p[i] == NULL || aad->n[i] > INT32_MAX ||
		    EVP_CipherUpdate(x, NULL, &outl, aad->p[i], (int)aad->n[i]) != 1)
			return false;
	}
	return true;
}

bool crypto_aead_open(struct crypto_aead_ctx *c, const uint8_t nonce[CRYPTO_NONCE_LEN],
		      const struct crypto_aad *aad, const uint8_t *in, size_t in_len,
		      uint8_t *out)
{
	if (in_len < CRYPTO_TAG_LEN || in_len - CRYPTO_TAG_LEN > INT32_MAX)
		return false;
	size_t ct_len = in_len - CRYPTO_TAG_LEN;
	EVP_CIPHER_CTX *x = c->dec;
	int outl = 0, fin = 0;
	/* the tag is copied first: out may overwrite in */
	uint8_t tag[CRYPTO_TAG_LEN];
	memcpy(tag, in + ct_len, CRYPTO_TAG_LEN);
	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, nonce, 0) != 1 || !feed_aad(x, aad))
		return false;
	if (ct_len > 0 && EVP_CipherUpdate(x, out, &outl, in, (int)ct_len) != 1)
		return false;
	if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		return false;
	return EVP_CipherFinal_ex(x, out + outl, &fin) == 1;
}

bool crypto_aead_seal(struct crypto_aead_ctx *c, const uint8_t nonce[CRYPTO_NONCE_LEN],
		      const struct crypto_aad *aad, const uint8_t *in, size_t in_len,
		      uint8_t *out)
{
	if (in_len > INT32_MAX)
		return false;
	if (c->enc == NULL && (c->enc = aead_ctx_make(c->alg, c->key, 1)) == NULL)
		return false;
	EVP_CIPHER_CTX *x = c->enc;
	int outl = 0, fin = 0;
	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, nonce, 1) != 1 || !feed_aad(x, aad))
		return false;
	if (in_len > 0 && EVP_CipherUpdate(x, out, &outl, in, (int)in_len) != 1)
		return false;
	if (EVP_CipherFinal_ex(x, out + outl, &fin) != 1)
		return false;
	return EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN,
				   out + (size_t)outl + (size_t)fin) == 1;
}

/* ---- header protection ---- */

struct crypto_hp_ctx {
	EVP_CIPHER_CTX *x;
	enum crypto_aead alg;
};

static const EVP_CIPHER *hp_cipher(enum crypto_aead a)
{
	switch (a) {
	case CRYPTO_AES_128_GCM: return EVP_aes_128_ecb();
	case CRYPTO_AES_256_GCM: return EVP_aes_256_ecb();
	case CRYPTO_CHACHA20_POLY1305: return EVP_chacha20();
	}
	return NULL;
}

struct crypto_hp_ctx *crypto_hp_new(enum crypto_aead a, const uint8_t *hp_key)
{
	if (hp_cipher(a) == NULL)
		return NULL;
	struct crypto_hp_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->alg = a;
	c->x = EVP_CIPHER_CTX_new();
	if (c->x == NULL || EVP_EncryptInit_ex(c->x, hp_cipher(a), NULL, hp_key, NULL) != 1) {
		crypto_hp_free(c);
		return NULL;
	}
	EVP_CIPHER_CTX_set_padding(c->x, 0);
	return c;
}

void crypto_hp_free(struct crypto_hp_ctx *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->x);
	free(c);
}

bool crypto_hp_rekey(struct crypto_hp_ctx *c, const uint8_t *hp_key)
{
	return EVP_EncryptInit_ex(c->x, NULL, NULL, hp_key, NULL) == 1;
}

bool crypto_hp_mask(struct crypto_hp_ctx *c, const uint8_t sample[CRYPTO_HP_SAMPLE],
		    uint8_t mask[CRYPTO_HP_MASK])
{
	uint8_t block[CRYPTO_HP_SAMPLE];
	int outl = 0;
	if (c->alg == CRYPTO_CHACHA20_POLY1305) {
		/* RFC 9001 5.4.4: counter = sample[0..3] little-endian, nonce = sample[4..15],
		   which is exactly OpenSSL's 16-byte ChaCha20 IV; the mask is the
		   keystream over five zero bytes */
		static const uint8_t zeros[CRYPTO_HP_MASK] = {0};
		if (EVP_EncryptInit_ex(c->x, NULL, NULL, NULL, sample) != 1 ||
		    EVP_EncryptUpdate(c->x, block, &outl, zeros, CRYPTO_HP_MASK) != 1 ||
		    outl != CRYPTO_HP_MASK)
			return false;
	} else if (EVP_EncryptUpdate(c->x, block, &outl, sample, CRYPTO_HP_SAMPLE) != 1 ||
		   outl != CRYPTO_HP_SAMPLE) {
		return false;
	}
	memcpy(mask, block, CRYPTO_HP_MASK);
	return true;
}
