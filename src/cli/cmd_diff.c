/*
 * cmd_diff.c - `flowaudit diff OLD NEW`: what changed between two reports.
 *
 * Takes two report directories (or report.json files), hands them to
 * report_diff (src/report/report_diff.c) and prints its result as text or,
 * with --json, as one JSON document. Exit 1 when a finding that is new in
 * NEW is at or above --fail-on (default low, as for audit), 0 otherwise,
 * 2 for bad usage or a report that does not read as flowaudit-report/1,
 * 3 when memory or the output fails.
 */
#include "cmd.h"

#include "flowaudit/report_diff.h"

#include <string.h>

static const char usage[] =
	"usage: flowaudit diff [--json] [-v] [--fail-on LEVEL] OLD_REPORT NEW_REPORT\n"
	"  compares two reports (report directories or report.json files)\n"
	"  --json            the diff as one JSON document (flowaudit-diff/1)\n"
	"  -v, --verbose     list the unchanged findings too\n"
	"  --fail-on LEVEL   info|low|medium|high|never: exit 1 when a new finding is at\n"
	"                    or above LEVEL (default low)\n";

int cmd_diff(int argc, char **argv)
{
	const char *paths[2] = {NULL, NULL};
	size_t n_paths = 0;
	bool json = false, verbose = false;
	enum audit_severity fail_on = SEV_LOW;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(a, "--fail-on") == 0) {
			if (i + 1 == argc) {
				cmd_error("diff: option '--fail-on' needs a value");
				return FA_EXIT_INPUT;
			}
			if (!report_fail_on_parse(argv[++i], &fail_on)) {
				cmd_error("diff: --fail-on: '%s' is not one of info, low, medium, high, "
					  "never", argv[i]);
				return FA_EXIT_INPUT;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("diff: unknown option %s", a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (n_paths < 2) {
			paths[n_paths++] = a;
		} else {
			cmd_error("diff: two reports only (got a third: %s)", a);
			return FA_EXIT_INPUT;
		}
	}
	if (n_paths != 2) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	struct fa_err err = {{0}};
	struct report_diff *d;
	int rc = report_diff_new(paths[0], paths[1], fail_on, &d, &err);
	if (rc != FA_OK) {
		cmd_error("diff: %s", err.msg);
		return cmd_exit_for(rc);
	}
	rc = json ? report_diff_write_json(d, stdout) : report_diff_write_text(d, stdout, verbose);
	if (rc == FA_OK && fflush(stdout) != 0)
		rc = FA_ERUNTIME;
	bool fails = report_diff_fails(d);
	report_diff_free(d);
	if (rc != FA_OK) {
		cmd_error("diff: cannot write the result to standard output");
		return FA_EXIT_RUNTIME;
	}
	return fails ? FA_EXIT_FINDINGS : FA_EXIT_OK;
}
