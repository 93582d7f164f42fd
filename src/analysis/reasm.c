/*
 * reasm.c - bounded in-order TCP stream reassembly, one direction.
 *
 * Receives TCP segments (sequence number and payload) in capture order;
 * hands on contiguous stream bytes, in order, through a callback. Owns the
 * out-of-order buffer: a sorted singly linked list of non-overlapping
 * segments, each copied once, whose total (with a per-segment overhead, so
 * a flood of 1-byte segments is bounded too) never exceeds ooo_limit.
 *
 * Workload: most captured streams arrive in order and are delivered straight
 * from the caller's packet buffer with no copy and no allocation; the list
 * exists only between a loss or reordering and its repair, and is short.
 * Positions are kept as 64-bit stream offsets, so sequence wrap-around is
 * handled once, where a segment's sequence number is compared with the next
 * expected one.
 */
#include "flowaudit/reasm.h"

#include <stdlib.h>
#include <string.h>

/* Segments more than this far ahead are not this stream's (or are garbage). */
#define WINDOW_MAX ((uint32_t)1 << 30)

struct reasm_seg {
	struct reasm_seg *next;
	uint64_t off;
	size_t len;
	uint8_t data[];
};

#define SEG_OVERHEAD sizeof(struct reasm_seg)

void reasm_init(struct reasm *r, uint32_t isn, size_t limit, size_t ooo_limit)
{
	memset(r, 0, sizeof(*r));
	r->next = isn;
	r->limit = limit ? limit : REASM_DEFAULT_LIMIT;
	r->ooo_limit = ooo_limit ? ooo_limit : REASM_DEFAULT_OOO;
}

static void drop_buffered(struct reasm *r)
{
	struct reasm_seg *s = r->ooo;
	while (s != NULL) {
		struct reasm_seg *n = s->next;
		free(s);
		s = n;
	}
	r->ooo = NULL;
	r->ooo_tail = NULL;
	r->ooo_bytes = 0;
}

void reasm_free(struct reasm *r)
{
	if (r != NULL)
		drop_buffered(r);
}

/* Delivers bytes at r->off, up to the limit, and advances past all of them. */
static size_t emit(struct reasm *r, const uint8_t *d, size_t n, reasm_deliver_fn deliver,
		   void *user)
{
	size_t room = r->off < r->limit ? (size_t)(r->limit - r->off) : 0;
	size_t take = n < room ? n : room;
	if (take > 0 && deliver != NULL)
		deliver(d, take, r->off, user);
	r->delivered += take;
	r->beyond_limit += n - take;
	r->off += n;
	r->next += (uint32_t)n;
	return take;
}

static void give_up_hole(struct reasm *r, uint64_t upto)
{
	uint64_t k = upto - r->off;
	r->gaps++;
	r->skipped += k;
	r->off = upto;
	r->next += (uint32_t)k;
}

/* Delivers buffered segments that have become contiguous. */
static size_t drain(struct reasm *r, reasm_deliver_fn deliver, void *user)
{
	size_t out = 0;
	while (r->ooo != NULL && r->ooo->off <= r->off) {
		struct reasm_seg *s = r->ooo;
		r->ooo = s->next;
		r->ooo_bytes -= s->len + SEG_OVERHEAD;
		uint64_t end = s->off + s->len;
		if (end > r->off) {
			size_t skip = (size_t)(r->off - s->off);
			out += emit(r, s->data + skip, s->len - skip, deliver, user);
		}
		free(s);
	}
	if (r->ooo == NULL)
		r->ooo_tail = NULL;
	if (r->off >= r->limit)
		drop_buffered(r);
	return out;
}

/* Buffers [a, b) of a segment starting at `start`, before *pp. */
static struct reasm_seg **put(struct reasm *r, struct reasm_seg **pp, uint64_t start,
			      const uint8_t *data, uint64_t a, uint64_t b)
{
	size_t n = (size_t)(b - a);
	if (r->ooo_bytes + n + SEG_OVERHEAD > r->ooo_limit)
		return pp;
	struct reasm_seg *s = malloc(sizeof(*s) + n);
	if (s == NULL)
		return pp;
	s->off = a;
	s->len = n;
	memcpy(s->data, data + (a - start), n);
	s->next = *pp;
	*pp = s;
	if (s->next == NULL)
		r->ooo_tail = s;
	r->ooo_bytes += n + SEG_OVERHEAD;
	return &s->next;
}

/* Buffers the parts of [start, start+len) not already buffered (first copy wins). */
static void insert(struct reasm *r, uint64_t start, const uint8_t *data, size_t len)
{
	struct reasm_seg **pp = &r->ooo;
	uint64_t s = start, e = start + len;
	bool cut = false;
	/* after everything buffered (a stream going on past a hole): no walk */
	if (r->ooo_tail != NULL && r->ooo_tail->off + r->ooo_tail->len <= s)
		pp = &r->ooo_tail->next;
	while (s < e) {
		struct reasm_seg *cur = *pp;
		if (cur == NULL || e <= cur->off) {
			put(r, pp, start, data, s, e);
			break;
		}
		if (cur->off + cur->len <= s) {
			pp = &cur->next;
			continue;
		}
		if (s < cur->off)
			put(r, pp, start, data, s, cur->off);
		cut = true;
		s = cur->off + cur->len;
		pp = &cur->next;
	}
	if (cut)
		r->overlaps++;
}

size_t reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len,
		     reasm_deliver_fn deliver, void *user)
{
	if (len == 0 || data == NULL)
		return 0;
	if (r->off >= r->limit) {
		r->beyond_limit += len;
		return 0;
	}
	int32_t d = seq_diff(seq, r->next);
	if (d < 0) {
		uint64_t back = (uint64_t)(-(int64_t)d);
		r->overlaps++;
		if (back >= len)
			return 0;
		data += back;
		len -= (size_t)back;
		d = 0;
	}
	if ((uint32_t)d >= WINDOW_MAX)
		return 0;
	uint64_t start = r->off + (uint32_t)d;
	size_t out = 0;
	while (start > r->off && r->ooo_bytes + len + SEG_OVERHEAD > r->ooo_limit) {
		/* no room: give up the hole in front of the buffered data (or of this segment) */
		uint64_t upto = r->ooo != NULL && r->ooo->off < start ? r->ooo->off : start;
		give_up_hole(r, upto);
		out += drain(r, deliver, user);
		if (r->off >= r->limit) {
			r->beyond_limit += len;
			return out;
		}
		if (start < r->off) {
			uint64_t back = r->off - start;
			r->overlaps++;
			if (back >= len)
				return out;
			data += back;
			len -= (size_t)back;
			start = r->off;
		}
	}
	if (start > r->off) {
		insert(r, start, data, len);
		return out;
	}
	/* in order: deliver up to the next buffered segment, which arrived first and wins */
	bool cut = false;
	while (len > 0) {
		size_t n = len;
		if (r->ooo != NULL && r->ooo->off - r->off < n)
			n = (size_t)(r->ooo->off - r->off);
		out += emit(r, data, n, deliver, user);
		data += n;
		len -= n;
		start += n;
		out += drain(r, deliver, user);
		if (len > 0 && r->off >= r->limit) {
			r->beyond_limit += len;
			break;
		}
		if (len > 0 && r->off > start) {
			uint64_t back = r->off - start;
			cut = true;
			if (back >= len)
				break;
			data += back;
			len -= (size_t)back;
			start = r->off;
		}
	}
	if (cut)
		r->overlaps++;
	return out;
}
