/*
 * test_dns.c - DNS parsing and the name cache: handcrafted messages (names,
 * compression, hostile pointers, truncation) and real captures from the
 * corpus when present.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glob.h>
#include <pcap/pcap.h>

#include "flowaudit/dns.h"

#define CORPUS "/work/shared/corpus/ndpi/pcap/"

struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put8(struct msg *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xFF);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xFFFF);
}

/* Labels of a dotted name; no terminating zero (so a pointer may follow). */
static void put_labels(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		put8(m, (unsigned)len);
		for (size_t i = 0; i < len; i++)
			put8(m, (uint8_t)name[i]);
		name += len;
		if (*name == '.')
			name++;
	}
}

static void put_name(struct msg *m, const char *name)
{
	put_labels(m, name);
	put8(m, 0);
}

static void put_ptr(struct msg *m, unsigned off) { put16(m, 0xC000 | off); }

static void header(struct msg *m, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* Answer owned by the name at offset `owner` (a compression pointer). */
static void answer_a(struct msg *m, unsigned owner, const uint8_t ip[4])
{
	put_ptr(m, owner);
	put16(m, 1);
	put16(m, 1);
	put32(m, 300);
	put16(m, 4);
	for (int i = 0; i < 4; i++)
		put8(m, ip[i]);
}

/* Parses from an exactly sized heap copy, so ASan sees any over-read. */
static enum dns_parse_status parse(const struct msg *m, size_t len, struct dns_message *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, m->b, len);
	enum dns_parse_status st = dns_parse(copy, len, out);
	free(copy);
	return st;
}

static const char *addr_s(const fa_addr *a)
{
	static char buf[FA_ADDR_STRLEN];
	return fa_addr_str(a, buf, sizeof(buf));
}

static struct dns_message *new_msg(void)
{
	struct dns_message *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	return d;
}

static void test_simple_a(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 1);
	question(&m, "WWW.Example.COM", 1);
	answer_a(&m, 12, (const uint8_t[]){1, 2, 3, 4});
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->id, 0x1234);
	assert_true(d->is_response);
	assert_int_equal(d->rcode, 0);
	assert_int_equal(d->qdcount, 1);
	assert_int_equal(d->ancount, 1);
	assert_string_equal(d->qname, "www.example.com");
	assert_int_equal(d->qtype, 1);
	assert_int_equal(d->n_answers, 1);
	assert_int_equal(d->answers[0].type, 1);
	assert_int_equal(d->answers[0].ttl, 300);
	assert_string_equal(d->answers[0].owner, "www.example.com");
	assert_string_equal(addr_s(&d->answers[0].addr), "1.2.3.4");
	free(d);
}

static void test_query_not_response(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x0100, 1, 0);
	question(&m, "example.org.", 28);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_false(d->is_response);
	assert_string_equal(d->qname, "example.org");
	assert_int_equal(d->qtype, 28);
	assert_int_equal(d->n_answers, 0);
	free(d);
}

static void test_multiple_a(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 3);
	question(&m, "a.example", 1);
	for (unsigned i = 0; i < 3; i++)
		answer_a(&m, 12, (const uint8_t[]){10, 0, 0, (uint8_t)(i + 1)});
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->n_answers, 3);
	assert_string_equal(addr_s(&d->answers[0].addr), "10.0.0.1");
	assert_string_equal(addr_s(&d->answers[2].addr), "10.0.0.3");
	free(d);
}

static void test_aaaa_and_skipped_types(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 3);
	question(&m, "v6.example", 28);
	/* a TXT record first: skipped by its length */
	put_ptr(&m, 12);
	put16(&m, 16);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0x03616263);
	/* an A record with a wrong length: not kept */
	put_ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 5);
	put32(&m, 0x01020304);
	put8(&m, 5);
	put_ptr(&m, 12);
	put16(&m, 28);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 16);
	const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	for (int i = 0; i < 16; i++)
		put8(&m, v6[i]);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->n_answers, 1);
	assert_int_equal(d->answers[0].type, 28);
	assert_string_equal(addr_s(&d->answers[0].addr), "2001:db8::1");
	free(d);
}

/* www.example.com CNAME x.cdn.net; x.cdn.net A 1.2.3.4 */
static void build_cname(struct msg *m)
{
	header(m, 0x8180, 1, 2);
	question(m, "www.example.com", 1); /* name at 12 */
	put_ptr(m, 12);
	put16(m, 5);
	put16(m, 1);
	put32(m, 60);
	size_t rdlen_at = m->n;
	put16(m, 0);
	size_t target_at = m->n;
	put_name(m, "x.cdn.net");
	size_t rdlen = m->n - target_at;
	m->b[rdlen_at] = (uint8_t)(rdlen >> 8);
	m->b[rdlen_at + 1] = (uint8_t)rdlen;
	answer_a(m, (unsigned)target_at, (const uint8_t[]){1, 2, 3, 4});
}

static void test_cname_chain(void **state)
{
	(void)state;
	struct msg m;
	build_cname(&m);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->n_answers, 2);
	assert_int_equal(d->answers[0].type, 5);
	assert_string_equal(d->answers[0].owner, "www.example.com");
	assert_string_equal(d->answers[0].target, "x.cdn.net");
	assert_string_equal(d->answers[1].owner, "x.cdn.net");

	struct dns_cache *c = dns_cache_new(NULL);
	assert_non_null(c);
	dns_cache_add_message(c, d, 1000, 0, 2);
	fa_addr a;
	assert_true(fa_addr_parse("1.2.3.4", &a));
	struct dns_name_ref refs[4];
	size_t n = dns_cache_lookup(c, &a, 2000, refs, 4);
	assert_int_equal(n, 2);
	assert_string_equal(refs[0].name, "www.example.com");
	assert_string_equal(refs[1].name, "x.cdn.net");
	assert_int_equal(refs[0].time, 1000);
	assert_int_equal(refs[0].frame, 2);
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.answers_added, 1);
	assert_int_equal(st.addresses, 1);
	dns_cache_free(c);
	free(d);
}

static void test_unrelated_answer_not_named_as_question(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 1);
	question(&m, "asked.example", 1); /* 12 */
	put_name(&m, "other.example");
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0x05060708);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	struct dns_cache *c = dns_cache_new(NULL);
	dns_cache_add_message(c, d, 10, 0, 1);
	fa_addr a;
	assert_true(fa_addr_parse("5.6.7.8", &a));
	struct dns_name_ref refs[4];
	assert_int_equal(dns_cache_lookup(c, &a, 10, refs, 4), 1);
	assert_string_equal(refs[0].name, "other.example");
	dns_cache_free(c);
	free(d);
}

static void test_compression_suffix(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 1);
	question(&m, "www.example.com", 1); /* 12: 3www 7example 3com 0 */
	put_labels(&m, "CDN");
	put_ptr(&m, 16); /* "example.com" */
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 5);
	put16(&m, 4);
	put32(&m, 0x7f000001);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->n_answers, 1);
	assert_string_equal(d->answers[0].owner, "cdn.example.com");
	assert_string_equal(addr_s(&d->answers[0].addr), "127.0.0.1");
	free(d);
}

static void test_self_pointer(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 0);
	put_ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);

	/* a label then a pointer back to the name's own start: a.a.a.a... */
	header(&m, 0x8180, 1, 0);
	put8(&m, 1);
	put8(&m, 'a');
	put_ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);
	free(d);
}

static void test_two_pointer_cycle(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 2);
	question(&m, "a", 1); /* 12..18 */
	/* answer 1 at 19: a TXT whose RDATA (at 31) holds two pointers to each other */
	put_ptr(&m, 12);
	put16(&m, 16);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	assert_int_equal(m.n, 31);
	put_ptr(&m, 33);
	put_ptr(&m, 31);
	/* answer 2 enters the cycle from behind: 33 -> 31 -> 33 must stop */
	put_ptr(&m, 33);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	put32(&m, 0x01010101);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);
	assert_string_equal(d->qname, "a");
	free(d);
}

static void test_forward_pointer(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 0);
	put_ptr(&m, 18); /* the name is valid, but it lies ahead */
	put16(&m, 1);
	put16(&m, 1);
	put_name(&m, "ahead.example");
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);
	assert_string_equal(d->qname, "");
	free(d);
}

static void test_truncation_every_offset(void **state)
{
	(void)state;
	struct msg m;
	build_cname(&m);
	struct dns_message *d = new_msg();
	for (size_t len = 0; len < m.n; len++)
		assert_int_equal(parse(&m, len, d), DNS_PARSE_TRUNCATED);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	/* just past the CNAME answer: the question and CNAME are kept */
	assert_int_equal(parse(&m, m.n - 16, d), DNS_PARSE_TRUNCATED);
	assert_string_equal(d->qname, "www.example.com");
	assert_int_equal(d->n_answers, 1);
	assert_string_equal(d->answers[0].target, "x.cdn.net");
	free(d);
}

static void test_label_too_long(void **state)
{
	(void)state;
	struct msg m;
	struct dns_message *d = new_msg();
	char lab[70];
	memset(lab, 'x', 64);
	lab[64] = '\0';
	header(&m, 0x8180, 1, 0);
	question(&m, lab, 1); /* 64 = 0x40: the extended label type */
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);

	lab[63] = '\0';
	header(&m, 0x8180, 1, 0);
	question(&m, lab, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(strlen(d->qname), 63);

	header(&m, 0x8180, 1, 0);
	put8(&m, 0x81); /* reserved 0x80 label type */
	put8(&m, 'a');
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);
	free(d);
}

static void test_name_length_limit(void **state)
{
	(void)state;
	char l63[64], l61[62], name[300];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l61, 'b', 61);
	l61[61] = '\0';
	struct msg m;
	struct dns_message *d = new_msg();

	/* 3 * 64 + 62 + 1 = 255 octets: the longest legal name */
	snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l61);
	header(&m, 0x8180, 1, 0);
	question(&m, name, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_string_equal(d->qname, name);
	assert_int_equal(strlen(d->qname), 253);

	/* 4 * 64 + 1 = 257 octets */
	snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l63);
	header(&m, 0x8180, 1, 0);
	question(&m, name, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);

	/* the same length built from a pointer to a suffix */
	header(&m, 0x8180, 2, 0);
	snprintf(name, sizeof(name), "%s.%s.%s", l63, l63, l63);
	question(&m, name, 1);
	put_labels(&m, l63);
	put_ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_BAD_NAME);
	free(d);
}

static void test_escaped_bytes(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 0);
	put8(&m, 4);
	put8(&m, 'a');
	put8(&m, '.');
	put8(&m, 0);
	put8(&m, '\\');
	put8(&m, 3);
	put8(&m, 'c');
	put8(&m, ' ');
	put8(&m, 0xFF);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_string_equal(d->qname, "a\\046\\000\\092.c\\032\\255");
	free(d);
}

static void test_answer_count_exceeds(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 3);
	question(&m, "n.example", 1);
	answer_a(&m, 12, (const uint8_t[]){9, 9, 9, 9});
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_TRUNCATED);
	assert_int_equal(d->n_answers, 1);
	assert_string_equal(addr_s(&d->answers[0].addr), "9.9.9.9");
	free(d);
}

static void test_answers_capped(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8180, 1, 100);
	question(&m, "many.example", 1);
	for (unsigned i = 0; i < 100; i++)
		answer_a(&m, 12, (const uint8_t[]){10, 1, 0, (uint8_t)i});
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_OK);
	assert_int_equal(d->n_answers, DNS_MAX_ANSWERS);
	assert_string_equal(addr_s(&d->answers[DNS_MAX_ANSWERS - 1].addr), "10.1.0.63");
	free(d);
}

static void test_not_dns(void **state)
{
	(void)state;
	struct msg m;
	header(&m, 0x8000 | (3u << 11), 1, 0);
	question(&m, "x", 1);
	struct dns_message *d = new_msg();
	assert_int_equal(parse(&m, m.n, d), DNS_PARSE_NOT_DNS);
	assert_string_equal(dns_parse_status_name(DNS_PARSE_NOT_DNS), "not-dns");
	free(d);
}

static void v4(fa_addr *a, uint32_t n)
{
	uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	fa_addr_v4(a, b);
}

static void test_cache_bounds(void **state)
{
	(void)state;
	struct dns_cache_limits lim = {.max_addresses = 1000, .max_names_per_addr = 4};
	struct dns_cache *c = dns_cache_new(&lim);
	assert_non_null(c);
	fa_addr a;
	char name[64];
	for (uint32_t i = 0; i < 10000; i++) {
		v4(&a, 0x0A000000u + i);
		snprintf(name, sizeof(name), "h%u.example", i);
		dns_cache_add(c, &a, name, i, 0, i + 1);
	}
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.addresses, 1000);
	assert_int_equal(st.evicted_addresses, 9000);
	assert_int_equal(st.answers_added, 10000);
	struct dns_name_ref r[2];
	v4(&a, 0x0A000000u + 8999);
	assert_int_equal(dns_cache_lookup(c, &a, 1000000, r, 2), 0);
	for (uint32_t i = 9000; i < 10000; i++) {
		v4(&a, 0x0A000000u + i);
		assert_int_equal(dns_cache_lookup(c, &a, 1000000, r, 2), 1);
		snprintf(name, sizeof(name), "h%u.example", i);
		assert_string_equal(r[0].name, name);
		assert_int_equal(r[0].frame, i + 1);
	}
	dns_cache_free(c);
	dns_cache_free(NULL);
}

static void test_cache_evicts_least_recently_updated(void **state)
{
	(void)state;
	struct dns_cache_limits lim = {.max_addresses = 3, .max_names_per_addr = 2};
	struct dns_cache *c = dns_cache_new(&lim);
	fa_addr a1, a2, a3, a4;
	v4(&a1, 1);
	v4(&a2, 2);
	v4(&a3, 3);
	v4(&a4, 4);
	dns_cache_add(c, &a1, "one", 1, 0, 1);
	dns_cache_add(c, &a2, "two", 2, 0, 2);
	dns_cache_add(c, &a3, "three", 3, 0, 3);
	dns_cache_add(c, &a1, "one", 4, 0, 4); /* a1 refreshed: a2 is now stalest */
	dns_cache_add(c, &a4, "four", 5, 0, 5);
	struct dns_name_ref r[2];
	assert_int_equal(dns_cache_lookup(c, &a1, 10, r, 2), 1);
	assert_int_equal(dns_cache_lookup(c, &a2, 10, r, 2), 0);
	assert_int_equal(dns_cache_lookup(c, &a3, 10, r, 2), 1);
	assert_int_equal(dns_cache_lookup(c, &a4, 10, r, 2), 1);
	dns_cache_free(c);
}

static void test_cache_before_time(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(NULL);
	fa_addr a;
	v4(&a, 0xC0000201);
	dns_cache_add(c, &a, "Early.Example.", 100, 1, 10);
	dns_cache_add(c, &a, "late.example", 500, 1, 50);
	struct dns_name_ref r[4];
	assert_int_equal(dns_cache_lookup(c, &a, 99, r, 4), 0);
	assert_int_equal(dns_cache_lookup(c, &a, 100, r, 4), 1);
	assert_string_equal(r[0].name, "early.example");
	assert_int_equal(dns_cache_lookup(c, &a, 499, r, 4), 1);
	assert_int_equal(dns_cache_lookup(c, &a, 500, r, 4), 2);
	assert_string_equal(r[0].name, "late.example");
	assert_string_equal(r[1].name, "early.example");

	/* answered again after the flow: the earlier answer still names it */
	dns_cache_add(c, &a, "early.example", 900, 2, 90);
	assert_int_equal(dns_cache_lookup(c, &a, 600, r, 4), 2);
	assert_string_equal(r[0].name, "late.example");
	assert_string_equal(r[1].name, "early.example");
	assert_int_equal(r[1].time, 100);
	assert_int_equal(r[1].frame, 10);
	assert_int_equal(dns_cache_lookup(c, &a, 1000, r, 4), 2);
	assert_string_equal(r[0].name, "early.example");
	assert_int_equal(r[0].file, 2);
	assert_int_equal(r[0].frame, 90);
	assert_int_equal(dns_cache_lookup(c, &a, 1000, r, 1), 1);
	dns_cache_free(c);
}

static void test_cache_names_per_addr(void **state)
{
	(void)state;
	struct dns_cache_limits lim = {.max_addresses = 10, .max_names_per_addr = 3};
	struct dns_cache *c = dns_cache_new(&lim);
	fa_addr a;
	v4(&a, 0x08080808);
	char name[32];
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		dns_cache_add(c, &a, name, 10 + i, 0, (uint64_t)i);
	}
	dns_cache_add(c, &a, "n3.example", 20, 0, 9); /* an update, not a new name */
	struct dns_name_ref r[8];
	assert_int_equal(dns_cache_lookup(c, &a, 100, r, 8), 3);
	assert_string_equal(r[0].name, "n3.example");
	assert_string_equal(r[1].name, "n4.example");
	assert_string_equal(r[2].name, "n2.example");
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.evicted_names, 2);
	assert_int_equal(st.addresses, 1);
	dns_cache_free(c);
}

/* ---- real captures ---- */

struct pcap_tally {
	unsigned responses, ok, truncated, other, with_answers;
};

/* UDP payloads from port 53 in an Ethernet/IPv4 capture; false if unreadable. */
static bool parse_capture(const char *path, struct pcap_tally *t)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (p == NULL)
		return false;
	if (pcap_datalink(p) != DLT_EN10MB) {
		pcap_close(p);
		return false;
	}
	struct dns_message *d = new_msg();
	struct pcap_pkthdr *h;
	const u_char *b;
	while (pcap_next_ex(p, &h, &b) == 1) {
		size_t n = h->caplen, off = 14;
		if (n < off + 20 || b[12] != 0x08 || b[13] != 0x00)
			continue;
		size_t ihl = (size_t)(b[off] & 0x0F) * 4;
		if ((b[off] >> 4) != 4 || b[off + 9] != 17 || ihl < 20 || n < off + ihl + 8)
			continue;
		if ((((unsigned)b[off + 6] & 0x1F) << 8 | b[off + 7]) != 0)
			continue; /* not the first fragment */
		size_t u = off + ihl;
		unsigned sport = (unsigned)b[u] << 8 | b[u + 1];
		if (sport != 53)
			continue;
		size_t ulen = (size_t)b[u + 4] << 8 | b[u + 5];
		size_t avail = n - u;
		if (ulen < 8)
			continue;
		size_t plen = (ulen < avail ? ulen : avail) - 8;
		uint8_t *copy = malloc(plen ? plen : 1);
		assert_non_null(copy);
		memcpy(copy, b + u + 8, plen);
		enum dns_parse_status st = dns_parse(copy, plen, d);
		free(copy);
		t->responses++;
		if (st == DNS_PARSE_OK)
			t->ok++;
		else if (st == DNS_PARSE_TRUNCATED)
			t->truncated++;
		else
			t->other++;
		if (st == DNS_PARSE_OK && d->n_answers > 0)
			t->with_answers++;
	}
	free(d);
	pcap_close(p);
	return true;
}

static void test_real_long_domainname(void **state)
{
	(void)state;
	struct pcap_tally t = {0};
	if (!parse_capture(CORPUS "dns_long_domainname.pcap", &t))
		skip();
	assert_true(t.responses > 0);
	assert_int_equal(t.other, 0);
	assert_true(t.ok > 0);
}

static void test_real_dns_captures(void **state)
{
	(void)state;
	glob_t g;
	if (glob(CORPUS "*dns*.pcap", 0, NULL, &g) != 0)
		skip();
	unsigned files = 0, responses = 0, with_answers = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct pcap_tally t = {0};
		if (!parse_capture(g.gl_pathv[i], &t))
			continue;
		files++;
		responses += t.responses;
		with_answers += t.with_answers;
		/* malformed_dns and the tunnels may hold bad names; nothing may crash */
		if (strstr(g.gl_pathv[i], "malformed") == NULL && strstr(g.gl_pathv[i], "invalid") == NULL &&
		    strstr(g.gl_pathv[i], "tunnel") == NULL && strstr(g.gl_pathv[i], "exfil") == NULL)
			assert_int_equal(t.other, 0);
	}
	globfree(&g);
	if (files == 0)
		skip();
	assert_true(responses > 0);
	assert_true(with_answers > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_a),
		cmocka_unit_test(test_query_not_response),
		cmocka_unit_test(test_multiple_a),
		cmocka_unit_test(test_aaaa_and_skipped_types),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_unrelated_answer_not_named_as_question),
		cmocka_unit_test(test_compression_suffix),
		cmocka_unit_test(test_self_pointer),
		cmocka_unit_test(test_two_pointer_cycle),
		cmocka_unit_test(test_forward_pointer),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_label_too_long),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_escaped_bytes),
		cmocka_unit_test(test_answer_count_exceeds),
		cmocka_unit_test(test_answers_capped),
		cmocka_unit_test(test_not_dns),
		cmocka_unit_test(test_cache_bounds),
		cmocka_unit_test(test_cache_evicts_least_recently_updated),
		cmocka_unit_test(test_cache_before_time),
		cmocka_unit_test(test_cache_names_per_addr),
		cmocka_unit_test(test_real_long_domainname),
		cmocka_unit_test(test_real_dns_captures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
