/*
 * fuzz_quic.c - client datagrams through QUIC Initial decryption, CRYPTO
 * reassembly and the ClientHello parser.
 *
 * Input: a mode byte, then records of a 2-byte big-endian length and that
 * many bytes. Even mode: each record is a datagram as sent. Odd mode: each
 * record is the plaintext of an Initial (its frames), which the target
 * protects with the crypto layer under a fixed DCID before feeding it, so
 * that the frame walker and the reassembly behind the AEAD tag are reached
 * too (random bytes never pass the tag). Records go to one connection in
 * order; the whole input also goes to a fresh connection as one datagram
 * and to the bare-handshake ClientHello parser. Whatever the bytes, nothing
 * may read outside them, leak or crash.
 */
#include "flowaudit/crypto.h"
#include "flowaudit/quic.h"
#include "flowaudit/tls.h"

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static struct quic_ctx *g_q;
static struct quic_keys g_keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_q = quic_ctx_new();
	if (g_q == NULL || !quic_initial_keys(QUIC_V1, dcid, sizeof(dcid), false, &g_keys))
		abort();
	return 0;
}

/* A v1 client Initial around `plain` (padded to 20 bytes), packet number pn. */
static size_t protect(const uint8_t *plain, size_t n, uint64_t pn, uint8_t *out)
{
	uint8_t body[1300] = {0};
	if (n > sizeof(body))
		n = sizeof(body);
	memcpy(body, plain, n);
	size_t len = n < 20 ? 20 : n;
	size_t h = 0;
	out[h++] = 0xc1; /* Initial, 2-byte packet number */
	out[h++] = 0;
	out[h++] = 0;
	out[h++] = 0;
	out[h++] = 1;
	out[h++] = sizeof(dcid);
	memcpy(out + h, dcid, sizeof(dcid));
	h += sizeof(dcid);
	out[h++] = 0; /* source CID */
	out[h++] = 0; /* token */
	size_t length = 2 + len + CRYPTO_TAG_LEN;
	out[h++] = (uint8_t)(0x40 | length >> 8);
	out[h++] = (uint8_t)length;
	size_t pn_off = h;
	out[h++] = (uint8_t)(pn >> 8);
	out[h++] = (uint8_t)pn;
	struct crypto_aead_ctx *a = crypto_aead_new(CRYPTO_AES_128_GCM, g_keys.key);
	struct crypto_hp_ctx *hp = crypto_hp_new(CRYPTO_AES_128_GCM, g_keys.hp);
	uint8_t nonce[CRYPTO_NONCE_LEN], mask[CRYPTO_HP_MASK];
	crypto_nonce(g_keys.iv, pn, nonce);
	struct crypto_aad aad = {{out}, {h}};
	bool ok = a != NULL && hp != NULL && crypto_aead_seal(a, nonce, &aad, body, len, out + h) &&
		  crypto_hp_mask(hp, out + pn_off + 4, mask);
	crypto_aead_free(a);
	crypto_hp_free(hp);
	if (!ok)
		return 0;
	out[0] ^= mask[0] & 0x0f;
	out[pn_off] ^= mask[1];
	out[pn_off + 1] ^= mask[2];
	return h + len + CRYPTO_TAG_LEN;
}

static void feed(struct quic_conn *c, const uint8_t *d, size_t n)
{
	/* an exact heap copy, so ASan sees a read past the datagram */
	uint8_t *copy = malloc(n ? n : 1);
	if (copy == NULL)
		return;
	memcpy(copy, d, n);
	struct tls_hello h;
	if (quic_client_datagram(g_q, c, copy, n, &h) == QUIC_HELLO)
		(void)strlen(h.sni);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool seal = (data[0] & 1) != 0;
	struct quic_conn *c = quic_conn_new();
	if (c == NULL)
		return 0;
	static uint8_t pkt[1400];
	uint64_t pn = 0;
	size_t off = 1;
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		if (seal) {
			size_t m = protect(data + off, n, pn++, pkt);
			feed(c, pkt, m);
		} else {
			feed(c, data + off, n);
		}
		off += n;
	}
	quic_conn_free(c);

	c = quic_conn_new();
	if (c != NULL)
		feed(c, data + 1, size - 1);
	quic_conn_free(c);

	struct tls_hello h;
	(void)tls_handshake_hello(data + 1, size - 1, &h);
	return 0;
}
