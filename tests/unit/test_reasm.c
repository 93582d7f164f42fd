/*
 * test_reasm.c - TCP reassembly: in order, out of order, retransmission and
 * overlap (first copy wins), sequence wrap-around at 2^32, the delivery
 * limit, and out-of-order overflow giving up a hole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/reasm.h"

#include <string.h>

struct sink {
	uint8_t buf[8192];
	size_t n;
	uint64_t next_off; /* offsets must be contiguous except across gaps */
	int calls;
	bool offsets_bad;
};

static void deliver(const uint8_t *d, size_t n, uint64_t off, void *user)
{
	struct sink *s = user;
	if (off < s->next_off)
		s->offsets_bad = true;
	s->next_off = off + n;
	if (s->n + n <= sizeof(s->buf)) {
		memcpy(s->buf + s->n, d, n);
		s->n += n;
	}
	s->calls++;
}

static void seg(struct reasm *r, uint32_t seq, const char *text, struct sink *s)
{
	reasm_segment(r, seq, (const uint8_t *)text, strlen(text), deliver, s);
}

static void expect(const struct sink *s, const char *text)
{
	assert_int_equal(s->n, strlen(text));
	assert_memory_equal(s->buf, text, s->n);
	assert_false(s->offsets_bad);
}

static void test_in_order(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 1000, 0, 0);
	seg(&r, 1000, "hello ", &s);
	seg(&r, 1006, "world", &s);
	expect(&s, "hello world");
	assert_null(r.ooo);
	assert_int_equal(r.delivered, 11);
	assert_int_equal(r.gaps, 0);
	assert_int_equal(r.overlaps, 0);
	assert_int_equal(s.next_off, 11);
	reasm_free(&r);
}

static void test_out_of_order(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 1, 0, 0);
	seg(&r, 21, "CCCCCCCCCC", &s);
	seg(&r, 11, "BBBBBBBBBB", &s);
	assert_int_equal(s.n, 0);
	assert_non_null(r.ooo);
	seg(&r, 1, "AAAAAAAAAA", &s);
	expect(&s, "AAAAAAAAAABBBBBBBBBBCCCCCCCCCC");
	assert_null(r.ooo);
	assert_int_equal(r.ooo_bytes, 0);
	reasm_free(&r);
}

static void test_retransmission_and_overlap(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 0, 0, 0);
	seg(&r, 0, "abcdef", &s);
	seg(&r, 0, "abcdef", &s);    /* full retransmission */
	seg(&r, 3, "XYZghi", &s);    /* overlaps the delivered "def" */
	expect(&s, "abcdefghi");
	assert_int_equal(r.overlaps, 2);
	/* buffered first copy wins over a later in-order segment covering it */
	seg(&r, 12, "mno", &s);
	seg(&r, 9, "jkl---pq", &s);
	expect(&s, "abcdefghijklmnopq");
	/* a segment overlapping two buffered ones keeps both and fills between */
	seg(&r, 20, "uv", &s);
	seg(&r, 24, "yz", &s);
	seg(&r, 19, "T!!wxY!!", &s);
	assert_int_equal(s.n, 17);
	seg(&r, 17, "rs", &s);
	expect(&s, "abcdefghijklmnopqrsTuvwxyz!");
	reasm_free(&r);
}

static void test_wraparound(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 0xfffffffa, 0, 0);
	seg(&r, 0x00000004, "KLMN", &s); /* after the wrap, out of order */
	seg(&r, 0xfffffffa, "ABCDEF", &s);
	seg(&r, 0x00000000, "GHIJ", &s);
	expect(&s, "ABCDEFGHIJKLMN");
	assert_int_equal(r.next, 8);
	assert_int_equal(s.next_off, 14);
	seg(&r, 0xfffffffe, "EFGHIJ", &s); /* old data from before the wrap */
	expect(&s, "ABCDEFGHIJKLMN");
	reasm_free(&r);
}

static void test_limit(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 0, 10, 0);
	seg(&r, 0, "01234567", &s);
	size_t n = reasm_segment(&r, 8, (const uint8_t *)"89abcd", 6, deliver, &s);
	assert_int_equal(n, 2);
	seg(&r, 14, "efgh", &s);
	seg(&r, 30, "zz", &s);
	expect(&s, "0123456789");
	assert_int_equal(r.delivered, 10);
	assert_int_equal(r.beyond_limit, 4 + 4 + 2);
	assert_null(r.ooo);
	reasm_free(&r);
}

static void test_ooo_overflow_gap(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	/* room for about two 100-byte segments */
	reasm_init(&r, 0, 0, 2 * (100 + 64));
	char a[101], b[101], c[101], d[101];
	memset(a, 'a', 100);
	memset(b, 'b', 100);
	memset(c, 'c', 100);
	memset(d, 'd', 100);
	a[100] = b[100] = c[100] = d[100] = '\0';
	seg(&r, 0, a, &s);
	/* 100..199 lost */
	seg(&r, 200, c, &s);
	seg(&r, 300, d, &s);
	seg(&r, 400, a, &s); /* would overflow: the hole 100..199 is given up */
	assert_int_equal(r.gaps, 1);
	assert_int_equal(r.skipped, 100);
	assert_int_equal(s.n, 100 + 300);
	assert_memory_equal(s.buf + 100, c, 100);
	assert_memory_equal(s.buf + 200, d, 100);
	assert_memory_equal(s.buf + 300, a, 100);
	assert_int_equal(s.next_off, 500);
	/* the lost segment, retransmitted late, is old now */
	seg(&r, 100, b, &s);
	assert_int_equal(s.n, 400);
	assert_null(r.ooo);
	/* a segment bigger than the whole buffer, ahead of a hole: hole given up */
	char big[1001];
	memset(big, 'x', 1000);
	big[1000] = '\0';
	seg(&r, 600, big, &s);
	assert_int_equal(r.gaps, 2);
	assert_int_equal(r.skipped, 200);
	assert_int_equal(s.n, 1400);
	reasm_free(&r);
}

static void test_many_tiny_segments_bounded(void **state)
{
	(void)state;
	struct reasm r;
	struct sink s = {0};
	reasm_init(&r, 0, 0, 4096);
	for (uint32_t i = 0; i < 5000; i++)
		reasm_segment(&r, 10 + 2 * i, (const uint8_t *)"x", 1, deliver, &s);
	assert_true(r.ooo_bytes <= 4096);
	reasm_free(&r);
	assert_null(r.ooo);
	struct reasm z;
	memset(&z, 0, sizeof(z));
	reasm_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_retransmission_and_overlap),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_ooo_overflow_gap),
		cmocka_unit_test(test_many_tiny_segments_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
