/*
 * hash.h - MD5, SHA-1 and SHA-256 (RFC 1321, FIPS 180-4), computed by
 * OpenSSL 3's libcrypto (EVP).
 *
 * SHA-256 hashes the report's inputs and outputs (MANIFEST.sha256); all three
 * are how apps disguise device identifiers, so the identifier scanner hashes
 * each identifier to look for the digests. MD5 and SHA-1 are here only to
 * recognise such digests, never to protect anything.
 *
 * The contexts are plain structs the caller owns (stack or embedded) around
 * libcrypto's digest context, which init() allocates and final() frees:
 * every init() is followed by a final(). update() may be called any number
 * of times between them; final() leaves the context spent (init() it again
 * to reuse). A context whose init() or update() failed (libcrypto out of
 * memory) stays failed: its final() writes zeros and returns false, so a
 * caller may check once, at the end.
 */
#ifndef FLOWAUDIT_HASH_H
#define FLOWAUDIT_HASH_H

#include "flowaudit/common.h"

#include <stdio.h>

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16
#define SHA1_DIGEST_LEN 20
#define SHA256_DIGEST_LEN 32

struct evp_md_ctx_st; /* libcrypto's EVP_MD_CTX */

struct md5_ctx {
	struct evp_md_ctx_st *md; /* NULL: init failed, or spent */
	bool failed;
};

struct sha1_ctx {
	struct evp_md_ctx_st *md;
	bool failed;
};

struct sha256_ctx {
	struct evp_md_ctx_st *md;
	bool failed;
};

/* Each returns false once the context has failed (see above). */
bool md5_init(struct md5_ctx *c);
bool md5_update(struct md5_ctx *c, const void *data, size_t len);
bool md5_final(struct md5_ctx *c, uint8_t out[MD5_DIGEST_LEN]);

bool sha1_init(struct sha1_ctx *c);
bool sha1_update(struct sha1_ctx *c, const void *data, size_t len);
bool sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_LEN]);

bool sha256_init(struct sha256_ctx *c);
bool sha256_update(struct sha256_ctx *c, const void *data, size_t len);
bool sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Lower-case hex of n bytes into out, which holds 2n+1 chars (NUL-terminated). */
void hash_hex(const uint8_t *d, size_t n, char *out);

/*
 * SHA-256 of a whole file as 64 lower-case hex chars plus NUL.
 * FA_EINPUT when the file cannot be opened, FA_ERUNTIME on a read error or
 * when libcrypto fails; err names the path either way.
 */
int sha256_file(const char *path, char hex[65], struct fa_err *err);

/*
 * path opened for writing (created or truncated) as a stream whose bytes go
 * through SHA-256 on their way to the file, so that a writer's output needs
 * no second read to be hashed. fclose() writes the digest into hex (64
 * lower-case hex chars plus NUL; empty when libcrypto failed, and fclose
 * then fails too). NULL with errno set when the file cannot be opened.
 */
FILE *sha256_fopen_write(const char *path, char hex[65]);

#endif
