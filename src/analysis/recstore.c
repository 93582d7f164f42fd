/*
 * recstore.c - fixed-size records by index: memory first, then a file.
 *
 * Each slot is one marker byte (1: put) followed by the record. Slots below
 * mem_slots live in an array that doubles as it fills, up to mem_slots;
 * the others sit in an unlinked temporary file at (i - mem_slots) * slot
 * bytes. A hole in the file reads back as zeros, that is, as absent.
 *
 * Writes to the file go through CHUNKS chunks of CHUNK consecutive slots
 * each: a put lands in its chunk's buffer, and a chunk goes to the file,
 * one pwrite per run of slots put, when its buffer is needed for another
 * chunk (the one used longest ago) or at a read of the file. Flows end
 * roughly in the order they began, a few thousand ids apart at most, so
 * most chunks fill before they are written: one system call for dozens of
 * records instead of one each. Reads of the file go through a window of
 * WINDOW slots filled by one pread, since the report reads the flows in
 * order; a put inside the window drops it.
 *
 * Workload: one put per flow end, one or two passes of gets at report time,
 * some of them at once from several threads through readers of their own.
 */
#include "flowaudit/recstore.h"
#include "flowaudit/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 256
#define CHUNK 128  /* slots a chunk */
#define CHUNKS 32  /* chunks held before the oldest is written */

/* A window on the file: WINDOW slots read by one pread. */
struct window {
	uint8_t *buf;
	uint64_t first; /* index of its first slot */
	size_t n;       /* slots valid; 0 when empty */
};

struct chunk {
	bool used;
	uint64_t first;          /* file slot of its first slot */
	uint64_t stamp;          /* when it was last put to */
	uint8_t set[CHUNK / 8];  /* which slots were put */
	uint8_t *data;           /* CHUNK slots */
};

struct recstore {
	size_t rec_size, slot;
	size_t mem_slots;
	uint8_t *mem;
	size_t mem_cap;     /* slots allocated in mem */
	int fd;             /* -1 until the first record past mem_slots */
	bool fd_failed;
	uint64_t count;
	struct window win;  /* of the file, for recstore_get */
	struct chunk chunk[CHUNKS];
	uint64_t clock;     /* stamps of the chunks */
	uint64_t lost;      /* records a chunk write lost */
	const char *lost_why;
};

struct recstore *recstore_new(size_t rec_size, size_t mem_slots)
{
	if (rec_size == 0)
		return NULL;
	struct recstore *rs = calloc(1, sizeof(*rs));
	if (rs == NULL)
		return NULL;
	rs->rec_size = rec_size;
	rs->slot = rec_size + 1;
	rs->mem_slots = mem_slots;
	rs->fd = -1;
	return rs;
}

void recstore_free(struct recstore *rs)
{
	if (rs == NULL)
		return;
	if (rs->fd >= 0)
		close(rs->fd);
	free(rs->mem);
	free(rs->win.buf);
	for (int c = 0; c < CHUNKS; c++)
		free(rs->chunk[c].data);
	free(rs);
}

static bool put_mem(struct recstore *rs, uint64_t i, const void *rec)
{
	if (i >= rs->mem_cap) {
		size_t nc = rs->mem_cap ? rs->mem_cap : 1024;
		while (nc <= i)
			nc *= 2;
		if (nc > rs->mem_slots)
			nc = rs->mem_slots;
		uint8_t *m = realloc(rs->mem, nc * rs->slot);
		if (m == NULL)
			return false;
		memset(m + rs->mem_cap * rs->slot, 0, (nc - rs->mem_cap) * rs->slot);
		rs->mem = m;
		rs->mem_cap = nc;
	}
	uint8_t *s = rs->mem + i * rs->slot;
	s[0] = 1;
	memcpy(s + 1, rec, rs->rec_size);
	return true;
}

static const char *write_error(ssize_t w)
{
	return w < 0 && errno == ENOSPC ? "no space left for the temporary file"
				      : "write to the temporary file failed";
}

/* Writes chunk ch's runs of slots put to the file and frees it; the slots
   a failed write held are counted as lost. */
static void chunk_flush(struct recstore *rs, struct chunk *ch)
{
	for (size_t a = 0; a < CHUNK;) {
		if (!(ch->set[a / 8] & (1u << (a % 8)))) {
			a++;
			continue;
		}
		size_t b = a;
		while (b < CHUNK && (ch->set[b / 8] & (1u << (b % 8))))
			b++;
		size_t len = (b - a) * rs->slot;
		ssize_t w = pwrite(rs->fd, ch->data + a * rs->slot, len,
				   (off_t)((ch->first + a) * rs->slot));
		if (w != (ssize_t)len) {
			rs->lost += b - a;
			if (rs->lost_why == NULL)
				rs->lost_why = write_error(w);
		}
		a = b;
	}
	if (rs->win.n && ch->first < rs->win.first + rs->win.n && rs->win.first < ch->first + CHUNK)
		rs->win.n = 0;
	ch->used = false;
}

/* Record rec into file slot k, through its chunk. */
static bool chunk_put(struct recstore *rs, uint64_t k, const void *rec, const char **why)
{
	uint64_t first = k - k % CHUNK;
	struct chunk *ch = NULL, *free_ch = NULL, *oldest = NULL;
	for (int c = 0; c < CHUNKS && ch == NULL; c++) {
		struct chunk *x = &rs->chunk[c];
		if (x->used && x->first == first)
			ch = x;
		else if (!x->used && free_ch == NULL)
			free_ch = x;
		else if (x->used && (oldest == NULL || x->stamp < oldest->stamp))
			oldest = x;
	}
	if (ch == NULL) {
		ch = free_ch;
		if (ch == NULL) {
			chunk_flush(rs, oldest);
			ch = oldest;
		}
		if (ch->data == NULL && (ch->data = malloc(CHUNK * rs->slot)) == NULL) {
			*why = "out of memory";
			return false;
		}
		ch->used = true;
		ch->first = first;
		memset(ch->set, 0, sizeof(ch->set));
	}
	size_t at = (size_t)(k - first);
	uint8_t *s = ch->data + at * rs->slot;
	s[0] = 1;
	memcpy(s + 1, rec, rs->rec_size);
	ch->set[at / 8] |= (uint8_t)(1u << (at % 8));
	ch->stamp = ++rs->clock;
	return true;
}

/* Every chunk to the file, before the file is read. */
static void chunks_flush(struct recstore *rs)
{
	for (int c = 0; c < CHUNKS; c++)
		if (rs->chunk[c].used)
			chunk_flush(rs, &rs->chunk[c]);
}

bool recstore_put(struct recstore *rs, uint64_t i, const void *rec, const char **why)
{
	*why = NULL;
	if (i < rs->mem_slots) {
		if (!put_mem(rs, i, rec)) {
			*why = "out of memory";
			return false;
		}
	} else {
		if (rs->fd < 0 && !rs->fd_failed) {
			rs->fd = fa_tmpfile("records");
			rs->fd_failed = rs->fd < 0;
		}
		if (rs->fd < 0) {
			*why = "cannot create a temporary file (set TMPDIR to a writable directory)";
			return false;
		}
		uint64_t k = i - rs->mem_slots;
		if (k > (uint64_t)INT64_MAX / rs->slot) {
			*why = "record index out of range";
			return false;
		}
		if (!chunk_put(rs, k, rec, why))
			return false;
	}
	if (i + 1 > rs->count)
		rs->count = i + 1;
	return true;
}

/* Record i through window w (the store's own, or a reader's). */
static bool get_through(const struct recstore *rs, struct window *w, uint64_t i, void *out)
{
	if (i >= rs->count)
		return false;
	const uint8_t *s;
	if (i < rs->mem_slots) {
		if (i >= rs->mem_cap)
			return false;
		s = rs->mem + i * rs->slot;
	} else {
		if (rs->fd < 0)
			return false;
		uint64_t k = i - rs->mem_slots;
		if (w->n == 0 || k < w->first || k >= w->first + w->n) {
			if (w->buf == NULL && (w->buf = malloc(WINDOW * rs->slot)) == NULL)
				return false;
			ssize_t r = pread(rs->fd, w->buf, WINDOW * rs->slot, (off_t)(k * rs->slot));
			if (r < (ssize_t)rs->slot)
				return false;
			w->first = k;
			w->n = (size_t)r / rs->slot;
		}
		s = w->buf + (k - w->first) * rs->slot;
	}
	if (s[0] != 1)
		return false;
	memcpy(out, s + 1, rs->rec_size);
	return true;
}

bool recstore_get(struct recstore *rs, uint64_t i, void *out)
{
	if (i >= rs->mem_slots && i < rs->count) {
		/* a record not yet written out is read from its chunk */
		uint64_t k = i - rs->mem_slots, first = k - k % CHUNK;
		for (int c = 0; c < CHUNKS; c++) {
			const struct chunk *ch = &rs->chunk[c];
			if (!ch->used || ch->first != first)
				continue;
			size_t at = (size_t)(k - first);
			if (ch->set[at / 8] & (1u << (at % 8))) {
				memcpy(out, ch->data + at * rs->slot + 1, rs->rec_size);
				return true;
			}
			break; /* put before the chunk was: in the file, or absent */
		}
	}
	return get_through(rs, &rs->win, i, out);
}

void recstore_seal(struct recstore *rs)
{
	chunks_flush(rs);
}

struct recstore_reader {
	const struct recstore *rs;
	struct window w;
};

struct recstore_reader *recstore_reader_new(const struct recstore *rs)
{
	struct recstore_reader *rd = calloc(1, sizeof(*rd));
	if (rd != NULL)
		rd->rs = rs;
	return rd;
}

bool recstore_reader_get(struct recstore_reader *rd, uint64_t i, void *out)
{
	return get_through(rd->rs, &rd->w, i, out);
}

void recstore_reader_free(struct recstore_reader *rd)
{
	if (rd != NULL)
		free(rd->w.buf);
	free(rd);
}

uint64_t recstore_count(const struct recstore *rs) { return rs->count; }

size_t recstore_memory(const struct recstore *rs)
{
	size_t n = rs->mem_cap * rs->slot + (rs->win.buf ? WINDOW * rs->slot : 0);
	for (int c = 0; c < CHUNKS; c++)
		n += rs->chunk[c].data ? CHUNK * rs->slot : 0;
	return n;
}

uint64_t recstore_lost(const struct recstore *rs, const char **why)
{
	*why = rs->lost_why;
	return rs->lost;
}
