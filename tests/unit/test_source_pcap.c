/* Classic pcap files read through source.c (records read in blocks ahead
   of libpcap, libpcap for the rest) give exactly the frames, times, end and
   error that libpcap alone gives: little and big endian, micro- and
   nanosecond files, records across the block boundary, files cut inside a
   header or a record, and records longer than the snapshot length. */
#include "flowaudit/source.h"

#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void put32(FILE *f, uint32_t v, bool be)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
	fwrite(b, 1, 4, f);
}

static void put16(FILE *f, uint16_t v, bool be)
{
	uint8_t b[2] = {(uint8_t)(be ? v >> 8 : v), (uint8_t)(be ? v : v >> 8)};
	fwrite(b, 1, 2, f);
}

struct spec {
	bool be, nsec;
	uint32_t snaplen;
	int records;
	uint32_t big_at;   /* this record claims big_len captured bytes (0: none) */
	uint32_t big_len;
	long cut;          /* the file is cut this many bytes short (0: whole) */
};

/* A pcap file of records of varied sizes (up to 3,000 bytes, so that many
   straddle the 1 MiB blocks), written to a temporary path. */
static void make(const char *path, const struct spec *sp)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	put32(f, sp->nsec ? 0xa1b23c4d : 0xa1b2c3d4, sp->be);
	put16(f, 2, sp->be);
	put16(f, 4, sp->be);
	put32(f, 0, sp->be);
	put32(f, 0, sp->be);
	put32(f, sp->snaplen, sp->be);
	put32(f, 1, sp->be); /* Ethernet */
	uint8_t pkt[4096];
	for (int i = 0; i < sp->records; i++) {
		uint32_t len = 14 + (uint32_t)((i * 7919) % 2986);
		uint32_t cap = (uint32_t)(i + 1) == sp->big_at ? sp->big_len : len;
		for (uint32_t k = 0; k < sizeof(pkt); k++)
			pkt[k] = (uint8_t)(k * 31 + (uint32_t)i);
		put32(f, 1700000000u + (uint32_t)i, sp->be);
		put32(f, sp->nsec ? 999999999u - (uint32_t)i : (uint32_t)(i * 13) % 1000000u, sp->be);
		put32(f, cap, sp->be);
		put32(f, len, sp->be);
		for (uint32_t left = cap; left > 0;) {
			uint32_t n = left < sizeof(pkt) ? left : (uint32_t)sizeof(pkt);
			fwrite(pkt, 1, n, f);
			left -= n;
		}
	}
	long size = ftell(f);
	assert_int_equal(fclose(f), 0);
	if (sp->cut)
		assert_int_equal(truncate(path, size - sp->cut), 0);
}

/* Reads path with libpcap alone and with source.c, and compares. */
static void compare(const struct spec *sp)
{
	char path[] = "/tmp/flowaudit-test-pcap-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	make(path, sp);

	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	assert_non_null(p);
	const char *paths[1] = {path};
	struct source *s = NULL;
	struct fa_err err = {""};
	assert_int_equal(source_open_files(paths, 1, &s, &err), FA_OK);

	uint64_t n = 0;
	int rc;
	struct pcap_pkthdr *h;
	const u_char *data;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		struct source_frame fr;
		assert_int_equal(source_next(s, &fr, &err), 1);
		n++;
		assert_int_equal(fr.frame, n);
		assert_int_equal(fr.caplen, h->caplen);
		assert_int_equal(fr.wirelen, h->len);
		assert_int_equal(fr.ts_sec, h->ts.tv_sec);
		assert_int_equal(fr.ts_nsec, h->ts.tv_usec);
		assert_memory_equal(fr.data, data, h->caplen);
	}
	struct source_frame fr;
	assert_int_equal(source_next(s, &fr, &err), 0);
	const struct source_file_info *fi = source_file(s, 0);
	assert_int_equal(fi->frames, n);
	assert_int_equal(fi->truncated, rc == PCAP_ERROR);
	if (rc == PCAP_ERROR)
		assert_non_null(strstr(fi->error, pcap_geterr(p)));
	if (sp->cut == 0 && sp->big_at == 0)
		assert_int_equal(n, (uint64_t)sp->records);
	pcap_close(p);
	source_free(s);
	unlink(path);
}

static void test_whole(void **state)
{
	(void)state;
	for (int be = 0; be < 2; be++)
		for (int ns = 0; ns < 2; ns++)
			compare(&(struct spec){.be = be, .nsec = ns, .snaplen = 65535, .records = 1500});
}

static void test_cut(void **state)
{
	(void)state;
	/* inside the last record's bytes, inside its header, right after it */
	const long cuts[] = {1, 100, 2000, 3000};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		compare(&(struct spec){.snaplen = 65535, .records = 900, .cut = cuts[i]});
	compare(&(struct spec){.be = true, .snaplen = 65535, .records = 900, .cut = 7});
}

static void test_over_snaplen(void **state)
{
	(void)state;
	/* longer than the snapshot length: libpcap cuts it to the snapshot */
	compare(&(struct spec){.snaplen = 1500, .records = 600, .big_at = 400, .big_len = 1600});
	/* longer than any sane length: libpcap stops there */
	compare(&(struct spec){.snaplen = 65535, .records = 600, .big_at = 500,
			       .big_len = 300000});
	/* a snapshot length of 0 in the header: libpcap takes its maximum */
	compare(&(struct spec){.snaplen = 0, .records = 600});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_over_snaplen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
