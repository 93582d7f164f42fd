/*
 * report_junit.c - junit.xml: the report as JUnit test results, so a CI
 * server shows "undeclared-recipient: 2 failures" next to the build.
 *
 * Receives the report document and borrows it; writes to a stream the
 * caller owns. Layout (docs/outputs.md): a <testsuite name="declared
 * statements"> with one test case per statement, then one <testsuite> per
 * rule (all eight, plus any other rule a finding names) with one test case
 * per finding, or a single passing case "no findings". JUnit allows one
 * <failure> per test case, hence a case per finding. A finding fails when
 * its severity is at or above the report's fail_on, so the XML agrees with
 * the exit status; a finding below it is a passing case that carries its
 * details in <system-out>. A statement not exercised is <skipped>. A
 * first suite, "audit coverage", has one case that is an <error> naming
 * each of report.json's verdict_reasons when the audit could not look at
 * all it was asked to (an inconclusive verdict, or reasons beside a FAIL),
 * so that CI never shows an audit of nothing as green. fail_on "never"
 * fails no finding.
 *
 * Every string is escaped, and characters XML 1.0 forbids (C0 controls
 * other than tab, newline, carriage return; U+FFFE, U+FFFF) are dropped,
 * because a single one makes the whole file unreadable to a CI parser.
 * Owns nothing after it returns. The findings are fetched once each, one
 * at a time, and read as text in place (report_text.h): the counts at the
 * top of the file need every rule and severity before anything is written,
 * so each finding's test case is written then to a temporary file, and
 * copied from there into its rule's suite (and its body into the failure
 * of each statement it breaks). Memory does not grow with the findings'
 * text; the temporary file holds about what the rule suites will.
 */
#include "flowaudit/report.h"

#include "report_text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const rule_ids[] = {
	"undeclared-recipient", "unknown-endpoint", "cross-border-without-consent",
	"before-consent", "after-withdrawal", "cleartext-identifier",
	"undeclared-data", "unencrypted-transport",
};
#define N_RULES (sizeof(rule_ids) / sizeof(rule_ids[0]))
#define MAX_EXTRA_RULES 32

static const char *jstr(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_string_value(json_object_get(o, key)) : NULL;
}

static void x_esc(struct jsonw *o, const char *s)
{
	rt_esc(o, s, &rt_xml);
}

static int sev_rank(const char *s)
{
	static const char *const names[] = {"info", "low", "medium", "high"};
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return 3; /* an unknown severity is never quietly below the bar */
}

/* The human-readable body of a finding (loaded in v), for <failure> or
   <system-out>. */
static void finding_body(struct jsonw *o, struct rt_finding *v)
{
	static const char *const keys[] = {"title", "severity", "device", "host", "country",
					   "first_seen", "last_seen", "detail", "clause",
					   "statement", "evidence"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *s = rt_gstr(v, RT_ROOT, keys[k]);
		if (s == NULL)
			continue;
		x_esc(o, keys[k]);
		rt_put(o, ": ");
		x_esc(o, s);
		rt_put(o, "&#10;");
	}
	if (rt_true(v, rt_get(v, RT_ROOT, "decrypted")))
		rt_put(o, "read after TLS decryption: yes (the evidence carries its connections' "
			  "keys)&#10;");
	int rc = rt_get(v, RT_ROOT, "recipient");
	if (rt_is_object(v, rc)) {
		const char *name = rt_gstr(v, rc, "name"), *entity = rt_gstr(v, rc, "entity");
		rt_put(o, "recipient: ");
		x_esc(o, name ? name : "(not identified)");
		rt_put(o, " (");
		x_esc(o, rt_gstr(v, rc, "kind"));
		if (entity) {
			rt_put(o, ", ");
			x_esc(o, entity);
		}
		rt_put(o, ")&#10;");
	}
	int frames = rt_get(v, RT_ROOT, "frames");
	for (int fr = rt_first(v, frames); fr >= 0; fr = rt_next(v, frames, fr)) {
		rt_put(o, "frames in ");
		x_esc(o, rt_gstr(v, fr, "file"));
		rt_put(o, ":");
		int nums = rt_get(v, fr, "numbers");
		long long nt;
		size_t total =
		    rt_int(v, rt_get(v, fr, "numbers_total"), &nt) ? (size_t)nt : rt_count(v, nums);
		size_t shown = 0;
		for (int n = rt_first(v, nums); n >= 0 && shown < 50; n = rt_next(v, nums, n)) {
			long long x = 0;
			rt_int(v, n, &x);
			rt_put(o, " ");
			rt_dec(o, x);
			shown++;
		}
		if (total > shown)
			rt_printf(o, " ... and %zu more", total - shown);
		rt_put(o, "&#10;");
	}
}

/* The name is a, sep, b: written piecewise so no buffer cuts a character in two. */
static void testcase_open(struct jsonw *o, const char *classname, const char *a, const char *sep,
			  const char *b)
{
	rt_put(o, "    <testcase classname=\"");
	x_esc(o, classname);
	rt_put(o, "\" name=\"");
	x_esc(o, a ? a : "?");
	x_esc(o, sep);
	x_esc(o, b);
	rt_put(o, "\"");
}

static void suite_open(struct jsonw *o, const char *name, size_t tests, size_t failures,
		       size_t skipped)
{
	rt_put(o, "  <testsuite name=\"");
	x_esc(o, name);
	rt_printf(o, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", tests,
		  failures, skipped);
}

/*
 * What the writer keeps of every finding: its id, title, rule (an index in
 * rule_ids, then in extra) and severity's rank, and where in the spill its
 * test case and, inside it, its body are.
 */
struct spilled {
	off_t start, body, body_end, end;
};

struct jctx {
	const struct report_findings *fs;
	int bar;
	char **ids, **titles;
	int *rule, *sev;
	struct spilled *at;
	FILE *spill;
	char *copy;    /* SPILL_COPY bytes of the spill, read ahead ... */
	off_t copy_at; /* ... from this offset ... */
	size_t copy_n; /* ... this many */
	const char *extra[MAX_EXTRA_RULES];
	char *extra_store[MAX_EXTRA_RULES];
	size_t n_extra;
};

#define SPILL_COPY 65536

static int rule_index(struct jctx *j, const char *r)
{
	if (r == NULL)
		return -1;
	for (size_t i = 0; i < N_RULES; i++)
		if (strcmp(r, rule_ids[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < j->n_extra; i++)
		if (strcmp(r, j->extra[i]) == 0)
			return (int)(N_RULES + i);
	/* a rule the eight do not name still gets a suite: a finding is never lost */
	if (j->n_extra == MAX_EXTRA_RULES || (j->extra_store[j->n_extra] = strdup(r)) == NULL)
		return -1;
	j->extra[j->n_extra] = j->extra_store[j->n_extra];
	return (int)(N_RULES + j->n_extra++);
}

static const char *rule_name(const struct jctx *j, int k)
{
	return (size_t)k < N_RULES ? rule_ids[k] : j->extra[(size_t)k - N_RULES];
}

static void jctx_free(struct jctx *j)
{
	for (size_t i = 0; j->ids && i < j->fs->n; i++)
		free(j->ids[i]);
	for (size_t i = 0; j->titles && i < j->fs->n; i++)
		free(j->titles[i]);
	free(j->ids);
	free(j->titles);
	free(j->rule);
	free(j->sev);
	free(j->at);
	free(j->copy);
	if (j->spill)
		fclose(j->spill);
	for (size_t i = 0; i < j->n_extra; i++)
		free(j->extra_store[i]);
}

/* Where the spill's writer has got to (the spill holds nothing else). */
static off_t spill_pos(const struct jsonw *sw)
{
	return sw->failed ? -1 : (off_t)jsonw_offset(sw);
}

/* Finding i (loaded in v) as the test case of its rule's suite, into the spill. */
static void spill_case(struct jctx *j, struct jsonw *sw, struct rt_finding *v, size_t i)
{
	struct spilled *at = &j->at[i];
	at->start = spill_pos(sw);
	bool fails = j->sev[i] >= j->bar;
	if (j->rule[i] >= 0) {
		char classname[160];
		const char *rule = rule_name(j, j->rule[i]);
		snprintf(classname, sizeof(classname), "rules.%s", rule ? rule : "?");
		testcase_open(sw, classname, rt_gstr(v, RT_ROOT, "id"), " ",
			      rt_gstr(v, RT_ROOT, "host"));
		rt_put(sw, ">\n");
		if (fails) {
			rt_put(sw, "      <failure type=\"");
			x_esc(sw, rt_gstr(v, RT_ROOT, "severity"));
			rt_put(sw, "\" message=\"");
			x_esc(sw, rt_gstr(v, RT_ROOT, "title"));
			rt_put(sw, "\">");
		} else {
			rt_put(sw, "      <system-out>below fail_on&#10;");
		}
	}
	at->body = spill_pos(sw);
	finding_body(sw, v);
	at->body_end = spill_pos(sw);
	if (j->rule[i] >= 0)
		rt_put(sw, fails ? "</failure>\n    </testcase>\n"
				 : "</system-out>\n    </testcase>\n");
	at->end = spill_pos(sw);
}

/* Reads every finding once: what jctx keeps, and its test case into the
   spill. FA_OK, or FA_ERUNTIME with err filled. */
static int jctx_init(struct jctx *j, const struct report_findings *fs, int bar, struct fa_err *err)
{
	memset(j, 0, sizeof(*j));
	j->fs = fs;
	j->bar = bar;
	size_t n = fs->n ? fs->n : 1;
	j->ids = calloc(n, sizeof(*j->ids));
	j->titles = calloc(n, sizeof(*j->titles));
	j->rule = calloc(n, sizeof(*j->rule));
	j->sev = calloc(n, sizeof(*j->sev));
	j->at = calloc(n, sizeof(*j->at));
	j->copy = malloc(SPILL_COPY);
	if (j->ids == NULL || j->titles == NULL || j->rule == NULL || j->sev == NULL ||
	    j->at == NULL || j->copy == NULL) {
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	int fd = fa_tmpfile("junit");
	if (fd < 0 || (j->spill = fdopen(fd, "w+")) == NULL) {
		fa_err_set(err,
			   "junit.xml: cannot make a temporary file in %s: %s (set TMPDIR to a "
			   "writable directory)",
			   fa_tmpdir(), strerror(errno));
		if (fd >= 0)
			close(fd);
		return FA_ERUNTIME;
	}
	struct rt_finding v;
	struct jsonw sw;
	if (rt_finding_open(&v) != FA_OK) {
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	if (jsonw_open_text(&sw, j->spill) != FA_OK) {
		rt_finding_close(&v);
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	bool ok = true;
	for (size_t i = 0; ok && i < fs->n; i++) {
		rt_finding_load(&v, fs, i);
		j->rule[i] = rule_index(j, rt_gstr(&v, RT_ROOT, "rule"));
		j->sev[i] = sev_rank(rt_gstr(&v, RT_ROOT, "severity"));
		const char *id = rt_gstr(&v, RT_ROOT, "id"), *title = rt_gstr(&v, RT_ROOT, "title");
		j->ids[i] = id ? strdup(id) : NULL;
		j->titles[i] = title ? strdup(title) : NULL;
		ok = (id == NULL || j->ids[i] != NULL) && (title == NULL || j->titles[i] != NULL);
		spill_case(j, &sw, &v, i);
	}
	rt_finding_close(&v);
	bool written = jsonw_close(&sw) == FA_OK && fflush(j->spill) == 0 && !ferror(j->spill);
	if (!ok) {
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	if (!written) {
		fa_err_set(err, "junit.xml: cannot write a temporary file: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}

/*
 * Bytes [from, to) of the spill, onto o. The cases of a suite and the
 * bodies of a statement come in the order they were spilled, a few hundred
 * bytes each: one read brings in the next SPILL_COPY bytes for those that
 * follow.
 */
static void copy_spill(struct jsonw *o, struct jctx *j, off_t from, off_t to)
{
	if (from >= 0 && to >= from && to - from <= SPILL_COPY &&
	    (from < j->copy_at || to > j->copy_at + (off_t)j->copy_n)) {
		ssize_t got = pread(fileno(j->spill), j->copy, SPILL_COPY, from);
		j->copy_at = from;
		j->copy_n = got > 0 ? (size_t)got : 0;
	}
	if (from >= j->copy_at && to <= j->copy_at + (off_t)j->copy_n) {
		jsonw_raw(o, j->copy + (from - j->copy_at), (size_t)(to - from));
		return;
	}
	j->copy_n = 0; /* the buffer is taken over below */
	while (from < to && !o->failed) {
		size_t n = (size_t)(to - from) < SPILL_COPY ? (size_t)(to - from) : SPILL_COPY;
		ssize_t got = pread(fileno(j->spill), j->copy, n, from);
		if (got <= 0) {
			o->failed = true;
			return;
		}
		jsonw_raw(o, j->copy, (size_t)got);
		from += got;
	}
}

/* The place of finding id: F0001 is the first, as the report numbers them;
   anything else is searched for. -1 when there is none. */
static long finding_index(const struct jctx *j, const char *id)
{
	if (id == NULL)
		return -1;
	if (id[0] == 'F') {
		char *end;
		unsigned long n = strtoul(id + 1, &end, 10);
		if (n > 0 && *end == '\0' && n <= j->fs->n && j->ids[n - 1] &&
		    strcmp(j->ids[n - 1], id) == 0)
			return (long)(n - 1);
	}
	for (size_t i = 0; i < j->fs->n; i++)
		if (j->ids[i] && strcmp(j->ids[i], id) == 0)
			return (long)i;
	return -1;
}

/* A broken statement fails when one of its findings reaches fail_on. */
static bool statement_fails(const struct jctx *j, const json_t *st)
{
	const json_t *ids = json_object_get(st, "findings");
	if (json_array_size(ids) == 0)
		return true;
	size_t i;
	const json_t *id;
	json_array_foreach(ids, i, id) {
		long k = finding_index(j, json_string_value(id));
		if (k < 0 || j->sev[k] >= j->bar)
			return true;
	}
	return false;
}

static void count_statements(const json_t *doc, const struct jctx *j, size_t *tests,
			     size_t *failures, size_t *skipped)
{
	size_t i;
	const json_t *st;
	*tests = *failures = *skipped = 0;
	json_array_foreach(json_object_get(doc, "statements"), i, st) {
		const char *v = jstr(st, "verdict");
		(*tests)++;
		if (v && strcmp(v, "broken") == 0 && statement_fails(j, st))
			(*failures)++;
		else if (v && strcmp(v, "not_exercised") == 0)
			(*skipped)++;
	}
}

static void write_statements(struct jsonw *o, const json_t *doc, struct jctx *j)
{
	const json_t *sts = json_object_get(doc, "statements");
	size_t tests, failures, skipped, i;
	const json_t *st;
	count_statements(doc, j, &tests, &failures, &skipped);
	suite_open(o, "declared statements", tests, failures, skipped);
	json_array_foreach(sts, i, st) {
		const char *v = jstr(st, "verdict");
		testcase_open(o, "statements", jstr(st, "id"), ": ", jstr(st, "text"));
		rt_put(o, ">\n");
		const json_t *ids = json_object_get(st, "findings");
		bool broken = v && strcmp(v, "broken") == 0;
		if (broken && statement_fails(j, st)) {
			rt_put(o, "      <failure type=\"broken\" message=\"");
			size_t k;
			const json_t *id;
			json_array_foreach(ids, k, id) {
				long fi = finding_index(j, json_string_value(id));
				if (k)
					rt_put(o, "; ");
				x_esc(o, json_string_value(id));
				rt_put(o, " ");
				x_esc(o, fi < 0 ? NULL : j->titles[fi]);
			}
			if (json_array_size(ids) == 0)
				rt_put(o, "broken");
			rt_put(o, "\">");
			rt_put(o, "clause: ");
			x_esc(o, jstr(st, "clause"));
			rt_put(o, "&#10;&#10;");
			json_array_foreach(ids, k, id) {
				rt_put(o, "finding ");
				x_esc(o, json_string_value(id));
				rt_put(o, "&#10;");
				long fi = finding_index(j, json_string_value(id));
				if (fi >= 0)
					copy_spill(o, j, j->at[fi].body, j->at[fi].body_end);
				rt_put(o, "&#10;");
			}
			rt_put(o, "</failure>\n");
		} else if (v && strcmp(v, "not_exercised") == 0) {
			rt_put(
			    o,
			    "      <skipped message=\"not exercised by the captured traffic\"/>\n");
		} else if (broken) {
			rt_put(o, "      <system-out>broken only by findings below fail_on&#10;");
			x_esc(o, jstr(st, "clause"));
			rt_put(o, "</system-out>\n");
		}
		rt_put(o, "    </testcase>\n");
	}
	rt_put(o, "  </testsuite>\n");
}

/* Findings of rule number k, and those of them that fail. */
static void count_rule(const struct jctx *j, int k, size_t *tests, size_t *failures)
{
	*tests = *failures = 0;
	for (size_t i = 0; i < j->fs->n; i++) {
		if (j->rule[i] == k) {
			(*tests)++;
			if (j->sev[i] >= j->bar)
				(*failures)++;
		}
	}
}

/* The suite of rule number k (named rule), one case per finding of it. */
static void write_rule(struct jsonw *o, struct jctx *j, int k, const char *rule)
{
	size_t tests, failures;
	count_rule(j, k, &tests, &failures);
	suite_open(o, rule, tests ? tests : 1, failures, 0);
	if (tests == 0) {
		char classname[160];
		snprintf(classname, sizeof(classname), "rules.%s", rule ? rule : "?");
		testcase_open(o, classname, "no findings", NULL, NULL);
		rt_put(o, "/>\n");
	}
	for (size_t i = 0; i < j->fs->n; i++)
		if (j->rule[i] == k)
			copy_spill(o, j, j->at[i].start, j->at[i].end);
	rt_put(o, "  </testsuite>\n");
}

/* The suite "audit coverage": one case, an <error> naming every verdict reason. */
static void write_coverage(struct jsonw *o, const json_t *doc)
{
	const json_t *rs = json_object_get(doc, "verdict_reasons");
	size_t n = json_array_size(rs);
	rt_printf(o,
		  "  <testsuite name=\"audit coverage\" tests=\"1\" failures=\"0\" "
		  "errors=\"%d\" skipped=\"0\">\n",
		  n ? 1 : 0);
	testcase_open(o, "coverage", "the captured traffic of the devices was examined", NULL,
		      NULL);
	if (n == 0) {
		rt_put(o, "/>\n");
		rt_put(o, "  </testsuite>\n");
		return;
	}
	rt_put(o, ">\n      <error type=\"");
	x_esc(o, jstr(doc, "verdict") ? jstr(doc, "verdict") : "inconclusive");
	rt_put(o, "\" message=\"the audit could not look at all it was asked to:");
	size_t i;
	const json_t *r;
	json_array_foreach(rs, i, r) {
		rt_put(o, i ? ", " : " ");
		x_esc(o, jstr(r, "code"));
	}
	rt_put(o, "\">");
	json_array_foreach(rs, i, r) {
		x_esc(o, jstr(r, "code"));
		rt_put(o, ": ");
		x_esc(o, jstr(r, "text"));
		rt_put(o, "&#10;");
	}
	rt_put(o, "</error>\n    </testcase>\n  </testsuite>\n");
}

int report_junit_write(const json_t *doc, FILE *out, struct fa_err *err)
{
	struct report_findings fs = report_findings_of_doc(doc);
	return report_junit_write_each(doc, &fs, out, err);
}

int report_junit_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			    struct fa_err *err)
{
	const char *fail_on = jstr(doc, "fail_on");
	/* "never": above every severity */
	int bar = fail_on == NULL ? 0 : strcmp(fail_on, "never") == 0 ? 4 : sev_rank(fail_on);
	struct jctx j;
	struct jsonw w;
	if (jctx_init(&j, fs, bar, err) != FA_OK) {
		jctx_free(&j);
		return FA_ERUNTIME;
	}
	if (jsonw_open_text(&w, out) != FA_OK) {
		jctx_free(&j);
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	struct jsonw *o = &w;

	/* the counts for <testsuites>, which come first */
	size_t tests, failures, skipped, t, f;
	count_statements(doc, &j, &tests, &failures, &skipped);
	for (size_t k = 0; k < N_RULES + j.n_extra; k++) {
		count_rule(&j, (int)k, &t, &f);
		tests += t ? t : 1;
		failures += f;
	}
	const json_t *policy = json_object_get(doc, "policy");
	const char *app = jstr(json_object_get(policy, "app"), "name");
	rt_put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flowaudit");
	if (app) {
		rt_put(o, ": ");
		x_esc(o, app);
	}
	rt_printf(o, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\"", tests + 1, failures,
		  json_array_size(json_object_get(doc, "verdict_reasons")) ? 1 : 0);
	if (jstr(doc, "generated_at")) {
		rt_put(o, " timestamp=\"");
		x_esc(o, jstr(doc, "generated_at"));
		rt_put(o, "\"");
	}
	rt_put(o, ">\n");
	write_coverage(o, doc);
	write_statements(o, doc, &j);
	for (size_t k = 0; k < N_RULES; k++)
		write_rule(o, &j, (int)k, rule_ids[k]);
	for (size_t k = 0; k < j.n_extra; k++)
		write_rule(o, &j, (int)(N_RULES + k), j.extra[k]);
	jctx_free(&j);
	rt_put(o, "</testsuites>\n");
	if (jsonw_close(o) != FA_OK || ferror(out)) {
		fa_err_set(err, "junit.xml: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
