/*
 * test_tls.c - ClientHello SNI and ALPN: hellos built here (whole, cut at
 * every length, split over records, corrupted) and real captures from the
 * corpus when present.
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
#include <pcap/pcap.h>

#include "flowaudit/tls.h"

#include "bytebuf.h"

#define CORPUS "/work/shared/corpus/ndpi/pcap/"

struct hello_opts {
	const char *sni;  /* NULL: no server_name extension */
	const char *alpn; /* NULL: no ALPN extension */
	bool sni_twice;
	size_t padding; /* bytes of a padding extension (21), to make it large */
	bool ech;       /* an encrypted_client_hello extension (outer form) */
};

/* A ClientHello handshake message (header included), no record layer. */
static void build_handshake(struct buf *m, const struct hello_opts *o)
{
	m->n = 0;
	put8(m, 1);
	put8(m, 0);
	size_t len_at = m->n;
	put16(m, 0);
	put16(m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(m, (unsigned)i);
	put8(m, 32);
	for (int i = 0; i < 32; i++)
		put8(m, 0xAA);
	put16(m, 6);
	put16(m, 0x1301);
	put16(m, 0x1302);
	put16(m, 0xC02F);
	put8(m, 1);
	put8(m, 0);
	size_t ext_at = m->n;
	put16(m, 0);
	/* a GREASE extension and supported_versions before the interesting ones */
	put16(m, 0x0A0A);
	put16(m, 0);
	put16(m, 43);
	put16(m, 3);
	put8(m, 2);
	put16(m, 0x0304);
	for (int k = 0; o->sni != NULL && k < (o->sni_twice ? 2 : 1); k++) {
		size_t n = strlen(o->sni);
		put16(m, 0);
		put16(m, (unsigned)(n + 5));
		put16(m, (unsigned)(n + 3));
		put8(m, 0);
		put16(m, (unsigned)n);
		put_bytes(m, o->sni, n);
	}
	if (o->alpn != NULL) {
		size_t n = strlen(o->alpn);
		put16(m, 16);
		put16(m, (unsigned)(n + 1 + 2 + 9));
		put16(m, (unsigned)(n + 1 + 9));
		put8(m, (unsigned)n);
		put_bytes(m, o->alpn, n);
		put8(m, 8);
		put_bytes(m, "http/1.1", 8);
	}
	if (o->ech) {
		/* ECHClientHello: outer(0), HPKE KDF and AEAD ids, config id, enc, payload */
		put16(m, 0xfe0d);
		put16(m, 1 + 4 + 1 + 2 + 32 + 2 + 48);
		put8(m, 0);
		put16(m, 0x0001);
		put16(m, 0x0001);
		put8(m, 0x42);
		put16(m, 32);
		for (int i = 0; i < 32; i++)
			put8(m, (unsigned)(0x20 + i));
		put16(m, 48);
		for (int i = 0; i < 48; i++)
			put8(m, (unsigned)(0x90 + i));
	}
	if (o->padding > 0) {
		put16(m, 21);
		put16(m, (unsigned)o->padding);
		for (size_t i = 0; i < o->padding; i++)
			put8(m, 0);
	}
	patch16(m, ext_at);
	size_t body = m->n - 4;
	m->b[1] = (uint8_t)(body >> 16);
	m->b[len_at] = (uint8_t)(body >> 8);
	m->b[len_at + 1] = (uint8_t)body;
}

/* Wraps handshake bytes into records of at most `frag` bytes each. */
static void wrap_records(struct buf *out, const struct buf *hs, size_t frag)
{
	out->n = 0;
	for (size_t off = 0; off < hs->n; off += frag) {
		size_t n = hs->n - off < frag ? hs->n - off : frag;
		put8(out, 0x16);
		put16(out, 0x0301);
		put16(out, (unsigned)n);
		put_bytes(out, hs->b + off, n);
	}
}

static struct buf *build(const struct hello_opts *o, size_t frag)
{
	struct buf *hs = calloc(1, sizeof(*hs));
	struct buf *rec = calloc(1, sizeof(*rec));
	assert_non_null(hs);
	assert_non_null(rec);
	build_handshake(hs, o);
	wrap_records(rec, hs, frag);
	free(hs);
	return rec;
}

/* Parses an exactly sized heap copy, so ASan sees any over-read. */
static enum tls_parse_status parse(const uint8_t *d, size_t len, char *sni, size_t sni_len,
				   char *alpn, size_t alpn_len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, d, len);
	enum tls_parse_status st = tls_client_hello_sni(copy, len, sni, sni_len, alpn, alpn_len);
	free(copy);
	return st;
}

static void test_basic(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "WWW.Example.COM.", .alpn = "h2"};
	struct buf *r = build(&o, 16384);
	char sni[256], alpn[64];
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)), TLS_PARSE_OK);
	assert_string_equal(sni, "www.example.com");
	assert_string_equal(alpn, "h2");
	assert_string_equal(tls_parse_status_name(TLS_PARSE_OK), "ok");
	/* trailing bytes of the next record do not matter */
	r->b[r->n] = 0x17;
	assert_int_equal(parse(r->b, r->n + 1, sni, sizeof(sni), NULL, 0), TLS_PARSE_OK);
	assert_string_equal(sni, "www.example.com");
	free(r);
}

static void test_no_sni(void **state)
{
	(void)state;
	struct hello_opts o = {.alpn = "http/1.1"};
	struct buf *r = build(&o, 16384);
	char sni[256] = "stale", alpn[64];
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)), TLS_PARSE_OK);
	assert_string_equal(sni, "");
	assert_string_equal(alpn, "http/1.1");
	free(r);
}

static void test_long_sni(void **state)
{
	(void)state;
	char name[201];
	for (int i = 0; i < 200; i++)
		name[i] = (i % 50 == 49 && i < 199) ? '.' : (char)('a' + i % 26);
	name[200] = '\0';
	struct hello_opts o = {.sni = name};
	struct buf *r = build(&o, 16384);
	char sni[256], alpn[8];
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)), TLS_PARSE_OK);
	assert_int_equal(strlen(sni), 200);
	assert_string_equal(sni, name);
	assert_string_equal(alpn, "");
	/* a buffer too small for the name: refused, never cut */
	char small[100];
	assert_int_equal(parse(r->b, r->n, small, sizeof(small), NULL, 0), TLS_PARSE_MALFORMED);
	assert_string_equal(small, "");
	free(r);
}

static void test_bad_sni_bytes(void **state)
{
	(void)state;
	const char *bad[] = {"exa mple.com", "exa\x01mple.com", "caf\xc3\xa9.fr", "a\x7f"};
	char sni[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hello_opts o = {.sni = bad[i]};
		struct buf *r = build(&o, 16384);
		assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_MALFORMED);
		free(r);
	}
	struct hello_opts o = {.sni = "a.example", .sni_twice = true};
	struct buf *r = build(&o, 16384);
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_MALFORMED);
	free(r);
}

static void test_alpn_too_long_for_buffer(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "x.example", .alpn = "a-rather-long-protocol"};
	struct buf *r = build(&o, 16384);
	char sni[256], alpn[8];
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)), TLS_PARSE_OK);
	assert_string_equal(sni, "x.example");
	assert_string_equal(alpn, "");
	free(r);
}

static void test_truncation_every_offset(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "cut.example.net", .alpn = "h2"};
	struct buf *r = build(&o, 16384);
	char sni[256], alpn[64];
	for (size_t len = 0; len < r->n; len++) {
		assert_int_equal(parse(r->b, len, sni, sizeof(sni), alpn, sizeof(alpn)),
				 TLS_PARSE_NEED_MORE);
		assert_string_equal(sni, "");
	}
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)), TLS_PARSE_OK);
	assert_string_equal(sni, "cut.example.net");
	free(r);
}

static void test_split_over_records(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "split.example.org", .alpn = "h2"};
	const size_t frags[] = {1, 2, 3, 50, 100};
	char sni[256], alpn[64];
	for (size_t f = 0; f < sizeof(frags) / sizeof(frags[0]); f++) {
		struct buf *r = build(&o, frags[f]);
		assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), alpn, sizeof(alpn)),
				 TLS_PARSE_OK);
		assert_string_equal(sni, "split.example.org");
		assert_string_equal(alpn, "h2");
		for (size_t len = 0; len < r->n; len++)
			assert_int_equal(parse(r->b, len, sni, sizeof(sni), NULL, 0),
					 TLS_PARSE_NEED_MORE);
		free(r);
	}
	/* an alert record in the middle of the hello */
	struct buf *r = build(&o, 50);
	r->b[55] = 0x15;
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_MALFORMED);
	free(r);
}

static void test_large_hello(void **state)
{
	(void)state;
	char sni[256];
	/* 12 000 bytes of padding spread over one big record: still read */
	struct hello_opts o = {.sni = "big.example", .padding = 12000};
	struct buf *r = build(&o, 16384);
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_OK);
	assert_string_equal(sni, "big.example");
	free(r);
	/* the same spread over several records */
	r = build(&o, 4000);
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_OK);
	assert_string_equal(sni, "big.example");
	free(r);
	/* larger than TLS_HELLO_MAX: refused as soon as the header says so */
	o.padding = TLS_HELLO_MAX;
	r = build(&o, 16000);
	assert_int_equal(parse(r->b, 9, sni, sizeof(sni), NULL, 0), TLS_PARSE_MALFORMED);
	assert_int_equal(parse(r->b, r->n, sni, sizeof(sni), NULL, 0), TLS_PARSE_MALFORMED);
	free(r);
}

static void test_not_tls(void **state)
{
	(void)state;
	char sni[256];
	const char *http = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(parse((const uint8_t *)http, strlen(http), sni, sizeof(sni), NULL, 0),
			 TLS_PARSE_NOT_TLS);
	const uint8_t bad_version[] = {0x16, 0x02, 0x00, 0x00, 0x10};
	assert_int_equal(parse(bad_version, sizeof(bad_version), sni, sizeof(sni), NULL, 0),
			 TLS_PARSE_NOT_TLS);
	const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
	assert_int_equal(parse(server_hello, sizeof(server_hello), sni, sizeof(sni), NULL, 0),
			 TLS_PARSE_NOT_TLS);
	const uint8_t sslv2[] = {0x80, 0x2e, 0x01, 0x00, 0x02};
	assert_int_equal(parse(sslv2, sizeof(sslv2), sni, sizeof(sni), NULL, 0), TLS_PARSE_NOT_TLS);
	const uint8_t empty_record[] = {0x16, 0x03, 0x01, 0x00, 0x00};
	assert_int_equal(parse(empty_record, sizeof(empty_record), sni, sizeof(sni), NULL, 0),
			 TLS_PARSE_MALFORMED);
	uint8_t noise[512];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (uint8_t)(x >> 16);
	}
	noise[0] = 0x42;
	assert_int_equal(parse(noise, sizeof(noise), sni, sizeof(sni), NULL, 0), TLS_PARSE_NOT_TLS);
}

static void test_inconsistent_lengths(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "len.example", .alpn = "h2"};
	struct buf *r = build(&o, 16384);
	char sni[256], alpn[64];
	/* session id length 33 */
	struct buf *m = malloc(sizeof(*m));
	assert_non_null(m);
	*m = *r;
	m->b[5 + 4 + 34] = 33;
	assert_int_equal(parse(m->b, m->n, sni, sizeof(sni), alpn, sizeof(alpn)),
			 TLS_PARSE_MALFORMED);
	/* extensions block longer than the hello */
	*m = *r;
	size_t ext_at = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 6 + 2;
	m->b[ext_at] = 0xFF;
	assert_int_equal(parse(m->b, m->n, sni, sizeof(sni), alpn, sizeof(alpn)),
			 TLS_PARSE_MALFORMED);
	/* every single byte replaced by 0xFF or 0x00: any status, no crash */
	for (size_t i = 0; i < r->n; i++) {
		for (int v = 0; v < 2; v++) {
			*m = *r;
			m->b[i] = v ? 0xFF : 0x00;
			enum tls_parse_status st =
				parse(m->b, m->n, sni, sizeof(sni), alpn, sizeof(alpn));
			assert_true(st <= TLS_PARSE_MALFORMED);
			if (st != TLS_PARSE_OK)
				assert_string_equal(sni, "");
		}
	}
	free(m);
	free(r);
}

/* ---- real captures ---- */

/*
 * SNIs of ClientHellos that sit whole in one TCP segment to port 443
 * (Ethernet, IPv4 or IPv6 without extension headers). Returns -1 if the
 * file cannot be read, else how many hellos gave OK.
 */
static int scan_capture(const char *path, const char *want, bool *found)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (p == NULL)
		return -1;
	if (pcap_datalink(p) != DLT_EN10MB) {
		pcap_close(p);
		return -1;
	}
	int ok = 0;
	struct pcap_pkthdr *h;
	const u_char *b;
	while (pcap_next_ex(p, &h, &b) == 1) {
		size_t n = h->caplen, l3 = 14, l4;
		if (n < l3 + 40)
			continue;
		if (b[12] == 0x08 && b[13] == 0x00 && (b[l3] >> 4) == 4 && b[l3 + 9] == 6) {
			l4 = l3 + (size_t)(b[l3] & 0x0F) * 4;
		} else if (b[12] == 0x86 && b[13] == 0xDD && b[l3 + 6] == 6) {
			l4 = l3 + 40;
		} else {
			continue;
		}
		if (n < l4 + 20)
			continue;
		unsigned dport = (unsigned)b[l4 + 2] << 8 | b[l4 + 3];
		size_t thl = (size_t)(b[l4 + 12] >> 4) * 4;
		if (dport != 443 || thl < 20 || n <= l4 + thl)
			continue;
		const u_char *pl = b + l4 + thl;
		size_t plen = n - l4 - thl;
		if (pl[0] != 0x16)
			continue;
		char sni[256], alpn[64];
		enum tls_parse_status st = parse(pl, plen, sni, sizeof(sni), alpn, sizeof(alpn));
		assert_true(st <= TLS_PARSE_MALFORMED);
		if (st == TLS_PARSE_OK) {
			ok++;
			if (strcmp(sni, want) == 0)
				*found = true;
		}
	}
	pcap_close(p);
	return ok;
}

/* The encrypted_client_hello extension is reported; the outer SNI stays the name. */
static void test_ech_flag(void **state)
{
	(void)state;
	struct hello_opts with = {.sni = "public.example.net", .alpn = "h2", .ech = true};
	struct hello_opts without = {.sni = "public.example.net", .alpn = "h2"};
	struct buf *r = build(&with, 16384);
	struct tls_hello h;
	assert_int_equal(tls_client_hello(r->b, r->n, &h), TLS_PARSE_OK);
	assert_true(h.ech);
	assert_string_equal(h.sni, "public.example.net");
	assert_string_equal(h.alpn, "h2");
	free(r);
	r = build(&without, 16384);
	assert_int_equal(tls_client_hello(r->b, r->n, &h), TLS_PARSE_OK);
	assert_false(h.ech);
	assert_string_equal(h.sni, "public.example.net");
	free(r);
	/* split over records, the flag survives the gathering */
	r = build(&with, 50);
	assert_int_equal(tls_client_hello(r->b, r->n, &h), TLS_PARSE_OK);
	assert_true(h.ech);
	free(r);
}

/* The bare handshake message (QUIC's CRYPTO stream) goes through the same parser. */
static void test_handshake_message(void **state)
{
	(void)state;
	struct hello_opts o = {.sni = "quic.example.org", .alpn = "h3", .ech = true};
	struct buf *hs = calloc(1, sizeof(*hs));
	assert_non_null(hs);
	build_handshake(hs, &o);
	struct tls_hello h;
	assert_int_equal(tls_handshake_hello(hs->b, hs->n, &h), TLS_PARSE_OK);
	assert_string_equal(h.sni, "quic.example.org");
	assert_string_equal(h.alpn, "h3");
	assert_true(h.ech);
	/* every prefix asks for more and leaves nothing behind */
	for (size_t n = 0; n < hs->n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, hs->b, n);
		assert_int_equal(tls_handshake_hello(copy, n, &h), TLS_PARSE_NEED_MORE);
		assert_string_equal(h.sni, "");
		assert_false(h.ech);
		free(copy);
	}
	/* a record header in front is not a bare handshake message */
	struct buf *r = build(&o, 16384);
	assert_int_equal(tls_handshake_hello(r->b, r->n, &h), TLS_PARSE_NOT_TLS);
	free(r);
	free(hs);
}

static void test_real_capture(void **state)
{
	(void)state;
	static const struct {
		const char *file, *sni;
	} known[] = {
		{CORPUS "long_tls_certificate.pcap", "beacon-api.aliyuncs.com"},
		{CORPUS "tls_2_reasms.pcapng", "i.instagram.com"},
	};
	int files = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		bool found = false;
		int ok = scan_capture(known[i].file, known[i].sni, &found);
		if (ok < 0)
			continue;
		files++;
		assert_true(ok > 0);
		assert_true(found);
	}
	if (files == 0)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_no_sni),
		cmocka_unit_test(test_long_sni),
		cmocka_unit_test(test_bad_sni_bytes),
		cmocka_unit_test(test_alpn_too_long_for_buffer),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_split_over_records),
		cmocka_unit_test(test_large_hello),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_inconsistent_lengths),
		cmocka_unit_test(test_ech_flag),
		cmocka_unit_test(test_handshake_message),
		cmocka_unit_test(test_real_capture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
