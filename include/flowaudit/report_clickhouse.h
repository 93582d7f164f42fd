/*
 * report_clickhouse.h - reports into ClickHouse, over its HTTP interface
 * (libcurl), as JSONEachRow inserts in batches.
 *
 * Three tables (docs/clickhouse.sql), created when missing: runs (one row
 * per report, keyed by the SHA-256 of its MANIFEST.sha256), findings and
 * flows (one row per element of report.json, with the run's key). A report
 * whose key is already in runs is not exported again; the runs row is
 * written last, so a run cut short is taken up again by the next export,
 * and every batch carries its number (column part), so a batch whose
 * answer was lost is counted, not sent twice.
 *
 * A request that fails for want of the server (no connection, a timeout,
 * HTTP 502/503/504) is tried again after 0.5, 1, 2, 4, ... s, up to
 * opts.retries times; then FA_ERUNTIME with what failed. An answer that is
 * an error of ClickHouse's own (a bad statement, no such user) fails at
 * once, with the server's message.
 *
 * Credentials never come from the URL: a URL holding a user or password is
 * refused; they come from report_ch_credentials_load() (a file) or the
 * caller (the environment), and are sent as HTTP basic authentication.
 * Nothing here writes a credential anywhere.
 */
#ifndef FLOWAUDIT_REPORT_CLICKHOUSE_H
#define FLOWAUDIT_REPORT_CLICKHOUSE_H

#include "flowaudit/common.h"

#include <stdio.h>

#define REPORT_CH_BATCH_ROWS 20000      /* rows per INSERT */
#define REPORT_CH_CRED_MAX 128          /* bytes of a user name or password */
#define REPORT_CH_RESPONSE_MAX (1 << 20) /* bytes of a server answer kept */

struct report_ch_opts {
	const char *url;       /* http://host:8123 (https too) */
	const char *database;  /* default "flowaudit" */
	const char *user, *password; /* NULL: ClickHouse's default user */
	const char *label;     /* runs.label, e.g. "build 42"; NULL: the directory's name */
	unsigned retries;      /* tries after the first, for a server that is away */
	double backoff;        /* seconds before the first retry (doubling), default 0.5 */
	long timeout;          /* seconds a request may take, default 60 */
};

struct report_ch_result {
	bool already;          /* the run was in ClickHouse: nothing was added */
	char manifest[65];     /* the run's key */
	unsigned long long findings, flows; /* rows added */
	unsigned retries;      /* requests tried again */
};

/* The statements that create the database and the tables, for database
   name db (docs/clickhouse.sql holds them for "flowaudit"). */
void report_ch_schema(FILE *out, const char *db);

/* Checks opts (URL, database name) before any work. FA_EINPUT naming what
   is wrong. */
int report_ch_check(const struct report_ch_opts *o, struct fa_err *err);

/*
 * Reads a credentials file: lines "user=NAME" and "password=SECRET" (either
 * may be absent; # comments). Refused (FA_EINPUT) when group or others may
 * read it, or a line is anything else. user and password hold
 * REPORT_CH_CRED_MAX + 1 bytes.
 */
int report_ch_credentials_load(const char *path, char *user, char *password,
			       struct fa_err *err);

/* runs.label when opts.label is NULL: dir's last name ("run-42" of
   "reports/run-42/"). */
void report_ch_default_label(const char *dir, char *buf, size_t size);

/*
 * Exports the report in dir (report.json and MANIFEST.sha256). FA_EINPUT
 * when dir is not a report (flowaudit-report/1); FA_ERUNTIME when
 * ClickHouse cannot be reached or refuses.
 */
int report_ch_export(const struct report_ch_opts *o, const char *dir,
		     struct report_ch_result *res, struct fa_err *err);

#endif
