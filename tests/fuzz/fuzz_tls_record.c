/*
 * fuzz_tls_record.c - TLS record layer, handshake reader and decryption.
 *
 * Input: a selector byte, a key log (2-byte big-endian length, then NSS
 * key log text), then segments, each a byte (bit 0: the server's; bit 1:
 * bytes were lost before it, tls_dec_gap), a 2-byte big-endian length and
 * that many stream bytes. The selector says
 * where the key log is read (bit 0: before the first segment, else after
 * half of them, so that records wait and are decrypted late), how small
 * the bound on waiting ciphertext is (bit 1: 2 KiB) and whether each
 * segment is fed in 3-byte pieces (bit 2), so that records and handshake
 * messages are cut everywhere. The seeds (tests/gen/tls_fuzz_seeds.py) are
 * the real sessions of tests/fixtures/tls with their keys, so mutations
 * reach the decrypting states. Whatever the bytes, nothing may read
 * outside them, leak, or hand on plaintext from a record that did not
 * authenticate.
 */
#include "flowaudit/keylog.h"
#include "flowaudit/tls_decrypt.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_plain(void *user, enum tls_dec_dir dir, const uint8_t *p, size_t n)
{
	size_t *total = user;
	/* Touch every byte: a dangling or short buffer is what ASan should see. */
	for (size_t i = 0; i < n; i++)
		*total += p[i];
	*total += (size_t)dir;
}

static void feed(struct tls_dec *d, int dir, const uint8_t *p, size_t n, bool small)
{
	size_t step = small ? 3 : (n ? n : 1);
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		uint8_t *copy = malloc(k); /* exactly the piece, for ASan */
		if (copy == NULL)
			return;
		memcpy(copy, p + off, k);
		tls_dec_feed(d, dir ? TLS_DEC_FROM_SERVER : TLS_DEC_FROM_CLIENT, copy, k);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t sel = data[0];
	size_t klen = (size_t)data[1] << 8 | data[2];
	if (klen > size - 3)
		klen = size - 3;
	const uint8_t *keys = data + 3;
	const uint8_t *p = keys + klen;
	size_t left = size - 3 - klen;

	struct keylog *kl = keylog_new(64);
	if (kl == NULL)
		return 0;
	struct tls_dec_cfg cfg = {.max_pending = (sel & 2) ? 2048 : 0};
	size_t total = 0;
	struct tls_dec *d = tls_dec_new(kl, &cfg, on_plain, &total);
	if (d == NULL) {
		keylog_free(kl);
		return 0;
	}
	if (sel & 1)
		keylog_add_text(kl, keys, klen, "fuzz");

	/* Count the segments first, to know where half is. */
	size_t nseg = 0;
	for (size_t off = 0; off + 3 <= left; nseg++) {
		size_t n = (size_t)p[off + 1] << 8 | p[off + 2];
		off += 3 + (n < left - off - 3 ? n : left - off - 3);
	}
	size_t seg = 0;
	for (size_t off = 0; off + 3 <= left; seg++) {
		if (!(sel & 1) && seg == nseg / 2) {
			keylog_add_text(kl, keys, klen, "fuzz");
			if (tls_dec_waiting(d))
				tls_dec_retry(d);
		}
		int dir = p[off] & 1;
		if (p[off] & 2) /* bytes lost before this segment */
			tls_dec_gap(d, dir ? TLS_DEC_FROM_SERVER : TLS_DEC_FROM_CLIENT);
		size_t n = (size_t)p[off + 1] << 8 | p[off + 2];
		if (n > left - off - 3)
			n = left - off - 3;
		feed(d, dir, p + off + 3, n, sel & 4);
		off += 3 + n;
	}
	tls_dec_finish(d);
	const struct tls_dec_info *in = tls_dec_info(d);
	total += strlen(tls_dec_status_name(tls_dec_status(d))) + in->records[0] + in->records[1];
	if (in->have_random) {
		char buf[KEYLOG_EXPORT_MAX];
		total += keylog_export(kl, in->client_random, buf, sizeof(buf));
	}
	tls_dec_free(d);
	keylog_free(kl);
	return total == (size_t)-1;
}
