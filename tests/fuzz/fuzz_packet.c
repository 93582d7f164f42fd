/*
 * fuzz_packet.c - one frame through every per-packet parser.
 *
 * Input: a link-type selector byte (fuzz_linktype), then the frame. The
 * frame goes through decode_frame(); when it carries TCP or UDP payload,
 * that payload goes to the DNS parser, the TLS ClientHello parser, the HTTP
 * stream parser (fed whole, then again in small pieces, so header and
 * chunk boundaries fall everywhere) and the identifier scanner. Whatever the
 * bytes, none of them may read outside the frame or crash.
 */
#include "flowaudit/decode.h"
#include "flowaudit/dns.h"
#include "flowaudit/identifiers.h"
#include "flowaudit/tls.h"
#if __has_include("flowaudit/http.h")
#include "flowaudit/http.h"
#define FUZZ_HAVE_HTTP 1
#endif

#include "fuzz_common.h"

#include <netinet/in.h>

static struct idscan *g_ids;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_ids = fuzz_idscan();
	return 0;
}

static void on_match(const struct idscan_match *m, void *user)
{
	size_t *n = user;
	/* Touch the strings: a dangling pointer here is what ASan should see. */
	*n += strlen(m->type) + strlen(m->encoding);
}

#ifdef FUZZ_HAVE_HTTP
static void on_body(const uint8_t *d, size_t n, void *user)
{
	uint32_t st = idscan_start(g_ids);
	size_t hits = 0;
	idscan_feed(g_ids, st, d, n, 0, on_match, &hits);
	*(size_t *)user += hits;
}

static void http_pass(const uint8_t *p, size_t n, size_t step)
{
	struct http_stream hs;
	size_t acc = 0;
	http_stream_init(&hs);
	for (size_t off = 0; off < n; off += step) {
		size_t take = n - off < step ? n - off : step;
		http_stream_feed(&hs, p + off, take, on_body, &acc);
	}
	const struct http_info *hi = http_stream_info(&hs);
	if (hi != NULL)
		acc += strlen(hi->host);
	http_stream_free(&hs);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int lt = fuzz_linktype(data[0]);
	/* Copy the frame so ASan sees any read past its end. */
	uint32_t caplen = (uint32_t)(size - 1 > 262144 ? 262144 : size - 1);
	uint8_t *frame = malloc(caplen ? caplen : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 1, caplen);

	struct decoded_pkt pkt;
	struct decode_stats stats;
	memset(&stats, 0, sizeof(stats));
	enum decode_result r = decode_frame(lt, frame, caplen, &pkt, &stats);
	(void)decode_result_name(r);

	if (r == DECODE_OK && (pkt.l4_proto == IPPROTO_TCP || pkt.l4_proto == IPPROTO_UDP) &&
	    pkt.payload != NULL) {
		const uint8_t *p = pkt.payload;
		size_t n = pkt.payload_len;

		struct dns_message *m = malloc(sizeof(*m));
		if (m != NULL) {
			(void)dns_parse(p, n, m);
			if (pkt.l4_proto == IPPROTO_TCP && n > 2)
				(void)dns_parse(p + 2, n - 2, m);
			free(m);
		}

		char sni[256], alpn[64];
		(void)tls_client_hello_sni(p, n, sni, sizeof(sni), alpn, sizeof(alpn));
		(void)tls_client_hello_sni(p, n, sni, 8, NULL, 0);

#ifdef FUZZ_HAVE_HTTP
		http_pass(p, n, n ? n : 1);
		http_pass(p, n, 7);
#endif
		size_t hits = 0;
		uint32_t st = idscan_start(g_ids);
		st = idscan_feed(g_ids, st, p, n / 2, 0, on_match, &hits);
		(void)idscan_feed(g_ids, st, p + n / 2, n - n / 2, n / 2, on_match, &hits);
	}
	free(frame);
	return 0;
}
