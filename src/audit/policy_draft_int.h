/*
 * policy_draft_int.h - the pieces policy_draft.c is built from.
 *
 * policy_draft_text.c turns the input into lines (HTML markup dropped,
 * every line carrying the section number of the nearest heading above it)
 * and cuts lines into sentences; policy_draft_match.c finds the catalogue's
 * names and aliases in a piece of text. Both work on the draft's own copy
 * of the text and borrow the catalogue.
 */
#ifndef FLOWAUDIT_POLICY_DRAFT_INT_H
#define FLOWAUDIT_POLICY_DRAFT_INT_H

#include "flowaudit/common.h"
#include "flowaudit/signatures.h"

#include <stdbool.h>
#include <stddef.h>

#define DRAFT_SEC_MAX 96 /* bytes of a section path ("I.(1).2.①") */

struct dline {
	const char *s;  /* the line without its numbering label, trimmed; not NUL-terminated */
	size_t n;       /* 0 for a blank line */
	char sec[DRAFT_SEC_MAX]; /* section path of the nearest heading; "" before any */
	bool labelled;  /* the line opened with a numbering label */
};

struct dtext {
	char *buf; /* the text, HTML dropped, line ends "\n" */
	size_t len;
	struct dline *lines;
	size_t n_lines;
};

/*
 * Checks that in[0..len) is UTF-8 without NUL bytes, drops HTML markup
 * when the text is HTML, and cuts it into lines with their sections.
 * FA_EINPUT names the first bad byte's offset; FA_ERUNTIME on memory.
 */
int dtext_make(struct dtext *t, const char *in, size_t len, const char *name, struct fa_err *err);
void dtext_free(struct dtext *t);

/* End (exclusive) of the sentence of s[0..n) that starts at from. */
size_t dsent_end(const char *s, size_t n, size_t from);
/* Leading and trailing spaces (ASCII, U+3000, U+00A0) off s[*from..*to). */
void dtrim(const char *s, size_t *from, size_t *to);

/*
 * The first occurrence of needle in s[0..n): ASCII letters compare without
 * case; a needle that starts (ends) with an ASCII letter or digit must not
 * have one before (after) it, unless the needle ends with '*', which then
 * matches any continuation. NULL when none.
 */
const char *dfind(const char *s, size_t n, const char *needle);
/* True when one of the NULL-terminated needles is in s[0..n). */
bool dfind_any(const char *s, size_t n, const char *const *needles);

/* ---- catalogue names in text (policy_draft_match.c) ---- */

struct dmatcher;

struct dmatch {
	const struct sig_entry *e; /* NULL when the name is shared by several entries */
	size_t at, len;            /* where in the text */
};

struct dmatcher *dmatcher_new(const struct sig_db *db);
void dmatcher_free(struct dmatcher *m); /* NULL is a no-op */
/*
 * The next mention at or after *pos in s[0..n), the longest at each place;
 * *pos moves past it. prose: the mention is in running text, where a name
 * that is also a word ("Branch", "segment") counts only when written as a
 * name (capitalised inside a sentence, in capitals, or followed by "SDK").
 * False when there is none.
 */
bool dmatcher_next(const struct dmatcher *m, const char *s, size_t n, size_t *pos, bool prose,
		   struct dmatch *out);
/* The entry a candidate SDK name (a table cell, a list item) stands for; NULL when none. */
const struct sig_entry *dmatcher_resolve(const struct dmatcher *m, const struct sig_db *db,
					 const char *s, size_t n);

#endif
