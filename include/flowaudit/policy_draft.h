/*
 * policy_draft.h - a first declaration from a privacy policy's text.
 *
 * `flowaudit policy draft` reads a policy as UTF-8 text (plain, or HTML
 * with the markup dropped), in Chinese or English, and writes a
 * flowaudit-policy/1 declaration: recipients from the SDKs the text names
 * (matched through the signature catalogue's names and aliases) with the
 * purposes and data the text gives each, first-party domains from the
 * text's own addresses, storage regions, the cross-border rule, purposes
 * that need consent and the encryption promise. Every statement quotes the
 * sentence it was drawn from, with its section number. What the text leaves
 * open goes into the declaration's `review` list (what to decide, where),
 * never into a guess. docs/policy.md says how it reads and what it cannot
 * know.
 *
 * Pure: text in, a jansson object out; nothing is printed. Input is bounded
 * by POLICY_DRAFT_MAX_BYTES; bytes that are not UTF-8 (or a NUL byte) are
 * FA_EINPUT naming the byte offset.
 *
 * Ownership: the catalogue is borrowed for the call; *out is the
 * caller's, released with policy_draft_free().
 */
#ifndef FLOWAUDIT_POLICY_DRAFT_H
#define FLOWAUDIT_POLICY_DRAFT_H

#include "flowaudit/common.h"
#include "flowaudit/signatures.h"

#include <stddef.h>
#include <stdio.h>

#define POLICY_DRAFT_MAX_BYTES (4 * 1024 * 1024)

struct json_t;

/*
 * Drafts a declaration from len bytes of text; name (the file's path)
 * prefixes every message. db must be finished (sig_db_finish). FA_EINPUT
 * for text over the limit or not UTF-8, FA_ERUNTIME when out of memory.
 */
int policy_draft_text(const char *text, size_t len, const char *name, const struct sig_db *db,
		      struct json_t **out, struct fa_err *err);

/* Reads the file at path (at most POLICY_DRAFT_MAX_BYTES) and drafts it. */
int policy_draft_file(const char *path, const struct sig_db *db, struct json_t **out,
		      struct fa_err *err);

/*
 * Writes the draft to f as indented JSON with a final newline, after
 * setting app.source to source (the text's path relative to the output;
 * NULL leaves it out). False when writing fails (errno tells why).
 */
bool policy_draft_write(struct json_t *doc, const char *source, FILE *f);
/* How many recipients the draft declares and how many points it leaves for review. */
void policy_draft_counts(const struct json_t *doc, size_t *recipients, size_t *review);
void policy_draft_free(struct json_t *doc); /* NULL is a no-op */

#endif
