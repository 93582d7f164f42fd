/*
 * cmd_export.c - `flowaudit export --clickhouse URL REPORT_DIR...`, and
 * the export that `audit --export URL` and `capture --export URL` make of
 * their own report once it is written.
 *
 * Takes the server, the database and the credentials (--credentials FILE,
 * else CLICKHOUSE_USER and CLICKHOUSE_PASSWORD from the environment; never
 * from the command line), hands each report directory to report_ch_export
 * (src/report/report_clickhouse.c) and prints a line per report. Exit 0
 * when every report is in ClickHouse (exported now or before), 2 for bad
 * usage or a directory that is not a report, 3 when ClickHouse cannot be
 * reached after the retries or refuses.
 *
 * A report directory with a spool beside it (DIR.clickhouse-spool, left by
 * `capture --export`) has live rows in ClickHouse under the spool's key:
 * once the report is there, they are deleted and the spool removed
 * (report_ch_stream.h). The capture's own live half is here too
 * (cmd_export.h).
 */
#include "cmd.h"
#include "cmd_export.h"

#include "flowaudit/report_clickhouse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: flowaudit export --clickhouse URL [options] REPORT_DIR...\n"
	"       flowaudit export --print-schema [--database NAME]\n"
	"  exports report directories into ClickHouse (tables runs, findings, flows;\n"
	"  created when missing); a report already there is not exported again; the\n"
	"  live rows named by a spool beside a directory (DIR.clickhouse-spool, from\n"
	"  capture --export) are deleted once its report is in, and the spool removed\n"
	"  --clickhouse URL      ClickHouse's HTTP interface, e.g. http://127.0.0.1:8123\n"
	"  --database NAME       database (default flowaudit)\n"
	"  --label TEXT          the runs' label, e.g. 'build 42' (default: the directory's\n"
	"                        name)\n"
	"  --credentials FILE    user=NAME and password=SECRET lines (mode 0600); default:\n"
	"                        CLICKHOUSE_USER and CLICKHOUSE_PASSWORD from the environment\n"
	"  --retries N           tries again after 0.5, 1, 2, ... s while the server is away\n"
	"                        (default 5)\n"
	"  --timeout SECONDS     a request may take this long (default 60)\n"
	"  --print-schema        print the CREATE statements and exit\n";

/* Credentials from the file, else the environment, into o (user and
   password are the caller's buffers). */
static int credentials(const char *file, struct report_ch_opts *o,
		       char user[REPORT_CH_CRED_MAX + 1], char password[REPORT_CH_CRED_MAX + 1],
		       struct fa_err *err)
{
	if (file != NULL) {
		int rc = report_ch_credentials_load(file, user, password, err);
		if (rc != FA_OK)
			return rc;
	} else {
		const char *u = getenv("CLICKHOUSE_USER"), *p = getenv("CLICKHOUSE_PASSWORD");
		if ((u && strlen(u) > REPORT_CH_CRED_MAX) || (p && strlen(p) > REPORT_CH_CRED_MAX)) {
			fa_err_set(err, "CLICKHOUSE_USER or CLICKHOUSE_PASSWORD is longer than %d "
				   "bytes", REPORT_CH_CRED_MAX);
			return FA_EINPUT;
		}
		snprintf(user, REPORT_CH_CRED_MAX + 1, "%s", u ? u : "");
		snprintf(password, REPORT_CH_CRED_MAX + 1, "%s", p ? p : "");
	}
	o->user = user[0] ? user : NULL;
	o->password = password;
	return FA_OK;
}

/* Exports one directory, then settles the live rows of its spool, and
   says so; the exit status. */
static int export_one(const struct report_ch_opts *o, const char *dir, bool quiet)
{
	struct fa_err err = {{0}};
	struct report_ch_result res;
	double t0 = cmd_mono_s();
	char spool[4096];
	unsigned long long removed = 0;
	int rc = report_ch_spool_path(dir, spool, sizeof(spool), &err);
	if (rc == FA_OK)
		rc = report_ch_export(o, dir, &res, &err);
	double took = cmd_mono_s() - t0;
	if (rc == FA_OK && (rc = report_ch_spool_settle(o, spool, &removed, &err)) != FA_OK)
		cmd_error("export %s: the report is in ClickHouse, but its live rows are not "
			  "settled: %s", dir, err.msg);
	else if (rc != FA_OK)
		cmd_error("export %s: %s", dir, err.msg);
	if (rc != FA_OK)
		return cmd_exit_for(rc);
	if (quiet)
		return FA_EXIT_OK;
	if (res.already)
		printf("%s: run %s is already in ClickHouse: nothing added\n", dir, res.manifest);
	else
		printf("%s: run %s exported: %llu findings, %llu flows in %.2f s%s\n", dir,
		       res.manifest, res.findings, res.flows, took,
		       res.retries ? " (after the server came back)" : "");
	if (removed > 0)
		printf("%s: %llu live rows of the capture replaced by the report's; spool %s "
		       "removed\n", dir, removed, spool);
	return FA_EXIT_OK;
}

int cmd_export_check(const char *url, struct fa_err *err)
{
	struct report_ch_opts o = {.url = url};
	return report_ch_check(&o, err);
}

int cmd_export_dir(const char *url, const char *dir, bool quiet)
{
	char user[REPORT_CH_CRED_MAX + 1], password[REPORT_CH_CRED_MAX + 1];
	struct report_ch_opts o = {.url = url, .retries = 5};
	struct fa_err err = {{0}};
	int rc = credentials(NULL, &o, user, password, &err);
	if (rc != FA_OK) {
		cmd_error("--export: %s", err.msg);
		return cmd_exit_for(rc);
	}
	rc = export_one(&o, dir, quiet);
	memset(password, 0, sizeof(password));
	char spool[4096];
	bool spooled = report_ch_spool_path(dir, spool, sizeof(spool), &err) == FA_OK &&
		       access(spool, F_OK) == 0;
	if (rc != FA_EXIT_OK)
		cmd_error("the report in %s is written; export it again with flowaudit export "
			  "--clickhouse %s %s%s%s%s", dir, url, dir,
			  spooled ? " (which also settles the live rows that " : "",
			  spooled ? spool : "", spooled ? " names: keep it until then)" : "");
	return rc;
}

int cmd_export_live_open(struct cmd_export_live *l, const char *url, const char *dir,
			 const char *app, bool quiet, struct fa_err *err)
{
	memset(l, 0, sizeof(*l));
	l->o = (struct report_ch_opts){.url = url, .retries = 5};
	struct fa_err why = {{0}};
	int rc = credentials(NULL, &l->o, l->user, l->password, &why);
	if (rc == FA_OK)
		rc = report_ch_spool_path(dir, l->spool, sizeof(l->spool), &why);
	report_ch_default_label(dir, l->label, sizeof(l->label));
	struct report_ch_live live = {.label = l->label, .app = app, .spool = l->spool};
	if (rc == FA_OK)
		rc = report_ch_stream_open(&l->o, &live, &l->stream, &why);
	if (rc != FA_OK) {
		fa_err_set(err, "--export: %s", why.msg);
		memset(l->password, 0, sizeof(l->password));
		return rc;
	}
	if (!quiet)
		fprintf(stderr, "flowaudit: findings go to ClickHouse at %s as they are raised "
			"(live key %s; spool %s)\n", url, report_ch_stream_key(l->stream),
			l->spool);
	return FA_OK;
}

void cmd_export_live_add(struct cmd_export_live *l, const struct json_t *finding)
{
	if (l->stream != NULL)
		report_ch_stream_add(l->stream, finding);
}

void cmd_export_live_close(struct cmd_export_live *l, const char *report_dir, bool quiet)
{
	if (l->stream == NULL)
		return;
	struct report_ch_live_stats st;
	report_ch_stream_close(l->stream, &st);
	l->stream = NULL;
	memset(l->password, 0, sizeof(l->password));
	if (st.queued == 0) {
		unlink(l->spool); /* nothing was sent: no live rows to settle */
		return;
	}
	char moved[sizeof(l->spool)];
	struct fa_err err = {{0}};
	if (report_dir != NULL &&
	    report_ch_spool_path(report_dir, moved, sizeof(moved), &err) == FA_OK &&
	    strcmp(moved, l->spool) != 0) {
		if (rename(l->spool, moved) == 0)
			snprintf(l->spool, sizeof(l->spool), "%s", moved);
		else
			cmd_error("--export: cannot move the spool %s beside the report (%s): %s",
				  l->spool, moved, strerror(errno));
	}
	if (st.skipped > 0)
		cmd_error("--export: %llu of %llu findings were not sent while capturing (%s); the "
			  "report's export sends them all", st.skipped, st.queued, st.why);
	else if (!quiet)
		fprintf(stderr, "flowaudit: %llu of %llu findings were sent to ClickHouse while "
			"capturing, %llu spooled%s%s%s\n", st.sent, st.queued, st.spooled,
			st.why[0] ? " (last failure: " : "", st.why, st.why[0] ? ")" : "");
}

int cmd_export(int argc, char **argv)
{
	struct report_ch_opts o = {.retries = 5};
	const char *cred_file = NULL;
	bool schema = false;
	int first_dir = argc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool takes = strcmp(a, "--clickhouse") == 0 || strcmp(a, "--database") == 0 ||
			     strcmp(a, "--label") == 0 || strcmp(a, "--credentials") == 0 ||
			     strcmp(a, "--retries") == 0 || strcmp(a, "--timeout") == 0;
		if (takes && i + 1 == argc) {
			cmd_error("export: option '%s' needs a value", a);
			return FA_EXIT_INPUT;
		}
		unsigned long long n = 0;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "--clickhouse") == 0) {
			o.url = argv[++i];
		} else if (strcmp(a, "--database") == 0) {
			o.database = argv[++i];
		} else if (strcmp(a, "--label") == 0) {
			o.label = argv[++i];
		} else if (strcmp(a, "--credentials") == 0) {
			cred_file = argv[++i];
		} else if (strcmp(a, "--retries") == 0 || strcmp(a, "--timeout") == 0) {
			if (!cmd_parse_count(argv[i + 1], &n) || n > (a[2] == 'r' ? 20 : 3600)) {
				cmd_error("export: %s: '%s' is not a number from 0 to %d", a, argv[i + 1],
					  a[2] == 'r' ? 20 : 3600);
				return FA_EXIT_INPUT;
			}
			if (a[2] == 'r')
				o.retries = (unsigned)n;
			else
				o.timeout = (long)n;
			i++;
		} else if (strcmp(a, "--print-schema") == 0) {
			schema = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("export: unknown option %s", a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else {
			first_dir = i < first_dir ? i : first_dir;
			continue;
		}
		if (first_dir < i) {
			cmd_error("export: options go before the report directories (%s after %s)", a,
				  argv[first_dir]);
			return FA_EXIT_INPUT;
		}
	}
	struct fa_err err = {{0}};
	if (schema) {
		struct report_ch_opts so = {.url = "http://localhost", .database = o.database};
		if (report_ch_check(&so, &err) != FA_OK) {
			cmd_error("export: %s", err.msg);
			return FA_EXIT_INPUT;
		}
		report_ch_schema(stdout, o.database ? o.database : "flowaudit");
		return FA_EXIT_OK;
	}
	if (o.url == NULL || first_dir == argc) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	int rc = report_ch_check(&o, &err);
	char user[REPORT_CH_CRED_MAX + 1], password[REPORT_CH_CRED_MAX + 1];
	if (rc == FA_OK)
		rc = credentials(cred_file, &o, user, password, &err);
	if (rc != FA_OK) {
		cmd_error("export: %s", err.msg);
		return cmd_exit_for(rc);
	}
	int ex = FA_EXIT_OK;
	for (int i = first_dir; i < argc && ex == FA_EXIT_OK; i++)
		ex = export_one(&o, argv[i], false);
	memset(password, 0, sizeof(password));
	return ex;
}
