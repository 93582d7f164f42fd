/*
 * fuzz_quic_frames.c - QUIC decryption's packet and frame layers fed a
 * hostile connection.
 *
 * Input: records. A record is a control byte and a length byte, then that
 * many bytes (the last cut short by the end of the input). Control bit 7:
 * the direction (0 client); bits 0-1: what the bytes are: 0 a UDP payload
 * (headers, coalesced packets, header protection and AEAD on bytes that
 * mostly fail), 1 the frames of an opened 1-RTT packet, 2 of an Initial
 * packet (CRYPTO: the hellos' random and cipher suite), 3 of a Handshake
 * packet. Frames reach the frame walker and stream reassembly directly
 * (quic_dec_frames), since a fuzzer cannot forge an AEAD tag. Every stream
 * byte handed on is read in full, and the in-order invariant is checked.
 * Seeds: tests/fuzz/seeds/fuzz_quic_frames/ (STREAM frames out of order,
 * CRYPTO hellos, ACKs with ranges).
 */
#include "flowaudit/quic_decrypt.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static volatile uint8_t g_sink;

struct track {
	uint64_t bytes;
};

static void on_stream(void *user, int dir, uint64_t sid, const uint8_t *d, size_t n, bool fin)
{
	struct track *t = user;
	(void)sid;
	(void)fin;
	if (dir != QDEC_FROM_CLIENT && dir != QDEC_FROM_SERVER)
		abort();
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= d[i];
	g_sink ^= x;
	t->bytes += n;
}

static void on_gap(void *user, int dir, uint64_t sid)
{
	(void)user;
	(void)sid;
	if (dir != QDEC_FROM_CLIENT && dir != QDEC_FROM_SERVER)
		abort();
}

static void on_cid(void *user, int dir, const uint8_t *cid, size_t len)
{
	(void)user;
	if ((dir != QDEC_FROM_CLIENT && dir != QDEC_FROM_SERVER) || len < 1 || len > 20)
		abort();
	uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= cid[i];
	g_sink ^= x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct track t = {0};
	struct quic_dec_cbs cbs = {on_stream, on_gap, on_cid, &t};
	struct quic_dec *q = quic_dec_new(NULL, &cbs);
	if (q == NULL)
		return 0;
	size_t i = 0;
	while (i + 2 <= size) {
		uint8_t ctl = data[i];
		size_t n = data[i + 1];
		i += 2;
		if (n > size - i)
			n = size - i;
		int dir = ctl >> 7;
		/* an exactly sized copy, so that a read past the end shows under ASan */
		uint8_t *p = malloc(n ? n : 1);
		if (p == NULL)
			break;
		for (size_t k = 0; k < n; k++)
			p[k] = data[i + k];
		switch (ctl & 3) {
		case 0: quic_dec_datagram(q, dir, p, n); break;
		case 1: quic_dec_frames(q, dir, QDEC_APP, p, n); break;
		case 2: quic_dec_frames(q, dir, QDEC_INITIAL, p, n); break;
		default: quic_dec_frames(q, dir, QDEC_HANDSHAKE, p, n); break;
		}
		free(p);
		i += n;
	}
	const struct quic_dec_info *info = quic_dec_info(q);
	if (info->stream_bytes[0] + info->stream_bytes[1] != t.bytes)
		abort(); /* every byte counted was handed on, once */
	(void)quic_dec_status(q);
	quic_dec_free(q);
	return 0;
}
