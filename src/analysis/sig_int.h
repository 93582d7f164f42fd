/*
 * sig_int.h - the inside of the signature catalogue, shared by the loader
 * (signatures.c) and the indexes and lookups (sig_index.c), and the file
 * reader `sigs import` (sig_import.c) shares. Nothing outside src/analysis
 * includes it.
 *
 * Invariants once sig_db_finish() has succeeded: every distinct domain
 * string is in doms[] exactly once, with the entry of the first layer that
 * claims it, and reachable through slots[]; nets[] is sorted by (family,
 * prefix length, address) with no two alike (again the first layer's), and
 * g4[]/g6[] list the runs of one prefix length in ascending length. Entries
 * are stored layer by layer, so entry order is layer order.
 */
#ifndef FLOWAUDIT_SIG_INT_H
#define FLOWAUDIT_SIG_INT_H

#include "flowaudit/signatures.h"

#include <stdint.h>

struct sig_dom {
	const char *dom; /* borrowed from the entry */
	uint32_t len, hash, entry, field, layer;
};

/* A slot of the domain table: the hash beside the index, so that a probe
   that finds another name rarely touches doms[]. */
struct sig_slot {
	uint32_t idx; /* index into doms + 1; 0 is empty */
	uint32_t hash;
};

struct sig_net {
	uint8_t b[16]; /* host bits zero; IPv4 in b[0..3] */
	uint8_t v, len;
	uint16_t layer;
	uint32_t entry, field;
};

/* Networks of one family and one prefix length: nets[start .. start+count). */
struct sig_net_group {
	uint32_t start, count;
	uint8_t len;
};

struct sig_arena_block;

struct sig_db {
	struct sig_entry *entries;
	size_t n, cap;
	struct sig_arena_block *arena; /* every string and list of the entries */
	bool finished;
	struct sig_catalogue cats[SIG_MAX_LAYERS];
	size_t n_cats;
	size_t layer_files; /* entry files of the current layer */

	struct sig_dom *doms;
	size_t n_doms;
	struct sig_slot *slots; /* open addressing over doms */
	size_t mask;

	struct sig_net *nets;
	size_t n_nets;
	struct sig_net_group g4[33], g6[129];
	size_t n_g4, n_g6;
};

/*
 * Parses "ADDRESS/PREFIX" with the host bits zero. On failure *why says what
 * to fix; it may point into fix[].
 */
bool sig_cidr_parse(const char *s, struct sig_net *r, const char **why, char *fix, size_t fix_len);
/* The canonical text "addr/len" of r. */
void sig_net_text(const struct sig_net *r, char *buf, size_t len);
/*
 * Reads the whole of path (a regular file of at most max bytes; noun says
 * what it is in the message) into *out, NUL-terminated; free() it.
 */
int sig_read_file(const char *path, size_t max, const char *noun, char **out, size_t *len,
		  struct fa_err *err);

#endif
