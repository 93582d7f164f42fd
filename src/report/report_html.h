/*
 * report_html.h - private to the report_html*.c files: the accessors and
 * the one HTML escape they all use, the plain words for the document's
 * codes, and the sections each file writes.
 *
 * Accessors read an absent, null or wrong-typed member as absent. rh_esc()
 * escapes for HTML text and double-quoted attribute values alike; every
 * string taken from the report document goes through it.
 */
#ifndef FLOWAUDIT_REPORT_HTML_H
#define FLOWAUDIT_REPORT_HTML_H

#include "flowaudit/common.h"
#include "flowaudit/report.h"

#include "report_text.h"

#include <jansson.h>
#include <stdio.h>

const json_t *rh_get(const json_t *o, const char *key);
const char *rh_str(const json_t *o, const char *key);
bool rh_int(const json_t *o, const char *key, long long *v);
long long rh_int0(const json_t *o, const char *key);
/* Parses an ISO 8601 member; false when absent or malformed. */
bool rh_time(const json_t *o, const char *key, fa_time *t);

void rh_esc(struct jsonw *out, const char *s);
/* rh_esc(s), or rh_esc(dflt) when s is NULL. */
void rh_esc_or(struct jsonw *out, const char *s, const char *dflt);
/* "900 B", "4.0 kB" */
void rh_bytes(struct jsonw *out, long long b);

/* Codes of the report document that the page shows in plain words
   (report_html_words.c). */
enum rh_words { RH_SEVERITY, RH_RULE, RH_KIND, RH_SOURCE, RH_LINK, RH_WORDS_COUNT };
/* The plain word for code, or code itself when the table lacks it. */
const char *rh_plain(enum rh_words t, const char *code);
/* The plain word with the code in a title attribute; an unknown code
   escaped as itself, or dflt when code is NULL. */
void rh_word(struct jsonw *out, enum rh_words t, const char *code, const char *dflt);
/* ISO 3166 alpha-2 to an English short name; NULL when not known. */
const char *rh_country_name(const char *cc);
/* "United States (US)"; an unknown code as itself, or dflt when NULL. */
void rh_country(struct jsonw *out, const char *cc, const char *dflt);
/* The sections "What this audit cannot see" and "Words used in this report". */
void rh_cannot_see(struct jsonw *out, const json_t *doc);
void rh_glossary(struct jsonw *out);

/*
 * What the page keeps of every finding, read once (report_html_findings.c):
 * the members the table and the timeline show, the finding's times, and
 * whether it is shown in full (the first RH_FULL_PER_RULE of each rule).
 * Strings are offsets in text; RH_NONE is an absent member.
 */
#define RH_NONE ((size_t)-1)
#define RH_FULL_PER_RULE 100
#define RH_TALLY_RULES 64

struct rh_brief {
	size_t id, severity, rule, host, country, title, recipient; /* recipient: its name */
	fa_time first, last;
	bool object, has_first, has_last, full;
};

struct rh_briefs {
	struct rh_brief *b;
	size_t n;
	char *text;
	size_t len, cap;
	/* findings per rule, and how many are past the cap */
	char rule[RH_TALLY_RULES][64];
	size_t per_rule[RH_TALLY_RULES];
	size_t rules, hidden;
};

/* Reads every finding of fs once; false without memory (bs is freed with
   rh_briefs_free() either way). */
bool rh_briefs_load(struct rh_briefs *bs, const struct report_findings *fs);
void rh_briefs_free(struct rh_briefs *bs);
/* The string at offset off of bs, or NULL for RH_NONE. */
const char *rh_bstr(const struct rh_briefs *bs, size_t off);

/* "Findings at a glance" (none when there is no finding) and the findings
   in full, fetched from fs (report_html_findings.c). */
void rh_findings_table(struct jsonw *out, const struct rh_briefs *bs);
void rh_findings(struct jsonw *out, const json_t *doc, const struct report_findings *fs,
		 const struct rh_briefs *bs);

/* "Where the traffic went": flows to public addresses by country and recipient kind. */
void rh_country_chart(struct jsonw *out, const json_t *doc);
/* "Timeline against consent": findings per recipient, consent events as lines. */
void rh_timeline(struct jsonw *out, const json_t *doc, const struct rh_briefs *bs);

#endif
