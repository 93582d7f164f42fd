/*
 * audit_report.c - the report phase of an audit session (audit, capture):
 * the evidence, the report files and MANIFEST.sha256, from the session's
 * finished audit and record store.
 *
 * Receives a session whose replay or capture has ended (audit_finish(),
 * audit_session_judge()); writes the report aside in the locked OUTDIR and
 * puts it in place (report_dir.h). The work that does not change a byte
 * of the report is spread over the machine's processors: the captures are
 * hashed beside the replay (audit_session_hash_captures()), the other
 * inputs beside the evidence pass, report.json's flows beside both, then
 * the four report files side by side, each hashed as it is written, so
 * that MANIFEST.sha256 reads nothing back (docs/architecture.md).
 */
#include "cmd.h"

#include "flowaudit/audit.h"
#include "flowaudit/device.h"
#include "flowaudit/evidence.h"
#include "flowaudit/geo.h"
#include "flowaudit/hash.h"
#include "flowaudit/keylog.h"
#include "flowaudit/manifest.h"
#include "flowaudit/pcapng.h"
#include "flowaudit/policy.h"
#include "flowaudit/report.h"
#include "flowaudit/report_dir.h"
#include "flowaudit/report_json.h"
#include "flowaudit/signatures.h"
#include "flowaudit/tls_crypto.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The time a report says it was made: SOURCE_DATE_EPOCH when it is set
 * (reproducible reports: the same inputs, the same bytes), else the clock.
 * The variable is decimal seconds, digits only, as reproducible-builds.org
 * defines it.
 */
static fa_time report_clock(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (s == NULL)
		return (fa_time)time(NULL) * 1000000;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 &&
	    v <= (unsigned long long)FA_TIME_MAX_SEC)
		return (fa_time)v * 1000000;
	cmd_error("SOURCE_DATE_EPOCH='%s' is not a number of seconds: using the clock", s);
	return (fa_time)time(NULL) * 1000000;
}

static const char *default_outdir(struct audit_session *s, fa_time now)
{
	const char *first = s->run.o.n_reads ? s->run.o.reads[0] : s->run.o.iface;
	char base[128];
	const char *slash = strrchr(first ? first : "capture", '/');
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : (first ? first : "capture"));
	char *dot = strrchr(base, '.');
	if (dot && dot != base)
		*dot = '\0';
	time_t t = (time_t)(now / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	size_t n = strlen(base) + strlen(stamp) + 16;
	s->outdir_alloc = malloc(n);
	if (s->outdir_alloc == NULL)
		return NULL;
	snprintf(s->outdir_alloc, n, "reports/%s-%s", base, stamp);
	return s->outdir_alloc;
}

/* Finding i from the audit's state, as the context says (every frame
   number, or the document's first REPORT_DOC_FRAMES). */
static json_t *ctx_finding(size_t i, void *user)
{
	return report_finding_json((const struct report_ctx *)user, i);
}

static void ctx_finding_members(struct jsonw *w, size_t i, void *user)
{
	report_finding_members(w, (const struct report_ctx *)user, i);
}

static void ctx_finding_brief(struct jsonw *w, size_t i, void *user)
{
	report_finding_brief_members(w, (const struct report_ctx *)user, i);
}

#define OUTPUT_BUF (1u << 20) /* the stream buffer of an output */

/* OUTDIR/name: report.json from doc and c, or through render from doc and
   the findings of c, each with at most frames frame numbers per file and
   as many flow ids (0: all). Hashed as it is written, into hex. */
static int write_doc(const char *dir, const char *name, const json_t *doc,
		     int (*render)(const json_t *, const struct report_findings *, FILE *,
				   struct fa_err *),
		     const struct report_ctx *c, size_t frames, char hex[65], struct fa_err *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = sha256_fopen_write(path, hex);
	char *buf = fp ? malloc(OUTPUT_BUF) : NULL;
	if (fp == NULL || buf == NULL) {
		fa_err_set(err, "%s: cannot write: %s", path, fp ? "out of memory" : strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return FA_ERUNTIME;
	}
	/* large writes: each goes through SHA-256 and to the file in one piece */
	setvbuf(fp, buf, _IOFBF, OUTPUT_BUF);
	int rc;
	if (render != NULL) {
		struct report_ctx brief = *c;
		brief.frames_limit = frames;
		struct report_findings fs = {
			.n = audit_finding_count(c->audit),
			.get = ctx_finding,
			.members = ctx_finding_members,
			.members_brief = ctx_finding_brief,
			.user = &brief};
		rc = render(doc, &fs, fp, err);
	} else {
		rc = report_write(fp, doc, c);
	}
	/* the reason of a failed write: the stream's, else its closing's */
	int e = ferror(fp) ? errno : 0;
	if (fclose(fp) != 0) {
		if (rc == FA_OK)
			rc = FA_ERUNTIME;
		if (e == 0)
			e = errno;
	}
	free(buf);
	if (rc != FA_OK && err->msg[0] == '\0')
		fa_err_set(err, "%s: write failed%s%s", path, e ? ": " : "", e ? strerror(e) : "");
	return rc;
}

typedef int (*render_fn)(const json_t *, const struct report_findings *, FILE *,
			 struct fa_err *);

/* The outputs of a report, the costliest first: each thread of the report
   phase takes the next one not yet taken, so the last to start is short. */
struct output {
	const char *name;
	unsigned format; /* FMT_*, 0 for report.json (always written) */
	render_fn render; /* NULL: report.json */
	size_t frames;
};

static const struct output outputs[] = {
	{"report.json", 0, NULL, 0},
	{"junit.xml", FMT_JUNIT, report_junit_write_each, REPORT_DOC_FRAMES},
	{"report.html", FMT_HTML, report_html_write_each, REPORT_DOC_FRAMES},
	{"findings.ndjson", FMT_NDJSON, report_ndjson_write_each, 0},
};
#define N_OUTPUTS (sizeof(outputs) / sizeof(outputs[0]))

/* The report phase's threads: one per processor, at most four (there are
   four outputs, independent files). */
#define REPORT_THREADS_MAX 4

static unsigned report_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > REPORT_THREADS_MAX ? REPORT_THREADS_MAX : (unsigned)n;
}

/* The outputs still to write, shared by the report phase's threads. */
struct output_pool {
	pthread_mutex_t lock;
	size_t next;
	const char *dir;
	const json_t *doc;
	const struct report_ctx *c;
	unsigned formats;
	char sha256[N_OUTPUTS][65]; /* of each output written */
	bool written[N_OUTPUTS];
	int rc; /* the first failure */
	struct fa_err err;
};

static void *outputs_main(void *arg)
{
	struct output_pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next;
		while (i < N_OUTPUTS && outputs[i].format != 0 && !(p->formats & outputs[i].format))
			i++;
		p->next = i + 1;
		bool stop = i >= N_OUTPUTS || p->rc != FA_OK;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		const struct output *o = &outputs[i];
		struct fa_err err = {""};
		int rc = write_doc(p->dir, o->name, p->doc, o->render, p->c, o->frames,
				   p->sha256[i], &err);
		pthread_mutex_lock(&p->lock);
		p->written[i] = rc == FA_OK;
		if (rc != FA_OK && p->rc == FA_OK) {
			p->rc = rc;
			p->err = err;
		}
		pthread_mutex_unlock(&p->lock);
	}
}

/* Every output of the report, on up to report_threads() threads; their
   digests (for MANIFEST.sha256) in p. */
static int write_outputs(struct output_pool *p, struct fa_err *err)
{
	pthread_t t[REPORT_THREADS_MAX];
	unsigned n = report_threads(), started = 0;
	pthread_mutex_init(&p->lock, NULL);
	while (started + 1 < n && pthread_create(&t[started], NULL, outputs_main, p) == 0)
		started++;
	outputs_main(p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p->lock);
	if (p->rc != FA_OK)
		*err = p->err;
	return p->rc;
}

/*
 * report.json's "flows", the larger part of it, written by a thread of its
 * own into a file beside the report while the evidence pass runs and the
 * document is built; report.json's writer then copies it into place.
 */
struct flows_part {
	pthread_t thread;
	bool started;
	struct engine *eng;
	const struct policy *policy;
	const char **files;
	size_t n_files;
	char path[4200];
	int rc;
	struct fa_err err;
};

#define FLOWS_PART_NAME ".report.json.flows"

static void *flows_part_main(void *arg)
{
	struct flows_part *fp = arg;
	FILE *f = fopen(fp->path, "w");
	char *buf = f ? malloc(OUTPUT_BUF) : NULL;
	fp->rc = FA_ERUNTIME;
	if (buf != NULL) {
		setvbuf(f, buf, _IOFBF, OUTPUT_BUF);
		fp->rc = report_flows_write(f, fp->eng, fp->policy, fp->files, fp->n_files, 2);
	}
	int e = f != NULL && ferror(f) ? errno : 0;
	if (f != NULL && fclose(f) != 0) {
		fp->rc = FA_ERUNTIME;
		e = e ? e : errno;
	}
	free(buf);
	if (fp->rc != FA_OK)
		fa_err_set(&fp->err, "%s: cannot write: %s", fp->path,
			   f == NULL || e != 0 ? strerror(f == NULL ? errno : e) : "write failed");
	return NULL;
}

/* Starts the flows of report.json beside what follows, on a machine with
   more than one processor; else report.json writes them itself. */
static void flows_part_start(struct flows_part *fp, struct run *r, const struct policy *policy,
			     const char *dir)
{
	memset(fp, 0, sizeof(*fp));
	fp->rc = FA_OK;
	if (report_threads() < 2)
		return;
	fp->eng = r->eng;
	fp->policy = policy;
	fp->n_files = source_file_count(r->src);
	fp->files = calloc(fp->n_files ? fp->n_files : 1, sizeof(*fp->files));
	if (fp->files == NULL)
		return;
	for (size_t i = 0; i < fp->n_files; i++)
		fp->files[i] = source_file(r->src, i)->path;
	snprintf(fp->path, sizeof(fp->path), "%s/%s", dir, FLOWS_PART_NAME);
	fp->started = pthread_create(&fp->thread, NULL, flows_part_main, fp) == 0;
}

/* Waits for the flows, if started; FA_OK or the thread's failure. */
static int flows_part_join(struct flows_part *fp)
{
	if (fp->started) {
		pthread_join(fp->thread, NULL);
		fp->started = false;
	}
	return fp->rc;
}

/* The flows into report.json (its flows_written): copied from the part,
   which is then removed. */
static int flows_part_put(FILE *out, void *user)
{
	struct flows_part *fp = user;
	if (flows_part_join(fp) != FA_OK)
		return FA_ERUNTIME;
	FILE *in = fopen(fp->path, "r");
	char *buf = in ? malloc(OUTPUT_BUF) : NULL;
	int rc = buf != NULL ? FA_OK : FA_ERUNTIME;
	for (size_t n; rc == FA_OK && (n = fread(buf, 1, OUTPUT_BUF, in)) > 0;)
		if (fwrite(buf, 1, n, out) != n)
			rc = FA_ERUNTIME;
	if (in != NULL && ferror(in))
		rc = FA_ERUNTIME;
	if (in != NULL)
		fclose(in);
	free(buf);
	unlink(fp->path);
	return rc;
}

/* Ends the part whatever happened: waits for its thread, removes its file. */
static void flows_part_end(struct flows_part *fp)
{
	flows_part_join(fp);
	if (fp->path[0] != '\0')
		unlink(fp->path);
	free(fp->files);
	fp->files = NULL;
}


/* Where a flow's key log lines lie in the evidence pack's secrets. */
struct keys_ref {
	uint64_t flow_id, off, len;
};

/* What the evidence pass asks flows of: the engine, and for the pack the
   flows' places in its secrets (ascending flow id). */
struct evidence_flows {
	struct engine *eng;
	const struct keys_ref *refs;
	size_t n_refs;
};

static int ref_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct keys_ref *)a)->flow_id, y = ((const struct keys_ref *)b)->flow_id;
	return x < y ? -1 : x > y;
}

/* A flow's key and frame range for the evidence files, from its record. */
static struct evidence_flow evidence_flow_from(const struct flow_record *r)
{
	return (struct evidence_flow){.flow_id = r->id, .cli = r->cli, .srv = r->srv,
				      .cport = r->cport, .sport = r->sport, .vlan = r->vlan,
				      .proto = r->proto, .file_first = r->file,
				      .file_last = r->last_file, .frame_first = r->first_frame,
				      .frame_last = r->last_frame};
}

static bool evidence_flow_of(uint64_t id, struct evidence_flow *out, void *user)
{
	const struct evidence_flows *ef = user;
	struct flow_record r;
	if (!engine_record_get(ef->eng, id, &r))
		return false;
	*out = evidence_flow_from(&r);
	struct keys_ref key = {.flow_id = id};
	const struct keys_ref *k = ef->n_refs ? bsearch(&key, ef->refs, ef->n_refs, sizeof(key),
							ref_cmp)
					      : NULL;
	if (k != NULL) {
		out->keys_off = k->off;
		out->keys_len = k->len;
	}
	return true;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Key log text of the decrypted connections among flows[0, n), in flow id
 * order (the order of their first packets, which the pack's cut follows),
 * for a Decryption Secrets Block: stops at whole connections before
 * PCAPNG_DSB_MAX bytes, or when memory runs out, and returns how many
 * decrypted connections were left out then. *text (owned; wiped and freed
 * by the caller) is NULL when there are none; refs, when given, gets each
 * connection's place in the text (and must hold n).
 */
static size_t keys_text(const struct run *r, const uint64_t *flows, size_t n, char **text_out,
			size_t *len_out, struct keys_ref *refs, size_t *n_refs)
{
	size_t left_out = 0;
	*text_out = NULL;
	*len_out = 0;
	if (n_refs)
		*n_refs = 0;
	uint64_t *ids = r->keys && n ? malloc(n * sizeof(*ids)) : NULL;
	if (ids == NULL)
		return 0;
	memcpy(ids, flows, n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), u64_cmp);
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (size_t k = 0; k < n; k++) {
		struct flow_record fr;
		if ((k > 0 && ids[k] == ids[k - 1]) || !engine_record_get(r->eng, ids[k], &fr) ||
		    !fr.tls_decrypted || !fr.have_client_random)
			continue;
		if (left_out > 0) {
			left_out++;
			continue;
		}
		if (cap - len < KEYLOG_EXPORT_MAX) {
			size_t nc = cap ? 2 * cap : 4 * (size_t)KEYLOG_EXPORT_MAX;
			char *nt = nc <= PCAPNG_DSB_MAX ? malloc(nc) : NULL;
			if (nt == NULL) {
				left_out++;
				continue;
			}
			if (text != NULL) {
				memcpy(nt, text, len);
				tls_wipe(text, cap);
				free(text);
			}
			text = nt;
			cap = nc;
		}
		size_t got = keylog_export(r->keys, fr.client_random, text + len, cap - len);
		if (got < cap - len && got > 0) {
			if (refs)
				refs[(*n_refs)++] = (struct keys_ref){ids[k], len, got};
			len += got;
		}
	}
	free(ids);
	if (len == 0) {
		free(text);
		return left_out;
	}
	*text_out = text;
	*len_out = len;
	return left_out;
}

/*
 * The key log lines of the finding's decrypted connections, for its
 * evidence pcapng's Decryption Secrets Block: exactly those, so that
 * Wireshark reads the connections the finding rests on and nothing else
 * of the key log reaches the report. Sets the set's tls_keys (owned;
 * freed and wiped by evidence_keys_free()), or leaves it NULL when there
 * are none; returns the connections left out (keys_text()).
 */
static size_t evidence_keys(const struct run *r, const struct finding *f, struct evidence_set *es)
{
	char *text;
	size_t len;
	size_t left_out = keys_text(r, f->flows, f->n_flows, &text, &len, NULL, NULL);
	es->tls_keys = text;
	es->tls_keys_len = len;
	return left_out;
}

static void evidence_keys_free(struct evidence_set *es)
{
	if (es->tls_keys != NULL) {
		char *text = (char *)es->tls_keys;
		tls_wipe(text, es->tls_keys_len);
		free(text);
	}
	es->tls_keys = NULL;
	es->tls_keys_len = 0;
}

/*
 * The pack's secrets: the key log lines of every decrypted connection of
 * every finding, each connection once, with its place for the comment on
 * its first packet. FA_ERUNTIME without memory.
 */
static int pack_keys(struct audit_session *s, struct evidence_pack *pk, struct keys_ref **refs,
		     size_t *n_refs)
{
	size_t nf = audit_finding_count(s->audit), n = 0;
	*refs = NULL;
	*n_refs = 0;
	if (s->run.keys == NULL)
		return FA_OK;
	for (size_t i = 0; i < nf; i++)
		n += audit_finding(s->audit, i)->n_flows;
	uint64_t *all = malloc((n ? n : 1) * sizeof(*all));
	*refs = malloc((n ? n : 1) * sizeof(**refs));
	if (all == NULL || *refs == NULL) {
		free(all);
		return FA_ERUNTIME;
	}
	n = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct finding *f = audit_finding(s->audit, i);
		memcpy(all + n, f->flows, f->n_flows * sizeof(*all));
		n += f->n_flows;
	}
	char *text;
	size_t len;
	size_t left_out = keys_text(&s->run, all, n, &text, &len, *refs, n_refs);
	free(all);
	pk->tls_keys = text;
	pk->tls_keys_len = len;
	if (left_out > 0)
		audit_session_note(s, NULL, "the evidence pack carries the session keys of some of its "
			 "decrypted connections only: %zu more would pass the %u MiB a Decryption "
			 "Secrets Block may hold here", left_out, PCAPNG_DSB_MAX >> 20);
	return FA_OK;
}

static void evidence_pack_free(struct evidence_pack *pk)
{
	if (pk == NULL)
		return;
	if (pk->tls_keys != NULL) {
		tls_wipe((char *)pk->tls_keys, pk->tls_keys_len);
		free((char *)pk->tls_keys);
	}
	evidence_pack_clear(pk);
	free(pk);
}

/* One file per finding up to EVIDENCE_FILES_MAX findings, the pack above,
   unless --format says which. */
static bool evidence_packed(const struct audit_session *s, size_t nf)
{
	if (s->formats & (FMT_EVIDENCE_FILES | FMT_EVIDENCE_PACK))
		return (s->formats & FMT_EVIDENCE_PACK) != 0;
	return nf > EVIDENCE_FILES_MAX;
}

/* ---- the pack beside the replay ---- */

void audit_session_joined(const struct finding *f, const struct flow_record *r, void *user)
{
	(void)r;
	struct audit_session *s = user;
	if (s->ev_stream_off)
		return;
	if (s->n_joined == s->cap_joined) {
		size_t nc = s->cap_joined ? 2 * s->cap_joined : 16;
		size_t *nj = realloc(s->joined, nc * sizeof(*nj));
		if (nj == NULL) {
			s->ev_stream_off = true; /* the pack is written after the replay */
			return;
		}
		s->joined = nj;
		s->cap_joined = nc;
	}
	s->joined[s->n_joined++] = f->index;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Flow r, with the findings at sets[0, n) (sorted here), to the writer. */
static bool stream_flow(struct audit_session *s, const struct flow_record *r, size_t *sets, size_t n)
{
	qsort(sets, n, sizeof(*sets), size_cmp);
	const char *names[64], **nm = n <= 64 ? names : malloc(n * sizeof(*nm));
	if (nm == NULL)
		return false;
	for (size_t k = 0; k < n; k++)
		nm[k] = audit_finding(s->audit, sets[k])->id;
	struct evidence_flow ef = evidence_flow_from(r);
	bool ok = evidence_stream_flow(s->ev_stream, &ef, sets, nm, n);
	if (nm != names)
		free(nm);
	return ok;
}

struct pair {
	uint64_t flow;
	size_t set;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->flow != y->flow)
		return x->flow < y->flow ? -1 : 1;
	return x->set < y->set ? -1 : x->set > y->set;
}

/* The flows of the findings so far, in id order, to a writer just started. */
static bool stream_catch_up(struct audit_session *s)
{
	size_t nf = audit_finding_count(s->audit), n = 0;
	for (size_t i = 0; i < nf; i++)
		n += audit_finding(s->audit, i)->n_flows;
	struct pair *p = malloc((n ? n : 1) * sizeof(*p));
	size_t *sets = malloc((nf ? nf : 1) * sizeof(*sets));
	bool ok = p != NULL && sets != NULL;
	n = 0;
	for (size_t i = 0; ok && i < nf; i++) {
		const struct finding *f = audit_finding(s->audit, i);
		for (size_t k = 0; k < f->n_flows; k++)
			p[n++] = (struct pair){f->flows[k], i};
	}
	if (ok)
		qsort(p, n, sizeof(*p), pair_cmp);
	for (size_t a = 0, b; ok && a < n; a = b) {
		size_t m = 0;
		for (b = a; b < n && p[b].flow == p[a].flow; b++)
			sets[m++] = p[b].set;
		struct flow_record r;
		if (engine_record_get(s->run.eng, p[a].flow, &r))
			ok = stream_flow(s, &r, sets, m);
	}
	free(p);
	free(sets);
	return ok;
}

/*
 * Whether this session writes its pack beside the replay, and when to
 * start: a replay of capture files, with no TLS secrets
 * (a pack with secrets is written after the replay: its secrets block
 * comes first), and the pack chosen: asked for, or once the findings pass
 * EVIDENCE_FILES_MAX (they only grow).
 */
static void stream_maybe_start(struct audit_session *s)
{
	bool pack_asked = (s->formats & FMT_EVIDENCE_PACK) != 0;
	if (s->live || (s->formats & FMT_EVIDENCE) == 0 ||
	    ((s->formats & FMT_EVIDENCE_FILES) && !pack_asked) || s->run.keys != NULL ||
	    s->run.o.n_reads == 0) {
		s->ev_stream_off = true;
		return;
	}
	if (!pack_asked && audit_finding_count(s->audit) <= EVIDENCE_FILES_MAX)
		return;
	struct fa_err err = {""};
	char edir[4300];
	bool ok = true;
	if (s->rdir == NULL) { /* no -o: the default directory, taken now */
		const char *outdir = default_outdir(s, report_clock());
		ok = outdir != NULL && audit_session_lock(s, outdir, &err) == FA_OK;
	}
	ok = ok && report_dir_begin(s->rdir, &err) == FA_OK;
	if (ok) {
		snprintf(edir, sizeof(edir), "%s/evidence", report_dir_build_path(s->rdir));
		ok = mkdir(edir, 0755) == 0 || errno == EEXIST;
	}
	ok = ok && evidence_stream_start((const char *const *)s->run.o.reads, s->run.o.n_reads, edir,
					 &s->ev_stream, &err) == FA_OK;
	if (ok && !stream_catch_up(s)) {
		evidence_stream_free(s->ev_stream);
		s->ev_stream = NULL;
		ok = false;
	}
	s->ev_stream_off = !ok; /* else after the replay, as without it */
}

void audit_session_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits,
			void *user)
{
	struct audit_session *s = user;
	s->n_joined = 0;
	audit_flow(r, hits, n_hits, s->audit);
	if (s->n_joined == 0 || s->ev_stream_off)
		return;
	if (s->ev_stream == NULL) {
		stream_maybe_start(s); /* the flow is among the findings it catches up with */
		return;
	}
	if (!stream_flow(s, r, s->joined, s->n_joined)) {
		evidence_stream_free(s->ev_stream);
		s->ev_stream = NULL;
		s->ev_stream_off = true;
	}
}

void audit_session_horizon(uint32_t file, uint64_t frame, void *user)
{
	struct audit_session *s = user;
	if (s->ev_stream != NULL)
		evidence_stream_horizon(s->ev_stream, file, frame);
}

void audit_session_stream_free(struct audit_session *s)
{
	evidence_stream_free(s->ev_stream);
	s->ev_stream = NULL;
	free(s->joined);
	s->joined = NULL;
	s->n_joined = s->cap_joined = 0;
}

static int build_evidence(struct audit_session *s, const char *dir, struct fa_err *err)
{
	size_t nf = audit_finding_count(s->audit);
	s->evidence = calloc(nf ? nf : 1, sizeof(*s->evidence));
	if (s->evidence == NULL)
		return FA_ERUNTIME;
	s->n_evidence = nf;
	bool packed = evidence_packed(s, nf);
	struct evidence_flows ef = {.eng = s->run.eng};
	struct keys_ref *refs = NULL;
	if (s->ev_stream != NULL && !packed) {
		evidence_stream_free(s->ev_stream); /* removes what it wrote */
		s->ev_stream = NULL;
	}
	if (packed) {
		s->evidence_pack = calloc(1, sizeof(*s->evidence_pack));
		if (s->evidence_pack == NULL ||
		    pack_keys(s, s->evidence_pack, &refs, &ef.n_refs) != FA_OK) {
			free(refs);
			fa_err_set(err, "out of memory collecting evidence");
			return FA_ERUNTIME;
		}
		ef.refs = refs;
	}
	for (size_t i = 0; i < nf; i++) {
		const struct finding *f = audit_finding(s->audit, i);
		s->evidence[i].name = f->id;
		s->evidence[i].flow_ids = f->flows;
		s->evidence[i].n_flow_ids = f->n_flows;
		size_t no_keys = packed ? 0 : evidence_keys(&s->run, f, &s->evidence[i]);
		if (no_keys > 0)
			audit_session_note(s, NULL, "the evidence of %s carries the session keys of some of its "
				 "decrypted connections only: %zu more would pass the %u MiB a "
				 "Decryption Secrets Block may hold here", f->id, no_keys,
				 PCAPNG_DSB_MAX >> 20);
	}
	char edir[4300];
	snprintf(edir, sizeof(edir), "%s/evidence", dir);
	int rc = FA_OK;
	if (nf > 0 && mkdir(edir, 0755) != 0 && errno != EEXIST) { /* EEXIST: made for the pack beside the replay */
		fa_err_set(err, "%s: cannot create: %s", edir, strerror(errno));
		rc = FA_ERUNTIME;
	} else if (nf > 0 && packed) {
		struct evidence_pack *pk = s->evidence_pack;
		struct fa_err serr = {""};
		if (s->ev_stream != NULL &&
		    evidence_stream_finish(s->ev_stream, s->evidence, nf, pk, &serr) == FA_OK) {
			rc = FA_OK;
			s->ev_beside = true;
		} else {
			/* the writer beside the replay failed: once more, after it,
			   which says what fails */
			audit_session_stream_free(s);
			rc = evidence_write_pack(s->capture_paths, s->n_capture_paths,
						 evidence_flow_of, &ef, s->evidence, nf, edir, pk, err);
		}
		for (size_t k = 0; k < pk->n_paths; k++) {
			char tmp[32];
			snprintf(tmp, sizeof(tmp), "%s", pk->paths[k]);
			snprintf(pk->paths[k], sizeof(pk->paths[k]), "evidence/%.22s", tmp);
		}
	} else if (nf > 0) {
		rc = evidence_write(s->capture_paths, s->n_capture_paths, evidence_flow_of, &ef,
				    s->evidence, nf, edir, err);
		for (size_t i = 0; i < nf; i++) {
			for (size_t k = 0; k < s->evidence[i].n_paths; k++) {
				char tmp[64];
				snprintf(tmp, sizeof(tmp), "%.63s", s->evidence[i].paths[k]);
				snprintf(s->evidence[i].paths[k], sizeof(s->evidence[i].paths[k]),
					 "evidence/%s", tmp);
			}
		}
	}
	free(refs);
	return rc;
}

/* The digests of every input a report names. */
struct input_digests {
	struct audit_session *s;
	size_t nf;
	const char *sig_dir;
	char (*caps)[65];           /* one per capture file */
	const char **cap_ptrs;
	char pol[65], ev[65], dev[65], sig[65], gc[65], ga[65];
	char sig_layer[SIG_MAX_LAYERS][65]; /* each catalogue's set of files */
	char keys[RUN_MAX_KEYLOGS][65]; /* one per --keylog file */
	const char *key_ptrs[RUN_MAX_KEYLOGS];
	size_t unhashed;            /* captures that were not files (a pipe) */
	int rc;
	struct fa_err err;
};

/*
 * The digest of each catalogue's set of files, and of them all: with one
 * catalogue its own, with several SHA-256 over "HASH  DIR/ *.json" lines.
 */
static int sig_digests(const struct sig_db *db, char layer[][65], char all[65],
		       struct fa_err *err)
{
	size_t n = sig_db_catalogue_count(db);
	struct sha256_ctx c;
	bool ok = sha256_init(&c);
	for (size_t i = 0; i < n; i++) {
		const char *dir = sig_db_catalogue(db, i)->dir;
		int rc = manifest_set_digest(dir, ".json", layer[i], err);
		if (rc != FA_OK)
			return rc;
		if (n == 1)
			memcpy(all, layer[0], 65);
		char line[4200];
		int l = snprintf(line, sizeof(line), "%s  %s/*.json\n", layer[i], dir);
		ok = ok && l > 0 && sha256_update(&c, line, strlen(line));
	}
	uint8_t d[SHA256_DIGEST_LEN];
	if (n > 1) {
		if (!ok || !sha256_final(&c, d)) {
			fa_err_set(err, "signatures: cannot compute a SHA-256 digest");
			return FA_ERUNTIME;
		}
		hash_hex(d, sizeof(d), all);
	} else if (ok) {
		sha256_final(&c, d); /* releases the context */
	}
	return FA_OK;
}

/* The capture files' digests, computed by a thread of their own while the
   replay reads the same files: on a machine with two processors the
   hashing then costs the audit no time. */
struct capture_digests {
	pthread_t thread;
	size_t n;
	const char **paths;
	char (*hex)[65];  /* "" for a capture read from a pipe */
	size_t unhashed;  /* captures that were not files */
	int rc;
	struct fa_err err;
};

static void *capture_digests_main(void *arg)
{
	struct capture_digests *cd = arg;
	cd->rc = FA_OK;
	for (size_t i = 0; cd->rc == FA_OK && i < cd->n; i++) {
		cd->hex[i][0] = '\0';
		/* a capture piped in is gone once read: no digest rather than a false one */
		if (!source_path_rereadable(cd->paths[i]))
			cd->unhashed++;
		else
			cd->rc = sha256_file(cd->paths[i], cd->hex[i], &cd->err);
	}
	return NULL;
}

static void capture_digests_free(struct capture_digests *cd)
{
	if (cd == NULL)
		return;
	free(cd->paths);
	free(cd->hex);
	free(cd);
}

/* The digests to compute for the capture files of src; NULL without memory. */
static struct capture_digests *capture_digests_new(const struct source *src)
{
	size_t n = source_file_count(src);
	struct capture_digests *cd = calloc(1, sizeof(*cd));
	if (cd != NULL) {
		cd->n = n;
		cd->paths = calloc(n ? n : 1, sizeof(*cd->paths));
		cd->hex = calloc(n ? n : 1, sizeof(*cd->hex));
	}
	if (cd == NULL || cd->paths == NULL || cd->hex == NULL) {
		capture_digests_free(cd);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		cd->paths[i] = source_file(src, i)->path;
	return cd;
}

void audit_session_hash_captures(struct audit_session *s)
{
	if (source_file_count(s->run.src) == 0 || report_threads() < 2)
		return;
	struct capture_digests *cd = capture_digests_new(s->run.src);
	if (cd == NULL) /* hashed after the replay instead */
		return;
	if (pthread_create(&cd->thread, NULL, capture_digests_main, cd) != 0) {
		capture_digests_free(cd);
		return;
	}
	s->cap_digests = cd;
}

void audit_session_hash_captures_end(struct audit_session *s)
{
	if (s->cap_digests != NULL) {
		pthread_join(s->cap_digests->thread, NULL);
		capture_digests_free(s->cap_digests);
		s->cap_digests = NULL;
	}
}

/* The captures' digests into in: those started beside the replay, waited
   for, or else computed now. FA_OK, or the failure with in->err set. */
static int capture_digests_take(struct input_digests *in)
{
	struct capture_digests *cd = in->s->cap_digests;
	in->s->cap_digests = NULL;
	if (cd != NULL) {
		pthread_join(cd->thread, NULL);
	} else if ((cd = capture_digests_new(in->s->run.src)) != NULL) {
		capture_digests_main(cd);
	} else {
		fa_err_set(&in->err, "out of memory hashing the captures");
		return FA_ERUNTIME;
	}
	memcpy(in->caps, cd->hex, in->nf * sizeof(*in->caps));
	in->unhashed = cd->unhashed;
	int rc = cd->rc;
	if (rc != FA_OK)
		in->err = cd->err;
	capture_digests_free(cd);
	return rc;
}

static void *hash_inputs(void *arg)
{
	struct input_digests *in = arg;
	struct run *r = &in->s->run;
	for (size_t i = 0; i < in->nf; i++)
		in->cap_ptrs[i] = in->caps[i];
	int rc = capture_digests_take(in);
	if (rc == FA_OK)
		rc = sha256_file(in->s->policy->path, in->pol, &in->err);
	if (rc == FA_OK && r->o.events_path)
		rc = sha256_file(r->o.events_path, in->ev, &in->err);
	if (rc == FA_OK && r->dev)
		rc = sha256_file(r->dev->path, in->dev, &in->err);
	if (rc == FA_OK && in->sig_dir)
		rc = sig_digests(r->sigs, in->sig_layer, in->sig, &in->err);
	const struct geo_db_info *gci = geo_country_info(r->geo), *gai = geo_asn_info(r->geo);
	if (rc == FA_OK && gci)
		rc = sha256_file(gci->path, in->gc, &in->err);
	if (rc == FA_OK && gai)
		rc = sha256_file(gai->path, in->ga, &in->err);
	/* a key log by its digest: its contents are secrets */
	for (size_t i = 0; rc == FA_OK && i < r->o.n_keylogs; i++) {
		in->key_ptrs[i] = in->keys[i];
		rc = sha256_file(r->o.keylogs[i], in->keys[i], &in->err);
	}
	in->rc = rc;
	return NULL;
}

int audit_session_report(struct audit_session *s, const char *command, json_t **doc_out,
			 struct fa_err *err)
{
	struct run *r = &s->run;
	fa_time now = report_clock();
	/* the default directory is named once: when the pack beside the
	   replay took it, or now */
	const char *outdir = r->o.outdir       ? r->o.outdir
			     : s->outdir_alloc ? s->outdir_alloc
					       : default_outdir(s, now);
	if (outdir == NULL)
		return FA_ERUNTIME;
	s->outdir = outdir;
	/* hashes of every input: with a second thread, beside the evidence */
	size_t nf = source_file_count(r->src);
	struct input_digests in = {.s = s, .nf = nf,
				   .sig_dir = r->o.sig_dir ? r->o.sig_dir : sig_default_dir()};
	in.caps = calloc(nf ? nf : 1, 65);
	in.cap_ptrs = calloc(nf ? nf : 1, sizeof(*in.cap_ptrs));
	int rc = (in.caps && in.cap_ptrs) ? FA_OK : FA_ERUNTIME;
	const char *sig_dir = in.sig_dir;
	const struct geo_db_info *gci = geo_country_info(r->geo), *gai = geo_asn_info(r->geo);

	/* build aside, put in place at the end (report_dir.h) */
	if (rc == FA_OK && s->rdir == NULL)
		rc = audit_session_lock(s, outdir, err);
	if (rc == FA_OK)
		rc = report_dir_begin(s->rdir, err);
	const char *tmpdir = rc == FA_OK ? report_dir_build_path(s->rdir) : "";
	pthread_t ht;
	double t0 = cmd_mono_s();
	bool hashing_beside = rc == FA_OK && report_threads() > 1 &&
			      pthread_create(&ht, NULL, hash_inputs, &in) == 0;
	if (rc == FA_OK && !hashing_beside)
		hash_inputs(&in);
	double t1 = cmd_mono_s();
	s->t_hashes = t1 - t0;
	s->capture_paths = (const char *const *)r->o.reads;
	s->n_capture_paths = r->o.n_reads;
	struct flows_part flows = {.rc = FA_OK};
	if (rc == FA_OK)
		flows_part_start(&flows, r, s->policy, tmpdir);
	if (rc == FA_OK && (s->formats & FMT_EVIDENCE) && (hashing_beside || in.rc == FA_OK))
		rc = build_evidence(s, tmpdir, err);
	if (hashing_beside)
		pthread_join(ht, NULL);
	double t2 = cmd_mono_s();
	s->t_evidence = t2 - t1;
	if (rc == FA_OK && in.rc != FA_OK) {
		rc = in.rc;
		*err = in.err;
	}
	char (*caps)[65] = in.caps;
	const char **cap_ptrs = in.cap_ptrs;
	char *pol = in.pol, *ev = in.ev, *dev = in.dev, *sig = in.sig, *gc = in.gc, *ga = in.ga;

	json_t *doc = NULL;
	struct output_pool pool = {.rc = FA_OK};
	if (rc == FA_OK) {
		bool have_live = s->have_live_stats;
		struct source_live_stats live = s->live_stats;
		const char *notes[5 + SESSION_NOTES_MAX];
		size_t n_notes = 0;
		struct audit_stats ast;
		audit_stats(s->audit, &ast);
		char note[200];
		if (ast.unknown_country_flows) {
			snprintf(note, sizeof(note), "%llu flows went to public addresses the country "
				 "database does not place; they are not judged for cross-border transfer",
				 (unsigned long long)ast.unknown_country_flows);
			notes[n_notes++] = note;
		}
		if (in.unhashed)
			notes[n_notes++] = "a capture was read from a pipe: its bytes could not be "
					   "read again, so report.json gives it no SHA-256 and "
					   "MANIFEST.sha256 does not list it";
		if (r->geo == NULL)
			notes[n_notes++] = "no geolocation database: countries unknown, cross-border "
					   "transfers not judged";
		for (size_t i = 0; i < s->n_notes; i++)
			notes[n_notes++] = s->notes[i].text;
		struct report_ctx c = {
			.command = command,
			.generated = now,
			.fail_on = s->fail_on,
			.src = r->src,
			.capture_sha256 = cap_ptrs,
			.policy = s->policy,
			.policy_sha256 = pol,
			.consent = s->consent,
			.events_path = r->o.events_path,
			.events_sha256 = ev[0] ? ev : NULL,
			.profile = r->dev,
			.profile_sha256 = dev[0] ? dev : NULL,
			.sigs = r->sigs,
			.sig_dir = sig_dir,
			.sig_sha256 = sig[0] ? sig : NULL,
			.geo = r->geo,
			.geo_country_sha256 = gc[0] ? gc : NULL,
			.geo_asn_sha256 = ga[0] ? ga : NULL,
			.keylog_paths = r->o.keylogs,
			.keylog_sha256 = in.key_ptrs,
			.n_keylogs = r->o.n_keylogs,
			.tls_keys = r->o.n_keylogs > 0 ||
				    (r->keys != NULL && keylog_stats(r->keys)->secrets > 0),
			.eng = r->eng,
			.audit = s->audit,
			.evidence = (s->formats & FMT_EVIDENCE) ? s->evidence : NULL,
			.live = have_live ? &live : NULL,
			.notes = notes,
			.n_notes = n_notes,
			.reasons = &s->reasons,
			.file_times = r->times.n_files ? r->times.file : NULL,
		};
		doc = report_build(&c);
		if (flows.started) {
			c.flows_written = flows_part_put;
			c.flows_user = &flows;
		}
		/* the writers only read the document, the audit and the records */
		pool.dir = tmpdir;
		pool.doc = doc;
		pool.c = &c;
		pool.formats = s->formats;
		rc = write_outputs(&pool, err);
	}
	flows_part_end(&flows);
	if (rc != FA_OK && flows.rc != FA_OK)
		*err = flows.err; /* report.json failed for want of its flows */
	double t3 = cmd_mono_s();
	s->t_outputs = t3 - t2;
	if (rc == FA_OK) {
		/* every input: captures, declaration, events, profile, each
		   signature file, the geo databases, the key logs */
		size_t nsig = sig_db_count(r->sigs);
		char sig_set[SIG_MAX_LAYERS][4200];
		size_t nk = r->o.n_keylogs, ncat = sig_db_catalogue_count(r->sigs);
		const char **inputs = calloc(nf + nsig + nk + ncat + 8, sizeof(*inputs));
		const char **sums = calloc(nf + nsig + nk + ncat + 8, sizeof(*sums));
		size_t ni = 0;
		if (inputs == NULL || sums == NULL) {
			fa_err_set(err, "out of memory writing %s", MANIFEST_NAME);
			rc = FA_ERUNTIME;
		}
		/* the digests computed above for report.json go in as they are */
		for (size_t i = 0; rc == FA_OK && i < nf; i++) {
			if (caps[i][0] == '\0')
				continue; /* read from a pipe */
			sums[ni] = caps[i];
			inputs[ni++] = source_file(r->src, i)->path;
		}
		if (rc == FA_OK) {
			sums[ni] = pol;
			inputs[ni++] = s->policy->path;
			if (r->o.events_path) {
				sums[ni] = ev;
				inputs[ni++] = r->o.events_path;
			}
			if (r->dev) {
				sums[ni] = dev;
				inputs[ni++] = r->dev->path;
			}
			for (size_t i = 0; i < nsig; i++)
				inputs[ni++] = sig_db_entry(r->sigs, i)->file;
			/* and each set itself: a signature file added is a change too */
			for (size_t i = 0; sig_dir && i < ncat; i++) {
				snprintf(sig_set[i], sizeof(sig_set[i]), "%s/*.json",
					 sig_db_catalogue(r->sigs, i)->dir);
				sums[ni] = in.sig_layer[i];
				inputs[ni++] = sig_set[i];
			}
			if (gci) {
				sums[ni] = gc;
				inputs[ni++] = gci->path;
			}
			if (gai) {
				sums[ni] = ga;
				inputs[ni++] = gai->path;
			}
			for (size_t i = 0; i < nk; i++) {
				sums[ni] = in.keys[i];
				inputs[ni++] = r->o.keylogs[i];
			}
			/* the outputs and the evidence pack were hashed as they
			   were written */
			const struct evidence_pack *pk = s->evidence_pack;
			size_t npk = pk ? pk->n_paths : 0, no = 0;
			const char **outs = calloc(npk + N_OUTPUTS, sizeof(*outs));
			const char **osums = calloc(npk + N_OUTPUTS, sizeof(*osums));
			for (size_t k = 0; outs && osums && k < N_OUTPUTS; k++) {
				if (pool.written[k]) {
					outs[no] = outputs[k].name;
					osums[no++] = pool.sha256[k];
				}
			}
			for (size_t k = 0; outs && osums && k < npk; k++) {
				outs[no] = pk->paths[k];
				osums[no++] = pk->sha256[k];
			}
			if (outs == NULL || osums == NULL) {
				fa_err_set(err, "out of memory writing %s", MANIFEST_NAME);
				rc = FA_ERUNTIME;
			} else {
				rc = manifest_write_known(tmpdir, inputs, sums, ni, outs, osums, no,
							  (unsigned)r->o.threads, err);
			}
			free(outs);
			free(osums);
			if (rc == FA_OK && s->sign_key != NULL)
				rc = report_sign_manifest(tmpdir, s->sign_key, err);
		}
		free(inputs);
		free(sums);
	}
	s->t_hashes += cmd_mono_s() - t3;
	if (rc == FA_OK)
		rc = report_dir_place(s->rdir, err);
	if (rc != FA_OK) {
		report_dir_abandon(s->rdir);
		json_decref(doc);
		doc = NULL;
	}
	for (size_t i = 0; i < s->n_evidence; i++) {
		evidence_set_clear(&s->evidence[i]);
		evidence_keys_free(&s->evidence[i]);
	}
	free(s->evidence);
	s->evidence = NULL;
	s->n_evidence = 0;
	evidence_pack_free(s->evidence_pack);
	s->evidence_pack = NULL;
	free(caps);
	free(cap_ptrs);
	*doc_out = doc;
	return rc;
}
