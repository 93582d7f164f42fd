/*
 * report_clickhouse.c - a report directory into ClickHouse: runs, findings
 * and flows over the HTTP interface (libcurl), JSONEachRow, batched.
 *
 * Receives a report directory (MANIFEST.sha256, whose digest keys the run,
 * and report.json, read an element at a time: struct report_src) and a
 * server; hands on rows, a batch at a time, each sent by a thread while
 * the next is made (send_rows).
 * One curl handle serves every request of an export, on a new connection
 * each (open_conn() says why). Batches are at most REPORT_CH_BATCH_ROWS rows and
 * REPORT_CH_BODY_MAX bytes, well under ClickHouse's block size, so that
 * each INSERT lands whole or not at all; that is what makes a batch whose
 * answer was lost safe to count instead of sending it again
 * (report_clickhouse.h has the rest of the contract). The connection,
 * the tables, batches and finding rows serve report_ch_stream.c too (a
 * live capture's findings), through report_ch_int.h.
 *
 * ClickHouse 18.16 (Debian 12's) is the oldest server this is written
 * for: String, UInt*, DateTime('UTC') and Array(String) only, no
 * Nullable (an unknown string is '', an unknown number 0), and times sent
 * as 'YYYY-MM-DD hh:mm:ss' in UTC.
 */
#include "flowaudit/report_clickhouse.h"
#include "flowaudit/hash.h"
#include "flowaudit/jsonw.h"
#include "flowaudit/manifest.h"
#include "flowaudit/report_sign.h"
#include "report_ch_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPORT_SCHEMA "flowaudit-report/1"
#define REPORT_CH_BODY_MAX (32u << 20) /* bytes of one INSERT's rows */
#define CRED_FILE_MAX 4096
#define REPORT_CH_REPORT_MAX (4ULL << 30) /* bytes of report.json; a line is at most that */

/* ---------------------------------------------------------------- schema */

/* Columns every row of findings and flows starts with: the run's key and
   what a query groups by without a join. */
#define RUN_COLUMNS                                                                      \
	"    manifest_sha256 String,\n"                                                  \
	"    label String,\n"                                                            \
	"    app String,\n"                                                              \
	"    generated_at DateTime('UTC'),\n"

static const char *const table_ddl[][2] = {
	{"runs",
	 "    manifest_sha256 String,\n"
	 "    label String,\n"
	 "    app String,\n"
	 "    generated_at DateTime('UTC'),\n"
	 "    exported_at DateTime('UTC'),\n"
	 "    command String,\n"
	 "    flowaudit_version String,\n"
	 "    controller String,\n"
	 "    policy_sha256 String,\n"
	 "    captures Array(String),\n"
	 "    capture_sha256 Array(String),\n"
	 "    device_profile_sha256 String,\n"
	 "    devices Array(String),\n"
	 "    verdict String,\n"
	 "    fail_on String,\n"
	 "    findings UInt32,\n"
	 "    flows UInt32,\n"
	 "    first_seen DateTime('UTC'),\n"
	 "    last_seen DateTime('UTC'),\n"
	 "    signature_key String\n"
	 ") ENGINE = MergeTree\n"
	 "PARTITION BY toYYYYMM(generated_at)\n"
	 "ORDER BY (app, generated_at, manifest_sha256)"},
	{"findings",
	 RUN_COLUMNS
	 "    part UInt32,\n"
	 "    id String,\n"
	 "    rule String,\n"
	 "    severity String,\n"
	 "    device String,\n"
	 "    host String,\n"
	 "    recipient_kind String,\n"
	 "    recipient_id String,\n"
	 "    recipient_name String,\n"
	 "    entity String,\n"
	 "    entity_country String,\n"
	 "    country String,\n"
	 "    asn UInt32,\n"
	 "    as_org String,\n"
	 "    identifiers Array(String),\n"
	 "    statement String,\n"
	 "    first_seen DateTime('UTC'),\n"
	 "    last_seen DateTime('UTC'),\n"
	 "    packets_out UInt64,\n"
	 "    bytes_out UInt64,\n"
	 "    packets_in UInt64,\n"
	 "    bytes_in UInt64,\n"
	 "    evidence String\n"
	 ") ENGINE = MergeTree\n"
	 "PARTITION BY toYYYYMM(generated_at)\n"
	 "ORDER BY (app, rule, host, manifest_sha256)"},
	{"flows",
	 RUN_COLUMNS
	 "    part UInt32,\n"
	 "    id UInt32,\n"
	 "    transport String,\n"
	 "    client_ip String,\n"
	 "    client_port UInt16,\n"
	 "    server_ip String,\n"
	 "    server_port UInt16,\n"
	 "    protocol String,\n"
	 "    category String,\n"
	 "    encrypted UInt8,\n"
	 "    name String,\n"
	 "    name_source String,\n"
	 "    scope String,\n"
	 "    country String,\n"
	 "    asn UInt32,\n"
	 "    as_org String,\n"
	 "    signature_id String,\n"
	 "    signature_kind String,\n"
	 "    entity String,\n"
	 "    first_seen DateTime('UTC'),\n"
	 "    last_seen DateTime('UTC'),\n"
	 "    packets_out UInt64,\n"
	 "    bytes_out UInt64,\n"
	 "    packets_in UInt64,\n"
	 "    bytes_in UInt64\n"
	 ") ENGINE = MergeTree\n"
	 "PARTITION BY toYYYYMM(generated_at)\n"
	 "ORDER BY (app, name, manifest_sha256)"},
};
#define N_TABLES (sizeof(table_ddl) / sizeof(table_ddl[0]))

static void database_ddl(FILE *out, const char *db)
{
	fprintf(out, "CREATE DATABASE IF NOT EXISTS %s", db);
}

static void table_stmt(FILE *out, const char *db, size_t i)
{
	fprintf(out, "CREATE TABLE IF NOT EXISTS %s.%s (\n%s", db, table_ddl[i][0], table_ddl[i][1]);
}

void report_ch_schema(FILE *out, const char *db)
{
	database_ddl(out, db);
	fputs(";\n", out);
	for (size_t i = 0; i < N_TABLES; i++) {
		fputc('\n', out);
		table_stmt(out, db, i);
		fputs(";\n", out);
	}
}

/* ---------------------------------------------------------------- options */

bool ch_is_identifier(const char *s)
{
	if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	size_t n = 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return n <= 64;
}

int report_ch_check(const struct report_ch_opts *o, struct fa_err *err)
{
	if (o->database != NULL && !ch_is_identifier(o->database)) {
		fa_err_set(err, "--database: '%s' is not a database name (letters, digits and _, "
			   "at most 64, not starting with a digit)", o->database);
		return FA_EINPUT;
	}
	CURLU *u = curl_url();
	if (u == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	int rc = FA_OK;
	char *scheme = NULL, *user = NULL, *pass = NULL, *query = NULL;
	if (curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		fa_err_set(err, "--clickhouse: '%s' is not an http:// or https:// URL of ClickHouse's "
			   "HTTP interface (e.g. http://127.0.0.1:8123)", o->url);
		rc = FA_EINPUT;
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		   curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		fa_err_set(err, "--clickhouse: the URL holds a user or password, which would show in "
			   "the process list: give them with --credentials FILE or CLICKHOUSE_USER "
			   "and CLICKHOUSE_PASSWORD");
		rc = FA_EINPUT;
	} else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		fa_err_set(err, "--clickhouse: give the URL without a query (?...): the database is "
			   "--database, credentials come from --credentials or the environment");
		rc = FA_EINPUT;
	}
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

int report_ch_credentials_load(const char *path, char *user, char *password,
			       struct fa_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "--credentials %s: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	char buf[CRED_FILE_MAX + 1];
	ssize_t n = -1;
	const char *why = "not a readable regular file";
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((st.st_mode & 077) != 0)
			why = "group or others may read it; chmod 600 it";
		else
			n = read(fd, buf, sizeof(buf));
	}
	close(fd);
	if (n > CRED_FILE_MAX)
		why = "larger than 4 KiB";
	else if (n >= 0 && memchr(buf, '\0', (size_t)n) != NULL)
		why = "it holds a NUL byte";
	else if (n >= 0)
		why = NULL;
	if (why != NULL) {
		fa_err_set(err, "--credentials %s: %s", path, why);
		memset(buf, 0, sizeof(buf));
		return FA_EINPUT;
	}
	buf[n] = '\0';
	user[0] = password[0] = '\0';
	int line = 0, rc = FA_OK;
	for (char *p = buf, *nl; rc == FA_OK && *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		size_t len = strlen(p);
		if (len && p[len - 1] == '\r')
			p[--len] = '\0';
		char *dst = strncmp(p, "user=", 5) == 0       ? user
			    : strncmp(p, "password=", 9) == 0 ? password
							      : NULL;
		if (len == 0 || p[0] == '#')
			continue;
		const char *v = dst == user ? p + 5 : p + 9;
		if (dst == NULL || strlen(v) > REPORT_CH_CRED_MAX) {
			fa_err_set(err, "--credentials %s: line %d: %s", path, line,
				   dst ? "a value longer than 128 bytes"
				       : "not user=NAME or password=SECRET");
			rc = FA_EINPUT;
		} else {
			memcpy(dst, v, strlen(v) + 1); /* fits: checked above */
		}
	}
	memset(buf, 0, sizeof(buf));
	return rc;
}

/* ---------------------------------------------------------------- HTTP */

struct ch_conn {
	CURL *curl;
	const struct report_ch_opts *o;
	char *resp;
	size_t resp_len;
	unsigned retries;
	char curl_err[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
	struct ch_conn *c = user;
	size_t len = size * n, room = REPORT_CH_RESPONSE_MAX - c->resp_len;
	size_t take = len < room ? len : room;
	if (take > 0) {
		memcpy(c->resp + c->resp_len, p, take);
		c->resp_len += take;
		c->resp[c->resp_len] = '\0';
	}
	return len; /* the rest is read and dropped: an answer past 1 MiB is not kept */
}

enum outcome { SENT, AWAY, REFUSED }; /* answered 200; server not reached; error answer */

/* The first line of the server's answer, cut at a word before 400 bytes. */
static void server_message(const struct ch_conn *c, char *out, size_t size)
{
	size_t n = strcspn(c->resp, "\n");
	if (n > 400) {
		n = 400;
		while (n > 200 && c->resp[n] != ' ')
			n--;
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, c->resp, n);
	out[n] = '\0';
}

/* One POST of body; REFUSED fills err with the server's message. */
static enum outcome post(struct ch_conn *c, const char *body, size_t len, struct fa_err *err)
{
	c->resp_len = 0;
	c->resp[0] = '\0';
	c->curl_err[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	CURLcode cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		fa_err_set(err, "%s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
		return AWAY;
	}
	long status = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return SENT;
	char msg[512];
	server_message(c, msg, sizeof(msg));
	fa_err_set(err, "HTTP %ld: %s", status, msg[0] ? msg : "(no message)");
	return status == 502 || status == 503 || status == 504 ? AWAY : REFUSED;
}

static void pause_for(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Whether a request whose answer was lost got in all the same: 1 yes, 0
 * no (send it again), or an FA_* status with err set.
 */
typedef int (*landed_fn)(struct ch_conn *c, void *arg, struct fa_err *err);

/*
 * Sends body until it is answered or the retries are spent, pausing
 * 0.5, 1, 2, ... s (opts.backoff, doubling) while the server is away.
 * landed (NULL for a request that may simply be sent again: DDL with IF
 * NOT EXISTS, a SELECT) is asked after each pause whether the last try
 * got in before the connection broke. what names the request in errors.
 */
static int send_retrying(struct ch_conn *c, const char *body, size_t len, landed_fn landed,
			 void *arg, const char *what, struct fa_err *err)
{
	double wait = c->o->backoff, waited = 0;
	for (unsigned attempt = 0;; attempt++) {
		enum outcome r = post(c, body, len, err);
		if (r == SENT)
			return FA_OK;
		if (r == REFUSED || attempt == c->o->retries) {
			char why[sizeof(err->msg)];
			snprintf(why, sizeof(why), "%s", err->msg);
			if (r == REFUSED)
				fa_err_set(err, "ClickHouse at %s refused %s: %s", c->o->url, what, why);
			else
				fa_err_set(err, "ClickHouse at %s cannot be reached (%s): %s (tried %u "
					   "times over %.1f s)", c->o->url, what, why, attempt + 1, waited);
			return FA_ERUNTIME;
		}
		c->retries++;
		pause_for(wait);
		waited += wait;
		wait *= 2;
		int got = landed ? landed(c, arg, err) : 0;
		if (got < 0)
			return got;
		if (got == 1)
			return FA_OK;
	}
}

int ch_request(struct ch_conn *c, const char *sql, struct fa_err *err)
{
	return send_retrying(c, sql, strlen(sql), NULL, NULL, "a request", err);
}

/* SELECT count() of the rows of table the run (and part, when not 0) has. */
int ch_count_rows(struct ch_conn *c, const char *db, const char *table, const char *key,
		  unsigned part, unsigned long long *n, struct fa_err *err)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT count() FROM %s.%s WHERE manifest_sha256 = '%s'%s",
		 db, table, key, part ? " AND part = " : "");
	if (part)
		snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%u", part);
	int rc = ch_request(c, sql, err);
	if (rc != FA_OK)
		return rc;
	char *end;
	*n = strtoull(c->resp, &end, 10);
	if (end == c->resp || (*end != '\n' && *end != '\0')) {
		fa_err_set(err, "ClickHouse at %s answered a count with something else than a number",
			   c->o->url);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

/* ---------------------------------------------------------------- rows */

static const char *str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static json_int_t int_of(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v < 0 ? 0 : v;
}

/* A report time as ClickHouse reads a DateTime: 'YYYY-MM-DD hh:mm:ss', UTC
   (the epoch for an unknown time), into buf (20 bytes or more). */
static const char *time_text(const json_t *o, const char *key, char *buf, size_t size)
{
	fa_time t = 0;
	const char *s = json_string_value(json_object_get(o, key));
	if (s == NULL || !fa_time_parse(s, &t) || t < 0)
		t = 0;
	time_t sec = (time_t)(t / 1000000);
	struct tm tm;
	if (gmtime_r(&sec, &tm) == NULL || tm.tm_year + 1900 > 2105) {
		sec = 0;
		gmtime_r(&sec, &tm);
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void time_member(struct jsonw *w, const json_t *o, const char *key)
{
	char buf[32];
	jsonw_string(w, key, time_text(o, key, buf, sizeof(buf)));
}

static void row_start(struct jsonw *w, const struct ch_run *ri, unsigned part)
{
	jsonw_object(w, NULL);
	jsonw_string(w, "manifest_sha256", ri->key);
	jsonw_string(w, "label", ri->label);
	jsonw_string(w, "app", ri->app);
	jsonw_string(w, "generated_at", ri->generated_at);
	jsonw_int(w, "part", part);
}

/* Members copied as they are: strings ('' for null) and counts (0). */
static void strings(struct jsonw *w, const json_t *o, const char *const *keys)
{
	for (; *keys; keys++)
		jsonw_string(w, *keys, str_of(o, *keys));
}

static void counts(struct jsonw *w, const json_t *o, const char *const *keys)
{
	for (; *keys; keys++)
		jsonw_int(w, *keys, int_of(o, *keys));
}

static const char *const traffic[] = {"packets_out", "bytes_out", "packets_in", "bytes_in", NULL};

void ch_finding_row(struct jsonw *w, const struct ch_run *ri, unsigned part, const json_t *f)
{
	static const char *const own[] = {"id", "rule", "severity", "device", "host", NULL};
	static const char *const place[] = {"country", NULL};
	row_start(w, ri, part);
	strings(w, f, own);
	const json_t *rec = json_object_get(f, "recipient");
	jsonw_string(w, "recipient_kind", str_of(rec, "kind"));
	jsonw_string(w, "recipient_id", str_of(rec, "id"));
	jsonw_string(w, "recipient_name", str_of(rec, "name"));
	jsonw_string(w, "entity", str_of(rec, "entity"));
	jsonw_string(w, "entity_country", str_of(rec, "entity_country"));
	strings(w, f, place);
	jsonw_int(w, "asn", int_of(f, "asn"));
	jsonw_string(w, "as_org", str_of(f, "as_org"));
	/* the identifier types, each once, in the order first seen */
	jsonw_array(w, "identifiers");
	const json_t *ids = json_object_get(f, "identifiers");
	for (size_t i = 0; i < json_array_size(ids); i++) {
		const char *t = str_of(json_array_get(ids, i), "type");
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(str_of(json_array_get(ids, j), "type"), t) == 0;
		if (!seen)
			jsonw_string(w, NULL, t);
	}
	jsonw_end(w);
	jsonw_string(w, "statement", str_of(f, "statement"));
	time_member(w, f, "first_seen");
	time_member(w, f, "last_seen");
	counts(w, f, traffic);
	jsonw_string(w, "evidence", str_of(f, "evidence"));
	jsonw_end(w);
}

static void flow_row(struct jsonw *w, const struct ch_run *ri, unsigned part, const json_t *f)
{
	static const char *const addr[] = {"transport", "client_ip", NULL};
	static const char *const named[] = {"protocol", "category", NULL};
	static const char *const where[] = {"name", "name_source", "scope", "country", NULL};
	row_start(w, ri, part);
	jsonw_int(w, "id", int_of(f, "id"));
	strings(w, f, addr);
	jsonw_int(w, "client_port", int_of(f, "client_port"));
	jsonw_string(w, "server_ip", str_of(f, "server_ip"));
	jsonw_int(w, "server_port", int_of(f, "server_port"));
	strings(w, f, named);
	jsonw_int(w, "encrypted", json_is_true(json_object_get(f, "encrypted")));
	strings(w, f, where);
	jsonw_int(w, "asn", int_of(f, "asn"));
	jsonw_string(w, "as_org", str_of(f, "as_org"));
	const json_t *sig = json_object_get(f, "signature");
	jsonw_string(w, "signature_id", str_of(sig, "id"));
	jsonw_string(w, "signature_kind", str_of(sig, "kind"));
	jsonw_string(w, "entity", str_of(sig, "entity"));
	time_member(w, f, "first_seen");
	time_member(w, f, "last_seen");
	counts(w, f, traffic);
	jsonw_end(w);
}

/* ---------------------------------------------------------------- reading */

/*
 * report.json, as the exporter reads it. report_json.c writes each element
 * of findings[] and flows[] as one compact object on a line of its own,
 * between a line '  "findings": [' and a line '  ]' or '  ],'. Read that
 * way, the document without those elements (doc) is parsed once and each
 * element on its own when its row is made, so memory does not grow with
 * the report and no tree of 100 MB is built and torn down. A report.json
 * laid out any other way (another writer, reindented) is read whole.
 */
enum { FINDINGS, FLOWS };
static const char *const array_name[] = {"findings", "flows"};

struct report_src {
	char path[PATH_MAX];
	json_t *doc;       /* without the elements when streamed */
	FILE *f;           /* streamed: report.json */
	off_t start[2];    /* streamed: the first element line of each array (0: the
			      array is in doc, as an empty one or in another layout) */
	size_t n[2];       /* elements of each array */
	char *line;        /* getline's buffer */
	size_t cap;
};

/* The array a line opens ('  "findings": ['), or -1. */
static int opens_array(const char *line)
{
	for (int a = FINDINGS; a <= FLOWS; a++) {
		char want[32];
		snprintf(want, sizeof(want), "  \"%s\": [\n", array_name[a]);
		if (strcmp(line, want) == 0)
			return a;
	}
	return -1;
}

static bool closes_array(const char *line)
{
	return strcmp(line, "  ]\n") == 0 || strcmp(line, "  ],\n") == 0;
}

/* An element line: '    {...}' or '    {...},' and its newline. */
static bool element_line(const char *line, size_t n)
{
	return n >= 7 && memcmp(line, "    {", 5) == 0 &&
	       (memcmp(line + n - 2, "}\n", 2) == 0 || memcmp(line + n - 3, "},\n", 3) == 0);
}

/* The scan: head gets every line but the elements; false when the file is
   not laid out as report_json.c writes it. */
static bool scan_layout(struct report_src *r, FILE *head)
{
	int in = -1;
	ssize_t n;
	for (;;) {
		if ((n = getline(&r->line, &r->cap, r->f)) < 0)
			break;
		if (in < 0) {
			in = opens_array(r->line);
			if (in >= 0) {
				if (r->n[in] != 0 || r->start[in] != 0)
					return false; /* an array twice */
				r->start[in] = ftello(r->f);
			}
			fputs(r->line, head);
		} else if (closes_array(r->line)) {
			in = -1;
			fputs(r->line, head);
		} else if (element_line(r->line, (size_t)n) && memchr(r->line, '\0', (size_t)n) == NULL) {
			r->n[in]++;
		} else {
			return false;
		}
	}
	return in < 0 && !ferror(r->f);
}

static void src_close(struct report_src *r)
{
	json_decref(r->doc);
	if (r->f)
		fclose(r->f);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

static int src_open(const char *dir, struct report_src *r, struct fa_err *err)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s/report.json", dir);
	r->f = fopen(r->path, "r");
	if (r->f == NULL) {
		fa_err_set(err, "%s: %s", r->path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	if (fstat(fileno(r->f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (unsigned long long)st.st_size > REPORT_CH_REPORT_MAX) {
		fa_err_set(err, "%s: not a regular file of at most 4 GiB", r->path);
		return FA_EINPUT;
	}
	char *head = NULL;
	size_t head_len = 0;
	FILE *hm = open_memstream(&head, &head_len);
	if (hm == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	bool streamed = scan_layout(r, hm);
	fclose(hm);
	json_error_t je;
	if (streamed) {
		r->doc = json_loadb(head, head_len, 0, &je);
	} else {
		fclose(r->f);
		r->f = NULL;
		r->doc = json_load_file(r->path, 0, &je);
	}
	free(head);
	if (r->doc == NULL) {
		fa_err_set(err, "%s: line %d, column %d: %s", r->path, je.line, je.column, je.text);
		return FA_EINPUT;
	}
	const char *schema = json_string_value(json_object_get(r->doc, "schema"));
	bool arrays = true;
	for (int a = FINDINGS; a <= FLOWS; a++) {
		const json_t *v = json_object_get(r->doc, array_name[a]);
		arrays &= v == NULL || json_is_array(v);
		if (!streamed || r->start[a] == 0)
			r->n[a] = json_array_size(v); /* the array is in doc itself */
	}
	if (schema == NULL || strcmp(schema, REPORT_SCHEMA) != 0 || !arrays) {
		fa_err_set(err, "%s: not a %s document", r->path, REPORT_SCHEMA);
		return FA_EINPUT;
	}
	return FA_OK;
}

/* The elements of one array, one at a time. */
struct elements {
	struct report_src *r;
	int array;
	size_t i;
};

static int elements_start(struct elements *e, struct report_src *r, int array,
			  struct fa_err *err)
{
	*e = (struct elements){r, array, 0};
	if (r->f != NULL && r->start[array] != 0 && fseeko(r->f, r->start[array], SEEK_SET) != 0) {
		fa_err_set(err, "%s: cannot read: %s", r->path, strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}

/* The next element (a new reference; NULL after the last). FA_EINPUT when
   a streamed element line is not JSON. */
static int elements_next(struct elements *e, json_t **out, struct fa_err *err)
{
	*out = NULL;
	struct report_src *r = e->r;
	if (e->i == r->n[e->array])
		return FA_OK;
	if (r->f == NULL || r->start[e->array] == 0) {
		*out = json_incref(json_array_get(json_object_get(r->doc, array_name[e->array]), e->i++));
		return FA_OK;
	}
	ssize_t n = getline(&r->line, &r->cap, r->f);
	if (n < 0 || !element_line(r->line, (size_t)n)) {
		fa_err_set(err, "%s: %s[%zu]: the file changed while it was read", r->path,
			   array_name[e->array], e->i);
		return FA_EINPUT;
	}
	size_t len = (size_t)n - (r->line[n - 2] == ',' ? 2 : 1);
	json_error_t je;
	*out = json_loadb(r->line, len, 0, &je);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		fa_err_set(err, "%s: %s[%zu], column %d: %s", r->path, array_name[e->array], e->i,
			   je.column, je.text);
		return FA_EINPUT;
	}
	e->i++;
	return FA_OK;
}

/* ---------------------------------------------------------------- batches */

struct batch {
	FILE *m;   /* the INSERT statement and its rows, into buf */
	char *buf;
	size_t len;
	size_t rows;
	unsigned part;
};

/* The batch of table being sent, for batch_landed(). */
struct batch_ref {
	const char *db, *table, *key;
	const struct batch *b;
};

/* All of the batch's rows are there (1), none (0), or some: an error. */
static int batch_landed(struct ch_conn *c, void *arg, struct fa_err *err)
{
	const struct batch_ref *r = arg;
	unsigned long long have = 0;
	int rc = ch_count_rows(c, r->db, r->table, r->key, r->b->part, &have, err);
	if (rc != FA_OK)
		return rc;
	if (have == r->b->rows)
		return 1;
	if (have == 0)
		return 0;
	fa_err_set(err, "ClickHouse at %s holds %llu of the %zu rows of batch %u of %s for run %s: "
		   "delete the run's rows (ALTER TABLE %s.%s DELETE WHERE manifest_sha256 = '%s') "
		   "and export again", c->o->url, have, r->b->rows, r->b->part, r->table, r->key,
		   r->db, r->table, r->key);
	return FA_ERUNTIME;
}

/*
 * Sends a batch; a batch whose sending failed for want of the server is
 * counted once the server answers again, and sent again only when none of
 * its rows are there. skip_present: the run has rows from an export cut
 * short, so a batch already there is not sent at all.
 */
static int batch_send(struct ch_conn *c, const char *db, const char *table, const char *key,
		      const struct batch *b, bool skip_present, struct fa_err *err)
{
	struct batch_ref ref = {db, table, key, b};
	if (skip_present) {
		int got = batch_landed(c, &ref, err);
		if (got != 0)
			return got == 1 ? FA_OK : got;
	}
	char what[96];
	snprintf(what, sizeof(what), "batch %u of %s", b->part, table);
	return send_retrying(c, b->buf, b->len, batch_landed, &ref, what, err);
}

int ch_send_batch(struct ch_conn *c, const char *db, const char *table, const char *key,
		  const char *body, size_t len, size_t rows, unsigned part, bool skip_present,
		  struct fa_err *err)
{
	struct batch b = {.buf = (char *)body, .len = len, .rows = rows, .part = part};
	return batch_send(c, db, table, key, &b, skip_present, err);
}

typedef void (*row_fn)(struct jsonw *w, const struct ch_run *ri, unsigned part,
		       const json_t *e);

/* Makes the next batch of up to REPORT_CH_BATCH_ROWS rows (or
   REPORT_CH_BODY_MAX bytes) from el into b (b->buf the caller's to free). */
static int build_batch(const char *db, const char *table, const struct ch_run *ri,
		       struct elements *el, row_fn make, struct batch *b, struct fa_err *err)
{
	b->buf = NULL;
	b->len = b->rows = 0;
	b->m = open_memstream(&b->buf, &b->len);
	struct jsonw w;
	if (b->m == NULL || jsonw_open_text(&w, b->m) != FA_OK) {
		if (b->m)
			fclose(b->m);
		fa_err_set(err, "out of memory making the rows of %s", table);
		return FA_ERUNTIME;
	}
	fprintf(b->m, "INSERT INTO %s.%s FORMAT JSONEachRow\n", db, table);
	int rc = FA_OK;
	while (b->rows < REPORT_CH_BATCH_ROWS) {
		json_t *e;
		if ((rc = elements_next(el, &e, err)) != FA_OK || e == NULL)
			break;
		make(&w, ri, b->part, e);
		json_decref(e);
		jsonw_raw(&w, "\n", 1);
		if ((++b->rows & 1023) == 0) {
			jsonw_flush(&w);
			fflush(b->m);
			if (b->len >= REPORT_CH_BODY_MAX)
				break;
		}
	}
	int wrc = jsonw_close(&w);
	if ((fclose(b->m) != 0 || wrc != FA_OK) && rc == FA_OK) {
		fa_err_set(err, "out of memory making the rows of %s", table);
		rc = FA_ERUNTIME;
	}
	return rc;
}

/* One batch on its way, in a thread of its own, while the next is made. */
struct send_job {
	struct ch_conn *c;
	const char *db, *table, *key;
	struct batch b;
	bool skip_present;
	int rc;
	struct fa_err err;
};

static void *send_thread(void *arg)
{
	struct send_job *j = arg;
	j->rc = batch_send(j->c, j->db, j->table, j->key, &j->b, j->skip_present, &j->err);
	return NULL;
}

/* Waits for the job's thread; its rows count once sent. The first failure
   is the one rc keeps. */
static int finish_job(pthread_t th, struct send_job *j, int rc, unsigned long long *sent,
		      struct fa_err *err)
{
	pthread_join(th, NULL);
	free(j->b.buf);
	if (j->rc == FA_OK)
		*sent += j->b.rows;
	else if (rc == FA_OK)
		*err = j->err;
	return rc == FA_OK ? j->rc : rc;
}

/*
 * Sends every element of one array as rows of its table, in batches. A
 * batch is sent by a thread while the next one is made (the server parses
 * one while flowaudit reads the next), and is waited for before the next
 * goes; the curl handle is used by one thread at a time.
 */
static int send_rows(struct ch_conn *c, const char *db, const struct ch_run *ri,
		     struct report_src *src, int array, row_fn make, bool skip_present,
		     unsigned long long *sent, struct fa_err *err)
{
	const char *table = array_name[array];
	struct elements el;
	int rc = elements_start(&el, src, array, err);
	struct send_job job[2];
	int cur = 0;
	bool running = false;
	pthread_t th;
	for (unsigned part = 1; rc == FA_OK && el.i < src->n[array]; part++) {
		struct send_job *j = &job[cur];
		*j = (struct send_job){.c = c, .db = db, .table = table, .key = ri->key,
				       .skip_present = skip_present, .b.part = part};
		rc = build_batch(db, table, ri, &el, make, &j->b, err);
		if (running) {
			rc = finish_job(th, &job[1 - cur], rc, sent, err);
			running = false;
		}
		if (rc != FA_OK || pthread_create(&th, NULL, send_thread, j) != 0) {
			if (rc == FA_OK) {
				fa_err_set(err, "cannot start a thread to send %s", table);
				rc = FA_ERUNTIME;
			}
			free(j->b.buf);
			break;
		}
		running = true;
		cur = 1 - cur;
	}
	if (running)
		rc = finish_job(th, &job[1 - cur], rc, sent, err);
	return rc;
}

struct run_ref {
	const char *db, *key;
};

static int run_landed(struct ch_conn *c, void *arg, struct fa_err *err)
{
	const struct run_ref *r = arg;
	unsigned long long have = 0;
	int rc = ch_count_rows(c, r->db, "runs", r->key, 0, &have, err);
	return rc != FA_OK ? rc : have > 0;
}

static json_t *strings_of(const json_t *arr, const char *key)
{
	json_t *out = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v) json_array_append_new(out, json_string(str_of(v, key)));
	return out;
}

static int send_run(struct ch_conn *c, const char *db, const struct ch_run *ri,
		    const struct report_src *src, const char *dir, struct fa_err *err)
{
	const json_t *doc = src->doc;
	const json_t *in = json_object_get(doc, "inputs");
	const json_t *sum = json_object_get(doc, "summary");
	time_t now = time(NULL);
	char nowbuf[32];
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(nowbuf, sizeof(nowbuf), "%Y-%m-%d %H:%M:%S", &tm);
	/* the key a signature file names: claimed, not checked (verify --key does) */
	enum report_sig_verdict sv;
	struct report_sig_info si;
	struct fa_err serr;
	bool signed_ = report_sig_read(dir, &sv, &si, &serr) == FA_OK && sv == REPORT_SIG_VALID;
	char first[32], last[32];
	json_t *row = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:I, "
		"s:I, s:s, s:s, s:s}",
		"manifest_sha256", ri->key, "label", ri->label, "app", ri->app, "generated_at",
		ri->generated_at, "exported_at", nowbuf, "command", str_of(doc, "command"),
		"flowaudit_version", str_of(json_object_get(doc, "generator"), "version"),
		"controller",
		str_of(json_object_get(json_object_get(doc, "policy"), "app"), "controller"),
		"policy_sha256", str_of(json_object_get(in, "policy"), "sha256"), "captures",
		strings_of(json_object_get(in, "captures"), "path"), "capture_sha256",
		strings_of(json_object_get(in, "captures"), "sha256"), "device_profile_sha256",
		str_of(json_object_get(in, "device_profile"), "sha256"), "devices",
		strings_of(json_object_get(doc, "devices"), "address"), "verdict",
		str_of(doc, "verdict"), "fail_on", str_of(doc, "fail_on"), "findings",
		(json_int_t)src->n[FINDINGS], "flows", (json_int_t)src->n[FLOWS], "first_seen",
		time_text(sum, "first_seen", first, sizeof(first)), "last_seen",
		time_text(sum, "last_seen", last, sizeof(last)), "signature_key",
		signed_ ? si.key : "");
	char *line = row ? json_dumps(row, JSON_COMPACT) : NULL;
	json_decref(row);
	if (line == NULL) {
		fa_err_set(err, "out of memory making the run's row");
		return FA_ERUNTIME;
	}
	char *sql = NULL;
	int rc = FA_ERUNTIME;
	struct run_ref ref = {db, ri->key};
	/* the run row last: once it is there, the run counts as exported */
	if (asprintf(&sql, "INSERT INTO %s.runs FORMAT JSONEachRow\n%s\n", db, line) > 0)
		rc = send_retrying(c, sql, strlen(sql), run_landed, &ref, "the run's row", err);
	else
		fa_err_set(err, "out of memory making the run's row");
	free(sql);
	free(line);
	return rc;
}

/* ---------------------------------------------------------------- export */

/* The run's key: the SHA-256 of dir's MANIFEST.sha256. */
static int run_key(const char *dir, char key[65], struct fa_err *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST_NAME) >= sizeof(path)) {
		fa_err_set(err, "%s: path too long", dir);
		return FA_EINPUT;
	}
	int rc = sha256_file(path, key, err);
	if (rc != FA_OK) {
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		fa_err_set(err, "%s: not a report directory (no %s): %s", dir, MANIFEST_NAME, why);
	}
	return rc;
}

static int open_conn(struct ch_conn *c, const struct report_ch_opts *o, struct fa_err *err)
{
	c->o = o;
	c->resp = malloc(REPORT_CH_RESPONSE_MAX + 1);
	c->curl = curl_easy_init();
	if (c->resp == NULL || c->curl == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	c->resp[0] = '\0';
	CURL *h = c->curl;
	/* insert_distributed_sync=1: an INSERT into a Distributed table (the
	   cluster variant of docs/clickhouse.sql) is answered once its rows are
	   on their shards, so that the counts which keep a retry or a second
	   export from adding rows see them; a MergeTree table ignores it. The
	   URL has no query of its own (report_ch_check); libcurl copies it. */
	CURLU *u = curl_url();
	char *url = NULL;
	bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, o->url, 0) == CURLUE_OK &&
		  curl_url_set(u, CURLUPART_QUERY, "insert_distributed_sync=1", 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK;
	if (ok)
		curl_easy_setopt(h, CURLOPT_URL, url);
	curl_free(url);
	curl_url_cleanup(u);
	if (!ok) {
		fa_err_set(err, "--clickhouse: '%s': cannot add the request's settings to the URL",
			   o->url);
		return FA_ERUNTIME;
	}
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, o->timeout > 0 ? o->timeout : 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* A request on a kept-alive connection that dies unanswered is sent
	   again by libcurl itself, unseen: an INSERT would land twice. One
	   connection per request leaves every retry to send_retrying(). */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ? o->password : "");
	}
	return FA_OK;
}

int ch_create_tables(struct ch_conn *c, const char *db, struct fa_err *err)
{
	int rc = FA_OK;
	for (size_t i = 0; rc == FA_OK && i <= N_TABLES; i++) {
		char *sql = NULL;
		size_t sql_len = 0;
		FILE *m = open_memstream(&sql, &sql_len);
		if (m == NULL) {
			fa_err_set(err, "out of memory");
			return FA_ERUNTIME;
		}
		if (i == 0)
			database_ddl(m, db);
		else
			table_stmt(m, db, i - 1);
		fclose(m);
		rc = ch_request(c, sql, err);
		free(sql);
	}
	return rc;
}

void report_ch_default_label(const char *dir, char *buf, size_t size)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && dir[b - 1] != '/')
		b--;
	snprintf(buf, size, "%.*s", (int)(n - b), dir + b);
}

struct ch_conn *ch_conn_new(const struct report_ch_opts *o, struct fa_err *err)
{
	struct ch_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fa_err_set(err, "out of memory");
		return NULL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (open_conn(c, o, err) != FA_OK) {
		ch_conn_free(c);
		return NULL;
	}
	return c;
}

void ch_conn_free(struct ch_conn *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->resp);
	free(c);
	curl_global_cleanup();
}

const char *ch_response(const struct ch_conn *c)
{
	return c->resp;
}

const char *ch_conn_url(const struct ch_conn *c)
{
	return c->o->url;
}

int report_ch_export(const struct report_ch_opts *opts, const char *dir,
		     struct report_ch_result *res, struct fa_err *err)
{
	memset(res, 0, sizeof(*res));
	struct report_ch_opts o = *opts;
	if (o.database == NULL)
		o.database = "flowaudit";
	if (o.backoff <= 0)
		o.backoff = 0.5;
	int rc = report_ch_check(&o, err);
	if (rc != FA_OK)
		return rc;
	rc = run_key(dir, res->manifest, err);
	if (rc != FA_OK)
		return rc;
	struct ch_conn c = {0};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = open_conn(&c, &o, err);
	if (rc == FA_OK)
		rc = ch_create_tables(&c, o.database, err);
	/* a run already there is not read at all */
	unsigned long long have = 0, partial_f = 0, partial_l = 0;
	if (rc == FA_OK)
		rc = ch_count_rows(&c, o.database, "runs", res->manifest, 0, &have, err);
	res->already = rc == FA_OK && have > 0;
	struct report_src src = {0};
	if (rc == FA_OK && !res->already)
		rc = src_open(dir, &src, err);
	const json_t *doc = src.doc;
	char name[256];
	report_ch_default_label(dir, name, sizeof(name));
	struct ch_run ri = {
		.key = res->manifest,
		.label = o.label ? o.label : name,
		.app = str_of(json_object_get(json_object_get(doc, "policy"), "app"), "name"),
	};
	time_text(doc, "generated_at", ri.generated_at, sizeof(ri.generated_at));
	bool go = rc == FA_OK && doc != NULL;
	if (go)
		rc = ch_count_rows(&c, o.database, "findings", res->manifest, 0, &partial_f, err);
	if (go && rc == FA_OK)
		rc = ch_count_rows(&c, o.database, "flows", res->manifest, 0, &partial_l, err);
	if (go && rc == FA_OK)
		rc = send_rows(&c, o.database, &ri, &src, FINDINGS, ch_finding_row, partial_f > 0,
			       &res->findings, err);
	if (go && rc == FA_OK)
		rc = send_rows(&c, o.database, &ri, &src, FLOWS, flow_row, partial_l > 0, &res->flows,
			       err);
	if (go && rc == FA_OK)
		rc = send_run(&c, o.database, &ri, &src, dir, err);
	src_close(&src);
	res->retries = c.retries;
	curl_easy_cleanup(c.curl);
	free(c.resp);
	curl_global_cleanup();
	return rc;
}
