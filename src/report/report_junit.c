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
 * Owns nothing after it returns. The findings are fetched one at a time:
 * once to learn their ids, titles, rules and severities, then again as each
 * is written.
 */
#include "flowaudit/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Writes s escaped for text and attribute values alike: runs of plain bytes
   go out whole. */
static void x_esc(FILE *out, const char *s)
{
	if (s == NULL)
		return;
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (; *p; p++) {
		unsigned char c = *p;
		const char *rep;
		size_t skip = 1;
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		case '\n': rep = "&#10;"; break;
		case '\r': rep = "&#13;"; break;
		case '\t': rep = "&#9;"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				rep = ""; /* not allowed in XML 1.0 */
			} else if (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
				rep = ""; /* U+FFFE, U+FFFF */
				skip = 3;
			} else {
				continue;
			}
		}
		fwrite(run, 1, (size_t)(p - run), out);
		fputs(rep, out);
		p += skip - 1;
		run = p + 1;
	}
	fwrite(run, 1, (size_t)(p - run), out);
}

static int sev_rank(const char *s)
{
	static const char *const names[] = {"info", "low", "medium", "high"};
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return 3; /* an unknown severity is never quietly below the bar */
}

/* The human-readable body of a finding, for <failure> or <system-out>. */
static void finding_body(FILE *out, const json_t *f)
{
	static const char *const keys[] = {"title", "severity", "device", "host", "country",
					   "first_seen", "last_seen", "detail", "clause",
					   "statement", "evidence"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *v = jstr(f, keys[k]);
		if (v == NULL)
			continue;
		x_esc(out, keys[k]);
		fputs(": ", out);
		x_esc(out, v);
		fputs("&#10;", out);
	}
	if (json_is_true(json_object_get(f, "decrypted")))
		fputs("read after TLS decryption: yes (the evidence carries its connections' "
		      "keys)&#10;", out);
	const json_t *rc = json_object_get(f, "recipient");
	if (json_is_object(rc)) {
		fputs("recipient: ", out);
		x_esc(out, jstr(rc, "name") ? jstr(rc, "name") : "(not identified)");
		fputs(" (", out);
		x_esc(out, jstr(rc, "kind"));
		if (jstr(rc, "entity")) {
			fputs(", ", out);
			x_esc(out, jstr(rc, "entity"));
		}
		fputs(")&#10;", out);
	}
	size_t i;
	const json_t *fr;
	json_array_foreach(json_object_get(f, "frames"), i, fr) {
		fputs("frames in ", out);
		x_esc(out, jstr(fr, "file"));
		fputs(":", out);
		size_t k;
		const json_t *n;
		const json_t *nt = json_object_get(fr, "numbers_total");
		size_t total = json_is_integer(nt) ? (size_t)json_integer_value(nt)
						   : json_array_size(json_object_get(fr, "numbers"));
		size_t shown = 0;
		json_array_foreach(json_object_get(fr, "numbers"), k, n) {
			if (k == 50)
				break;
			fprintf(out, " %lld", (long long)json_integer_value(n));
			shown++;
		}
		if (total > shown)
			fprintf(out, " ... and %zu more", total - shown);
		fputs("&#10;", out);
	}
}

/* The name is a, sep, b: written piecewise so no buffer cuts a character in two. */
static void testcase_open(FILE *out, const char *classname, const char *a, const char *sep,
			  const char *b)
{
	fputs("    <testcase classname=\"", out);
	x_esc(out, classname);
	fputs("\" name=\"", out);
	x_esc(out, a ? a : "?");
	x_esc(out, sep);
	x_esc(out, b);
	fputs("\"", out);
}

static void suite_open(FILE *out, const char *name, size_t tests, size_t failures, size_t skipped)
{
	fputs("  <testsuite name=\"", out);
	x_esc(out, name);
	fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", tests,
		failures, skipped);
}

/*
 * What the writer keeps of every finding between its passes: its id, its
 * rule (an index in rule_ids, then in extra), its severity's rank. The
 * findings themselves are fetched from fs when written, one at a time.
 */
struct jctx {
	const struct report_findings *fs;
	int bar;
	char **ids, **titles;
	int *rule, *sev;
	const char *extra[MAX_EXTRA_RULES];
	char *extra_store[MAX_EXTRA_RULES];
	size_t n_extra;
};

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
	for (size_t i = 0; i < j->n_extra; i++)
		free(j->extra_store[i]);
}

static bool jctx_init(struct jctx *j, const struct report_findings *fs, int bar)
{
	memset(j, 0, sizeof(*j));
	j->fs = fs;
	j->bar = bar;
	size_t n = fs->n ? fs->n : 1;
	j->ids = calloc(n, sizeof(*j->ids));
	j->titles = calloc(n, sizeof(*j->titles));
	j->rule = calloc(n, sizeof(*j->rule));
	j->sev = calloc(n, sizeof(*j->sev));
	if (j->ids == NULL || j->titles == NULL || j->rule == NULL || j->sev == NULL)
		return false;
	for (size_t i = 0; i < fs->n; i++) {
		json_t *f = report_finding_brief(fs, i);
		j->rule[i] = rule_index(j, jstr(f, "rule"));
		j->sev[i] = sev_rank(jstr(f, "severity"));
		const char *id = jstr(f, "id"), *title = jstr(f, "title");
		j->ids[i] = id ? strdup(id) : NULL;
		j->titles[i] = title ? strdup(title) : NULL;
		json_decref(f);
		if ((id && j->ids[i] == NULL) || (title && j->titles[i] == NULL))
			return false;
	}
	return true;
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

/* Finding id, fetched: a new reference, or NULL. */
static json_t *finding_by_id(const struct jctx *j, const char *id)
{
	long i = finding_index(j, id);
	return i < 0 ? NULL : j->fs->get((size_t)i, j->fs->user);
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

static void write_statements(FILE *out, const json_t *doc, const struct jctx *j)
{
	const json_t *sts = json_object_get(doc, "statements");
	size_t tests, failures, skipped, i;
	const json_t *st;
	count_statements(doc, j, &tests, &failures, &skipped);
	suite_open(out, "declared statements", tests, failures, skipped);
	json_array_foreach(sts, i, st) {
		const char *v = jstr(st, "verdict");
		testcase_open(out, "statements", jstr(st, "id"), ": ", jstr(st, "text"));
		fputs(">\n", out);
		const json_t *ids = json_object_get(st, "findings");
		bool broken = v && strcmp(v, "broken") == 0;
		if (broken && statement_fails(j, st)) {
			fputs("      <failure type=\"broken\" message=\"", out);
			size_t k;
			const json_t *id;
			json_array_foreach(ids, k, id) {
				long fi = finding_index(j, json_string_value(id));
				if (k)
					fputs("; ", out);
				x_esc(out, json_string_value(id));
				fputs(" ", out);
				x_esc(out, fi < 0 ? NULL : j->titles[fi]);
			}
			if (json_array_size(ids) == 0)
				fputs("broken", out);
			fputs("\">", out);
			fputs("clause: ", out);
			x_esc(out, jstr(st, "clause"));
			fputs("&#10;&#10;", out);
			json_array_foreach(ids, k, id) {
				json_t *f = finding_by_id(j, json_string_value(id));
				fputs("finding ", out);
				x_esc(out, json_string_value(id));
				fputs("&#10;", out);
				if (f)
					finding_body(out, f);
				json_decref(f);
				fputs("&#10;", out);
			}
			fputs("</failure>\n", out);
		} else if (v && strcmp(v, "not_exercised") == 0) {
			fputs("      <skipped message=\"not exercised by the captured traffic\"/>\n", out);
		} else if (broken) {
			fputs("      <system-out>broken only by findings below fail_on&#10;", out);
			x_esc(out, jstr(st, "clause"));
			fputs("</system-out>\n", out);
		}
		fputs("    </testcase>\n", out);
	}
	fputs("  </testsuite>\n", out);
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
static void write_rule(FILE *out, const struct jctx *j, int k, const char *rule)
{
	size_t tests, failures;
	count_rule(j, k, &tests, &failures);
	suite_open(out, rule, tests ? tests : 1, failures, 0);
	char classname[160];
	snprintf(classname, sizeof(classname), "rules.%s", rule ? rule : "?");
	if (tests == 0) {
		testcase_open(out, classname, "no findings", NULL, NULL);
		fputs("/>\n", out);
	}
	for (size_t i = 0; i < j->fs->n; i++) {
		if (j->rule[i] != k)
			continue;
		json_t *f = j->fs->get(i, j->fs->user);
		testcase_open(out, classname, jstr(f, "id"), " ", jstr(f, "host"));
		fputs(">\n", out);
		if (j->sev[i] >= j->bar) {
			fputs("      <failure type=\"", out);
			x_esc(out, jstr(f, "severity"));
			fputs("\" message=\"", out);
			x_esc(out, jstr(f, "title"));
			fputs("\">", out);
			finding_body(out, f);
			fputs("</failure>\n", out);
		} else {
			fputs("      <system-out>below fail_on&#10;", out);
			finding_body(out, f);
			fputs("</system-out>\n", out);
		}
		fputs("    </testcase>\n", out);
		json_decref(f);
	}
	fputs("  </testsuite>\n", out);
}

/* The suite "audit coverage": one case, an <error> naming every verdict reason. */
static void write_coverage(FILE *out, const json_t *doc)
{
	const json_t *rs = json_object_get(doc, "verdict_reasons");
	size_t n = json_array_size(rs);
	fprintf(out, "  <testsuite name=\"audit coverage\" tests=\"1\" failures=\"0\" "
		"errors=\"%d\" skipped=\"0\">\n", n ? 1 : 0);
	testcase_open(out, "coverage", "the captured traffic of the devices was examined", NULL,
		      NULL);
	if (n == 0) {
		fputs("/>\n", out);
		fputs("  </testsuite>\n", out);
		return;
	}
	fputs(">\n      <error type=\"", out);
	x_esc(out, jstr(doc, "verdict") ? jstr(doc, "verdict") : "inconclusive");
	fputs("\" message=\"the audit could not look at all it was asked to:", out);
	size_t i;
	const json_t *r;
	json_array_foreach(rs, i, r) {
		fputs(i ? ", " : " ", out);
		x_esc(out, jstr(r, "code"));
	}
	fputs("\">", out);
	json_array_foreach(rs, i, r) {
		x_esc(out, jstr(r, "code"));
		fputs(": ", out);
		x_esc(out, jstr(r, "text"));
		fputs("&#10;", out);
	}
	fputs("</error>\n    </testcase>\n  </testsuite>\n", out);
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
	if (!jctx_init(&j, fs, bar)) {
		jctx_free(&j);
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}

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
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flowaudit", out);
	if (app) {
		fputs(": ", out);
		x_esc(out, app);
	}
	fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\"", tests + 1, failures,
		json_array_size(json_object_get(doc, "verdict_reasons")) ? 1 : 0);
	if (jstr(doc, "generated_at")) {
		fputs(" timestamp=\"", out);
		x_esc(out, jstr(doc, "generated_at"));
		fputs("\"", out);
	}
	fputs(">\n", out);
	write_coverage(out, doc);
	write_statements(out, doc, &j);
	for (size_t k = 0; k < N_RULES; k++)
		write_rule(out, &j, (int)k, rule_ids[k]);
	for (size_t k = 0; k < j.n_extra; k++)
		write_rule(out, &j, (int)(N_RULES + k), j.extra[k]);
	jctx_free(&j);
	fputs("</testsuites>\n", out);
	if (ferror(out)) {
		fa_err_set(err, "junit.xml: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
