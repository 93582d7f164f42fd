/*
 * test_quic.c - the crypto layer and QUIC Initial decryption: the client
 * Initial of RFC 9001 Appendix A (keys, header-protection sample and mask,
 * decrypted ClientHello, SNI) and its QUIC v2 twin of RFC 9369 Appendix A,
 * RFC 9001 A.5's ChaCha20 packet, Initials built here with the crypto
 * layer's seal whose CRYPTO frames come out of order across packets and
 * datagrams, and truncated, corrupted and random packets, which must never
 * crash nor give a name. Reference values not in an RFC were computed with
 * Python's hmac and cryptography packages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowaudit/crypto.h"
#include "flowaudit/quic.h"

#include "bytebuf.h"
#include "quicpkt.h"
#include "rfc9001.h"

/* RFC 9369 A.2: the same packet in QUIC v2. */
static const char rfc9369_client_initial[] =
	"d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
	"dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
	"9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
	"250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
	"12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
	"cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
	"18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
	"12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
	"d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
	"6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
	"bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
	"636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
	"ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
	"16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
	"4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
	"fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
	"8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
	"14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
	"9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
	"abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
	"80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
	"848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
	"d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
	"c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
	"7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
	"f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
	"10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
	"3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
	"06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
	"8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
	"34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
	"e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
	"5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
	"8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
	"d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
	"6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
	"9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
	"a18b2faa745b6fe189cf772a9f84cbfc";

/* RFC 9001 A.2: the unprotected payload's CRYPTO frame (917 bytes of PADDING follow). */
static const char rfc9001_crypto_frame[] =
	"060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
	"04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
	"616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
	"04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
	"baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
	"0d0010000e0403050306030203080408050806002d00020101001c0002400100"
	"3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
	"75300901100f088394c8f03e51570806048000ffff";

static const uint8_t dcid_a[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, const char *want)
{
	uint8_t w[256];
	size_t n = unhex(want, w, sizeof(w));
	assert_memory_equal(got, w, n);
}

/* One datagram through a fresh or given connection, from an exactly sized heap copy. */
static enum quic_status feed(struct quic_ctx *q, struct quic_conn *c, const uint8_t *d, size_t n,
			     struct tls_hello *h)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, d, n);
	enum quic_status st = quic_client_datagram(q, c, copy, n, h);
	free(copy);
	return st;
}

/* ---- RFC vectors ---- */

static void test_rfc9001_keys(void **state)
{
	(void)state;
	static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
					    0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
					    0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
	uint8_t initial[32], client[32];
	struct crypto_kdf *kdf = crypto_kdf_new(CRYPTO_SHA256);
	assert_non_null(kdf);
	assert_true(crypto_hkdf_extract(kdf, salt_v1, 20, dcid_a, 8, initial));
	assert_hex(initial, "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44");
	assert_true(crypto_hkdf_expand_label(kdf, initial, 32, "client in", NULL, 0, client, 32));
	assert_hex(client, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
	crypto_kdf_free(kdf);

	struct quic_keys k;
	assert_true(quic_initial_keys(QUIC_V1, dcid_a, 8, false, &k));
	assert_hex(k.key, "1f369613dd76d5467730efcbe3b1a22d");
	assert_hex(k.iv, "fa044b2f42a3fd3b46fb255c");
	assert_hex(k.hp, "9f50449e04a0e810283a1e9933adedd2");
	assert_true(quic_initial_keys(QUIC_V1, dcid_a, 8, true, &k));
	assert_hex(k.key, "cf3a5331653c364c88f0f379b6067e37");
	assert_hex(k.iv, "0ac1493ca1905853b0bba03e");
	assert_hex(k.hp, "c206b8d9b9f0f37644430b490eeaa314");

	/* RFC 9369 A.1: v2's salt and "quicv2" labels */
	assert_true(quic_initial_keys(QUIC_V2, dcid_a, 8, false, &k));
	assert_hex(k.key, "8b1a0bc121284290a29e0971b5cd045d");
	assert_hex(k.iv, "91f73e2351d8fa91660e909f");
	assert_hex(k.hp, "45b95e15235d6f45a6b19cbcb0294ba9");

	assert_true(quic_version_known(QUIC_V1));
	assert_true(quic_version_known(QUIC_V2));
	assert_true(quic_version_known(QUIC_DRAFT29));
	assert_false(quic_version_known(0x0a0a0a0a));
	assert_false(quic_version_known(0));
	assert_false(quic_initial_keys(0x0a0a0a0a, dcid_a, 8, false, &k));
}

/* A.2 by hand through the crypto layer: sample, mask, unprotected header, plaintext. */
static void test_rfc9001_decrypt(void **state)
{
	(void)state;
	uint8_t pkt[1200], plain[1200];
	assert_int_equal(unhex(rfc9001_client_initial, pkt, sizeof(pkt)), 1200);
	struct quic_keys k;
	assert_true(quic_initial_keys(QUIC_V1, dcid_a, 8, false, &k));
	const size_t pn_off = 18;
	assert_hex(pkt + pn_off + 4, "d1b1c98dd7689fb8ec11d242b123dc9b");
	struct crypto_hp_ctx *hp = crypto_hp_new(CRYPTO_AES_128_GCM, k.hp);
	assert_non_null(hp);
	uint8_t mask[CRYPTO_HP_MASK];
	assert_true(crypto_hp_mask(hp, pkt + pn_off + 4, mask));
	assert_hex(mask, "437b9aec36");
	crypto_hp_free(hp);

	uint8_t hdr[22];
	memcpy(hdr, pkt, 22);
	hdr[0] ^= mask[0] & 0x0f;
	size_t pn_len = (size_t)(hdr[0] & 3) + 1;
	assert_int_equal(pn_len, 4);
	for (size_t i = 0; i < pn_len; i++)
		hdr[pn_off + i] ^= mask[1 + i];
	assert_hex(hdr, "c300000001088394c8f03e5157080000449e00000002");

	struct crypto_aead_ctx *a = crypto_aead_new(CRYPTO_AES_128_GCM, k.key);
	assert_non_null(a);
	uint8_t nonce[CRYPTO_NONCE_LEN];
	crypto_nonce(k.iv, 2, nonce);
	struct crypto_aad aad = {{hdr}, {22}};
	assert_true(crypto_aead_open(a, nonce, &aad, pkt + 22, 1200 - 22, plain));
	uint8_t want[256];
	size_t n = unhex(rfc9001_crypto_frame, want, sizeof(want));
	assert_memory_equal(plain, want, n);
	for (size_t i = n; i < 1200 - 22 - 16; i++)
		assert_int_equal(plain[i], 0); /* PADDING */
	/* the same nonce and header give the protected bytes back */
	uint8_t again[1200];
	assert_true(crypto_aead_seal(a, nonce, &aad, plain, 1200 - 22 - 16, again));
	assert_memory_equal(again, pkt + 22, 1200 - 22);
	/* one bit off in the header and the tag no longer verifies */
	hdr[5] ^= 1;
	assert_false(crypto_aead_open(a, nonce, &aad, pkt + 22, 1200 - 22, plain));
	crypto_aead_free(a);
}

static void test_rfc9001_client_initial(void **state)
{
	(void)state;
	uint8_t pkt[1200];
	unhex(rfc9001_client_initial, pkt, sizeof(pkt));
	struct quic_ctx *q = quic_ctx_new();
	struct quic_conn *c = quic_conn_new();
	assert_non_null(q);
	assert_non_null(c);
	struct tls_hello h;
	assert_int_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_HELLO);
	assert_string_equal(h.sni, "example.com");
	assert_string_equal(h.alpn, "alpn");
	assert_false(h.ech);
	/* once found, the connection is done */
	assert_int_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_DONE);
	struct quic_stats st;
	quic_ctx_stats(q, &st);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.open_failed, 0);
	quic_conn_free(c);
	quic_ctx_free(q);
}

static void test_rfc9369_client_initial(void **state)
{
	(void)state;
	uint8_t pkt[1200];
	unhex(rfc9369_client_initial, pkt, sizeof(pkt));
	struct quic_ctx *q = quic_ctx_new();
	struct quic_conn *c = quic_conn_new();
	struct tls_hello h;
	assert_int_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_HELLO);
	assert_string_equal(h.sni, "example.com");
	quic_conn_free(c);
	/* the v2 packet read as v1 (version field changed) fails its tag */
	pkt[1] = 0;
	pkt[2] = 0;
	pkt[3] = 0;
	pkt[4] = 1;
	c = quic_conn_new();
	assert_int_not_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_HELLO);
	quic_conn_free(c);
	quic_ctx_free(q);
}

/* RFC 9001 A.5: ChaCha20-Poly1305 and ChaCha20 header protection, a short header. */
static void test_rfc9001_chacha20(void **state)
{
	(void)state;
	uint8_t secret[32], key[32], iv[12], hpk[32];
	unhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b", secret, 32);
	struct crypto_kdf *kdf = crypto_kdf_new(CRYPTO_SHA256);
	assert_non_null(kdf);
	assert_true(crypto_hkdf_expand_label(kdf, secret, 32, "quic key", NULL, 0, key, 32));
	assert_true(crypto_hkdf_expand_label(kdf, secret, 32, "quic iv", NULL, 0, iv, 12));
	assert_true(crypto_hkdf_expand_label(kdf, secret, 32, "quic hp", NULL, 0, hpk, 32));
	crypto_kdf_free(kdf);
	assert_hex(key, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
	assert_hex(iv, "e0459b3474bdd0e44a41c144");
	assert_hex(hpk, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");

	uint64_t pn = 654360564;
	uint8_t hdr[4] = {0x42, 0x00, 0xbf, 0xf4}, payload[1] = {0x01}, out[4 + 1 + 16];
	uint8_t nonce[12];
	crypto_nonce(iv, pn, nonce);
	assert_hex(nonce, "e0459b3474bdd0e46d417eb0");
	struct crypto_aead_ctx *a = crypto_aead_new(CRYPTO_CHACHA20_POLY1305, key);
	assert_non_null(a);
	struct crypto_aad aad = {{hdr}, {4}};
	assert_true(crypto_aead_seal(a, nonce, &aad, payload, 1, out + 4));
	struct crypto_hp_ctx *hp = crypto_hp_new(CRYPTO_CHACHA20_POLY1305, hpk);
	assert_non_null(hp);
	uint8_t mask[5];
	assert_hex(out + 1 + 4, "5e5cd55c41f69080575d7999c25a5bfb"); /* sample at pn offset 1 + 4 */
	assert_true(crypto_hp_mask(hp, out + 1 + 4, mask));
	assert_hex(mask, "aefefe7d03");
	out[0] = hdr[0] ^ (mask[0] & 0x1f);
	for (int i = 0; i < 3; i++)
		out[1 + i] = hdr[1 + i] ^ mask[1 + i];
	assert_hex(out, "4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
	uint8_t back[1];
	assert_true(crypto_aead_open(a, nonce, &aad, out + 4, 17, back));
	assert_int_equal(back[0], 1);
	crypto_aead_free(a);
	crypto_hp_free(hp);
}

/* SHA-384 and AES-256: reference values from Python's hmac and cryptography. */
static void test_sha384_aes256(void **state)
{
	(void)state;
	const char *salt = "flowaudit salt", *ikm = "input keying material";
	uint8_t prk[48], out[48], ctx[48];
	assert_int_equal(crypto_hash_len(CRYPTO_SHA384), 48);
	struct crypto_kdf *kdf = crypto_kdf_new(CRYPTO_SHA384);
	assert_non_null(kdf);
	assert_true(crypto_hkdf_extract(kdf, (const uint8_t *)salt, strlen(salt),
					(const uint8_t *)ikm, strlen(ikm), prk));
	assert_hex(prk, "aa453ddfa7741b1d5793db8947f7fa88c79a6ed7851bbf31c9327e445db9abc5"
			"b64d79734a4bd9ac9b8af4bd76008899");
	for (int i = 0; i < 48; i++)
		ctx[i] = (uint8_t)i;
	assert_true(crypto_hkdf_expand_label(kdf, prk, 48, "c hs traffic", ctx, 48, out, 48));
	assert_hex(out, "5a40cb7c724335d0269892a1f6b0bbbd09139f3db5117308aa30a8f7e1855ff1"
			"b7f3c747e6ee5f759290c4a0511fd0be");
	/* the same context again, after other derivations, gives the same bytes */
	uint8_t again[48];
	assert_true(crypto_hkdf_expand_label(kdf, prk, 48, "c hs traffic", ctx, 48, again, 48));
	assert_memory_equal(again, out, 48);
	crypto_kdf_free(kdf);
	crypto_kdf_free(NULL);

	uint8_t key[32], nonce[12], sample[16];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 12; i++)
		nonce[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		sample[i] = (uint8_t)(16 + i);
	const char *pt = "flowaudit aes-256-gcm";
	size_t n = strlen(pt);
	uint8_t sealed[64], opened[64];
	struct crypto_aad aad = {{(const uint8_t *)"head", (const uint8_t *)"er"}, {4, 2}};
	struct crypto_aead_ctx *a = crypto_aead_new(CRYPTO_AES_256_GCM, key);
	assert_non_null(a);
	assert_true(crypto_aead_seal(a, nonce, &aad, (const uint8_t *)pt, n, sealed));
	assert_hex(sealed, "216eb96ca490a672f961f6eec2c44a58b5fbe0579d96952d5414d5d58a9f054b9412ac9b27");
	assert_true(crypto_aead_open(a, nonce, &aad, sealed, n + 16, opened));
	assert_memory_equal(opened, pt, n);
	sealed[n + 3] ^= 0x80; /* the tag */
	assert_false(crypto_aead_open(a, nonce, &aad, sealed, n + 16, opened));
	assert_false(crypto_aead_open(a, nonce, &aad, sealed, 15, opened));
	crypto_aead_free(a);
	struct crypto_hp_ctx *hp = crypto_hp_new(CRYPTO_AES_256_GCM, key);
	uint8_t mask[5];
	assert_true(crypto_hp_mask(hp, sample, mask));
	assert_hex(mask, "e9c3ef8ab2");
	crypto_hp_free(hp);
	crypto_aead_free(NULL);
	crypto_hp_free(NULL);
}

/* ---- Initials built here ---- */

/* A TLS 1.3 ClientHello handshake message with SNI, ALPN "h3", ECH, and padding. */
static void client_hello(struct buf *m, const char *sni, size_t padding)
{
	m->n = 0;
	put8(m, 1);
	put8(m, 0);
	put16(m, 0);
	put16(m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(m, (unsigned)(i * 7));
	put8(m, 0);
	put16(m, 2);
	put16(m, 0x1301);
	put8(m, 1);
	put8(m, 0);
	size_t ext_at = m->n;
	put16(m, 0);
	size_t n = strlen(sni);
	put16(m, 0);
	put16(m, (unsigned)(n + 5));
	put16(m, (unsigned)(n + 3));
	put8(m, 0);
	put16(m, (unsigned)n);
	put_bytes(m, sni, n);
	put16(m, 16);
	put16(m, 5);
	put16(m, 3);
	put8(m, 2);
	put_bytes(m, "h3", 2);
	put16(m, 0xfe0d);
	put16(m, 10);
	put8(m, 0);
	put16(m, 1);
	put16(m, 1);
	put8(m, 7);
	put16(m, 0);
	put16(m, 0);
	put16(m, 21);
	put16(m, (unsigned)padding);
	for (size_t i = 0; i < padding; i++)
		put8(m, 0);
	patch16(m, ext_at);
	size_t body = m->n - 4;
	m->b[1] = (uint8_t)(body >> 16);
	m->b[2] = (uint8_t)(body >> 8);
	m->b[3] = (uint8_t)body;
}

/* A CRYPTO frame carrying [off, off + len) of the hello. */
static void crypto_frame(struct buf *f, const struct buf *hello, size_t off, size_t len)
{
	put8(f, 0x06);
	put_varint2(f, off);
	put_varint2(f, len);
	put_bytes(f, hello->b + off, len);
}

/*
 * A client Initial of `version` to dcid carrying the frames f (padded to
 * `pad_to` bytes of plaintext), packet number pn in two bytes, protected
 * with the crypto layer: appended to dg.
 */
static void seal_initial(struct buf *dg, uint32_t version, const uint8_t *dcid, size_t dcid_len,
			 uint64_t pn, const struct buf *f, size_t pad_to)
{
	struct qp_keys k;
	qp_initial_keys(version, dcid, dcid_len, false, &k);
	qp_long(dg, version, 0, dcid, dcid_len, NULL, 0, pn, f, pad_to, &k);
}

static const char long_sni[] =
	"a-rather-long-host-name-that-ndpi-would-cut-at-seventy-nine-characters."
	"edge-0042.video-delivery.cdn.example.com";

/* Three pieces of one hello, A = [0, 600), B = [500, 1200) overlapping A, C = [1200, end). */
struct pieces {
	struct buf hello;
	struct buf dg[3];
};

static void three_packets(struct pieces *p, uint32_t version, bool spoil_overlap)
{
	client_hello(&p->hello, long_sni, 1400);
	size_t end = p->hello.n;
	assert_true(end > 1300);
	struct buf f;
	/* datagram 0: PING, the last piece, PADDING */
	f.n = 0;
	put8(&f, 0x01);
	crypto_frame(&f, &p->hello, 1200, end - 1200);
	p->dg[0].n = 0;
	seal_initial(&p->dg[0], version, dcid_a, 8, 0, &f, 1100);
	/* datagram 1: an ACK (one range, gap, ECN counts) and the middle piece */
	f.n = 0;
	put8(&f, 0x03);
	put8(&f, 5);
	put8(&f, 0);
	put8(&f, 1);
	put8(&f, 0);
	put8(&f, 1);
	put8(&f, 2);
	put8(&f, 0);
	put8(&f, 0);
	put8(&f, 0);
	if (spoil_overlap) {
		/* bytes [500, 600) wrong: only right if A's copy was kept */
		struct buf spoilt = p->hello;
		memset(spoilt.b + 500, 0xEE, 100);
		crypto_frame(&f, &spoilt, 500, 700);
	} else {
		crypto_frame(&f, &p->hello, 500, 700);
	}
	p->dg[1].n = 0;
	seal_initial(&p->dg[1], version, dcid_a, 8, 1, &f, 1100);
	/* datagram 2: the first piece, a CONNECTION_CLOSE with a reason, PADDING */
	f.n = 0;
	crypto_frame(&f, &p->hello, 0, 600);
	put8(&f, 0x1c);
	put8(&f, 0);
	put8(&f, 0);
	put8(&f, 3);
	put_bytes(&f, "bye", 3);
	p->dg[2].n = 0;
	seal_initial(&p->dg[2], version, dcid_a, 8, 2, &f, 1100);
}

static void test_out_of_order_three_packets(void **state)
{
	(void)state;
	struct pieces *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	three_packets(p, QUIC_V1, false);
	static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
					 {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	struct quic_ctx *q = quic_ctx_new();
	for (int o = 0; o < 6; o++) {
		struct quic_conn *c = quic_conn_new();
		struct tls_hello h;
		for (int i = 0; i < 2; i++)
			assert_int_equal(feed(q, c, p->dg[orders[o][i]].b, p->dg[orders[o][i]].n, &h),
					 QUIC_MORE);
		assert_int_equal(feed(q, c, p->dg[orders[o][2]].b, p->dg[orders[o][2]].n, &h),
				 QUIC_HELLO);
		assert_string_equal(h.sni, long_sni);
		assert_string_equal(h.alpn, "h3");
		assert_true(h.ech);
		quic_conn_free(c);
	}
	struct quic_stats st;
	quic_ctx_stats(q, &st);
	assert_int_equal(st.packets, 18);
	assert_int_equal(st.open_failed, 0);

	/* overlapping bytes: the first copy received is the one kept */
	three_packets(p, QUIC_V1, true);
	struct quic_conn *c = quic_conn_new();
	struct tls_hello h;
	assert_int_equal(feed(q, c, p->dg[2].b, p->dg[2].n, &h), QUIC_MORE);
	assert_int_equal(feed(q, c, p->dg[0].b, p->dg[0].n, &h), QUIC_MORE);
	assert_int_equal(feed(q, c, p->dg[1].b, p->dg[1].n, &h), QUIC_HELLO);
	assert_string_equal(h.sni, long_sni);
	quic_conn_free(c);
	quic_ctx_free(q);
	free(p);
}

/* Several packets in one datagram: two Initials around a Handshake packet. */
static void test_coalesced(void **state)
{
	(void)state;
	struct pieces *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	three_packets(p, QUIC_V2, false);
	struct buf *dg = calloc(1, sizeof(*dg));
	assert_non_null(dg);
	struct buf f = {.n = 0};
	crypto_frame(&f, &p->hello, 1200, p->hello.n - 1200);
	seal_initial(dg, QUIC_V2, dcid_a, 8, 7, &f, 20);
	/* a v2 Handshake packet (type 3): skipped by its Length */
	put8(dg, 0xc0 | 3 << 4 | 1);
	put_bytes(dg, "\x6b\x33\x43\xcf", 4);
	put8(dg, 8);
	put_bytes(dg, dcid_a, 8);
	put8(dg, 0);
	put_varint2(dg, 40);
	for (int i = 0; i < 40; i++)
		put8(dg, 0x5a);
	f.n = 0;
	crypto_frame(&f, &p->hello, 0, 1200);
	seal_initial(dg, QUIC_V2, dcid_a, 8, 8, &f, 20);
	struct quic_ctx *q = quic_ctx_new();
	struct quic_conn *c = quic_conn_new();
	struct tls_hello h;
	assert_int_equal(feed(q, c, dg->b, dg->n, &h), QUIC_HELLO);
	assert_string_equal(h.sni, long_sni);
	quic_conn_free(c);
	quic_ctx_free(q);
	free(dg);
	free(p);
}

/* A hole that never fills: given up after QUIC_DATAGRAMS_MAX datagrams, never named. */
static void test_gap_gives_up(void **state)
{
	(void)state;
	struct pieces *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	three_packets(p, QUIC_V1, false);
	struct quic_ctx *q = quic_ctx_new();
	struct quic_conn *c = quic_conn_new();
	struct tls_hello h;
	int more = 0;
	enum quic_status st;
	while ((st = feed(q, c, p->dg[more % 2 == 0 ? 0 : 2].b,
			  p->dg[more % 2 == 0 ? 0 : 2].n, &h)) == QUIC_MORE)
		more++;
	assert_int_equal(st, QUIC_DONE);
	assert_int_equal(more, QUIC_DATAGRAMS_MAX - 1);
	quic_conn_free(c);

	/* CRYPTO data past the per-flow ceiling is refused and counted */
	struct buf f = {.n = 0};
	put8(&f, 0x06);
	put8(&f, 0x80); /* offset 65536, a 4-byte varint */
	put8(&f, 0x01);
	put8(&f, 0x00);
	put8(&f, 0x00);
	put_varint2(&f, 100);
	for (int i = 0; i < 100; i++)
		put8(&f, 1);
	/* and one that straddles it: the 50 bytes past it are refused */
	put8(&f, 0x06);
	put_varint2(&f, QUIC_CRYPTO_MAX - 50);
	put_varint2(&f, 100);
	for (int i = 0; i < 100; i++)
		put8(&f, 2);
	struct buf *dg = calloc(1, sizeof(*dg));
	seal_initial(dg, QUIC_V1, dcid_a, 8, 0, &f, 1100);
	c = quic_conn_new();
	assert_int_equal(feed(q, c, dg->b, dg->n, &h), QUIC_MORE);
	struct quic_stats s;
	quic_ctx_stats(q, &s);
	assert_int_equal(s.crypto_refused, 150);
	quic_conn_free(c);
	quic_ctx_free(q);
	free(dg);
	free(p);
}

/* Initials under ever new DCIDs: the keys derived and packets tried are bounded. */
static void test_work_bounded(void **state)
{
	(void)state;
	struct buf *dg = calloc(1, sizeof(*dg));
	assert_non_null(dg);
	struct buf f = {.n = 0};
	put8(&f, 0x01); /* PING */
	for (int i = 0; i < 100; i++) {
		uint8_t dcid[8] = {0xd0, 0, 0, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		seal_initial(dg, QUIC_V1, dcid, 8, (uint64_t)i, &f, 20);
	}
	struct quic_ctx *q = quic_ctx_new();
	struct quic_conn *c = quic_conn_new();
	struct tls_hello h;
	assert_int_equal(feed(q, c, dg->b, dg->n, &h), QUIC_DONE);
	struct quic_stats st;
	quic_ctx_stats(q, &st);
	/* each of the first QUIC_DERIVE_MAX DCIDs opens under its own keys; the
	   rest are tried once under the connection's keys, up to QUIC_INITIALS_MAX */
	assert_int_equal(st.packets, QUIC_DERIVE_MAX);
	assert_int_equal(st.packets + st.open_failed,
			 QUIC_INITIALS_MAX + QUIC_DERIVE_MAX - 1);
	quic_conn_free(c);
	quic_ctx_free(q);
	free(dg);
}

/* Every prefix, every flipped byte and random bytes: no crash, and no name. */
static void test_truncated_and_garbage(void **state)
{
	(void)state;
	uint8_t pkt[1200];
	unhex(rfc9001_client_initial, pkt, sizeof(pkt));
	struct quic_ctx *q = quic_ctx_new();
	struct tls_hello h;
	for (size_t n = 0; n < sizeof(pkt); n++) {
		struct quic_conn *c = quic_conn_new();
		assert_int_not_equal(feed(q, c, pkt, n, &h), QUIC_HELLO);
		quic_conn_free(c);
	}
	for (size_t i = 0; i < sizeof(pkt); i++) {
		struct quic_conn *c = quic_conn_new();
		pkt[i] ^= 0x01;
		assert_int_not_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_HELLO);
		pkt[i] ^= 0x01;
		quic_conn_free(c);
	}
	uint32_t x = 12345;
	uint8_t junk[1500];
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)(x % sizeof(junk));
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (uint8_t)(x >> 16);
		}
		/* mostly a plausible long header, so the parser goes past the first bytes */
		if (round % 4 != 0 && n > 6) {
			junk[0] = 0xc0 | (junk[0] & 0x3f);
			junk[1] = 0;
			junk[2] = 0;
			junk[3] = 0;
			junk[4] = 1;
			junk[5] = (uint8_t)(junk[5] % 24);
		}
		struct quic_conn *c = quic_conn_new();
		assert_int_not_equal(feed(q, c, junk, n, &h), QUIC_HELLO);
		quic_conn_free(c);
	}
	/* not a long header: given up at the first datagram */
	struct quic_conn *c = quic_conn_new();
	uint8_t dns[12] = {0x12, 0x34, 0x01, 0x00};
	assert_int_equal(feed(q, c, dns, sizeof(dns), &h), QUIC_DONE);
	assert_int_equal(feed(q, c, pkt, sizeof(pkt), &h), QUIC_DONE);
	quic_conn_free(c);
	quic_conn_free(NULL);
	quic_ctx_free(q);
	quic_ctx_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9001_keys),
		cmocka_unit_test(test_rfc9001_decrypt),
		cmocka_unit_test(test_rfc9001_client_initial),
		cmocka_unit_test(test_rfc9369_client_initial),
		cmocka_unit_test(test_rfc9001_chacha20),
		cmocka_unit_test(test_sha384_aes256),
		cmocka_unit_test(test_out_of_order_three_packets),
		cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_gap_gives_up),
		cmocka_unit_test(test_work_bounded),
		cmocka_unit_test(test_truncated_and_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
