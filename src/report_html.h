/*
 * report_html.h - private to report_html.c and report_html_charts.c: the
 * accessors and the one HTML escape both use, and the two chart sections.
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

/* "Where the traffic went": flows to public addresses by country and recipient kind. */
void rh_country_chart(FILE *out, const json_t *doc);
/* "Timeline against consent": findings per recipient, consent events as lines. */
void rh_timeline(FILE *out, const json_t *doc, const struct report_findings *fs);

#endif
