/*
 * pcapng_read: files built block by block here, in both byte orders, read
 * from memory, from a file through the buffer (blocks across its refills,
 * one larger than it) and from a pipe; then through source.c: frame
 * numbers over sections, a link type per interface, the decryption
 * secrets with the frame each came before, and a damaged file's message.
 */
#include "flowaudit/pcapng_read.h"
#include "flowaudit/source.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- a pcapng writer for tests: every field as the draft lays it out ---- */

struct buf {
	uint8_t *b;
	size_t n, cap;
	bool be;
};

static void put(struct buf *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2;
		w->b = realloc(w->b, w->cap);
		assert_non_null(w->b);
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put_u(struct buf *w, uint64_t v, int bytes)
{
	uint8_t o[8];
	for (int i = 0; i < bytes; i++)
		o[w->be ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
	put(w, o, (size_t)bytes);
}

static void put16(struct buf *w, uint32_t v) { put_u(w, v, 2); }
static void put32(struct buf *w, uint32_t v) { put_u(w, v, 4); }

static void pad4(struct buf *w)
{
	static const uint8_t z[4];
	put(w, z, (4 - (w->n & 3)) & 3);
}

static size_t begin(struct buf *w, uint32_t type)
{
	size_t at = w->n;
	put32(w, type);
	put32(w, 0); /* the length, once known */
	return at;
}

static void end(struct buf *w, size_t at)
{
	pad4(w);
	uint32_t len = (uint32_t)(w->n - at + 4);
	size_t keep = w->n;
	w->n = at + 4;
	put32(w, len);
	w->n = keep;
	put32(w, len);
}

static void option(struct buf *w, uint16_t code, const void *v, uint16_t len)
{
	put16(w, code);
	put16(w, len);
	put(w, v, len);
	pad4(w);
}

static void shb(struct buf *w, bool be)
{
	w->be = be;
	size_t at = begin(w, PCAPNG_MAGIC);
	put32(w, 0x1a2b3c4d);
	put16(w, 1);
	put16(w, 0);
	put_u(w, UINT64_MAX, 8); /* section length unknown */
	option(w, 4, "test", 4);  /* shb_userappl */
	put32(w, 0);              /* opt_endofopt */
	end(w, at);
}

/* tsresol < 0: none (microseconds); has_off: an if_tsoffset of off. */
static void idb(struct buf *w, int linktype, uint32_t snaplen, int tsresol, bool has_off,
		int64_t off)
{
	size_t at = begin(w, 1);
	put16(w, (uint32_t)linktype);
	put16(w, 0);
	put32(w, snaplen);
	option(w, 2, "eth0", 4); /* if_name */
	if (tsresol >= 0) {
		uint8_t r = (uint8_t)tsresol;
		option(w, 9, &r, 1);
	}
	if (has_off) {
		struct buf o = {.be = w->be};
		put_u(&o, (uint64_t)off, 8);
		option(w, 14, o.b, 8);
		free(o.b);
	}
	put32(w, 0);
	end(w, at);
}

static void epb(struct buf *w, uint32_t iface, uint64_t ts, const uint8_t *d, uint32_t caplen,
		uint32_t wirelen)
{
	size_t at = begin(w, 6);
	put32(w, iface);
	put32(w, (uint32_t)(ts >> 32));
	put32(w, (uint32_t)ts);
	put32(w, caplen);
	put32(w, wirelen);
	put(w, d, caplen);
	pad4(w);
	option(w, 1, "a comment", 9); /* opt_comment: not parsed, skipped with the block */
	put32(w, 0);
	end(w, at);
}

static void spb(struct buf *w, uint32_t wirelen, const uint8_t *d, uint32_t n)
{
	size_t at = begin(w, 3);
	put32(w, wirelen);
	put(w, d, n);
	end(w, at);
}

static void pb(struct buf *w, uint16_t iface, uint64_t ts, const uint8_t *d, uint32_t caplen,
	       uint32_t wirelen)
{
	size_t at = begin(w, 2);
	put16(w, iface);
	put16(w, 7); /* drops */
	put32(w, (uint32_t)(ts >> 32));
	put32(w, (uint32_t)ts);
	put32(w, caplen);
	put32(w, wirelen);
	put(w, d, caplen);
	end(w, at);
}

static void dsb(struct buf *w, uint32_t type, const char *s)
{
	size_t at = begin(w, 10);
	put32(w, type);
	put32(w, (uint32_t)strlen(s));
	put(w, s, strlen(s));
	end(w, at);
}

static void unknown(struct buf *w, uint32_t type, uint32_t body)
{
	size_t at = begin(w, type);
	for (uint32_t i = 0; i < body; i++)
		put(w, "x", 1);
	end(w, at);
}

static uint8_t pkt[2048];

static void fill_pkt(void)
{
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7 + 3);
}

static struct pcapng_reader *open_mem(const struct buf *w)
{
	struct pcapng_reader *r = NULL;
	char why[320] = "";
	assert_int_equal(pcapng_read_open_mem(w->b, w->n, &r, why, sizeof(why)), FA_OK);
	assert_string_equal(why, "");
	return r;
}

static void expect_packet(struct pcapng_reader *r, int linktype, uint32_t caplen, uint32_t wirelen,
			  int64_t sec, uint32_t nsec)
{
	struct pcapng_record rec;
	int k = pcapng_read_next(r, &rec);
	if (k != PCAPNG_PACKET)
		fail_msg("expected a packet, got %d: %s", k, pcapng_read_error(r));
	assert_int_equal(rec.linktype, linktype);
	assert_int_equal(rec.len, caplen);
	assert_int_equal(rec.wirelen, wirelen);
	assert_memory_equal(rec.data, pkt, caplen);
	assert_int_equal(rec.ts_sec, sec);
	assert_int_equal(rec.ts_nsec, nsec);
}

/* The reader stops with result and the message why ("" at the end), for
   good, after sections and ifaces; freed. */
static void expect_stop(struct pcapng_reader *r, int result, const char *why, uint32_t sections,
			uint64_t ifaces)
{
	struct pcapng_record rec;
	assert_int_equal(pcapng_read_next(r, &rec), result);
	assert_string_equal(pcapng_read_error(r), why);
	assert_int_equal(pcapng_read_next(r, &rec), result);
	assert_int_equal(pcapng_read_sections(r), sections);
	assert_int_equal(pcapng_read_interfaces(r), ifaces);
	pcapng_read_free(r);
}

/* ---- the reader ---- */

/* The same file in each byte order reads the same. */
static void check_byte_order(bool be)
{
	struct buf w = {0};
	shb(&w, be);
	idb(&w, 1, 65535, 9, false, 0);
	epb(&w, 0, 1700000000ull * 1000000000ull + 123456789u, pkt, 60, 60);
	epb(&w, 0, 1700000001ull * 1000000000ull, pkt, 1514, 1600);
	struct pcapng_reader *r = open_mem(&w);
	int lt[4];
	assert_int_equal(pcapng_read_peek_links(r, lt, 4), 1);
	assert_int_equal(lt[0], 1);
	expect_packet(r, 1, 60, 60, 1700000000, 123456789);
	expect_packet(r, 1, 1514, 1600, 1700000001, 0);
	expect_stop(r, PCAPNG_END, "", 1, 1);
	free(w.b);
}

static void test_little_endian(void **state)
{
	(void)state;
	check_byte_order(false);
}

static void test_big_endian(void **state)
{
	(void)state;
	check_byte_order(true);
}

/* A second section changes the byte order and starts a new interface
   table: its interface 0 is its own, and interface 1 of the first section
   is gone. */
static void test_two_sections(void **state)
{
	(void)state;
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 65535, -1, false, 0);
	idb(&w, 113, 262144, -1, false, 0);
	epb(&w, 1, 5000001, pkt, 40, 40);
	shb(&w, true);
	idb(&w, 101, 1500, -1, false, 0);
	epb(&w, 0, 7000000, pkt, 20, 20);
	size_t bad = w.n;
	epb(&w, 1, 7000000, pkt, 20, 20);
	struct pcapng_reader *r = open_mem(&w);
	int lt[4];
	assert_int_equal(pcapng_read_peek_links(r, lt, 4), 2);
	assert_int_equal(lt[0], 1);
	assert_int_equal(lt[1], 113);
	expect_packet(r, 113, 40, 40, 5, 1000);
	expect_packet(r, 101, 20, 20, 7, 0);
	char want[160];
	snprintf(want, sizeof(want), "the Enhanced Packet Block at byte %zu names interface 1, but "
		 "its section describes 1", bad);
	expect_stop(r, PCAPNG_DAMAGED, want, 2, 3);
	free(w.b);
}

/* if_tsresol as a power of 10 and of 2, and if_tsoffset. */
static void test_tsresol_tsoffset(void **state)
{
	(void)state;
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 0, 9, false, 0);             /* nanoseconds */
	idb(&w, 1, 0, 0x80 | 20, false, 0);     /* 2^-20 s */
	idb(&w, 1, 0, -1, true, 1000);          /* microseconds, 1000 s later */
	idb(&w, 1, 0, 3, true, -5);             /* milliseconds, 5 s earlier */
	idb(&w, 1, 0, 0x80 | 40, false, 0);     /* 2^-40 s: finer than a nanosecond */
	idb(&w, 1, 0, 12, false, 0);            /* picoseconds */
	epb(&w, 0, 1234567890123456789ull, pkt, 10, 10);
	epb(&w, 1, (5ull << 20) | (1ull << 19), pkt, 10, 10);
	epb(&w, 2, 2000001, pkt, 10, 10);
	epb(&w, 3, 12345, pkt, 10, 10);
	epb(&w, 4, (3ull << 40) | (1ull << 38), pkt, 10, 10);
	epb(&w, 5, 7000000000123ull, pkt, 10, 10);
	struct pcapng_reader *r = open_mem(&w);
	expect_packet(r, 1, 10, 10, 1234567890, 123456789);
	expect_packet(r, 1, 10, 10, 5, 500000000);
	expect_packet(r, 1, 10, 10, 1002, 1000);
	expect_packet(r, 1, 10, 10, 7, 345000000);
	expect_packet(r, 1, 10, 10, 3, 250000000);
	expect_packet(r, 1, 10, 10, 7, 0);
	pcapng_read_free(r);
	free(w.b);

	/* a unit finer than 64 bits count: the IDB is damage, named by offset */
	struct buf v = {0};
	shb(&v, false);
	size_t at = v.n;
	idb(&v, 1, 0, 25, false, 0);
	r = open_mem(&v);
	struct pcapng_record rec;
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_DAMAGED);
	char want[160];
	snprintf(want, sizeof(want), "the Interface Description Block at byte %zu has if_tsresol "
		 "10^-25, finer than a 64-bit time stamp can count", at);
	assert_string_equal(pcapng_read_error(r), want);
	pcapng_read_free(r);
	free(v.b);
}

/* Simple Packet Blocks take interface 0 and the smaller of their length
   and its snapshot length; obsolete Packet Blocks read as Enhanced ones;
   unknown and local blocks are skipped; a DSB is handed on. */
static void test_spb_pb_unknown_dsb(void **state)
{
	(void)state;
	struct buf w = {0};
	shb(&w, true);
	idb(&w, 1, 64, 6, false, 0);
	idb(&w, 228, 0, 6, false, 0);
	spb(&w, 100, pkt, 64);
	unknown(&w, 0x12345678, 10);
	unknown(&w, 0x80000001, 0);
	unknown(&w, 5, 20); /* interface statistics */
	size_t at = w.n;
	dsb(&w, 0x544c534b, "CLIENT_RANDOM 0102 0304\n");
	pb(&w, 1, 3000000, pkt, 30, 31);
	spb(&w, 20, pkt, 20);
	struct pcapng_reader *r = open_mem(&w);
	expect_packet(r, 1, 64, 100, 0, 0);
	struct pcapng_record rec;
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_SECRETS);
	assert_int_equal(rec.secrets_type, 0x544c534b);
	assert_int_equal(rec.len, 24);
	assert_memory_equal(rec.data, "CLIENT_RANDOM 0102 0304\n", 24);
	assert_int_equal(rec.offset, at);
	expect_packet(r, 228, 30, 31, 3, 0);
	expect_packet(r, 1, 20, 20, 0, 0);
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_END);
	pcapng_read_free(r);
	free(w.b);

	/* an SPB before any interface is damage */
	struct buf v = {0};
	shb(&v, false);
	char want[160];
	snprintf(want, sizeof(want), "the Simple Packet Block at byte %zu comes before any "
		 "interface description in its section", v.n);
	spb(&v, 10, pkt, 10);
	r = open_mem(&v);
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_DAMAGED);
	assert_string_equal(pcapng_read_error(r), want);
	pcapng_read_free(r);
	free(v.b);
}

/* The file of test_damage as far as n: its first packet, then result. */
static void after_first(const struct buf *w, size_t n, int result, const char *why)
{
	struct buf part = *w;
	part.n = n;
	struct pcapng_reader *r = open_mem(&part);
	expect_packet(r, 1, 100, 100, 0, 1000);
	expect_stop(r, result, why, 1, 1);
}

/* Cut short, too long, inconsistent: each an error naming the block's byte
   offset, after the packets before it. */
static void test_damage(void **state)
{
	(void)state;
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 0, -1, false, 0);
	epb(&w, 0, 1, pkt, 100, 100);
	size_t second = w.n;
	epb(&w, 0, 2, pkt, 100, 100);
	char want[200];

	/* the file ends inside the second packet, and inside its header */
	snprintf(want, sizeof(want), "the Enhanced Packet Block at byte %zu (type 0x00000006) claims "
		 "152 bytes, more than the 50 left in the file", second);
	after_first(&w, second + 50, PCAPNG_CUT_SHORT, want);
	snprintf(want, sizeof(want), "the file ends inside the header of the block at byte %zu (5 "
		 "bytes left)", second);
	after_first(&w, second + 5, PCAPNG_CUT_SHORT, want);

	/* a length past the ceiling, one not a multiple of 4, one too short */
	uint32_t lens[] = {0x7ffffff0u, 150u, 8u};
	const char *what[] = {"more than the 16777216 (16 MiB) a block may have",
			      "not a multiple of 4", "fewer than its header and trailer take"};
	for (int i = 0; i < 3; i++) {
		memcpy(w.b + second + 4, &lens[i], 4); /* little-endian, as the file */
		snprintf(want, sizeof(want), "the Enhanced Packet Block at byte %zu (type 0x00000006) "
			 "claims %u bytes, %s", second, lens[i], what[i]);
		after_first(&w, w.n, PCAPNG_DAMAGED, want);
	}
	uint32_t len = 152;
	memcpy(w.b + second + 4, &len, 4);

	/* a captured length longer than the block */
	uint32_t caplen = 200;
	memcpy(w.b + second + 20, &caplen, 4);
	snprintf(want, sizeof(want), "the Enhanced Packet Block at byte %zu claims 200 captured "
		 "bytes, more than the 120 it holds", second);
	after_first(&w, w.n, PCAPNG_DAMAGED, want);
	caplen = 100;
	memcpy(w.b + second + 20, &caplen, 4);

	/* trailing length differs */
	w.b[w.n - 4] ^= 0x10;
	snprintf(want, sizeof(want), "the Enhanced Packet Block at byte %zu (type 0x00000006) ends "
		 "with the length 136, not the 152 it starts with", second);
	after_first(&w, w.n, PCAPNG_DAMAGED, want);
	free(w.b);
}

/* What is refused at open: not pcapng, an unknown version, cut short. */
static void test_open_refusals(void **state)
{
	(void)state;
	struct pcapng_reader *r = NULL;
	char why[320];
	struct buf w = {0};
	shb(&w, false);
	w.b[12] = 2; /* major version 2 */
	assert_int_equal(pcapng_read_open_mem(w.b, w.n, &r, why, sizeof(why)), FA_EINPUT);
	assert_null(r);
	assert_string_equal(why, "the Section Header Block at byte 0 has pcapng version 2.0; "
			    "flowaudit reads versions 1.0 and 1.2");
	w.b[12] = 1;
	assert_int_equal(pcapng_read_open_mem(w.b, 20, &r, why, sizeof(why)), FA_EINPUT);
	assert_string_equal(why, "the file ends inside its Section Header Block");
	w.b[8] = 0x99;
	assert_int_equal(pcapng_read_open_mem(w.b, w.n, &r, why, sizeof(why)), FA_EINPUT);
	assert_string_equal(why, "the Section Header Block at byte 0 has no byte-order magic "
			    "(0x1a2b3c4d)");
	assert_int_equal(pcapng_read_open_mem((const uint8_t *)"\xd4\xc3\xb2\xa1", 4, &r, why,
					      sizeof(why)), FA_EINPUT);
	assert_string_equal(why, "the file does not start with a pcapng Section Header Block");
	assert_int_equal(pcapng_read_open_mem(NULL, 0, &r, why, sizeof(why)), FA_EINPUT);
	pcapng_read_free(NULL);
	free(w.b);
}

/* Many packets and one block larger than the buffer, from a file and from
   a pipe (whose first bytes the caller has already taken). */
static struct buf big_file(void)
{
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 0, 9, false, 0);
	for (uint64_t i = 0; i < 600; i++)
		epb(&w, 0, i * 1000000000ull + i, pkt, 1000 + (uint32_t)i, 2000);
	/* a 600 KB packet: the buffer grows for it, once */
	uint8_t *huge = malloc(600000);
	assert_non_null(huge);
	for (size_t i = 0; i < 600000; i++)
		huge[i] = (uint8_t)(i * 7 + 3);
	epb(&w, 0, 42, huge, 600000, 600000);
	free(huge);
	epb(&w, 0, 43, pkt, 1, 1);
	return w;
}

static void read_big(struct pcapng_reader *r)
{
	for (uint64_t i = 0; i < 600; i++)
		expect_packet(r, 1, 1000 + (uint32_t)i, 2000, (int64_t)i, (uint32_t)i);
	struct pcapng_record rec;
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_PACKET);
	assert_int_equal(rec.len, 600000);
	for (size_t i = 0; i < 600000; i += 4099)
		assert_int_equal(rec.data[i], (uint8_t)(i * 7 + 3));
	expect_packet(r, 1, 1, 1, 0, 43);
	assert_int_equal(pcapng_read_next(r, &rec), PCAPNG_END);
}

static void test_buffered_file_and_pipe(void **state)
{
	(void)state;
	struct buf w = big_file();
	assert_true(w.n > 3 * PCAPNG_BUF);
	char path[] = "/tmp/test_pcapng_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, w.b, w.n), (ssize_t)w.n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	struct pcapng_reader *r = NULL;
	char why[320] = "";
	assert_int_equal(pcapng_read_open_fd(fd, true, NULL, 0, w.n, &r, why, sizeof(why)), FA_OK);
	read_big(r);
	pcapng_read_free(r); /* closes fd */

	/* the same file claimed shorter than it is: the last block is cut short */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pcapng_read_open_fd(fd, true, NULL, 0, w.n - 4, &r, why, sizeof(why)),
			 FA_OK);
	struct pcapng_record rec;
	int k;
	uint64_t n = 0;
	while ((k = pcapng_read_next(r, &rec)) == PCAPNG_PACKET)
		n++;
	assert_int_equal(k, PCAPNG_CUT_SHORT);
	assert_int_equal(n, 601);
	assert_non_null(strstr(pcapng_read_error(r), "claims 56 bytes, more than the 52 left in "
				      "the file"));
	pcapng_read_free(r);
	unlink(path);

	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		size_t off = 0;
		while (off < w.n) {
			size_t chunk = w.n - off < 777 ? w.n - off : 777; /* odd pieces */
			ssize_t k2 = write(p[1], w.b + off, chunk);
			if (k2 <= 0)
				_exit(1);
			off += (size_t)k2;
		}
		_exit(0);
	}
	close(p[1]);
	uint8_t head[8];
	size_t got = 0;
	while (got < sizeof(head)) {
		ssize_t k2 = read(p[0], head + got, sizeof(head) - got);
		assert_true(k2 > 0);
		got += (size_t)k2;
	}
	assert_int_equal(pcapng_read_open_fd(p[0], true, head, got, 0, &r, why, sizeof(why)),
			 FA_OK);
	read_big(r);
	pcapng_read_free(r);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(w.b);
}

/* ---- through source.c ---- */

static void write_file(const char *path, const struct buf *w)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(w->b, 1, w->n, fp), w->n);
	assert_int_equal(fclose(fp), 0);
}

static void test_source(void **state)
{
	(void)state;
	/* two interfaces (Ethernet, raw IP), a key log before frame 2, one
	   after the last frame, two sections, then damage */
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 65535, 9, false, 0);
	idb(&w, 101, 262144, 6, false, 0);
	epb(&w, 0, 1000000000ull, pkt, 60, 60);
	dsb(&w, 0x544c534b, "CLIENT_RANDOM aa bb\n");
	epb(&w, 1, 2000000ull, pkt, 40, 40);
	shb(&w, true);
	idb(&w, 276, 0, 6, false, 0);
	spb(&w, 30, pkt, 30);
	dsb(&w, 0x544c534b, "CLIENT_RANDOM cc dd\n");
	size_t bad = w.n;
	epb(&w, 3, 0, pkt, 10, 10);
	char path[64];
	snprintf(path, sizeof(path), "/tmp/test_pcapng_src_%d.pcapng", (int)getpid());
	write_file(path, &w);

	const char *paths[] = {path, path};
	struct source *s = NULL;
	struct fa_err err = {""};
	assert_int_equal(source_open_files(paths, 2, &s, &err), FA_OK);
	const struct source_file_info *fi = source_file(s, 0);
	assert_true(fi->pcapng);
	assert_int_equal(fi->linktype, DLT_EN10MB);
	assert_int_equal(fi->n_links, 2); /* the first section's, known at open */
	assert_int_equal(fi->links[1].linktype, DLT_RAW);
	assert_string_equal(fi->links[1].name, "RAW");

	/* each frame with the secrets taken just before it: a key log of file 0
	   that came after its last frame is taken before file 1's first */
	int want_lt[] = {DLT_EN10MB, DLT_RAW, 276};
	uint32_t want_len[] = {60, 40, 30};
	struct {
		uint32_t file, frame, from_file, before;
		const char *keys;
	} want_sec[] = {
		{0, 2, 0, 2, "CLIENT_RANDOM aa bb\n"},
		{1, 1, 0, 4, "CLIENT_RANDOM cc dd\n"},
		{1, 2, 1, 2, "CLIENT_RANDOM aa bb\n"},
		{UINT32_MAX, 0, 1, 4, "CLIENT_RANDOM cc dd\n"}, /* after the last frame */
	};
	size_t n_sec = 0;
	struct source_frame f;
	size_t next = 0;
	const struct source_secret *x;
	for (uint32_t file = 0; file <= 2; file++) {
		for (uint64_t n = 1; n <= 3; n++) {
			if (file == 2) { /* the end */
				assert_int_equal(source_next(s, &f, &err), 0);
				f.file = UINT32_MAX;
				f.frame = 0;
			} else {
				assert_int_equal(source_next(s, &f, &err), 1);
				assert_int_equal(f.file, file);
				assert_int_equal(f.frame, n);
				assert_int_equal(f.linktype, want_lt[n - 1]);
				assert_int_equal(f.caplen, want_len[n - 1]);
				assert_memory_equal(f.data, pkt, f.caplen);
			}
			while ((x = source_secret_next(s, f.file, f.frame, &next)) != NULL) {
				assert_true(n_sec < 4);
				assert_int_equal(f.file, want_sec[n_sec].file);
				assert_int_equal(f.frame, want_sec[n_sec].frame);
				assert_int_equal(x->file, want_sec[n_sec].from_file);
				assert_int_equal(x->before, want_sec[n_sec].before);
				assert_int_equal(x->type, SOURCE_SECRETS_TLS_KEYLOG);
				assert_int_equal(x->len, 20);
				assert_memory_equal(x->data, want_sec[n_sec].keys, 20);
				n_sec++;
			}
			if (file == 2)
				break;
		}
		if (file == 0)
			assert_int_equal(f.ts_sec, 2); /* an SPB has none: the frame before's */
	}
	assert_int_equal(n_sec, 4);
	assert_int_equal(source_secret_count(s), 4);

	for (size_t i = 0; i < 2; i++) {
		fi = source_file(s, i);
		assert_int_equal(fi->frames, 3);
		assert_int_equal(fi->n_links, 3);
		assert_int_equal(fi->links[0].frames, 1);
		assert_int_equal(fi->links[2].linktype, 276);
		assert_string_equal(fi->links[2].name, "LINUX_SLL2");
		assert_int_equal(fi->sections, 2);
		assert_int_equal(fi->interfaces, 3);
		assert_int_equal(fi->secrets, 2);
		assert_true(fi->truncated);
		char want[300];
		snprintf(want, sizeof(want), "read stopped after frame 3: the Enhanced Packet Block at "
			 "byte %zu names interface 3, but its section describes 1; the rest of the file "
			 "is damaged; the frames before are used", bad);
		assert_string_equal(fi->error, want);
	}
	source_free(s);

	/* a pcapng whose header is cut short is refused at open, with a hint */
	w.n = 20;
	write_file(path, &w);
	assert_int_equal(source_open_files(paths, 1, &s, &err), FA_EINPUT);
	char want[400];
	snprintf(want, sizeof(want), "%s: cannot read capture: the file ends inside its Section "
		 "Header Block; the file is damaged or not a capture: it ends inside its header (if a "
		 "capture is still writing it, wait until it stops, else copy it again)", path);
	assert_string_equal(err.msg, want);
	unlink(path);
	free(w.b);
}

/* Blocks Wireshark numbers as frames though they hold no packet (a systemd
   journal entry, custom blocks, a sysdig event) are handed on as such; an
   unknown block is not. Through source.c they keep the frame numbers
   tshark's, take the time of the frame before, and are never decoded. */
static void test_other_frames(void **state)
{
	(void)state;
	struct buf w = {0};
	shb(&w, false);
	idb(&w, 1, 0, 9, false, 0);
	epb(&w, 0, 5000000000ull, pkt, 60, 60);
	unknown(&w, 9, 40);          /* systemd journal export */
	epb(&w, 0, 6000000000ull, pkt, 60, 60);
	unknown(&w, 0xbad, 8);       /* custom, copiable */
	unknown(&w, 0x40000bad, 8);  /* custom, not to be copied */
	unknown(&w, 0x204, 32);      /* sysdig event */
	unknown(&w, 7, 4);           /* unknown: skipped */
	epb(&w, 0, 7000000000ull, pkt, 60, 60);
	struct pcapng_reader *r = open_mem(&w);
	uint32_t want[] = {0, 9, 0, 0xbad, 0x40000bad, 0x204, 0};
	struct pcapng_record rec;
	for (size_t i = 0; i < 7; i++) {
		int k = pcapng_read_next(r, &rec);
		assert_int_equal(k, want[i] ? PCAPNG_OTHER_FRAME : PCAPNG_PACKET);
		if (want[i]) {
			assert_int_equal(rec.block_type, want[i]);
			assert_false(rec.has_ts);
		}
	}
	expect_stop(r, PCAPNG_END, "", 1, 1);

	char path[64];
	snprintf(path, sizeof(path), "/tmp/test_pcapng_other_%d.pcapng", (int)getpid());
	write_file(path, &w);
	const char *paths[] = {path};
	struct source *s = NULL;
	struct fa_err err = {""};
	assert_int_equal(source_open_files(paths, 1, &s, &err), FA_OK);
	int64_t secs[] = {5, 5, 6, 6, 6, 6, 7};
	struct source_frame f;
	for (uint64_t n = 1; n <= 7; n++) {
		assert_int_equal(source_next(s, &f, &err), 1);
		assert_int_equal(f.frame, n);
		assert_int_equal(f.linktype, want[n - 1] ? SOURCE_LINK_NONE : DLT_EN10MB);
		assert_int_equal(f.ts_sec, secs[n - 1]);
	}
	assert_int_equal(source_next(s, &f, &err), 0);
	const struct source_file_info *fi = source_file(s, 0);
	assert_int_equal(fi->frames, 7);
	assert_int_equal(fi->linktype, DLT_EN10MB);
	assert_int_equal(fi->n_links, 2);
	assert_int_equal(fi->links[1].linktype, SOURCE_LINK_NONE);
	assert_string_equal(fi->links[1].name, "none");
	assert_int_equal(fi->links[1].frames, 4);
	assert_int_equal(fi->first, 5000000);
	assert_int_equal(fi->last, 7000000);
	assert_false(fi->truncated);
	source_free(s);
	unlink(path);
	free(w.b);
}

int main(void)
{
	fill_pkt();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_little_endian),
		cmocka_unit_test(test_big_endian),
		cmocka_unit_test(test_two_sections),
		cmocka_unit_test(test_tsresol_tsoffset),
		cmocka_unit_test(test_spb_pb_unknown_dsb),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_buffered_file_and_pipe),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_other_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
