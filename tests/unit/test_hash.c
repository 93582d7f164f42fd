/*
 * test_hash.c - MD5, SHA-1 and SHA-256 against the vectors of RFC 1321,
 * RFC 3174 and FIPS 180-4 (examples), fed whole and in odd-sized pieces,
 * several contexts alive at once, a spent context refused, and sha256_file
 * on a real file (against coreutils' sha256sum), a missing one and one
 * larger than its read buffer; a stream hashed as it is written, through
 * its own thread, against sha256_file of what reached the disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *md5_of(const void *d, size_t n, char *hex)
{
	struct md5_ctx c;
	uint8_t out[MD5_DIGEST_LEN];
	md5_init(&c);
	md5_update(&c, d, n);
	md5_final(&c, out);
	hash_hex(out, sizeof(out), hex);
	return hex;
}

static const char *sha1_of(const void *d, size_t n, char *hex)
{
	struct sha1_ctx c;
	uint8_t out[SHA1_DIGEST_LEN];
	sha1_init(&c);
	sha1_update(&c, d, n);
	sha1_final(&c, out);
	hash_hex(out, sizeof(out), hex);
	return hex;
}

static const char *sha256_of(const void *d, size_t n, char *hex)
{
	struct sha256_ctx c;
	uint8_t out[SHA256_DIGEST_LEN];
	sha256_init(&c);
	sha256_update(&c, d, n);
	sha256_final(&c, out);
	hash_hex(out, sizeof(out), hex);
	return hex;
}

static void test_md5_rfc1321(void **state)
{
	(void)state;
	char h[33];
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		 "d174ab98d277d9f5a5611c2c9f419d9f"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(md5_of(v[i].in, strlen(v[i].in), h), v[i].out);
}

static void test_sha1_vectors(void **state)
{
	(void)state;
	char h[41];
	assert_string_equal(sha1_of("", 0, h), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	assert_string_equal(sha1_of("abc", 3, h), "a9993e364706816aba3e25717850c26c9cd0d89d");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_string_equal(sha1_of(two, strlen(two), h), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	char *m = malloc(1000000);
	assert_non_null(m);
	memset(m, 'a', 1000000);
	assert_string_equal(sha1_of(m, 1000000, h), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(m);
}

static void test_sha256_vectors(void **state)
{
	(void)state;
	char h[65];
	assert_string_equal(sha256_of("", 0, h),
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(sha256_of("abc", 3, h),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_string_equal(sha256_of(two, strlen(two), h),
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char *m = malloc(1000000);
	assert_non_null(m);
	memset(m, 'a', 1000000);
	assert_string_equal(sha256_of(m, 1000000, h),
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}

/* Piecewise updates of every size from 1 to 130 give the one-shot digest. */
static void test_pieces(void **state)
{
	(void)state;
	uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	char whole256[65], whole1[41], whole5[33];
	sha256_of(data, sizeof(data), whole256);
	sha1_of(data, sizeof(data), whole1);
	md5_of(data, sizeof(data), whole5);
	for (size_t step = 1; step <= 130; step++) {
		struct sha256_ctx c2;
		struct sha1_ctx c1;
		struct md5_ctx c5;
		sha256_init(&c2);
		sha1_init(&c1);
		md5_init(&c5);
		for (size_t off = 0; off < sizeof(data); off += step) {
			size_t n = sizeof(data) - off < step ? sizeof(data) - off : step;
			sha256_update(&c2, data + off, n);
			sha1_update(&c1, data + off, n);
			md5_update(&c5, data + off, n);
		}
		uint8_t o2[32], o1[20], o5[16];
		char h2[65], h1[41], h5[33];
		sha256_final(&c2, o2);
		sha1_final(&c1, o1);
		md5_final(&c5, o5);
		hash_hex(o2, 32, h2);
		hash_hex(o1, 20, h1);
		hash_hex(o5, 16, h5);
		assert_string_equal(h2, whole256);
		assert_string_equal(h1, whole1);
		assert_string_equal(h5, whole5);
	}
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes). */
static void test_padding_boundaries(void **state)
{
	(void)state;
	char h[65];
	char a[64];
	memset(a, 'a', sizeof(a));
	assert_string_equal(sha256_of(a, 55, h),
			    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	assert_string_equal(sha256_of(a, 56, h),
			    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	assert_string_equal(sha256_of(a, 64, h),
			    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void test_sha256_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_hash_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	char hex[65];
	struct fa_err err;
	assert_int_equal(sha256_file(path, hex, &err), FA_OK);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	unlink(path);
	assert_int_equal(sha256_file(path, hex, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, path));
}

/* Against coreutils' sha256sum, an implementation of its own, on a file of
 * four read buffers and a tail. */
/* n bytes of xorshift32 from seed: data no hash shortcut can guess */
static void fill(uint8_t *data, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (uint8_t)x;
	}
}

static void test_sha256_against_sha256sum(void **state)
{
	(void)state;
	if (system("command -v sha256sum >/dev/null 2>&1") != 0)
		skip();
	char path[] = "/tmp/flowaudit-sha-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static uint8_t data[(1 << 20) + 17];
	fill(data, sizeof(data), 2463534242u);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	char cmd[128], want[65] = "";
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", want), 1);
	pclose(p);
	char got[65];
	struct fa_err err = {""};
	assert_int_equal(sha256_file(path, got, &err), FA_OK);
	assert_string_equal(got, want);
	unlink(path);
}

/* sha256_fopen_write: writes of every size, from one byte to more than its
 * ring of buffers holds at once, through a small and a large stdio buffer;
 * the file has every byte in order and the digest of close is the file's. */
static void test_hashed_stream(void **state)
{
	(void)state;
	static uint8_t data[(3 << 20) + 101];
	fill(data, sizeof(data), 88172645u);
	static const size_t bufs[] = {0, 4096, 1 << 20};
	for (size_t b = 0; b < sizeof(bufs) / sizeof(bufs[0]); b++) {
		char path[] = "/tmp/flowaudit-hashed-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		close(fd);
		char got[65] = "x", want[65];
		FILE *fp = sha256_fopen_write(path, got);
		assert_non_null(fp);
		char *buf = bufs[b] ? malloc(bufs[b]) : NULL;
		if (bufs[b])
			setvbuf(fp, buf, _IOFBF, bufs[b]);
		size_t at = 0, step = 1;
		while (at < sizeof(data)) {
			size_t n = step < sizeof(data) - at ? step : sizeof(data) - at;
			assert_int_equal(fwrite(data + at, 1, n, fp), n);
			at += n;
			step = step * 3 + 1; /* 1, 4, 13, ... up to megabytes */
		}
		assert_int_equal(fclose(fp), 0);
		free(buf);
		struct fa_err err = {""};
		assert_int_equal(sha256_file(path, want, &err), FA_OK);
		assert_string_equal(got, want);
		struct sha256_ctx c;
		uint8_t d[SHA256_DIGEST_LEN];
		char mem[65];
		sha256_init(&c);
		sha256_update(&c, data, sizeof(data));
		sha256_final(&c, d);
		hash_hex(d, sizeof(d), mem);
		assert_string_equal(got, mem);
		unlink(path);
	}
	/* a directory cannot be opened for writing */
	char hex[65];
	assert_null(sha256_fopen_write("/tmp", hex));
}

static const char *hex_of(const uint8_t *d, size_t n, char *h)
{
	hash_hex(d, n, h);
	return h;
}

/* Contexts of all three kinds interleaved, as the manifest's set digest
 * keeps one open while it hashes each file with another. */
static void test_interleaved(void **state)
{
	(void)state;
	struct sha256_ctx outer, inner;
	struct md5_ctx m;
	struct sha1_ctx s1;
	assert_true(sha256_init(&outer));
	assert_true(md5_init(&m));
	assert_true(sha1_init(&s1));
	assert_true(sha256_update(&outer, "a", 1));
	assert_true(sha256_init(&inner));
	assert_true(sha256_update(&inner, "abc", 3));
	assert_true(md5_update(&m, "abc", 3));
	assert_true(sha1_update(&s1, "abc", 3));
	assert_true(sha256_update(&outer, "bc", 2));
	uint8_t d[32];
	char h[65];
	assert_true(sha256_final(&inner, d));
	assert_string_equal(hex_of(d, 32, h),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(sha256_final(&outer, d));
	assert_string_equal(hex_of(d, 32, h),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(md5_final(&m, d));
	assert_string_equal(hex_of(d, 16, h), "900150983cd24fb0d6963f7d28e17f72");
	assert_true(sha1_final(&s1, d));
	assert_string_equal(hex_of(d, 20, h), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* A spent context gives no digest: final() says so and writes zeros, and an
 * update() after it fails too; init() makes it usable again. */
static void test_spent_context(void **state)
{
	(void)state;
	struct sha256_ctx c;
	uint8_t d[32], zero[32] = {0};
	assert_true(sha256_init(&c));
	assert_true(sha256_final(&c, d));
	assert_false(sha256_update(&c, "x", 1));
	memset(d, 0xff, sizeof(d));
	assert_false(sha256_final(&c, d));
	assert_memory_equal(d, zero, sizeof(d));
	char h[65];
	assert_string_equal(sha256_of("abc", 3, h),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_sha1_vectors),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_against_sha256sum),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_padding_boundaries),
		cmocka_unit_test(test_sha256_file),
		cmocka_unit_test(test_hashed_stream),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_spent_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
