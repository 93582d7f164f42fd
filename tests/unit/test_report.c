/*
 * test_report.c - the report writers (HTML, NDJSON, JUnit) and the
 * manifest, on a document built by hand with hostile strings in it.
 */
#include "flowaudit/manifest.h"
#include "flowaudit/report.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVIL_HOST "evil\"'<script>alert(1)</script>.example"

static json_t *test_doc(void)
{
	json_error_t je;
	json_t *doc = json_pack_ex(
		&je, 0,
		"{s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s,"
		" s:{s:[{s:s, s:s, s:i, s:s}], s:{s:s, s:s}, s:n, s:n, s:n,"
		"    s:{s:{s:s, s:s, s:s, s:s}, s:n}},"
		" s:{s:{s:s, s:s, s:s}},"
		" s:[{s:s, s:[s, s]}],"
		" s:[{s:i, s:s, s:s, s:[s]}],"
		" s:{s:i, s:i, s:i, s:i, s:i, s:{s:i, s:i, s:i, s:i}},"
		" s:[{s:s, s:s, s:s, s:s, s:s, s:[s]},"
		"    {s:s, s:s, s:s, s:s, s:n, s:[]},"
		"    {s:s, s:s, s:s, s:s, s:s, s:[]}],"
		" s:[], s:[], s:[s]}",
		"schema", "flowaudit-report/1",
		"generator", "name", "flowaudit", "version", "0.1.0",
		"generated_at", "2026-11-23T02:00:00Z", "command", "audit", "verdict", "fail",
		"fail_on", "medium",
		"inputs", "captures", "path", "demo.pcap", "sha256", "ab12", "packets", 120, "link_name",
		"EN10MB", "policy", "path", "policy.json", "sha256", "cd34", "events", "device_profile",
		"signatures", "geo", "country", "path", "geo.mmdb", "sha256", "ef56", "database_type",
		"geo-whois-asn-country", "attribution", "CC BY 4.0", "asn",
		"policy", "app", "name", "Audio <Kit>", "controller", "Example Ltd", "policy_date",
		"2026-01-01",
		"devices", "address", "10.0.0.2", "findings", "F0001", "F0002",
		"consent_events", "index", 0, "time", "2026-11-22T10:00:05Z", "event", "consent_granted",
		"purposes", "advertising",
		"summary", "packets", 120, "bytes", 54321, "flows", 3, "destinations", 2, "findings", 2,
		"findings_by_severity", "high", 1, "medium", 0, "low", 1, "info", 0,
		"statements",
		"id", "recipient:admob", "kind", "recipient", "text", "Declares AdMob", "verdict", "broken",
		"clause", "We share data with <AdMob> & partners", "findings", "F0001",
		"id", "region:CN", "kind", "region", "text", "Stores in CN", "verdict", "kept", "clause",
		"findings",
		"id", "encryption", "kind", "encryption", "text", "Encrypts in transit", "verdict",
		"not_exercised", "clause", "All data is encrypted", "findings",
		"findings", "flows", "attribution", "geo data by sapics/ip-location-db, CC BY 4.0");
	if (doc == NULL)
		fail_msg("json_pack: %s at %d", je.text, je.position);

	json_t *f1 = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:s, s:s, s:s, s:s},"
		" s:s, s:i, s:s, s:s, s:s, s:[i, i], s:[{s:s, s:[i, i, i]}],"
		" s:i, s:i, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:[], s:{s:s, s:s, s:n}, s:s}",
		"id", "F0001", "rule", "undeclared-recipient", "severity", "high", "title",
		"Traffic to Facebook Audience Network", "device", "10.0.0.2", "host", EVIL_HOST,
		"addresses", "157.240.1.35", "recipient", "kind", "sdk", "id", "fan", "name",
		"Facebook Audience Network", "entity", "Meta Platforms, Inc.", "entity_country", "US",
		"country", "US", "asn", 32934, "as_org", "FACEBOOK", "first_seen", "2026-11-22T10:00:01Z",
		"last_seen", "2026-11-22T10:00:09Z", "flows", 1, 2, "frames", "file", "demo.pcap",
		"numbers", 5, 6, 7, "packets_out", 4, "bytes_out", 900, "packets_in", 3, "bytes_in", 4000,
		"name_source", "sni", "name_frame", 7, "clause", "We share data with AdMob", "statement",
		"recipient:admob", "detail", "a detail\nwith a line break", "identifiers", "consent",
		"purpose", "advertising", "state", "none", "event", "evidence", "evidence/F0001.pcap");
	json_t *f2 = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:{s:s, s:n, s:n}, s:n, s:n, s:s, s:s,"
		" s:[{s:s, s:s, s:s, s:s, s:i, s:i, s:s}], s:{s:s, s:s, s:i}, s:s}",
		"id", "F0002", "rule", "cleartext-identifier", "severity", "low", "title",
		"IMEI in cleartext\x01", "device", "10.0.0.2", "host", "t.example", "addresses",
		"recipient", "kind", "unknown", "name", "entity", "country", "asn", "first_seen",
		"2026-11-22T10:00:06Z", "last_seen", "2026-11-22T10:00:07Z", "identifiers", "type", "imei",
		"encoding", "plain", "masked", "***********1234", "file", "demo.pcap", "frame", 42, "offset",
		118, "direction", "out", "consent", "purpose", "advertising", "state", "granted", "event", 0,
		"evidence", "https://attacker.example/x.pcap");
	assert_non_null(f1);
	assert_non_null(f2);
	json_array_append_new(json_object_get(doc, "findings"), f1);
	json_array_append_new(json_object_get(doc, "findings"), f2);
	const char *flows[][5] = {{"US", "sdk", EVIL_HOST, "2026-11-22T10:00:01Z", "public"},
				  {"US", NULL, "t.example", "2026-11-22T10:00:06Z", "public"},
				  {NULL, NULL, "lan.local", "2026-11-22T10:00:00Z", "private"}};
	for (int i = 0; i < 3; i++) {
		json_t *fl = json_pack("{s:i, s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:i, s:i, s:s, s:s}",
				       "id", i + 1, "transport", "tcp", "client_ip", "10.0.0.2",
				       "client_port", 40000 + i, "server_ip", "203.0.113.9",
				       "server_port", 443, "name", flows[i][2], "protocol", "TLS",
				       "bytes_out", 100, "bytes_in", 200, "first_seen", flows[i][3],
				       "scope", flows[i][4]);
		json_object_set_new(fl, "country", flows[i][0] ? json_string(flows[i][0]) : json_null());
		if (flows[i][1])
			json_object_set_new(fl, "recipient_kind", json_string(flows[i][1]));
		json_array_append_new(json_object_get(doc, "flows"), fl);
	}
	/* the chart's data, as report_json.c sums it over the public flows above */
	json_t *by = json_pack("[{s:s, s:i, s:i, s:{s:i, s:i}}]", "country", "US", "flows", 2,
			       "bytes", 600, "by_kind", "sdk", 1, "unknown", 1);
	assert_non_null(by);
	json_t *sum = json_object_get(doc, "summary");
	if (!json_is_object(sum)) {
		sum = json_object();
		json_object_set_new(doc, "summary", sum);
	}
	json_object_set_new(sum, "by_country", by);
	return doc;
}

/* Renders with fn into memory; the caller frees. */
/* What fn writes of doc, in *out (the caller frees it); fn's result. */
static int render_rc(int (*fn)(const json_t *, FILE *, struct fa_err *), const json_t *doc,
		     char **out, struct fa_err *err)
{
	size_t len = 0;
	*out = NULL;
	FILE *m = open_memstream(out, &len);
	assert_non_null(m);
	int rc = fn(doc, m, err);
	fclose(m);
	return rc;
}

static char *render(int (*fn)(const json_t *, FILE *, struct fa_err *), const json_t *doc)
{
	char *buf;
	struct fa_err err = {{0}};
	assert_int_equal(render_rc(fn, doc, &buf, &err), FA_OK);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_html(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	char *html = render(report_html_write, doc);
	assert_non_null(strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "F0001"));
	assert_non_null(strstr(html, "F0002"));
	assert_non_null(strstr(html, "evil&quot;&#39;&lt;script&gt;alert(1)&lt;/script&gt;.example"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://attacker.example/x.pcap\""));
	assert_null(strstr(html, "href=\"https"));
	assert_null(strstr(html, "src="));
	assert_non_null(strstr(html, "href=\"evidence/F0001.pcap\""));
	assert_non_null(strstr(html, "Audio &lt;Kit&gt;"));
	assert_non_null(strstr(html, "&lt;AdMob&gt; &amp; partners"));
	assert_non_null(strstr(html, "FAIL"));
	assert_non_null(strstr(html, "not exercised"));
	assert_non_null(strstr(html, "@page"));
	assert_null(strstr(html, "\x01"));
	assert_int_equal(count(html, "<svg"), 2);
	assert_int_equal(count(html, "<article"), 2);
	free(html);
	json_decref(doc);
}

/*
 * What was read inside TLS: without keys the limits say the payload inside
 * TLS was not examined; with keys, how many TLS flows were decrypted and
 * why the others were not (a reason is escaped like every string). A
 * finding on decrypted traffic says so in report.html (and names the
 * header an identifier came in) and in junit.xml.
 */
static void test_tls_coverage(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	json_t *sum = json_object_get(doc, "summary");
	json_object_set_new(sum, "tls", json_pack("{s:b, s:i, s:i, s:i, s:{s:i}}", "examined", 0,
						  "keylogs", 0, "flows", 5, "decrypted", 0,
						  "not_decrypted", "no_key", 5));
	char *html = render(report_html_write, doc);
	assert_non_null(strstr(html, "No TLS session keys were given"));
	assert_non_null(strstr(html, "the payload inside TLS was not examined"));
	assert_non_null(strstr(html, "5 flows carried TLS."));
	assert_null(strstr(html, "Inside TLS</dt>"));
	free(html);

	json_object_set_new(sum, "tls", json_pack("{s:b, s:i, s:i, s:i, s:{s:i, s:i}}", "examined",
						  1, "keylogs", 1, "flows", 5, "decrypted", 3,
						  "not_decrypted", "no_key", 1, "<evil>", 1));
	/* F0002 read inside TLS, from a header */
	json_t *f2 = json_array_get(json_object_get(doc, "findings"), 1);
	json_object_set_new(f2, "decrypted", json_true());
	json_t *x = json_array_get(json_object_get(f2, "identifiers"), 0);
	json_object_set_new(x, "where", json_string("http_header"));
	json_object_set_new(x, "decrypted", json_true());
	json_object_set_new(x, "location", json_pack("{s:s, s:s}", "in", "http_header", "header",
						     "X-Device-<Id>"));
	html = render(report_html_write, doc);
	assert_null(strstr(html, "No TLS session keys were given"));
	assert_non_null(strstr(html, "TLS session keys were given: 3 of the 5 TLS flows were "
				     "decrypted"));
	assert_non_null(strstr(html, "1 <span class=\"mono\">no_key</span>"));
	assert_non_null(strstr(html, "1 <span class=\"mono\">&lt;evil&gt;</span>"));
	assert_null(strstr(html, "<evil>"));
	assert_int_equal(count(html, "Inside TLS"), 1);
	assert_non_null(strstr(html, "http_header <span class=\"mono\">X-Device-&lt;Id&gt;</span> "
				     "out, read after TLS decryption"));
	free(html);
	char *ju = render(report_junit_write, doc);
	assert_int_equal(count(ju, "read after TLS decryption: yes"), 1);
	free(ju);
	json_decref(doc);
}

/* Sections missing or null: every writer still produces a whole file. */
static void test_sparse(void **state)
{
	(void)state;
	json_t *doc = json_pack("{s:s, s:n, s:[{s:n}], s:{}}", "schema", "flowaudit-report/1",
				"policy", "findings", "id", "inputs");
	char *html = render(report_html_write, doc);
	assert_non_null(strstr(html, "</html>"));
	free(html);
	char *x = render(report_junit_write, doc);
	assert_int_equal(count(x, "<testsuite "), 10);
	assert_non_null(strstr(x, "</testsuites>"));
	free(x);
	char *nd = render(report_ndjson_write, doc);
	assert_int_equal(count(nd, "\n"), 1);
	assert_non_null(strstr(nd, "\"schema\":\"flowaudit-finding/1\""));
	free(nd);
	json_decref(doc);
}

static void test_ndjson(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	char *nd = render(report_ndjson_write, doc);
	size_t lines = 0;
	for (char *p = nd, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		json_error_t je;
		json_t *o = json_loads(p, 0, &je);
		assert_non_null(o);
		assert_non_null(json_string_value(json_object_get(o, "rule")));
		assert_non_null(json_string_value(json_object_get(o, "id")));
		assert_string_equal(json_string_value(json_object_get(o, "schema")), "flowaudit-finding/1");
		assert_string_equal(json_string_value(json_object_get(o, "app")), "Audio <Kit>");
		assert_string_equal(json_string_value(json_object_get(o, "report_generated_at")),
				    "2026-11-23T02:00:00Z");
		json_decref(o);
		lines++;
	}
	assert_int_equal(lines, 2);
	free(nd);
	json_decref(doc);
}

static void test_junit(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	char *x = render(report_junit_write, doc);
	/* coverage + statements + 8 rules */
	assert_int_equal(count(x, "<testsuite "), 10);
	assert_int_equal(count(x, "</testsuite>"), 10);
	/* F0001 (high) fails, F0002 (low < medium) passes; the broken statement fails */
	assert_int_equal(count(x, "<failure "), 2);
	assert_non_null(strstr(x, "<testsuites name=\"flowaudit: Audio &lt;Kit&gt;\" tests=\"12\" "
				  "failures=\"2\" errors=\"0\""));
	/* no verdict reason: the coverage case passes */
	assert_non_null(strstr(x, "<testsuite name=\"audit coverage\" tests=\"1\" failures=\"0\" "
				  "errors=\"0\""));
	assert_int_equal(count(x, "<error"), 0);
	assert_non_null(strstr(x, "<testsuite name=\"undeclared-recipient\" tests=\"1\" failures=\"1\""));
	assert_non_null(strstr(x, "<testsuite name=\"declared statements\" tests=\"3\" failures=\"1\" "
				  "errors=\"0\" skipped=\"1\""));
	assert_non_null(strstr(x, "name=\"no findings\""));
	assert_null(strstr(x, "<script"));
	assert_null(strstr(x, "\x01"));
	free(x);

	/* with fail_on info, every finding fails */
	json_object_set_new(doc, "fail_on", json_string("info"));
	x = render(report_junit_write, doc);
	assert_int_equal(count(x, "<failure "), 3);
	free(x);

	/* with fail_on never, none does: the findings are reported, nothing fails */
	json_object_set_new(doc, "fail_on", json_string("never"));
	x = render(report_junit_write, doc);
	assert_int_equal(count(x, "<failure "), 0);
	assert_int_equal(count(x, "below fail_on"), 3);
	free(x);

	/* verdict reasons: one errored case naming each, counted in <testsuites> */
	json_object_set_new(doc, "verdict", json_string("inconclusive"));
	json_object_set_new(doc, "verdict_reasons",
			    json_pack("[{s:s, s:s}, {s:s, s:s}]", "code", "no-device-traffic", "text",
				      "no flow came from --device 10.9.9.9", "code",
				      "capture-truncated", "text", "a.pcap: cut <short>"));
	x = render(report_junit_write, doc);
	assert_int_equal(count(x, "<error "), 1);
	assert_non_null(strstr(x, "tests=\"12\" failures=\"0\" errors=\"1\""));
	assert_non_null(strstr(x, "<error type=\"inconclusive\" message=\"the audit could not look "
				  "at all it was asked to: no-device-traffic, capture-truncated\">"));
	assert_non_null(strstr(x, "no-device-traffic: no flow came from --device 10.9.9.9&#10;"));
	assert_non_null(strstr(x, "capture-truncated: a.pcap: cut &lt;short&gt;&#10;"));
	free(x);
	json_decref(doc);
}

/*
 * Many findings of two rules in turn, one with a title larger than junit's
 * read-back buffer, and a statement broken by all of them: every case
 * lands whole in its rule's suite, and every body in the statement's
 * failure, whatever their places in the temporary file.
 */
static void test_junit_many_cases(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	json_t *fs = json_array();
	json_t *ids = json_array();
	enum { N = 600, BIG = 300, BIG_LEN = 100000 };
	char *big = malloc(BIG_LEN + 1);
	assert_non_null(big);
	memset(big, 'T', BIG_LEN);
	big[BIG_LEN] = '\0';
	for (int i = 1; i <= N; i++) {
		char id[16], title[64], host[64];
		snprintf(id, sizeof(id), "F%04d", i);
		snprintf(title, sizeof(title), "title of %s", id);
		snprintf(host, sizeof(host), "h%d.example", i);
		json_array_append_new(
		    fs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "rule",
				  i % 2 ? "unknown-endpoint" : "undeclared-recipient", "severity", "high",
				  "title", i == BIG ? big : title, "host", host, "detail", id));
		json_array_append_new(ids, json_string(id));
	}
	json_object_set_new(doc, "findings", fs);
	json_t *st = json_array_get(json_object_get(doc, "statements"), 0);
	json_object_set_new(st, "findings", ids);
	char *x = render(report_junit_write, doc);
	assert_non_null(strstr(x, "<testsuite name=\"unknown-endpoint\" tests=\"300\" "
				  "failures=\"300\""));
	assert_non_null(strstr(x, "<testsuite name=\"undeclared-recipient\" tests=\"300\" "
				  "failures=\"300\""));
	const char *rules = strstr(x, "<testsuite name=\"undeclared-recipient\"");
	assert_non_null(rules);
	for (int i = 1; i <= N; i++) {
		char name[80], body[80];
		snprintf(name, sizeof(name), "name=\"F%04d h%d.example\"", i, i);
		assert_int_equal(count(rules, name), 1);
		/* in the statement's failure, before the rule suites */
		snprintf(body, sizeof(body), "finding F%04d&#10;title: ", i);
		const char *b = strstr(x, body);
		assert_non_null(b);
		assert_true(b < rules);
		if (i != BIG) {
			snprintf(body, sizeof(body), "title: title of F%04d&#10;", i);
			assert_int_equal(count(x, body), 2); /* its case and the statement */
		}
	}
	/* the large title whole, twice: in its case and in the statement */
	char *want = malloc(BIG_LEN + 32);
	assert_non_null(want);
	snprintf(want, BIG_LEN + 32, "title: %s&#10;", big);
	assert_int_equal(count(x, want), 2);
	free(want);
	free(big);
	free(x);
	json_decref(doc);
}

/* junit.xml's temporary file goes where TMPDIR says (a report of many
   findings needs room there), and a TMPDIR that cannot take it is named. */
static void test_junit_tmpdir(void **state)
{
	(void)state;
	json_t *doc = test_doc();
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	setenv("TMPDIR", "/nonexistent-flowaudit-tmpdir", 1);
	char *buf;
	struct fa_err err = {{0}};
	assert_int_equal(render_rc(report_junit_write, doc, &buf, &err), FA_ERUNTIME);
	free(buf);
	assert_non_null(strstr(err.msg, "junit.xml: cannot make a temporary file in "
				       "/nonexistent-flowaudit-tmpdir: "));
	assert_non_null(strstr(err.msg, "set TMPDIR"));
	char dir[] = "/tmp/flowaudit-junit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	char *x = render(report_junit_write, doc);
	assert_non_null(strstr(x, "</testsuites>"));
	free(x);
	assert_int_equal(rmdir(dir), 0); /* nothing left in it */
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	json_decref(doc);
}

/* ---- manifest ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *verify(const char *dir, size_t *bad, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct fa_err err = {{0}};
	struct manifest_result res;
	*rc = manifest_check(dir, NULL, m, &res, &err);
	*bad = res.bad;
	fclose(m);
	return buf;
}

static void test_manifest(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa_manifest_XXXXXX", in_dir[] = "/tmp/fa_manifest_in_XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(in_dir));
	char sub[4200], input[4200];
	snprintf(sub, sizeof(sub), "%s/evidence", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(dir, "report.json", "{}\n");
	put(dir, "evidence/F0001.pcap", "pcap bytes");
	put(in_dir, "policy.json", "{\"policy\": 1}\n");
	snprintf(input, sizeof(input), "%s/policy.json", in_dir);
	const char *inputs[] = {input};
	struct fa_err err = {{0}};
	assert_int_equal(manifest_write(dir, inputs, NULL, 1, 1, &err), FA_OK);

	char mpath[4200];
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, MANIFEST_NAME);
	FILE *f = fopen(mpath, "r");
	assert_non_null(f);
	char text[8192] = "";
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_int_equal(count(text, "\n"), 3);
	assert_non_null(strstr(text, "  evidence/F0001.pcap\n"));
	assert_non_null(strstr(text, "  input:/tmp/fa_manifest_in_"));
	assert_true(strstr(text, "evidence/F0001.pcap") < strstr(text, "report.json"));

	size_t bad;
	int rc;
	char *out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count(out, "OK "), 3);
	free(out);

	put(dir, "report.json", "{ }\n");
	out = verify(dir, &bad, &rc);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(out, "CHANGED report.json\n"));
	free(out);

	put(dir, "report.json", "{}\n");
	snprintf(sub, sizeof(sub), "%s/evidence/F0001.pcap", dir);
	assert_int_equal(remove(sub), 0);
	put(dir, "extra.txt", "x");
	remove(input);
	out = verify(dir, &bad, &rc);
	/* an input not found is not checked, not a difference; the evidence
	   directory left empty is unlisted */
	assert_int_equal(bad, 3);
	assert_non_null(strstr(out, "UNLISTED evidence/ (empty directory)\n"));
	assert_non_null(strstr(out, "MISSING evidence/F0001.pcap\n"));
	assert_non_null(strstr(out, "UNLISTED extra.txt\n"));
	assert_non_null(strstr(out, "NOT CHECKED input:"));
	assert_non_null(strstr(out, "OK report.json\n"));
	free(out);

	f = fopen(mpath, "a");
	fputs("0000000000000000000000000000000000000000000000000000000000000000  ../../etc/passwd\n"
	      "0000000000000000000000000000000000000000000000000000000000000000  /etc/passwd\n", f);
	fclose(f);
	out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_OK);
	assert_int_equal(bad, 5);
	assert_non_null(strstr(out, "REFUSED ../../etc/passwd: \"..\" escapes OUTDIR"));
	assert_non_null(strstr(out, "REFUSED /etc/passwd: absolute path"));
	free(out);

	f = fopen(mpath, "a");
	fputs("not a manifest line\n", f);
	fclose(f);
	out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_EINPUT);
	free(out);

	assert_int_equal(remove(mpath), 0);
	out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_EINPUT);
	free(out);

	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	nftw(in_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_manifest_symlink_escape(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa_manifest_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char link[4200];
	snprintf(link, sizeof(link), "%s/sub", dir);
	assert_int_equal(symlink("/etc", link), 0);
	put(dir, MANIFEST_NAME,
	    "0000000000000000000000000000000000000000000000000000000000000000  sub/passwd\n");
	size_t bad;
	int rc;
	char *out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_OK);
	assert_int_equal(bad, 3); /* and the link itself, and no report.json */
	assert_non_null(strstr(out, "REFUSED sub/passwd: resolves outside OUTDIR"));
	assert_non_null(strstr(out, "UNLISTED sub (symbolic link)"));
	free(out);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* The manifest of a directory, as text. */
static char *manifest_text(const char *dir)
{
	char mpath[4200];
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, MANIFEST_NAME);
	FILE *f = fopen(mpath, "r");
	assert_non_null(f);
	char *text = calloc(1, 1 << 16);
	assert_non_null(text);
	size_t n = fread(text, 1, (1 << 16) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* Many files, some hard-linked: every thread count writes the same manifest,
   each linked name carries its file's digest, and an unreadable input is
   named whatever the threads. */
static void test_manifest_threads(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa_manifest_t_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[4200];
	snprintf(sub, sizeof(sub), "%s/evidence", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	for (int i = 1; i <= 300; i++) {
		char name[64], body[64], a[4300], b[4300];
		snprintf(name, sizeof(name), "evidence/F%04d.pcap", i);
		if (i % 3 == 0) { /* a twin of the finding before it */
			snprintf(a, sizeof(a), "%s/evidence/F%04d.pcap", dir, i - 1);
			snprintf(b, sizeof(b), "%s/%s", dir, name);
			assert_int_equal(link(a, b), 0);
			continue;
		}
		snprintf(body, sizeof(body), "packets of finding %d", i);
		put(dir, name, body);
	}
	put(dir, "report.json", "{}\n");
	struct fa_err err = {{0}};
	assert_int_equal(manifest_write(dir, NULL, NULL, 0, 1, &err), FA_OK);
	char *one = manifest_text(dir);
	assert_int_equal(count(one, "\n"), 301);
	for (unsigned t = 2; t <= MANIFEST_MAX_THREADS + 2; t += 3) {
		assert_int_equal(manifest_write(dir, NULL, NULL, 0, t, &err), FA_OK);
		char *many = manifest_text(dir);
		assert_string_equal(one, many);
		free(many);
	}
	/* F0003 is F0002 under another name */
	const char *l2 = strstr(one, "  evidence/F0002.pcap\n"), *l3 = strstr(one, "  evidence/F0003.pcap\n");
	assert_non_null(l2);
	assert_non_null(l3);
	assert_memory_equal(l2 - 64, l3 - 64, 64);
	assert_memory_not_equal(l2 - 64, strstr(one, "  evidence/F0001.pcap\n") - 64, 64);
	size_t bad;
	int rc;
	char *out = verify(dir, &bad, &rc);
	assert_int_equal(rc, FA_OK);
	assert_int_equal(bad, 0);
	free(out);

	const char *inputs[] = {"/nonexistent/a.pcap", "/nonexistent/b.pcap"};
	for (unsigned t = 1; t <= 2; t++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(manifest_write(dir, inputs, NULL, 2, t, &err), FA_EINPUT);
		assert_non_null(strstr(err.msg, "/nonexistent/a.pcap"));
	}
	free(one);
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_tls_coverage),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_junit_many_cases),
		cmocka_unit_test(test_junit_tmpdir),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_manifest_threads),
		cmocka_unit_test(test_manifest_symlink_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
