/*
 * hash.c - MD5 (RFC 1321), SHA-1 and SHA-256 (FIPS 180-4).
 *
 * Receives byte strings in any number of pieces; hands back digests.
 * Owns nothing: the caller's context holds the running state and a 64-byte
 * block buffer. Workload: identifiers of a few dozen bytes when the
 * identifier scanner is built, and whole files (captures of hundreds of MB)
 * for the report's manifest, so whole blocks are compressed straight from the
 * caller's buffer without copying.
 */
#include "flowaudit/hash.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }
static inline uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * The three hashes share the Merkle-Damgard framing: 64-byte blocks, then
 * 0x80, zeros, and the bit length in the last 8 bytes (little-endian for MD5,
 * big-endian for the SHAs).
 */
typedef void (*block_fn)(uint32_t *h, const uint8_t *blk);

static void md_update(uint32_t *h, uint64_t *total, uint8_t *buf, size_t *fill, block_fn fn,
		      const void *data, size_t len)
{
	const uint8_t *p = data;
	*total += len;
	if (*fill > 0) {
		size_t take = 64 - *fill < len ? 64 - *fill : len;
		memcpy(buf + *fill, p, take);
		*fill += take;
		p += take;
		len -= take;
		if (*fill < 64)
			return;
		fn(h, buf);
		*fill = 0;
	}
	while (len >= 64) {
		fn(h, p);
		p += 64;
		len -= 64;
	}
	memcpy(buf, p, len);
	*fill = len;
}

static void md_pad(uint32_t *h, uint64_t total, uint8_t *buf, size_t fill, block_fn fn, bool le)
{
	uint64_t bits = total * 8;
	buf[fill++] = 0x80;
	if (fill > 56) {
		memset(buf + fill, 0, 64 - fill);
		fn(h, buf);
		fill = 0;
	}
	memset(buf + fill, 0, 56 - fill);
	for (int i = 0; i < 8; i++)
		buf[56 + i] = (uint8_t)(le ? bits >> (8 * i) : bits >> (56 - 8 * i));
	fn(h, buf);
}

/* ---- MD5 ---- */

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void md5_block(uint32_t *h, const uint8_t *blk)
{
	uint32_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = load_le32(blk + 4 * i);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) & 15;
		}
		uint32_t t = d;
		d = c;
		c = b;
		b = b + rol(a + f + md5_k[i] + m[g], md5_r[i]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void md5_init(struct md5_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
}

void md5_update(struct md5_ctx *c, const void *data, size_t len)
{
	md_update(c->h, &c->len, c->buf, &c->fill, md5_block, data, len);
}

void md5_final(struct md5_ctx *c, uint8_t out[MD5_DIGEST_LEN])
{
	md_pad(c->h, c->len, c->buf, c->fill, md5_block, true);
	for (int i = 0; i < 4; i++)
		store_le32(out + 4 * i, c->h[i]);
}

/* ---- SHA-1 ---- */

static void sha1_block(uint32_t *h, const uint8_t *blk)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = load_be32(blk + 4 * i);
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void sha1_init(struct sha1_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
}

void sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
	md_update(c->h, &c->len, c->buf, &c->fill, sha1_block, data, len);
}

void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_LEN])
{
	md_pad(c->h, c->len, c->buf, c->fill, sha1_block, false);
	for (int i = 0; i < 5; i++)
		store_be32(out + 4 * i, c->h[i]);
}

/* ---- SHA-256 ---- */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void sha256_block(uint32_t *h, const uint8_t *blk)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = load_be32(blk + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + S1 + ch + sha256_k[i] + w[i];
		uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

/*
 * The same block with the x86 SHA extensions (SHA-NI): about ten times the
 * portable code, which matters when a report hashes gigabytes of capture.
 * The state is kept as the instructions want it, ABEF and CDGH; each group
 * of four rounds extends the message schedule by four words:
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_block_ni(uint32_t *h,
									 const uint8_t *blk)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	__m128i st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);       /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);       /* EFGH */
	__m128i st0 = _mm_alignr_epi8(tmp, st1, 8); /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);    /* CDGH */
	const __m128i abef = st0, cdgh = st1;
	__m128i m[4];
	/* unrolled, m[] lives in registers */
#pragma GCC unroll 16
	for (size_t j = 0; j < 16; j++) {
		__m128i w;
		if (j < 4) {
			w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(blk + 16 * j)),
					     bswap);
		} else {
			w = _mm_sha256msg1_epu32(m[j & 3], m[(j + 1) & 3]);
			w = _mm_add_epi32(w, _mm_alignr_epi8(m[(j + 3) & 3], m[(j + 2) & 3], 4));
			w = _mm_sha256msg2_epu32(w, m[(j + 3) & 3]);
		}
		m[j & 3] = w;
		__m128i k = _mm_loadu_si128((const __m128i *)(const void *)&sha256_k[4 * j]);
		__m128i msg = _mm_add_epi32(w, k);
		st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
		msg = _mm_shuffle_epi32(msg, 0x0E);
		st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
	}
	st0 = _mm_add_epi32(st0, abef);
	st1 = _mm_add_epi32(st1, cdgh);
	tmp = _mm_shuffle_epi32(st0, 0x1B);       /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);       /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);    /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);       /* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&h[0], st0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

/* The block function this processor runs best: SHA-NI when it has them.
   Asked once: CPUID is slow, and under a hypervisor it traps. */
static void (*sha256_block_fn(void))(uint32_t *, const uint8_t *)
{
	static _Atomic(block_fn) chosen;
	block_fn fn = chosen;
	if (fn == NULL) {
		unsigned a, b, c, d;
		bool sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
		bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
		fn = sse41 && sha ? sha256_block_ni : sha256_block;
		chosen = fn;
	}
	return fn;
}
#else
static void (*sha256_block_fn(void))(uint32_t *, const uint8_t *)
{
	return sha256_block;
}
#endif

void sha256_init(struct sha256_ctx *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memset(c, 0, sizeof(*c));
	memcpy(c->h, iv, sizeof(iv));
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	md_update(c->h, &c->len, c->buf, &c->fill, sha256_block_fn(), data, len);
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN])
{
	md_pad(c->h, c->len, c->buf, c->fill, sha256_block_fn(), false);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

/* ---- helpers ---- */

void hash_hex(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_file(const char *path, char hex[65], struct fa_err *err)
{
	hex[0] = '\0';
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fa_err_set(err, "%s: cannot open: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct sha256_ctx c;
	sha256_init(&c);
	uint8_t buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(&c, buf, n);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		fa_err_set(err, "%s: read error: %s", path, strerror(e));
		return FA_ERUNTIME;
	}
	fclose(f);
	uint8_t d[SHA256_DIGEST_LEN];
	sha256_final(&c, d);
	hash_hex(d, sizeof(d), hex);
	return FA_OK;
}
