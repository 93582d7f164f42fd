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
 * details in <system-out>. A statement not exercised is <skipped>.
 *
 * Every string is escaped, and characters XML 1.0 forbids (C0 controls
 * other than tab, newline, carriage return; U+FFFE, U+FFFF) are dropped,
 * because a single one makes the whole file unreadable to a CI parser.
 * Owns nothing after it returns; two passes over the findings per rule.
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

/* Writes s escaped for text and attribute values alike. */
static void x_esc(FILE *out, const char *s)
{
	if (s == NULL)
		return;
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		unsigned char c = *p;
		if (c == '&')
			fputs("&amp;", out);
		else if (c == '<')
			fputs("&lt;", out);
		else if (c == '>')
			fputs("&gt;", out);
		else if (c == '"')
			fputs("&quot;", out);
		else if (c == '\'')
			fputs("&apos;", out);
		else if (c == '\n')
			fputs("&#10;", out);
		else if (c == '\r')
			fputs("&#13;", out);
		else if (c == '\t')
			fputs("&#9;", out);
		else if (c < 0x20 || c == 0x7f)
			continue;
		else if (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
			p += 2; /* U+FFFE, U+FFFF */
		else
			fputc(c, out);
	}
}

static int sev_rank(const char *s)
{
	static const char *const names[] = {"info", "low", "medium", "high"};
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return 3; /* an unknown severity is never quietly below the bar */
}

static const json_t *finding_by_id(const json_t *findings, const char *id)
{
	/* ids are F0001, F0002, ... in array order: try that place first */
	if (id != NULL && id[0] == 'F') {
		char *end;
		unsigned long n = strtoul(id + 1, &end, 10);
		const json_t *g = n > 0 && *end == '\0' ? json_array_get(findings, n - 1) : NULL;
		const char *gid = g ? jstr(g, "id") : NULL;
		if (gid != NULL && strcmp(gid, id) == 0)
			return g;
	}
	size_t i;
	const json_t *f;
	json_array_foreach(findings, i, f) {
		const char *fid = jstr(f, "id");
		if (id && fid && strcmp(fid, id) == 0)
			return f;
	}
	return NULL;
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
		json_array_foreach(json_object_get(fr, "numbers"), k, n) {
			if (k == 50) {
				fprintf(out, " ... and %zu more", total - k);
				break;
			}
			fprintf(out, " %lld", (long long)json_integer_value(n));
		}
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

/* A broken statement fails when one of its findings reaches fail_on. */
static bool statement_fails(const json_t *st, const json_t *findings, int bar)
{
	const json_t *ids = json_object_get(st, "findings");
	if (json_array_size(ids) == 0)
		return true;
	size_t i;
	const json_t *id;
	json_array_foreach(ids, i, id) {
		const json_t *f = finding_by_id(findings, json_string_value(id));
		if (f == NULL || sev_rank(jstr(f, "severity")) >= bar)
			return true;
	}
	return false;
}

static void write_statements(FILE *out, const json_t *doc, int bar, size_t *t_tests, size_t *t_fail)
{
	const json_t *sts = json_object_get(doc, "statements");
	const json_t *findings = json_object_get(doc, "findings");
	size_t tests = 0, failures = 0, skipped = 0, i;
	const json_t *st;
	json_array_foreach(sts, i, st) {
		const char *v = jstr(st, "verdict");
		tests++;
		if (v && strcmp(v, "broken") == 0 && statement_fails(st, findings, bar))
			failures++;
		else if (v && strcmp(v, "not_exercised") == 0)
			skipped++;
	}
	suite_open(out, "declared statements", tests, failures, skipped);
	json_array_foreach(sts, i, st) {
		const char *v = jstr(st, "verdict");
		testcase_open(out, "statements", jstr(st, "id"), ": ", jstr(st, "text"));
		fputs(">\n", out);
		const json_t *ids = json_object_get(st, "findings");
		bool broken = v && strcmp(v, "broken") == 0;
		if (broken && statement_fails(st, findings, bar)) {
			fputs("      <failure type=\"broken\" message=\"", out);
			size_t k;
			const json_t *id;
			json_array_foreach(ids, k, id) {
				const json_t *f = finding_by_id(findings, json_string_value(id));
				if (k)
					fputs("; ", out);
				x_esc(out, json_string_value(id));
				fputs(" ", out);
				x_esc(out, jstr(f, "title"));
			}
			if (json_array_size(ids) == 0)
				fputs("broken", out);
			fputs("\">", out);
			fputs("clause: ", out);
			x_esc(out, jstr(st, "clause"));
			fputs("&#10;&#10;", out);
			json_array_foreach(ids, k, id) {
				const json_t *f = finding_by_id(findings, json_string_value(id));
				fputs("finding ", out);
				x_esc(out, json_string_value(id));
				fputs("&#10;", out);
				if (f)
					finding_body(out, f);
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
	*t_tests += tests;
	*t_fail += failures;
}

static void write_rule(FILE *out, const char *rule, const json_t *findings, int bar,
		       size_t *t_tests, size_t *t_fail)
{
	size_t tests = 0, failures = 0, i;
	const json_t *f;
	json_array_foreach(findings, i, f) {
		const char *r = jstr(f, "rule");
		if (r && strcmp(r, rule) == 0) {
			tests++;
			if (sev_rank(jstr(f, "severity")) >= bar)
				failures++;
		}
	}
	suite_open(out, rule, tests ? tests : 1, failures, 0);
	char classname[160];
	snprintf(classname, sizeof(classname), "rules.%s", rule);
	if (tests == 0) {
		testcase_open(out, classname, "no findings", NULL, NULL);
		fputs("/>\n", out);
	}
	json_array_foreach(findings, i, f) {
		const char *r = jstr(f, "rule");
		if (r == NULL || strcmp(r, rule) != 0)
			continue;
		testcase_open(out, classname, jstr(f, "id"), " ", jstr(f, "host"));
		fputs(">\n", out);
		if (sev_rank(jstr(f, "severity")) >= bar) {
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
	}
	fputs("  </testsuite>\n", out);
	*t_tests += tests ? tests : 1;
	*t_fail += failures;
}

static bool known_rule(const char *r, const char *const *extra, size_t n_extra)
{
	for (size_t i = 0; i < N_RULES; i++)
		if (strcmp(r, rule_ids[i]) == 0)
			return true;
	for (size_t i = 0; i < n_extra; i++)
		if (strcmp(r, extra[i]) == 0)
			return true;
	return false;
}

int report_junit_write(const json_t *doc, FILE *out, struct fa_err *err)
{
	const json_t *findings = json_object_get(doc, "findings");
	const char *fail_on = jstr(doc, "fail_on");
	int bar = fail_on ? sev_rank(fail_on) : 0;
	/* Rules the eight do not name still get a suite: a finding is never lost. */
	const char *extra[MAX_EXTRA_RULES];
	size_t n_extra = 0, i;
	const json_t *f;
	json_array_foreach(findings, i, f) {
		const char *r = jstr(f, "rule");
		if (r && !known_rule(r, extra, n_extra) && n_extra < MAX_EXTRA_RULES)
			extra[n_extra++] = r;
	}

	/* Counts for <testsuites> come first in the file, so render into memory. */
	char *body = NULL;
	size_t body_len = 0;
	FILE *mem = open_memstream(&body, &body_len);
	if (mem == NULL) {
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}
	size_t tests = 0, failures = 0;
	write_statements(mem, doc, bar, &tests, &failures);
	for (size_t k = 0; k < N_RULES; k++)
		write_rule(mem, rule_ids[k], findings, bar, &tests, &failures);
	for (size_t k = 0; k < n_extra; k++)
		write_rule(mem, extra[k], findings, bar, &tests, &failures);
	bool mem_bad = ferror(mem) != 0;
	if (fclose(mem) != 0 || mem_bad) {
		free(body);
		fa_err_set(err, "junit.xml: out of memory");
		return FA_ERUNTIME;
	}

	const json_t *policy = json_object_get(doc, "policy");
	const char *app = jstr(json_object_get(policy, "app"), "name");
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flowaudit", out);
	if (app) {
		fputs(": ", out);
		x_esc(out, app);
	}
	fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\"", tests, failures);
	if (jstr(doc, "generated_at")) {
		fputs(" timestamp=\"", out);
		x_esc(out, jstr(doc, "generated_at"));
		fputs("\"", out);
	}
	fputs(">\n", out);
	fwrite(body, 1, body_len, out);
	fputs("</testsuites>\n", out);
	free(body);
	if (ferror(out)) {
		fa_err_set(err, "junit.xml: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
