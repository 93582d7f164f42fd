/*
 * report_ch_int.h - what report_clickhouse.c lends report_ch_stream.c: a
 * connection to ClickHouse (libcurl stays inside report_clickhouse.c),
 * requests with its retry rules, the tables, batches that are counted
 * before they are sent again, and the row a finding makes. Not for other
 * files.
 */
#ifndef FLOWAUDIT_REPORT_CH_INT_H
#define FLOWAUDIT_REPORT_CH_INT_H

#include "flowaudit/jsonw.h"
#include "flowaudit/report_clickhouse.h"

#include <jansson.h>

struct ch_conn;

/* What every row of a run carries. */
struct ch_run {
	const char *key, *label, *app;
	char generated_at[32]; /* 'YYYY-MM-DD hh:mm:ss', UTC */
};

/* A connection for requests under o (which it borrows: o outlives it). */
struct ch_conn *ch_conn_new(const struct report_ch_opts *o, struct fa_err *err);
void ch_conn_free(struct ch_conn *c); /* NULL: nothing */
/* The last answer's body ('' when none), and the server's URL. */
const char *ch_response(const struct ch_conn *c);
const char *ch_conn_url(const struct ch_conn *c);

/* Letters, digits and _, at most 64, not starting with a digit. */
bool ch_is_identifier(const char *s);

/* One statement, retried while the server is away (o.retries). */
int ch_request(struct ch_conn *c, const char *sql, struct fa_err *err);
/* The database and the tables, when missing. */
int ch_create_tables(struct ch_conn *c, const char *db, struct fa_err *err);
/* SELECT count() of the rows of table under key (and part, when not 0). */
int ch_count_rows(struct ch_conn *c, const char *db, const char *table, const char *key,
		  unsigned part, unsigned long long *n, struct fa_err *err);
/*
 * Sends body, an INSERT of rows rows all numbered part, as
 * report_ch_export sends its batches: one whose answer was lost is counted
 * and not sent twice; skip_present counts first and sends nothing when the
 * batch is already there.
 */
int ch_send_batch(struct ch_conn *c, const char *db, const char *table, const char *key,
		  const char *body, size_t len, size_t rows, unsigned part, bool skip_present,
		  struct fa_err *err);
/* A finding of report.json (or of the stream) as a row of findings. */
void ch_finding_row(struct jsonw *w, const struct ch_run *ri, unsigned part, const json_t *f);

#endif
