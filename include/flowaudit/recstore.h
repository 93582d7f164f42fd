/*
 * recstore.h - fixed-size records by index, in bounded memory.
 *
 * The engine keeps one record per ended flow for the report, and a capture
 * of a whole test campaign (or a scan) has millions of flows. A recstore
 * holds the first mem_slots records in memory and the rest in an unlinked
 * temporary file (in $TMPDIR, else /tmp), so memory stays the same however
 * long the capture is; the operating system's page cache does the rest.
 *
 * Records are put by index, in any order (flows end out of order), and
 * read back by index into the caller's buffer. A slot never put reads back
 * as absent. Records are copied byte for byte: pointers inside them must
 * stay valid on their own (the engine's are interned strings).
 *
 * A leaf: it uses nothing but libc. Not thread-safe, but for readers (below)
 * once the store is sealed.
 */
#ifndef FLOWAUDIT_RECSTORE_H
#define FLOWAUDIT_RECSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct recstore;

/* NULL when out of memory. mem_slots 0 means every record goes to the file. */
struct recstore *recstore_new(size_t rec_size, size_t mem_slots);
void recstore_free(struct recstore *rs); /* NULL is a no-op */

/*
 * Stores rec at index i. False when it could not be kept (the temporary
 * file could not be created or written: *why says so, a static string).
 */
bool recstore_put(struct recstore *rs, uint64_t i, const void *rec, const char **why);

/* Copies record i into out; false when slot i was never put. */
bool recstore_get(struct recstore *rs, uint64_t i, void *out);

/*
 * A store no longer written to may be read by several threads at once:
 * recstore_seal() writes out what is buffered (no put may follow), then
 * each thread reads through a reader of its own (its own window on the
 * file), one of them through recstore_get() if it likes.
 */
struct recstore_reader;
void recstore_seal(struct recstore *rs);
/* NULL when out of memory. */
struct recstore_reader *recstore_reader_new(const struct recstore *rs);
/* As recstore_get(). */
bool recstore_reader_get(struct recstore_reader *rd, uint64_t i, void *out);
void recstore_reader_free(struct recstore_reader *rd); /* NULL is a no-op */

/* One past the highest index put. */
uint64_t recstore_count(const struct recstore *rs);

/* Bytes held in memory (slots and buffers), for statistics: the slots in
   memory, a read window of 256 and up to 4,096 slots on their way to the
   file. */
size_t recstore_memory(const struct recstore *rs);

/*
 * Records put (recstore_put said true) that a later write to the file
 * lost, and why (a static string; NULL when none was). Writes to the file
 * are gathered, so such a failure shows only here.
 */
uint64_t recstore_lost(const struct recstore *rs, const char **why);

#endif
