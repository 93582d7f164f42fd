/*
 * policy_draft_int.h - the pieces policy_draft.c is built from.
 *
 * policy_draft_text.c turns the input into lines (HTML markup dropped,
 * every line carrying the section number of the nearest heading above it)
 * and cuts lines into sentences; policy_draft_match.c finds the catalogue's
 * names and aliases in a piece of text. Both work on the draft's own copy
 * of the text and borrow the catalogue. policy_draft.c reads the
 * sentences and builds the declaration, policy_draft_table.c the SDK
 * tables, policy_draft_read.c quotes, addresses and the app's name and
 * date, policy_draft_words.c holds the phrases they look for.
 */
#ifndef FLOWAUDIT_POLICY_DRAFT_INT_H
#define FLOWAUDIT_POLICY_DRAFT_INT_H

#include "flowaudit/common.h"
#include "flowaudit/signatures.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRAFT_SEC_MAX 96 /* bytes of a section path ("I.(1).2.①") */
#define DRAFT_SENTENCE_MAX 4096 /* bytes of a sentence; longer runs are cut */

/* A line that is not blank (blank lines are not kept). */
struct dline {
	const char *s;   /* the line without its numbering label, trimmed; not NUL-terminated */
	size_t n;        /* at least 1 */
	const char *sec; /* section path of the nearest heading; "" before any */
	size_t sec_off;  /* where sec is in the text's section strings */
	bool labelled;   /* the line opened with a numbering label */
	bool bulleted;   /* the line opened with a bullet ("•", "-", ...) */
};

struct dtext {
	char *buf; /* the text, HTML dropped, line ends "\n" */
	size_t len;
	struct dline *lines;
	size_t n_lines;
	char *secs; /* the section paths, each once in a row, NUL-terminated */
	size_t secs_len, secs_cap;
};

/*
 * Checks that in[0..len) is UTF-8 without NUL bytes, drops HTML markup
 * when the text is HTML, and cuts it into lines with their sections.
 * FA_EINPUT names the first bad byte's offset; FA_ERUNTIME on memory.
 */
int dtext_make(struct dtext *t, const char *in, size_t len, const char *name, struct fa_err *err);
void dtext_free(struct dtext *t);

/* End (exclusive) of the sentence of s[0..n) that starts at from (at most DRAFT_SENTENCE_MAX on). */
size_t dsent_end(const char *s, size_t n, size_t from);
/*
 * End of the piece of s[0..n) that starts at from: the offset of the next
 * of the NULL-terminated separators (n when none); *sep gets its length.
 */
size_t dsplit(const char *s, size_t n, size_t from, const char *const *seps, size_t *sep);
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
struct json_t;

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
/*
 * The entry a candidate SDK name (a table cell, a list item) stands for:
 * its alias, name or id exactly (with or without "SDK" after it), one of
 * its pieces ("Admob SDK(GoogleMobileAds SDK)"), else the first name found
 * in it. NULL when none.
 */
const struct sig_entry *dmatcher_resolve(const struct dmatcher *m, const char *s, size_t n);
/* The entry s[0..n) names exactly (alias, name or id, "SDK" after it or not); NULL when none. */
const struct sig_entry *dmatcher_exact(const struct dmatcher *m, const char *s, size_t n);

/* ---- the draft (policy_draft.c, policy_draft_table.c, policy_draft_read.c) ---- */

#define QUOTE_MAX 360   /* bytes of one quoted sentence */
#define CLAUSE_CAP 1024 /* bytes of a clause made of several quotes */
#define WHERE_CAP 512
#define MAX_DOMAINS 16
#define MAX_REGIONS 16
#define MAX_KV 12
#define MAX_REVIEW 200 /* review entries; past it they are counted */

struct recip {
	const struct sig_entry *e;
	uint32_t purposes, data; /* bits: the vocabularies of policy.c, in order */
	char clause[CLAUSE_CAP];
	char where[WHERE_CAP];   /* the first quote, for review entries */
	char named[128];         /* the name the text first used */
};

struct record { /* one row or block of an SDK table */
	const char *name;
	size_t name_n;
	size_t line;
	uint32_t purposes, data;
	bool purpose_given, data_given, other_given;
	char host[254];
};

struct draft {
	const char *name;
	const struct sig_db *db;
	struct dmatcher *m;
	struct dtext t;
	bool *in_table;
	struct recip *r;
	size_t n_r, cap_r;
	const struct sig_entry *negated[64];
	char negated_where[64][WHERE_CAP];
	size_t n_negated;
	struct json_t *review;
	size_t review_dropped;
	bool oom;
	char controller[160], date[40];
	char fp[MAX_DOMAINS][254];
	size_t n_fp;
	char fp_clause[CLAUSE_CAP];
	uint32_t fp_data;
	char regions[MAX_REGIONS][4];
	size_t n_regions;
	char reg_clause[CLAUSE_CAP], vague_where[WHERE_CAP], vague_term[48];
	int xb; /* enum cross_border_rule, -1 when the text states none */
	char xb_clause[CLAUSE_CAP], xb_open[WHERE_CAP];
	uint32_t consent;
	char consent_clause[CLAUSE_CAP];
	bool enc;
	char enc_clause[CLAUSE_CAP], enc_open[WHERE_CAP];
};

/* ---- the words (policy_draft_words.c) ---- */

struct dword {
	const char *needle;
	const char *what; /* a purpose, a data category, a country code, ... */
};

enum krole { K_NAME, K_PURPOSE, K_DATA, K_URL, K_COMPANY, K_OTHER };

struct dtable_key {
	const char *key;
	enum krole role;
};

extern const struct dword dw_purposes[], dw_data[], dw_regions[];
extern const struct dtable_key dw_table_keys[];
extern const char *const dw_not_used[], *const dw_not_collected[], *const dw_storage[],
	*const dw_vague_places[], *const dw_abroad[], *const dw_consent[], *const dw_refusal[],
	*const dw_encryption[], *const dw_transit[], *const dw_collect[], *const dw_sdk_context[];

/* ---- reading pieces (policy_draft_read.c) ---- */

/* The bit of a purpose (of a data category; "location" is both locations) in a draft's sets. */
uint32_t draft_purpose_bit(const char *p);
uint32_t draft_category_bit(const char *c);
/* s[0..n) cut at a character boundary to at most cap - 1 bytes ("..." when cut). */
void draft_span_copy(char *out, size_t cap, const char *s, size_t n);
/* "§SEC: 'sentence'" (or "'sentence'" before any numbering). */
void draft_quote(char *out, size_t cap, const struct dline *l, const char *s, size_t n);
/* The same for a statement found at offset at: a long sentence is quoted by its clause. */
void draft_quote_at(char *out, size_t cap, const struct dline *l, const char *s, size_t n,
		    size_t at);
/* Appends a quote to a clause ("; " between), once, while it fits. */
void draft_clause_add(char *clause, size_t cap, const char *q);
/* Adds {what, where} to the review list, once. */
void draft_review(struct draft *d, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The bits of the words of w found in s[0..n); data words a clause refuses do not count. */
uint32_t draft_scan(const struct dword *w, const char *s, size_t n, bool data);
/* The clause of s[0..n) around at (between '；', ';', '。' and, with commas, '，'). */
void draft_clause_in(const char *s, size_t n, size_t at, bool commas, size_t *a, size_t *b);
void draft_clause_of(const char *s, size_t n, size_t at, size_t *a, size_t *b);
/* "HTTPS", "TLS", "SSL", "encrypt", "加密" as words, not a URL's scheme; NULL when none. */
const char *draft_encryption_at(const char *s, size_t n);
/* The host of the first address in s[0..n) (e-mail, URL, "www."); "" when none. */
void draft_first_host(const char *s, size_t n, char *host, size_t cap);
/* The first-party domains of a sentence's addresses that the catalogue does not know. */
void draft_read_addresses(struct draft *d, const char *s, size_t n, const char *q);
/* The app's name, controller and date into app (a JSON object). */
void draft_read_app(struct draft *d, struct json_t *app);

/* ---- SDKs (policy_draft.c, policy_draft_table.c) ---- */

/* True when s[0..n) reads as an SDK's name: "... SDK", not "third-party SDK". */
bool draft_looks_like_sdk(const char *s, size_t n);
/* *b moved before a closing parenthesis at its end ("Sentry (by ...)", "FCM（…）"), trimmed. */
void draft_drop_paren(const char *s, size_t a, size_t *b);
/* An SDK name from a table, a list or a line start: a recipient, or a review entry. */
void draft_candidate(struct draft *d, const char *s, size_t n, uint32_t purposes, uint32_t data,
		     const char *host, bool name_column, bool negated, const char *q);
/* Key-value records and table rows; marks the lines they take in d->in_table. */
void draft_read_tables(struct draft *d);

#endif
