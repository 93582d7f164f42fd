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

#include <jansson.h>
#include <stdio.h>

const json_t *rh_get(const json_t *o, const char *key);
const char *rh_str(const json_t *o, const char *key);
bool rh_int(const json_t *o, const char *key, long long *v);
long long rh_int0(const json_t *o, const char *key);
/* Parses an ISO 8601 member; false when absent or malformed. */
bool rh_time(const json_t *o, const char *key, fa_time *t);

void rh_esc(FILE *out, const char *s);
/* rh_esc(s), or rh_esc(dflt) when s is NULL. */
void rh_esc_or(FILE *out, const char *s, const char *dflt);
/* "900 B", "4.0 kB" */
void rh_bytes(FILE *out, long long b);

/* Codes of the report document that the page shows in plain words
   (report_html_words.c). */
enum rh_words { RH_SEVERITY, RH_RULE, RH_KIND, RH_SOURCE, RH_LINK, RH_WORDS_COUNT };
/* The plain word for code, or code itself when the table lacks it. */
const char *rh_plain(enum rh_words t, const char *code);
/* The plain word with the code in a title attribute; an unknown code
   escaped as itself, or dflt when code is NULL. */
void rh_word(FILE *out, enum rh_words t, const char *code, const char *dflt);
/* ISO 3166 alpha-2 to an English short name; NULL when not known. */
const char *rh_country_name(const char *cc);
/* "United States (US)"; an unknown code as itself, or dflt when NULL. */
void rh_country(FILE *out, const char *cc, const char *dflt);
/* The sections "What this audit cannot see" and "Words used in this report". */
void rh_cannot_see(FILE *out, const json_t *doc);
void rh_glossary(FILE *out);

/* "Findings at a glance" (none when there is no finding) and the findings
   in full (report_html_findings.c). */
void rh_findings_table(FILE *out, const struct report_findings *fs);
void rh_findings(FILE *out, const json_t *doc, const struct report_findings *fs);

/* "Where the traffic went": flows to public addresses by country and recipient kind. */
void rh_country_chart(FILE *out, const json_t *doc);
/* "Timeline against consent": findings per recipient, consent events as lines. */
void rh_timeline(FILE *out, const json_t *doc, const struct report_findings *fs);

#endif
