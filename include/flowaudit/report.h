/*
 * report.h - the report document rendered as HTML, NDJSON and JUnit XML.
 *
 * Each writer receives the finished report document (flowaudit-report/1,
 * docs/report-format.md) built by report_json.c, borrows it (no reference
 * is taken or dropped) and writes one output to a stream the caller owns
 * and closes. The findings come from the document's "findings" array or,
 * with the _each() form, one at a time from a struct report_findings. Missing or null members are tolerated: a section that is
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
#include "flowaudit/jsonw.h"

#include <jansson.h>
#include <stdio.h>

/*
 * The findings a writer renders, one at a time: n of them, get(i, user)
 * making the i-th as a new object the writer owns and drops (NULL skips
 * it). A report of many findings is never held whole in memory: the
 * audit serves them from its own state (report_json.h), a document loaded
 * from report.json from its "findings" array (report_findings_of_doc).
 */
struct report_findings {
	size_t n;
	json_t *(*get)(size_t i, void *user);
	/* optional: finding i's members written into the object open on w,
	   the same as get() gives, without making a value (findings.ndjson) */
	void (*members)(struct jsonw *w, size_t i, void *user);
	/* optional: only the members of finding i a list of findings shows
	   (report_finding_brief_members()), written as members() writes
	   them all, for a writer that needs no more (report.html's table) */
	void (*members_brief)(struct jsonw *w, size_t i, void *user);
	void *user;
};

/* The findings of doc's own "findings" array, each served as a copy. */
struct report_findings report_findings_of_doc(const json_t *doc);

/* report.html: one self-contained, printable HTML5 file. */
int report_html_write(const json_t *doc, FILE *out, struct fa_err *err);
int report_html_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			   struct fa_err *err);

/* findings.ndjson: one finding per line (schema flowaudit-finding/1). */
int report_ndjson_write(const json_t *doc, FILE *out, struct fa_err *err);
int report_ndjson_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			     struct fa_err *err);

/* junit.xml: statements and rules as JUnit test suites, for CI. */
int report_junit_write(const json_t *doc, FILE *out, struct fa_err *err);
int report_junit_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			    struct fa_err *err);

/* Flows of one device report.html lists, at most; the report document
   carries that many per device with findings (report_json.c), fewer when
   the devices would take more than REPORT_FLOW_SAMPLE flows in all, but
   never fewer than REPORT_DEVICE_FLOWS_MIN each. */
#define REPORT_DEVICE_FLOWS 100
#define REPORT_DEVICE_FLOWS_MIN 3
#define REPORT_FLOW_SAMPLE 5000

/* Frame numbers per file, and flow ids, a finding carries in the report
   document (numbers_total and flows_total then say how many there are):
   as many as report.html shows. */
#define REPORT_DOC_FRAMES 30

#endif
