/*
 * keylog.h - the TLS session secrets of an audit: NSS key log lines
 * (SSLKEYLOGFILE), from files, from pcapng Decryption Secrets Blocks and
 * from a key log file that grows while a capture runs.
 *
 * Receives key log text: "LABEL <client random, 64 hex> <secret, hex>"
 * a line. Stored labels: CLIENT_RANDOM (the TLS 1.2 master secret, 48
 * bytes) and the TLS 1.3 secrets CLIENT_HANDSHAKE_TRAFFIC_SECRET,
 * SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
 * SERVER_TRAFFIC_SECRET_0 and EXPORTER_SECRET (32 or 48 bytes: the hash
 * length of the suite). Other labels (CLIENT_EARLY_TRAFFIC_SECRET, RSA,
 * CLIENT_TRAFFIC_SECRET_N, ...) are ignored and counted; blank lines and
 * '#' comments are skipped; any other line is malformed: counted, skipped,
 * and among the first KEYLOG_MAX_MESSAGES its message ("ORIGIN:LINE:
 * what is wrong") is kept for the caller to print. Nothing here prints.
 *
 * Hands on: the secret of a (client random, label), for tls_decrypt.c; a
 * generation number that changes whenever a secret is added, so that a
 * connection that waited for its keys knows when to look again; and the
 * key log lines of exactly one client random (keylog_export), which is the
 * only way secrets leave the store: a finding's evidence pcapng carries
 * those of its own connections and no other.
 *
 * Secrets are never printed, logged or put in a message: messages name the
 * origin, the line number and the fault only. The store wipes its memory
 * (OPENSSL_cleanse) when freed.
 *
 * Bounds: at most max_clients client randoms (keylog_new); past that the
 * store is full (stats.full), and lines of new client randoms are dropped
 * and counted (stats.dropped). A line longer than KEYLOG_LINE_MAX is
 * malformed. A secret for a (client random, label) already stored is kept
 * as first read: an identical line counts as a duplicate, a different one
 * as a conflict (also reported as a message).
 *
 * Ownership: the store owns its secrets; keylog_find() lends a pointer that
 * stays valid until keylog_free(). A struct keylog_file borrows nothing.
 * One thread at a time.
 */
#ifndef FLOWAUDIT_KEYLOG_H
#define FLOWAUDIT_KEYLOG_H

#include "flowaudit/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYLOG_RANDOM_LEN 32
#define KEYLOG_SECRET_MAX 48
#define KEYLOG_LINE_MAX 1024
#define KEYLOG_MAX_MESSAGES 8
#define KEYLOG_DEFAULT_MAX_CLIENTS 262144
/* The longest keylog_export() text: six lines of at most 31 + 64 + 96 + 3. */
#define KEYLOG_EXPORT_MAX 1200

enum keylog_label {
	KEYLOG_CLIENT_RANDOM = 0, /* TLS 1.2 (and earlier) master secret */
	KEYLOG_CLIENT_HANDSHAKE,  /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	KEYLOG_SERVER_HANDSHAKE,  /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	KEYLOG_CLIENT_TRAFFIC_0,  /* CLIENT_TRAFFIC_SECRET_0 */
	KEYLOG_SERVER_TRAFFIC_0,  /* SERVER_TRAFFIC_SECRET_0 */
	KEYLOG_EXPORTER,          /* EXPORTER_SECRET */
	KEYLOG_N_LABELS,
};

/* The label as it is written in a key log line. */
const char *keylog_label_name(enum keylog_label l);

struct keylog_stats {
	uint64_t lines;     /* lines read, every source */
	uint64_t secrets;   /* secrets stored */
	uint64_t clients;   /* distinct client randoms stored */
	uint64_t unknown;   /* lines with a label not stored */
	uint64_t malformed; /* lines that are not key log lines */
	uint64_t duplicates; /* a secret already stored, same value */
	uint64_t conflicts;  /* a secret already stored, another value (first kept) */
	uint64_t dropped;   /* lines of new client randoms refused: store full */
	bool full;          /* max_clients reached */
	unsigned n_messages; /* messages kept (at most KEYLOG_MAX_MESSAGES) */
	char messages[KEYLOG_MAX_MESSAGES][192];
};

struct keylog;

/* An empty store for at most max_clients client randoms (0: the default). */
struct keylog *keylog_new(size_t max_clients);
/* Wipes and frees; NULL is a no-op. */
void keylog_free(struct keylog *kl);

/*
 * Adds every line of a buffer of key log text (a pcapng Decryption Secrets
 * Block's, or any other); origin names it in messages ("capture.pcapng
 * block 3"). A last line without a newline counts. Malformed lines are
 * counted in the stats, not returned: this cannot fail.
 */
void keylog_add_text(struct keylog *kl, const uint8_t *text, size_t len, const char *origin);

/*
 * Reads a whole key log file (--keylog FILE). FA_EINPUT with a message
 * naming the file when it cannot be opened or read; malformed lines are
 * not errors (see the stats).
 */
int keylog_load_file(struct keylog *kl, const char *path, struct fa_err *err);

/*
 * A key log file that grows while a capture runs. Each poll reads what was
 * appended since the last one and adds its complete lines; a line still
 * being written (no newline yet) is read again at the next poll. A file
 * that shrank (rewritten) is read again from its start. Line numbers in
 * messages are those of the file.
 */
struct keylog_file;
struct keylog_file *keylog_file_open(const char *path, struct fa_err *err);
/*
 * Returns the number of lines read (0 when nothing new), or FA_ERUNTIME
 * when the file can no longer be read (err says why). final: also take a
 * last line that has no newline (at the end of a capture).
 */
int keylog_file_poll(struct keylog_file *f, struct keylog *kl, bool final, struct fa_err *err);
void keylog_file_close(struct keylog_file *f);

/*
 * The secret for (client random, label): a pointer into the store and its
 * length in *len, or NULL when absent. Borrowed until keylog_free().
 */
const uint8_t *keylog_find(const struct keylog *kl, const uint8_t random[KEYLOG_RANDOM_LEN],
			   enum keylog_label label, size_t *len);

/* Changes (grows) whenever a secret is added; never when nothing was. */
uint64_t keylog_generation(const struct keylog *kl);

const struct keylog_stats *keylog_stats(const struct keylog *kl);

/*
 * The key log lines of one client random, in label order, each ending in
 * '\n', written to buf (NUL-terminated when cap > 0): the text of an
 * evidence pcapng's Decryption Secrets Block. Returns the length of the
 * whole text (at most KEYLOG_EXPORT_MAX - 1), 0 when the client random has
 * no secrets; a return >= cap means buf was too small and holds nothing.
 */
size_t keylog_export(const struct keylog *kl, const uint8_t random[KEYLOG_RANDOM_LEN], char *buf,
		     size_t cap);

#endif
