/*
 * fuzz_http3.c - the HTTP/3 and QPACK layer fed hostile streams.
 *
 * Input: records. A record is a control byte, a stream byte and a length
 * byte, then that many bytes (the last cut short by the end of the input).
 * Control bit 7: the direction (0 client); bit 6: the stream ends with
 * this record; bit 5: the stream lost bytes before it (a gap). The stream
 * byte picks one of 32 stream ids: its low two bits are the id's type
 * bits, so request, control, encoder and decoder streams of either side
 * all occur. Every field, request and body piece handed on is read in
 * full. Seeds: tests/fuzz/seeds/fuzz_http3/ (SETTINGS, encoder inserts,
 * requests with static, literal and dynamic field lines, DATA).
 */
#include "flowaudit/http3.h"
#include "flowaudit/http_body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static volatile uint8_t g_sink;

static void touch(const uint8_t *p, size_t n)
{
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= p[i];
	g_sink ^= x;
}

static void on_field(const struct http2_field *f, void *user)
{
	(void)user;
	if (f->dir != HTTP2_C2S && f->dir != HTTP2_S2C)
		abort();
	touch(f->name, f->name_len);
	touch(f->value, f->value_len);
}

static void on_request(const struct http2_request *r, void *user)
{
	(void)user;
	touch((const uint8_t *)r->info.target, strlen(r->info.target));
	touch((const uint8_t *)r->info.host, strlen(r->info.host));
}

static void on_data(const struct http2_data *d, void *user)
{
	(void)user;
	if (d->offset + d->n > HTTP_BODY_MAX)
		abort(); /* the per-body bound */
	touch(d->d, d->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http2_callbacks cb = {on_field, on_request, on_data, NULL};
	struct http3_conn *c = http3_conn_new();
	if (c == NULL)
		return 0;
	size_t i = 0;
	while (i + 3 <= size) {
		uint8_t ctl = data[i], sel = data[i + 1];
		size_t n = data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		int dir = ctl >> 7;
		uint64_t sid = (uint64_t)(sel & 0x1f) * 4 + (sel >> 5 & 3);
		if (ctl & 0x20)
			http3_stream_gap(c, dir, sid);
		uint8_t *p = malloc(n ? n : 1);
		if (p == NULL)
			break;
		memcpy(p, data + i, n);
		http3_stream(c, dir, sid, p, n, (ctl & 0x40) != 0, &cb);
		free(p);
		i += n;
	}
	struct http3_stats st;
	http3_stats(c, &st);
	const struct http_info *hi = http3_first_request(c);
	if (hi != NULL)
		touch((const uint8_t *)hi->method, strlen(hi->method));
	http3_conn_free(c);
	return 0;
}
