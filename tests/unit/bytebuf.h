/*
 * bytebuf.h - a byte buffer the TLS and QUIC tests build messages in,
 * big-endian, one field at a time. A write past the buffer fails the test
 * (cmocka's assert), so a builder cannot overrun it. Include after cmocka.h.
 */
#ifndef FLOWAUDIT_TESTS_BYTEBUF_H
#define FLOWAUDIT_TESTS_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t b[40000];
	size_t n;
};

static inline void put8(struct buf *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static inline void put16(struct buf *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xFF);
}

static inline void put_bytes(struct buf *m, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		put8(m, s[i]);
}

/* Writes a 16-bit length for the bytes written since `at` + 2. */
static inline void patch16(struct buf *m, size_t at)
{
	size_t n = m->n - at - 2;
	m->b[at] = (uint8_t)(n >> 8);
	m->b[at + 1] = (uint8_t)n;
}

#endif
