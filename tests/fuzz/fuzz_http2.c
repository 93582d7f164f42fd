/*
 * fuzz_http2.c - the HTTP/2 decoder fed a hostile conversation.
 *
 * Input: a flags byte, then records. Flags bit 0 puts the client preface in
 * front of the client's bytes (so the fuzzer need not find those 24 bytes
 * to reach the frame layer); bit 1 hands every record over one byte at a
 * time. A record is a control byte (top bit: the direction, 0 client to
 * server; low 7 bits: the length) and that many bytes, the last cut short
 * by the end of the input. Every field, request and body piece handed on is
 * read in full, so a pointer or length past its buffer shows under ASan.
 * Seeds: tests/fuzz/seeds/fuzz_http2/, the connections of
 * tests/fixtures/http2/h2c.pcap in this form (tests/gen/h2c_fuzz_seeds.py).
 */
#include "flowaudit/http2.h"

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
	touch((const uint8_t *)r->info.method, strlen(r->info.method));
	touch((const uint8_t *)r->info.target, strlen(r->info.target));
	touch((const uint8_t *)r->info.host, strlen(r->info.host));
	touch((const uint8_t *)r->info.user_agent, strlen(r->info.user_agent));
	touch((const uint8_t *)r->scheme, strlen(r->scheme));
}

static void on_data(const struct http2_data *d, void *user)
{
	(void)user;
	if (d->offset + d->n > HTTP_BODY_MAX)
		abort(); /* the per-body bound */
	touch(d->d, d->n);
	*d->state += 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct http2_callbacks cb = {on_field, on_request, on_data, NULL};
	struct http2_conn c;
	http2_conn_init(&c);
	uint8_t flags = data[0];
	if (flags & 1)
		http2_conn_feed(&c, HTTP2_C2S, (const uint8_t *)preface, 24, &cb);
	size_t i = 1;
	while (i < size) {
		uint8_t ctl = data[i++];
		size_t n = ctl & 0x7f;
		if (n > size - i)
			n = size - i;
		int dir = ctl >> 7;
		if (flags & 2) {
			for (size_t k = 0; k < n; k++)
				http2_conn_feed(&c, dir, data + i + k, 1, &cb);
		} else {
			http2_conn_feed(&c, dir, data + i, n, &cb);
		}
		i += n;
	}
	const struct http_info *hi = http2_conn_info(&c);
	if (hi != NULL)
		touch((const uint8_t *)hi->host, strlen(hi->host));
	if (c.inactive && c.st != NULL)
		abort(); /* switched off means nothing is held */
	(void)http2_off_str(c.off_reason);
	http2_conn_free(&c);
	return 0;
}
