/*
 * recstore.c - fixed-size records by index: memory first, then a file.
 *
 * Each slot is one marker byte (1: put) followed by the record. Slots below
 * mem_slots live in an array that doubles as it fills, up to mem_slots;
 * the others sit in an unlinked temporary file at (i - mem_slots) * slot
 * bytes, written with pwrite as they come. A hole in the file reads back as
 * zeros, that is, as absent. Reads of the file go through a window of
 * WINDOW slots filled by one pread, since the report reads the flows in
 * order; a put inside the window drops it.
 *
 * Workload: one put per flow end, one or two passes of gets at report time.
 */
#include "flowaudit/recstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 256

struct recstore {
	size_t rec_size, slot;
	size_t mem_slots;
	uint8_t *mem;
	size_t mem_cap;     /* slots allocated in mem */
	int fd;             /* -1 until the first record past mem_slots */
	bool fd_failed;
	uint64_t count;
	uint8_t *win;       /* WINDOW slots of the file */
	uint64_t win_first; /* index of win's first slot */
	size_t win_n;       /* slots valid in win; 0 when empty */
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
	free(rs->win);
	free(rs);
}

static int open_tmp(void)
{
	const char *dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* file systems without O_TMPFILE: create, then unlink at once */
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/flowaudit-records-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
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
			rs->fd = open_tmp();
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
		uint8_t buf[1 + 4096];
		uint8_t *s = rs->slot <= sizeof(buf) ? buf : malloc(rs->slot);
		if (s == NULL) {
			*why = "out of memory";
			return false;
		}
		s[0] = 1;
		memcpy(s + 1, rec, rs->rec_size);
		ssize_t w = pwrite(rs->fd, s, rs->slot, (off_t)(k * rs->slot));
		if (s != buf)
			free(s);
		if (w != (ssize_t)rs->slot) {
			*why = w < 0 && errno == ENOSPC ? "no space left for the temporary file"
							 : "write to the temporary file failed";
			return false;
		}
		if (rs->win_n && k >= rs->win_first && k < rs->win_first + rs->win_n)
			rs->win_n = 0;
	}
	if (i + 1 > rs->count)
		rs->count = i + 1;
	return true;
}

bool recstore_get(struct recstore *rs, uint64_t i, void *out)
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
		if (rs->win_n == 0 || k < rs->win_first || k >= rs->win_first + rs->win_n) {
			if (rs->win == NULL && (rs->win = malloc(WINDOW * rs->slot)) == NULL)
				return false;
			ssize_t r = pread(rs->fd, rs->win, WINDOW * rs->slot, (off_t)(k * rs->slot));
			if (r < (ssize_t)rs->slot)
				return false;
			rs->win_first = k;
			rs->win_n = (size_t)r / rs->slot;
		}
		s = rs->win + (k - rs->win_first) * rs->slot;
	}
	if (s[0] != 1)
		return false;
	memcpy(out, s + 1, rs->rec_size);
	return true;
}

uint64_t recstore_count(const struct recstore *rs) { return rs->count; }

size_t recstore_memory(const struct recstore *rs)
{
	return rs->mem_cap * rs->slot + (rs->win ? WINDOW * rs->slot : 0);
}
