/*
 * report_ch_stream.c - a live capture's findings into ClickHouse as they
 * are raised, through a thread of their own, with a spool on disk for
 * what the server does not take; and the settling of that spool once the
 * capture's report is exported.
 *
 * Receives findings (report.json's objects, copied into a queue by the
 * capturing thread, which never waits for the network) and hands on
 * batches of findings rows under a live key, to ClickHouse or, while it is
 * away, to the spool. The requests go through report_clickhouse.c (the
 * only user of libcurl), on a connection of this thread's own that does
 * not retry: a batch that fails is spooled at once, and the spool is tried
 * again on this file's own schedule. report_ch_stream.h has the contract;
 * the expected load is a few findings a second at most, 20,000 in a run.
 */
#include "flowaudit/report_ch_stream.h"
#include "report_ch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_SCHEMA "flowaudit-clickhouse-spool/1"
#define SPOOL_HEAD_MAX 4096       /* bytes of the spool's header line */
#define SPOOL_RECORD_HEAD_MAX 128 /* bytes of a record's line */
#define SPOOL_BATCH_MAX (32u << 20)
#define LIVE_TIMEOUT 10L          /* seconds a live request may take */
#define RETRY_MAX 8.0             /* seconds between tries at most */
#define SETTLE_WAIT 60.0          /* seconds the deletion of live rows may take */

struct report_ch_stream {
	struct report_ch_opts o; /* retries 0, a short timeout */
	char key[REPORT_CH_LIVE_KEY];
	char label[256], app[256], spool[PATH_MAX];
	struct ch_run run;
	unsigned batch_rows;
	double batch_s;

	/* the queue, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t **q;
	size_t n_q, cap_q;
	double q_since; /* when the oldest queued finding came */
	bool stop;
	unsigned long long queued, skipped_full;

	/* the thread's own */
	pthread_t th;
	struct ch_conn *c;
	bool ready;    /* tables made and their engine checked */
	bool disabled; /* the findings table cannot take live rows */
	int fd;        /* the spool */
	off_t head_len, send_off, end_off; /* header's end, first unsent record, file end */
	unsigned long long spool_rows;
	unsigned part;
	double wait, next_try;
	unsigned long long sent, skipped;
	char why[sizeof(((struct fa_err *)0)->msg)];
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec timespec_of(double s)
{
	return (struct timespec){(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
}

/* ---------------------------------------------------------------- spool */

/* All of buf at the spool's end, then fsync: a record is on disk whole,
   or the end is put back where it was. */
static int spool_append(struct report_ch_stream *s, const char *head, const char *rows,
			size_t len, struct fa_err *err)
{
	size_t hl = strlen(head);
	bool ok = pwrite(s->fd, head, hl, s->end_off) == (ssize_t)hl;
	for (size_t done = 0; ok && done < len;) {
		ssize_t n = pwrite(s->fd, rows + done, len - done, s->end_off + (off_t)(hl + done));
		ok = n > 0;
		done += ok ? (size_t)n : 0;
	}
	if (ok && fsync(s->fd) == 0) {
		s->end_off += (off_t)(hl + len);
		return FA_OK;
	}
	fa_err_set(err, "%s: cannot append to the spool: %s", s->spool, strerror(errno));
	/* the end put back; should that fail too, the next record is written over
	   the torn one all the same (end_off has not moved) */
	if (ftruncate(s->fd, s->end_off) != 0)
		fa_err_set(err, "%s: cannot append to the spool, nor cut it back: %s", s->spool,
			   strerror(errno));
	return FA_ERUNTIME;
}

/* The record at off: its part, rows and where its rows are. FA_EINPUT when
   the file does not hold one there. */
static int spool_record(struct report_ch_stream *s, off_t off, unsigned *part, size_t *rows,
			off_t *body, size_t *len, struct fa_err *err)
{
	char line[SPOOL_RECORD_HEAD_MAX + 1];
	ssize_t n = pread(s->fd, line, SPOOL_RECORD_HEAD_MAX, off);
	char *nl = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
	json_error_t je;
	json_t *h = nl ? json_loadb(line, (size_t)(nl - line), 0, &je) : NULL;
	json_int_t p = json_integer_value(json_object_get(h, "part"));
	json_int_t r = json_integer_value(json_object_get(h, "rows"));
	json_int_t b = json_integer_value(json_object_get(h, "bytes"));
	json_decref(h);
	off_t start = nl ? off + (off_t)(nl - line) + 1 : 0;
	if (nl == NULL || p <= 0 || p > UINT_MAX || r <= 0 || b <= 0 || b > SPOOL_BATCH_MAX ||
	    start + (off_t)b > s->end_off) {
		fa_err_set(err, "%s: offset %lld: not a spool record", s->spool, (long long)off);
		return FA_EINPUT;
	}
	*part = (unsigned)p;
	*rows = (size_t)r;
	*body = start;
	*len = (size_t)b;
	return FA_OK;
}

/* ---------------------------------------------------------------- sending */

/* Tables made when missing, and live rows only into a MergeTree. */
static int make_ready(struct report_ch_stream *s, struct fa_err *err)
{
	if (s->ready)
		return FA_OK;
	int rc = ch_create_tables(s->c, s->o.database, err);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT engine FROM system.tables WHERE database = '%s' AND "
		 "name = 'findings'", s->o.database);
	if (rc == FA_OK)
		rc = ch_request(s->c, sql, err);
	if (rc != FA_OK)
		return rc;
	s->ready = true;
	const char *engine = ch_response(s->c);
	if (strstr(engine, "MergeTree") == NULL) {
		s->disabled = true;
		snprintf(s->why, sizeof(s->why), "%s.findings is a %.*s table, through which "
			 "ClickHouse cannot delete live rows: the report is exported at the end "
			 "only",
			 s->o.database, (int)strcspn(engine, "\n"), engine);
	}
	return FA_OK;
}

/* rows (JSONEachRow, each line a row) as an INSERT, sent: skip_present
   first counts the part and sends nothing when it is there. */
static int send_rows_text(struct report_ch_stream *s, unsigned part, size_t rows,
			  const char *text, size_t len, bool skip_present, struct fa_err *err)
{
	int rc = make_ready(s, err);
	if (rc != FA_OK || s->disabled)
		return rc;
	char head[128];
	int hl = snprintf(head, sizeof(head), "INSERT INTO %s.findings FORMAT JSONEachRow\n",
			  s->o.database);
	char *body = malloc((size_t)hl + len);
	if (body == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	memcpy(body, head, (size_t)hl);
	memcpy(body + hl, text, len);
	rc = ch_send_batch(s->c, s->o.database, "findings", s->key, body, (size_t)hl + len, rows,
			   part, skip_present, err);
	free(body);
	return rc;
}

static void note_failure(struct report_ch_stream *s, const struct fa_err *err)
{
	snprintf(s->why, sizeof(s->why), "%s", err->msg);
	s->next_try = mono_s() + s->wait;
	s->wait = s->wait * 2 > RETRY_MAX ? RETRY_MAX : s->wait * 2;
}

/* The spool's records, oldest first, until one fails; the spool cut back
   to its header once all are taken. */
static void drain(struct report_ch_stream *s)
{
	struct fa_err err = {""};
	while (s->send_off < s->end_off && !s->disabled) {
		unsigned part;
		size_t rows, len;
		off_t body;
		int rc = spool_record(s, s->send_off, &part, &rows, &body, &len, &err);
		char *text = rc == FA_OK ? malloc(len) : NULL;
		if (rc == FA_OK &&
		    (text == NULL || pread(s->fd, text, len, body) != (ssize_t)len)) {
			fa_err_set(&err, "%s: cannot read the spool back", s->spool);
			rc = FA_ERUNTIME;
		}
		if (rc == FA_OK)
			rc = send_rows_text(s, part, rows, text, len, true, &err);
		free(text);
		if (rc != FA_OK) {
			note_failure(s, &err);
			return;
		}
		s->send_off = body + (off_t)len;
		s->sent += rows;
		s->spool_rows -= rows;
	}
	if (s->send_off == s->end_off && s->end_off > s->head_len &&
	    ftruncate(s->fd, s->head_len) == 0 && fsync(s->fd) == 0) {
		s->send_off = s->end_off = s->head_len;
		s->wait = s->o.backoff;
	}
}

/* A batch of queued findings (freed here): to the server when nothing is
   spooled before it, else, or when it fails, or at the end, to the spool. */
static void batch(struct report_ch_stream *s, json_t **items, size_t n, bool ending)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = s->disabled ? NULL : open_memstream(&text, &len);
	struct jsonw w;
	unsigned part = s->part + 1;
	if (m != NULL && jsonw_open_text(&w, m) == FA_OK) {
		for (size_t i = 0; i < n; i++) {
			ch_finding_row(&w, &s->run, part, items[i]);
			jsonw_raw(&w, "\n", 1);
		}
		if (jsonw_close(&w) != FA_OK)
			len = 0;
	}
	if (m != NULL && fclose(m) != 0)
		len = 0;
	for (size_t i = 0; i < n; i++)
		json_decref(items[i]);
	if (len == 0) {
		if (!s->disabled)
			snprintf(s->why, sizeof(s->why), "out of memory making live rows");
		s->skipped += n;
		free(text);
		return;
	}
	s->part = part;
	struct fa_err err = {""};
	if (!ending && s->send_off == s->end_off && mono_s() >= s->next_try) {
		if (send_rows_text(s, part, n, text, len, false, &err) == FA_OK) {
			s->sent += s->disabled ? 0 : n;
			s->skipped += s->disabled ? n : 0;
			free(text);
			return;
		}
		note_failure(s, &err);
	}
	char head[SPOOL_RECORD_HEAD_MAX];
	snprintf(head, sizeof(head), "{\"part\":%u,\"rows\":%zu,\"bytes\":%zu}\n", part, n, len);
	if (spool_append(s, head, text, len, &err) == FA_OK) {
		s->spool_rows += n;
	} else {
		snprintf(s->why, sizeof(s->why), "%s", err.msg);
		s->skipped += n;
	}
	free(text);
}

static void *stream_thread(void *arg)
{
	struct report_ch_stream *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		double now = mono_s();
		bool full = s->n_q >= s->batch_rows;
		bool due = s->n_q > 0 && (full || s->stop || now >= s->q_since + s->batch_s);
		bool retry = !s->stop && s->send_off < s->end_off && now >= s->next_try;
		if (!due && !retry && !s->stop) {
			double until = s->n_q > 0 ? s->q_since + s->batch_s : now + 1;
			if (s->send_off < s->end_off && s->next_try < until)
				until = s->next_try;
			struct timespec ts = timespec_of(until);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			continue;
		}
		/* at most batch_rows a batch: what came in meanwhile waits its turn */
		json_t **items = NULL;
		size_t n = 0;
		if (due && s->n_q > s->batch_rows &&
		    (items = malloc(s->batch_rows * sizeof(*items))) != NULL) {
			n = s->batch_rows;
			memcpy(items, s->q, n * sizeof(*items));
			memmove(s->q, s->q + n, (s->n_q - n) * sizeof(*s->q));
			s->n_q -= n;
		} else if (due) { /* all of it (or, without memory to split it, more) */
			items = s->q;
			n = s->n_q;
			s->q = NULL;
			s->n_q = s->cap_q = 0;
		}
		bool ending = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (n > 0)
			batch(s, items, n, ending);
		free(items);
		if (retry)
			drain(s);
		pthread_mutex_lock(&s->mu);
		if (ending && s->n_q == 0)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---------------------------------------------------------------- open, close */

/* The directory a path is in, fsync'd, so that a file created in it stays. */
static void sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int live_key(char key[REPORT_CH_LIVE_KEY], struct fa_err *err)
{
	unsigned char r[16];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		fa_err_set(err, "cannot draw a key for the live rows: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	memcpy(key, "live-", 5);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(key + 5 + 2 * i, 3, "%02x", r[i]);
	return FA_OK;
}

/* The spool, created with its header line. */
static int spool_create(struct report_ch_stream *s, struct fa_err *err)
{
	s->fd = open(s->spool, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0 && errno == EEXIST) {
		fa_err_set(err, "%s: the spool of an earlier capture whose export did not finish: "
			   "send that report with flowaudit export, or remove the spool", s->spool);
		return FA_EINPUT;
	}
	if (s->fd < 0) {
		fa_err_set(err, "%s: cannot create the spool: %s", s->spool, strerror(errno));
		return FA_ERUNTIME;
	}
	json_t *h = json_pack("{s:s, s:s, s:s, s:s, s:s}", "schema", SPOOL_SCHEMA, "key", s->key,
			      "database", s->o.database, "url", s->o.url, "label", s->label);
	char *line = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(h);
	size_t len = line ? strlen(line) : 0;
	int rc = FA_OK;
	if (line == NULL || len + 1 > SPOOL_HEAD_MAX) {
		fa_err_set(err, "%s: the URL and label make a spool header longer than %d bytes",
			   s->spool, SPOOL_HEAD_MAX);
		rc = FA_EINPUT;
	} else if (write(s->fd, line, len) != (ssize_t)len || write(s->fd, "\n", 1) != 1 ||
		   fsync(s->fd) != 0) {
		fa_err_set(err, "%s: cannot write the spool: %s", s->spool, strerror(errno));
		rc = FA_ERUNTIME;
	}
	if (rc != FA_OK) {
		close(s->fd);
		s->fd = -1;
		unlink(s->spool);
	}
	free(line);
	if (rc == FA_OK) {
		sync_dir_of(s->spool);
		s->head_len = s->send_off = s->end_off = (off_t)(len + 1);
	}
	return rc;
}

static void stream_free(struct report_ch_stream *s)
{
	for (size_t i = 0; i < s->n_q; i++)
		json_decref(s->q[i]);
	free(s->q);
	ch_conn_free(s->c);
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int report_ch_stream_open(const struct report_ch_opts *o, const struct report_ch_live *l,
			  struct report_ch_stream **out, struct fa_err *err)
{
	*out = NULL;
	struct report_ch_stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	s->fd = -1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->o = *o;
	if (s->o.database == NULL)
		s->o.database = "flowaudit";
	s->o.backoff = o->backoff > 0 ? o->backoff : 0.5;
	s->o.retries = 0;
	s->o.timeout = o->timeout > 0 && o->timeout < LIVE_TIMEOUT ? o->timeout : LIVE_TIMEOUT;
	s->wait = s->o.backoff;
	s->batch_rows = l->batch_rows ? l->batch_rows : REPORT_CH_LIVE_ROWS;
	s->batch_s = (l->batch_ms ? l->batch_ms : REPORT_CH_LIVE_MS) / 1000.0;
	snprintf(s->label, sizeof(s->label), "%s", l->label ? l->label : "");
	snprintf(s->app, sizeof(s->app), "%s", l->app ? l->app : "");
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(s->run.generated_at, sizeof(s->run.generated_at), "%Y-%m-%d %H:%M:%S", &tm);
	s->run.key = s->key;
	s->run.label = s->label;
	s->run.app = s->app;
	int rc = report_ch_check(&s->o, err);
	if (rc == FA_OK && (size_t)snprintf(s->spool, sizeof(s->spool), "%s", l->spool) >=
			       sizeof(s->spool)) {
		fa_err_set(err, "%s: path too long", l->spool);
		rc = FA_EINPUT;
	}
	if (rc == FA_OK)
		rc = live_key(s->key, err);
	if (rc == FA_OK && (s->c = ch_conn_new(&s->o, err)) == NULL)
		rc = FA_ERUNTIME;
	if (rc == FA_OK)
		rc = spool_create(s, err);
	/* signals stay with the capturing thread */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	bool started = rc == FA_OK && pthread_create(&s->th, NULL, stream_thread, s) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == FA_OK && !started) {
		fa_err_set(err, "cannot start the thread that sends live findings");
		close(s->fd);
		s->fd = -1;
		unlink(s->spool);
		rc = FA_ERUNTIME;
	}
	if (rc != FA_OK) {
		stream_free(s);
		return rc;
	}
	*out = s;
	return FA_OK;
}

const char *report_ch_stream_key(const struct report_ch_stream *s)
{
	return s->key;
}

void report_ch_stream_add(struct report_ch_stream *s, const json_t *finding)
{
	json_t *copy = json_deep_copy(finding);
	pthread_mutex_lock(&s->mu);
	s->queued++;
	if (copy != NULL && s->n_q == s->cap_q && s->n_q < REPORT_CH_LIVE_QUEUE) {
		size_t cap = s->cap_q ? 2 * s->cap_q : 256;
		json_t **q = realloc(s->q, cap * sizeof(*s->q));
		if (q != NULL) {
			s->q = q;
			s->cap_q = cap;
		}
	}
	if (copy != NULL && s->n_q < s->cap_q && s->n_q < REPORT_CH_LIVE_QUEUE) {
		if (s->n_q == 0)
			s->q_since = mono_s();
		s->q[s->n_q++] = copy;
		copy = NULL;
		if (s->n_q >= s->batch_rows)
			pthread_cond_signal(&s->cv);
	} else {
		s->skipped_full++;
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(copy);
}

void report_ch_stream_close(struct report_ch_stream *s, struct report_ch_live_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	snprintf(st->key, sizeof(st->key), "%s", s->key);
	st->queued = s->queued;
	st->sent = s->sent;
	st->spooled = s->spool_rows;
	st->skipped = s->skipped + s->skipped_full;
	if (s->skipped_full > 0 && s->why[0] == '\0')
		snprintf(s->why, sizeof(s->why), "more than %d findings waited to be sent",
			 REPORT_CH_LIVE_QUEUE);
	snprintf(st->why, sizeof(st->why), "%s", s->why);
	stream_free(s);
}

/* ---------------------------------------------------------------- settle */

int report_ch_spool_path(const char *dir, char *buf, size_t size, struct fa_err *err)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if ((size_t)snprintf(buf, size, "%.*s%s", (int)n, dir, REPORT_CH_SPOOL_SUFFIX) >= size) {
		fa_err_set(err, "%s: path too long", dir);
		return FA_EINPUT;
	}
	return FA_OK;
}

static bool is_live_key(const char *k)
{
	if (k == NULL || strlen(k) != REPORT_CH_LIVE_KEY - 1 || strncmp(k, "live-", 5) != 0)
		return false;
	for (k += 5; *k; k++)
		if (!((*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'f')))
			return false;
	return true;
}

/* The key and database the spool's header names. */
static int spool_head(const char *path, char key[REPORT_CH_LIVE_KEY], char db[65],
		      bool *exists, struct fa_err *err)
{
	*exists = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return FA_OK;
	if (fd < 0) {
		fa_err_set(err, "%s: %s", path, strerror(errno));
		return FA_ERUNTIME;
	}
	*exists = true;
	char line[SPOOL_HEAD_MAX + 1];
	ssize_t n = read(fd, line, SPOOL_HEAD_MAX);
	close(fd);
	char *nl = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
	json_error_t je = {.column = 1, .text = "no header line"};
	json_t *h = nl ? json_loadb(line, (size_t)(nl - line), 0, &je) : NULL;
	const char *schema = json_string_value(json_object_get(h, "schema"));
	const char *k = json_string_value(json_object_get(h, "key"));
	const char *d = json_string_value(json_object_get(h, "database"));
	int rc = FA_OK;
	if (h == NULL)
		fa_err_set(err, "%s: line 1, column %d: %s", path, je.column, je.text);
	else if (schema == NULL || strcmp(schema, SPOOL_SCHEMA) != 0)
		fa_err_set(err, "%s: line 1: schema: not %s", path, SPOOL_SCHEMA);
	else if (!is_live_key(k))
		fa_err_set(err, "%s: line 1: key: not live- and 32 hex digits", path);
	else if (!ch_is_identifier(d))
		fa_err_set(err, "%s: line 1: database: not a database name", path);
	if (h == NULL || err->msg[0] != '\0') {
		rc = FA_EINPUT;
	} else {
		snprintf(key, REPORT_CH_LIVE_KEY, "%s", k);
		snprintf(db, 65, "%s", d);
	}
	json_decref(h);
	return rc;
}

static void pause_s(double s)
{
	struct timespec ts = timespec_of(s);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int report_ch_spool_settle(const struct report_ch_opts *opts, const char *path,
			   unsigned long long *removed, struct fa_err *err)
{
	*removed = 0;
	char key[REPORT_CH_LIVE_KEY], db[65];
	bool exists;
	err->msg[0] = '\0';
	int rc = spool_head(path, key, db, &exists, err);
	if (rc != FA_OK || !exists)
		return rc;
	struct report_ch_opts o = *opts;
	o.database = db;
	if (o.backoff <= 0)
		o.backoff = 0.5;
	struct ch_conn *c = ch_conn_new(&o, err);
	rc = c ? ch_create_tables(c, db, err) : FA_ERUNTIME;
	unsigned long long left = 0;
	if (rc == FA_OK)
		rc = ch_count_rows(c, db, "findings", key, 0, &left, err);
	*removed = left;
	if (rc == FA_OK && left > 0) {
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "ALTER TABLE %s.findings DELETE WHERE manifest_sha256 = '%s'", db, key);
		rc = ch_request(c, sql, err);
	}
	/* the deletion is a mutation, done in the background: wait for it */
	double t0 = mono_s(), step = 0.05;
	while (rc == FA_OK && left > 0) {
		if (mono_s() - t0 > SETTLE_WAIT) {
			fa_err_set(err, "ClickHouse at %s still holds %llu live rows of %s after "
				   "%.0f s", o.url, left, key, SETTLE_WAIT);
			rc = FA_ERUNTIME;
			break;
		}
		pause_s(step);
		step = step * 2 > 1 ? 1 : step * 2;
		rc = ch_count_rows(c, db, "findings", key, 0, &left, err);
	}
	ch_conn_free(c);
	if (rc == FA_OK && unlink(path) != 0 && errno != ENOENT) {
		fa_err_set(err, "%s: cannot remove the spool: %s", path, strerror(errno));
		rc = FA_ERUNTIME;
	}
	return rc;
}
