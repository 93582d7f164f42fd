/*
 * cursor.h - bounds-checked reads over untrusted bytes.
 *
 * Every read of packet or file bytes in flowaudit goes through a cursor.
 * A cursor is a window [p, end) plus a sticky error flag: a read that would
 * pass the end sets err, returns zero and leaves the cursor where it was.
 * Callers read a whole header and check cur_ok() once, the way tcpdump's
 * GET_* macros let a printer bail out at the first short read.
 *
 * Comparisons are done on lengths (end - p), never on pointers computed
 * past the end, which the compiler is allowed to assume cannot happen.
 *
 * A cursor borrows its bytes; it owns nothing and needs no cleanup.
 */
#ifndef FLOWAUDIT_CURSOR_H
#define FLOWAUDIT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cursor {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last readable byte */
	bool err;           /* set by the first short read; sticky */
};

static inline struct cursor cur_make(const uint8_t *data, size_t len)
{
	/* NULL + 0 is undefined behaviour in C, so NULL gets an empty window. */
	struct cursor c = {data, data != NULL ? data + len : NULL, false};
	return c;
}

static inline size_t cur_left(const struct cursor *c)
{
	return c->err ? 0 : (size_t)(c->end - c->p);
}

static inline bool cur_ok(const struct cursor *c) { return !c->err; }

static inline bool cur_need(struct cursor *c, size_t n)
{
	if (c->err || (size_t)(c->end - c->p) < n) {
		c->err = true;
		return false;
	}
	return true;
}

static inline uint8_t cur_u8(struct cursor *c)
{
	if (!cur_need(c, 1))
		return 0;
	return *c->p++;
}

static inline uint16_t cur_be16(struct cursor *c)
{
	if (!cur_need(c, 2))
		return 0;
	uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return v;
}

static inline uint16_t cur_le16(struct cursor *c)
{
	if (!cur_need(c, 2))
		return 0;
	uint16_t v = (uint16_t)((c->p[1] << 8) | c->p[0]);
	c->p += 2;
	return v;
}

static inline uint32_t cur_be32(struct cursor *c)
{
	if (!cur_need(c, 4))
		return 0;
	uint32_t v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
		     ((uint32_t)c->p[2] << 8) | (uint32_t)c->p[3];
	c->p += 4;
	return v;
}

static inline uint32_t cur_le32(struct cursor *c)
{
	if (!cur_need(c, 4))
		return 0;
	uint32_t v = ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) |
		     ((uint32_t)c->p[1] << 8) | (uint32_t)c->p[0];
	c->p += 4;
	return v;
}

static inline void cur_skip(struct cursor *c, size_t n)
{
	if (cur_need(c, n))
		c->p += n;
}

/* Copy n bytes into dst; on a short read dst is zeroed. */
static inline bool cur_bytes(struct cursor *c, void *dst, size_t n)
{
	if (!cur_need(c, n)) {
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, c->p, n);
	c->p += n;
	return true;
}

/* Borrow n bytes without copying; NULL on a short read. */
static inline const uint8_t *cur_take(struct cursor *c, size_t n)
{
	if (!cur_need(c, n))
		return NULL;
	const uint8_t *q = c->p;
	c->p += n;
	return q;
}

/* A sub-cursor over the next n bytes; the parent moves past them. */
static inline struct cursor cur_sub(struct cursor *c, size_t n)
{
	const uint8_t *q = cur_take(c, n);
	struct cursor s = cur_make(q, q ? n : 0);
	if (q == NULL)
		s.err = true;
	return s;
}

/* A QUIC variable-length integer (RFC 9000 16): two high bits give its length, 1 to 8 bytes. */
static inline uint64_t cur_quic_varint(struct cursor *c)
{
	uint8_t b = cur_u8(c);
	unsigned len = 1u << (b >> 6);
	uint64_t v = b & 0x3f;
	for (unsigned i = 1; i < len; i++)
		v = (v << 8) | cur_u8(c);
	return v;
}

/* Offset of the read position from base (which must start the buffer). */
static inline size_t cur_offset(const struct cursor *c, const uint8_t *base)
{
	return (size_t)(c->p - base);
}

#endif
