/*
 * report_ch_stream.h - a live capture's findings into ClickHouse while it
 * runs, and the spool that keeps them while the server is away.
 *
 * The report's own key (the SHA-256 of its MANIFEST.sha256) exists only
 * once the capture has ended, so a finding sent while the capture runs is
 * a live row: a row of the findings table whose manifest_sha256 is the
 * stream's key, "live-" and 32 random hex digits chosen when it opens.
 * When the capture ends, report_ch_export() sends the report as for any
 * other run (findings, flows, the runs row, under the manifest's key) and
 * report_ch_spool_settle() then deletes the live rows: the final rows are
 * the report's, with what a live row could not know yet (the traffic after
 * the finding was raised, its evidence file), and no finding is counted
 * twice once the capture is exported.
 *
 * Findings are queued by report_ch_stream_add() (never waiting for the
 * network) and sent by a thread of their own, a batch per
 * REPORT_CH_LIVE_ROWS findings or per REPORT_CH_LIVE_MS, whichever comes
 * first. A batch the server does not take goes to the spool, a file
 * (normally OUTDIR.clickhouse-spool, beside the report directory: not in
 * it, where `verify` would find a file the manifest does not name): a
 * header line naming the key and the database, then one record per batch
 * (a line {"part":N,"rows":R,"bytes":B}, then B bytes of JSONEachRow
 * rows), each appended whole and fsync'd. While the spool holds batches,
 * new ones join it, so they are sent in their order; the thread tries
 * again after 0.5, 1, 2, 4, 8, 8, ... s, and once every record is taken
 * the spool is cut back to its header. The file itself stays until the
 * live rows are settled, since it is what names them: a capture that ends
 * while the server is away leaves it, and `flowaudit export` of the
 * report directory later sends the report and settles the spool.
 *
 * When the findings table is not a MergeTree (the cluster variant's
 * Distributed tables, through which ClickHouse cannot delete), nothing is
 * sent live: the report alone is exported at the end.
 */
#ifndef FLOWAUDIT_REPORT_CH_STREAM_H
#define FLOWAUDIT_REPORT_CH_STREAM_H

#include "flowaudit/report_clickhouse.h"

struct json_t; /* jansson's json_t */

#define REPORT_CH_SPOOL_SUFFIX ".clickhouse-spool"
#define REPORT_CH_LIVE_ROWS 200     /* findings per live batch */
#define REPORT_CH_LIVE_MS 1000      /* or a batch this often */
#define REPORT_CH_LIVE_QUEUE 100000 /* findings waiting at most; more are not sent live */
#define REPORT_CH_LIVE_KEY 38       /* bytes of a live key and its NUL */

struct report_ch_stream;

struct report_ch_live {
	const char *label, *app; /* the rows' label and app, as the report's export writes them */
	const char *spool;       /* the spool file, created here; refused when it exists */
	unsigned batch_rows;     /* 0: REPORT_CH_LIVE_ROWS */
	unsigned batch_ms;       /* 0: REPORT_CH_LIVE_MS */
};

struct report_ch_live_stats {
	char key[REPORT_CH_LIVE_KEY];
	unsigned long long queued;  /* findings handed to the stream */
	unsigned long long sent;    /* rows ClickHouse took while the capture ran */
	unsigned long long spooled; /* rows in the spool at the end, not sent */
	unsigned long long skipped; /* rows not sent live (queue full, spool not writable,
				       a findings table that is not a MergeTree) */
	/* when skipped: why; else the last failure, or '' */
	char why[sizeof(((struct fa_err *)0)->msg)];
};

/*
 * Opens the spool (FA_EINPUT when it exists: an earlier capture's live
 * rows are not settled; FA_ERUNTIME when it cannot be created) and starts
 * the thread. Needs no server: one that is away gets the spool. o is
 * borrowed until report_ch_stream_close().
 */
int report_ch_stream_open(const struct report_ch_opts *o, const struct report_ch_live *l,
			  struct report_ch_stream **out, struct fa_err *err);

/* The key live rows carry (the spool's header names it too). */
const char *report_ch_stream_key(const struct report_ch_stream *s);

/* Queues a finding (an object as report.json holds one; copied). */
void report_ch_stream_add(struct report_ch_stream *s, const struct json_t *finding);

/*
 * Stops the thread: findings still queued join the spool (the report's
 * export sends them all in a moment), and the spool is closed, left on
 * disk for report_ch_spool_settle(). Frees s; NULL does nothing.
 */
void report_ch_stream_close(struct report_ch_stream *s, struct report_ch_live_stats *st);

/* The spool beside report directory dir: dir without trailing slashes,
   then REPORT_CH_SPOOL_SUFFIX. FA_EINPUT when it does not fit. */
int report_ch_spool_path(const char *dir, char *buf, size_t size, struct fa_err *err);

/*
 * After the report is in ClickHouse: deletes the live rows the spool at
 * path names (in the database its header names), waits until they are
 * gone, and removes the spool. FA_OK with *removed 0 when there is no
 * spool; FA_EINPUT when the spool's header is not one; FA_ERUNTIME when
 * ClickHouse cannot be reached or refuses (the spool is kept).
 */
int report_ch_spool_settle(const struct report_ch_opts *o, const char *path,
			   unsigned long long *removed, struct fa_err *err);

#endif
