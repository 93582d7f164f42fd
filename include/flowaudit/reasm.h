/*
 * reasm.h - bounded in-order reassembly of one direction of a TCP stream.
 *
 * Segments go in as they were captured; contiguous stream bytes come out, in
 * order, exactly once, through the caller's deliver callback, each with its
 * offset in the stream (0 = the first byte after the initial sequence
 * number). Retransmitted and overlapping bytes are delivered once: the first
 * copy seen wins. Segments ahead of the next expected byte are buffered up
 * to ooo_limit bytes (counting a small per-segment overhead); when that
 * buffer would overflow, the hole in front of it is given up: its size is
 * added to `skipped`, `gaps` counts it, and delivery continues with the
 * buffered bytes. Sequence numbers wrap at 2^32.
 *
 * Delivery stops after `limit` stream bytes; payload arriving after that is
 * counted in `beyond_limit` (retransmissions included) and dropped.
 *
 * A struct reasm is embedded by its owner and holds no heap memory until a
 * segment arrives out of order; reasm_free() releases that buffer (the
 * struct itself stays the caller's). Both are safe to call on a zeroed
 * struct.
 */
#ifndef FLOWAUDIT_REASM_H
#define FLOWAUDIT_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 32-bit sequence arithmetic (RFC 1982 style): valid within 2^31 of each other. */
static inline int32_t seq_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }
static inline bool seq_lt(uint32_t a, uint32_t b) { return seq_diff(a, b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return seq_diff(a, b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return seq_diff(a, b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return seq_diff(a, b) >= 0; }

#define REASM_DEFAULT_LIMIT ((size_t)256 * 1024)
#define REASM_DEFAULT_OOO ((size_t)64 * 1024)

typedef void (*reasm_deliver_fn)(const uint8_t *d, size_t n, uint64_t stream_off, void *user);

struct reasm_seg; /* a buffered out-of-order segment (internal) */

struct reasm {
	uint32_t next;          /* sequence number of the next byte to deliver */
	uint64_t off;           /* its stream offset */
	size_t limit, ooo_limit;
	struct reasm_seg *ooo;  /* buffered segments, sorted, not overlapping */
	struct reasm_seg *ooo_tail; /* the last of them: most arrive after it */
	size_t ooo_bytes;       /* buffered, including per-segment overhead */
	/* statistics */
	uint64_t delivered;     /* bytes handed to deliver */
	uint64_t gaps;          /* holes given up */
	uint64_t skipped;       /* bytes in those holes */
	uint64_t overlaps;      /* segments that repeated bytes already seen */
	uint64_t beyond_limit;  /* payload bytes arriving after the limit */
};

/*
 * isn: the sequence number of the first stream byte (the SYN's sequence
 * number + 1, or the first data segment's when the SYN was not seen).
 * limit 0 and ooo_limit 0 take the defaults.
 */
void reasm_init(struct reasm *r, uint32_t isn, size_t limit, size_t ooo_limit);
void reasm_free(struct reasm *r);

/* Hands one segment in; returns the bytes delivered by this call. */
size_t reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len,
		     reasm_deliver_fn deliver, void *user);

#endif
