/*
 * report_diff.h - what changed between two reports (`flowaudit diff`).
 *
 * Reads two report.json documents (flowaudit-report/1, of any flowaudit
 * version: members a version does not write are taken as absent) and
 * matches their findings on what stays the same between two runs of one
 * scenario: the rule, the destination (its name; the recipient's id, or
 * the AS and country, when the destination has no name), the identifier
 * types and the device role (the device profile's name, which report.json
 * gives each finding of the device the profile describes; a finding
 * without one, or a report older than the member, has the unknown role,
 * which matches only itself). Addresses, ports, finding numbers and times
 * are left out: they change from run to run. Findings that share a key
 * are counted.
 *
 * The result lists each key as new (only in the new report), gone (only in
 * the old one) or unchanged (in both, with both counts), the recipients,
 * destinations and countries that appear or disappear, and the statements
 * whose verdict changed. report_diff_new() hands the caller a diff it owns
 * (report_diff_free(); NULL is a no-op); the writers borrow it.
 */
#ifndef FLOWAUDIT_REPORT_DIFF_H
#define FLOWAUDIT_REPORT_DIFF_H

#include "flowaudit/audit.h"
#include "flowaudit/common.h"

#include <stdio.h>

#define REPORT_DIFF_MAX_BYTES (4ULL << 30) /* a report.json larger than this is refused */

struct report_diff;

/*
 * Loads both reports (a report.json, or a directory holding one) and
 * compares them; fail_on (a severity, or REPORT_FAIL_NEVER) decides
 * report_diff_fails(). FA_EINPUT, naming the file, when a report cannot be
 * read, is not JSON, is not flowaudit-report/1 or has a member of the wrong
 * type; FA_ERUNTIME when memory runs out.
 */
int report_diff_new(const char *old_path, const char *new_path, enum audit_severity fail_on,
		    struct report_diff **out, struct fa_err *err);
void report_diff_free(struct report_diff *d);

/* true when a new key holds a finding at or above fail_on. */
bool report_diff_fails(const struct report_diff *d);

/* For a terminal: counts, then each list; unchanged keys with verbose only. */
int report_diff_write_text(const struct report_diff *d, FILE *out, bool verbose);
/* The diff as one JSON document (schema "flowaudit-diff/1", docs/fleets.md). */
int report_diff_write_json(const struct report_diff *d, FILE *out);

#endif
