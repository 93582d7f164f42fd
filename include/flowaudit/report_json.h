/*
 * report_json.h - flows and audit results as JSON documents (jansson).
 *
 * The report document (docs/report-format.md, docs/report-schema.json) is
 * the one model every output is rendered from. Functions here return new
 * references (the caller owns them and json_decref()s them).
 */
#ifndef FLOWAUDIT_REPORT_JSON_H
#define FLOWAUDIT_REPORT_JSON_H

#include "flowaudit/audit.h"
#include "flowaudit/engine.h"
#include "flowaudit/evidence.h"
#include "flowaudit/jsonw.h"
#include "flowaudit/source.h"

#include <jansson.h>

/* One flow as `flowaudit flows --json` and report.json flows[] give it:
   its members, into an object open on w, or as a new object. */
void report_flow_members(struct jsonw *w, const struct flow_record *r, const char *const *files,
			 size_t n_files);
json_t *report_flow_json(const struct flow_record *r, const char *const *files, size_t n_files);
/* A flow's round-trip times: rtt_ms, server_rtt_ms (null when the capture
   does not show them) and rtt_frames (frames of the flow's own file). */
void report_rtt_members(struct jsonw *w, const struct rtt_result *t);

/*
 * Who receives a flow, as the audit sees it: "local" (not a public
 * address), "first_party", the signature's kind ("sdk", "infrastructure"),
 * or "unknown". policy may be NULL (no first party then).
 */
const char *report_recipient_kind(const struct policy *p, const struct flow_record *r);

/*
 * Streams every kept flow, in id order, as a JSON array, one compact object
 * a line (memory does not grow with the number of flows). With a policy each
 * object also carries recipient_kind. indent: the column the array starts
 * at, for pretty printing inside a document. Reads the records through a
 * reader of its own (engine_records_open()): after engine_finish() it may
 * run beside other readers of them. FA_OK or FA_ERUNTIME.
 */
int report_flows_write(FILE *out, struct engine *e, const struct policy *p,
		       const char *const *files, size_t n_files, int indent);


/* "2026-11-22T10:00:03Z" as a JSON string (null for 0). */
json_t *report_time_json(fa_time t);

/* A capture file's first and last usable time stamps (0: none). */
struct report_file_times {
	fa_time first, last;
};

/*
 * The verdict of a report. FAIL: a finding at or above --fail-on. Else
 * INCONCLUSIVE when the audit could not look at all it was asked to (each
 * such reason is listed, under FAIL too), else PASS.
 */
enum report_verdict { REPORT_PASS = 0, REPORT_FAIL, REPORT_INCONCLUSIVE };
const char *report_verdict_name(enum report_verdict v); /* "pass", "fail", "inconclusive" */

#define REPORT_REASONS_MAX 8
#define REPORT_REASON_TEXT 4608 /* a path (PATH_MAX) and the words around it */

struct report_reason {
	const char *code;              /* "no-frames", "no-device-traffic", ... (docs/report-format.md) */
	char text[REPORT_REASON_TEXT]; /* for the reader, naming the file or the addresses */
};

struct report_reasons {
	struct report_reason r[REPORT_REASONS_MAX];
	size_t n;
};

/* Adds a reason; past REPORT_REASONS_MAX the last one is kept. */
void report_reason_add(struct report_reasons *rs, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The --fail-on level that never fails: above every severity. */
#define REPORT_FAIL_NEVER SEV_COUNT
/* "never" for REPORT_FAIL_NEVER, else the severity's name. */
const char *report_fail_on_name(enum audit_severity fail_on);
/* Parses info, low, medium, high or never. */
bool report_fail_on_parse(const char *s, enum audit_severity *out);

/* The verdict from the audit's findings and the reasons (NULL: none). */
enum report_verdict report_verdict_of(const struct audit *a, enum audit_severity fail_on,
				      const struct report_reasons *rs);

struct report_input_file {
	const char *path;
	char sha256[65];
};

struct report_ctx {
	const char *command;            /* "audit" or "capture" */
	fa_time generated;
	enum audit_severity fail_on;
	const struct source *src;
	const char *const *capture_sha256; /* one per capture file */
	const struct policy *policy;
	const char *policy_sha256;
	const struct consent_timeline *consent;
	const char *events_path, *events_sha256;
	const struct device_profile *profile;
	const char *profile_sha256;
	const struct sig_db *sigs;
	const char *sig_dir, *sig_sha256;
	const struct geo *geo;
	const char *geo_country_sha256, *geo_asn_sha256;
	const char *const *keylog_paths;   /* --keylog files, in order */
	const char *const *keylog_sha256;  /* one per key log (NULL entries: none) */
	size_t n_keylogs;
	bool tls_keys;                  /* session keys were given (files or the captures' DSBs) */
	struct engine *eng;
	const struct audit *audit;
	const struct evidence_set *evidence; /* one per finding, same order; may be NULL */
	const struct source_live_stats *live; /* NULL for a replay */
	const char *const *notes;       /* extra lines for the reader */
	size_t n_notes;
	const struct report_reasons *reasons; /* what the audit could not look at; may be NULL */
	const struct report_file_times *file_times; /* per capture, usable stamps only; NULL: the files' own */
	size_t frames_limit;            /* frame numbers per file, and flow ids, per finding; 0: all */
	/* report.json's "flows" made beforehand (report_flows_write() with
	   indent 2, the files of src and policy): when set, report_write()
	   has it put the text in place; FA_OK or FA_ERUNTIME */
	int (*flows_written)(FILE *out, void *user);
	void *flows_user;
};

/*
 * The report document (flowaudit-report/1), whose "flows" holds only the
 * sample report.html needs (see REPORT_DEVICE_FLOWS), and whose "findings"
 * is null: its place in the order. A writer makes the findings one at a
 * time with report_finding_json(), so that a report of many findings is
 * never held whole; report.json and findings.ndjson get every frame number,
 * the other outputs the first REPORT_DOC_FRAMES (frames_limit).
 */
json_t *report_build(const struct report_ctx *c);

/*
 * Writes report.json: doc as report_build() made it, with "flows" holding
 * every kept flow, streamed from the engine, and "findings" each with all
 * its frame numbers. FA_OK or FA_ERUNTIME.
 */
int report_write(FILE *out, const json_t *doc, const struct report_ctx *c);

/* Finding i as report.json findings[] gives it (with c->frames_limit):
   its members, into an object open on w, or as a new object. */
void report_finding_members(struct jsonw *w, const struct report_ctx *c, size_t i);
json_t *report_finding_json(const struct report_ctx *c, size_t i);
/* Only the members of finding i a list of findings shows, as
   report_finding_members() writes them: its id, rule, severity, title,
   device and host, recipient, country and AS, first and last time seen
   (report_findings.members_brief). */
void report_finding_brief_members(struct jsonw *w, const struct report_ctx *c, size_t i);

/* true when the audit has a finding at or above fail_on (never for
   REPORT_FAIL_NEVER). */
bool report_fails(const struct audit *a, enum audit_severity fail_on);

#endif
