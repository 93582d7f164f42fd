/*
 * report.h - the report document rendered as HTML, NDJSON and JUnit XML.
 *
 * Each writer receives the finished report document (flowaudit-report/1,
 * docs/report-format.md) built by report_json.c, borrows it (no reference
 * is taken or dropped) and writes one output to a stream the caller owns
 * and closes. Missing or null members are tolerated: a section that is
 * absent is rendered as absent, never as a crash. Every string of the
 * document is treated as hostile (host names and user agents come from the
 * captured traffic) and is escaped for the output's syntax.
 *
 * All return FA_OK, or FA_ERUNTIME with err filled when the stream fails
 * (disk full) or memory runs out. Formats are described in docs/outputs.md.
 */
#ifndef FLOWAUDIT_REPORT_H
#define FLOWAUDIT_REPORT_H

#include "flowaudit/common.h"

#include <jansson.h>
#include <stdio.h>

/* report.html: one self-contained, printable HTML5 file. */
int report_html_write(const json_t *doc, FILE *out, struct fa_err *err);

/* findings.ndjson: one finding per line (schema flowaudit-finding/1). */
int report_ndjson_write(const json_t *doc, FILE *out, struct fa_err *err);
/*
 * The same, with the n findings made one at a time by finding(i, user): a
 * new object each, which the writer consumes (NULL skips that one).
 */
int report_ndjson_write_each(const json_t *doc, size_t n, json_t *(*finding)(size_t i, void *user),
			     void *user, FILE *out, struct fa_err *err);

/* junit.xml: statements and rules as JUnit test suites, for CI. */
int report_junit_write(const json_t *doc, FILE *out, struct fa_err *err);

/* Flows of one device report.html lists, at most; the report document
   carries that many per device with findings (report_json.c). */
#define REPORT_DEVICE_FLOWS 100

#endif
