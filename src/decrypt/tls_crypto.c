/*
 * tls_crypto.c - the TLS 1.2 PRF and AES-CBC + HMAC records, on OpenSSL 3's
 * EVP interfaces (tls_crypto.h).
 *
 * Receives a master secret and randoms (once per connection), then each
 * CBC record's fragment; hands on the key block, and plaintext whose
 * padding and MAC were checked. Owns, per direction, an AES-CBC context
 * with its key scheduled and an HMAC context with its key set, both made
 * once; per record only the IV is set again and the HMAC restarted with
 * the key it already holds. This is a passive reader: the checks are not
 * constant-time, because nothing answers the sender.
 */
#include "flowaudit/tls_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

/* The cipher suites flowaudit decrypts (IANA TLS Cipher Suites registry). */
static const struct tls_suite suites[] = {
	{0x1301, TLS_K_TLS13, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0x1302, TLS_K_TLS13, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	{0x1303, TLS_K_TLS13, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	/* TLS 1.2 AES-GCM: RSA, DHE-RSA, PSK, ECDHE-ECDSA and ECDHE-RSA key exchange */
	{0x009c, TLS_K_GCM, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0x009d, TLS_K_GCM, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	{0x009e, TLS_K_GCM, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0x009f, TLS_K_GCM, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	{0x00a8, TLS_K_GCM, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0x00a9, TLS_K_GCM, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	{0xc02b, TLS_K_GCM, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0xc02c, TLS_K_GCM, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	{0xc02f, TLS_K_GCM, CRYPTO_AES_128_GCM, 16, 0, CRYPTO_SHA256},
	{0xc030, TLS_K_GCM, CRYPTO_AES_256_GCM, 32, 0, CRYPTO_SHA384},
	/* TLS 1.2 ChaCha20-Poly1305 (RFC 7905) */
	{0xcca8, TLS_K_CHACHA, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	{0xcca9, TLS_K_CHACHA, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	{0xccaa, TLS_K_CHACHA, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	{0xccab, TLS_K_CHACHA, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	{0xccac, TLS_K_CHACHA, CRYPTO_CHACHA20_POLY1305, 32, 0, CRYPTO_SHA256},
	/* TLS 1.2 AES-CBC with HMAC */
	{0x002f, TLS_K_CBC, 0, 16, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0x0033, TLS_K_CBC, 0, 16, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0x0035, TLS_K_CBC, 0, 32, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0x0039, TLS_K_CBC, 0, 32, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0x003c, TLS_K_CBC, 0, 16, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0x003d, TLS_K_CBC, 0, 32, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0x0067, TLS_K_CBC, 0, 16, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0x006b, TLS_K_CBC, 0, 32, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0xc009, TLS_K_CBC, 0, 16, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0xc00a, TLS_K_CBC, 0, 32, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0xc013, TLS_K_CBC, 0, 16, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0xc014, TLS_K_CBC, 0, 32, TLS_MAC_SHA1, CRYPTO_SHA256},
	{0xc023, TLS_K_CBC, 0, 16, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0xc024, TLS_K_CBC, 0, 32, TLS_MAC_SHA384, CRYPTO_SHA384},
	{0xc027, TLS_K_CBC, 0, 16, TLS_MAC_SHA256, CRYPTO_SHA256},
	{0xc028, TLS_K_CBC, 0, 32, TLS_MAC_SHA384, CRYPTO_SHA384},
};

const struct tls_suite *tls_suite_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

bool tls_prf(enum crypto_hash h, const uint8_t *secret, size_t secret_len, const char *label,
	     const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
	uint8_t ls[128];
	size_t ll = strlen(label);
	if (ll + seed_len > sizeof(ls))
		return false;
	memcpy(ls, label, ll);
	memcpy(ls + ll, seed, seed_len);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	if (kdf == NULL)
		return false;
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kc == NULL)
		return false;
	OSSL_PARAM params[4];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     h == CRYPTO_SHA384 ? "SHA384" : "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret,
						      secret_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, ls, ll + seed_len);
	params[3] = OSSL_PARAM_construct_end();
	bool ok = EVP_KDF_derive(kc, out, out_len, params) == 1;
	EVP_KDF_CTX_free(kc);
	return ok;
}

void tls_wipe(void *p, size_t n) { OPENSSL_cleanse(p, n); }

size_t tls_mac_len(enum tls_mac m) { return m == TLS_MAC_SHA1 ? 20 : m == TLS_MAC_SHA256 ? 32 : 48; }

static const char *mac_digest(enum tls_mac m)
{
	return m == TLS_MAC_SHA1 ? "SHA1" : m == TLS_MAC_SHA256 ? "SHA256" : "SHA384";
}

struct tls_cbc_ctx {
	EVP_CIPHER_CTX *aes;
	EVP_MAC_CTX *hmac;
	enum tls_mac mac;
};

void tls_cbc_free(struct tls_cbc_ctx *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->aes);
	EVP_MAC_CTX_free(c->hmac);
	free(c);
}

struct tls_cbc_ctx *tls_cbc_new(const uint8_t *key, size_t key_len, enum tls_mac m,
				const uint8_t *mac_key)
{
	struct tls_cbc_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->mac = m;
	c->aes = EVP_CIPHER_CTX_new();
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac != NULL)
		c->hmac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	OSSL_PARAM params[2];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)mac_digest(m), 0);
	params[1] = OSSL_PARAM_construct_end();
	const EVP_CIPHER *aes = key_len == 16 ? EVP_aes_128_cbc() : key_len == 32 ? EVP_aes_256_cbc() : NULL;
	if (c->aes == NULL || c->hmac == NULL || aes == NULL ||
	    EVP_DecryptInit_ex(c->aes, aes, NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c->aes, 0) != 1 ||
	    EVP_MAC_init(c->hmac, mac_key, tls_mac_len(m), params) != 1) {
		tls_cbc_free(c);
		return NULL;
	}
	return c;
}

/* HMAC(seq || type || version || length || data) compared with want. */
static bool mac_ok(struct tls_cbc_ctx *c, uint64_t seq, uint8_t type, uint16_t version,
		   const uint8_t *data, size_t len, const uint8_t *want)
{
	uint8_t hdr[13];
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(seq >> (56 - 8 * i));
	hdr[8] = type;
	hdr[9] = (uint8_t)(version >> 8);
	hdr[10] = (uint8_t)version;
	hdr[11] = (uint8_t)(len >> 8);
	hdr[12] = (uint8_t)len;
	uint8_t got[EVP_MAX_MD_SIZE];
	size_t got_len = 0;
	if (EVP_MAC_init(c->hmac, NULL, 0, NULL) != 1 || EVP_MAC_update(c->hmac, hdr, sizeof(hdr)) != 1 ||
	    (len > 0 && EVP_MAC_update(c->hmac, data, len) != 1) ||
	    EVP_MAC_final(c->hmac, got, &got_len, sizeof(got)) != 1)
		return false;
	return got_len == tls_mac_len(c->mac) && CRYPTO_memcmp(got, want, got_len) == 0;
}

static bool cbc_decrypt(struct tls_cbc_ctx *c, const uint8_t *iv, const uint8_t *in, size_t len,
			uint8_t *out)
{
	int outl = 0;
	if (len > INT32_MAX || EVP_DecryptInit_ex(c->aes, NULL, NULL, NULL, iv) != 1)
		return false;
	return EVP_DecryptUpdate(c->aes, out, &outl, in, (int)len) == 1 && (size_t)outl == len;
}

/* Strips and checks TLS padding (each of the last p + 1 bytes equal to p). */
static bool unpad(const uint8_t *p, size_t len, size_t *out)
{
	if (len == 0)
		return false;
	size_t pad = p[len - 1];
	if (pad + 1 > len)
		return false;
	for (size_t i = len - 1 - pad; i < len; i++)
		if (p[i] != pad)
			return false;
	*out = len - pad - 1;
	return true;
}

bool tls_cbc_open(struct tls_cbc_ctx *c, bool etm, uint64_t seq, uint8_t type, uint16_t version,
		  const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	size_t ml = tls_mac_len(c->mac);
	*out_len = 0;
	if (etm) {
		if (in_len < TLS_CBC_IV_LEN + 16 + ml)
			return false;
		size_t ct = in_len - ml - TLS_CBC_IV_LEN;
		if (ct % 16 != 0 || !mac_ok(c, seq, type, version, in, in_len - ml, in + in_len - ml))
			return false;
		size_t plain;
		if (!cbc_decrypt(c, in, in + TLS_CBC_IV_LEN, ct, out) || !unpad(out, ct, &plain))
			return false;
		*out_len = plain;
		return true;
	}
	if (in_len < TLS_CBC_IV_LEN + 16 || (in_len - TLS_CBC_IV_LEN) % 16 != 0)
		return false;
	size_t ct = in_len - TLS_CBC_IV_LEN, inner;
	if (!cbc_decrypt(c, in, in + TLS_CBC_IV_LEN, ct, out) || !unpad(out, ct, &inner) || inner < ml)
		return false;
	size_t plain = inner - ml;
	if (!mac_ok(c, seq, type, version, out, plain, out + plain))
		return false;
	*out_len = plain;
	return true;
}
