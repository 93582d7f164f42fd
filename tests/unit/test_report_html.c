/*
 * test_report_html.c - report.html on report documents built by hand:
 * the verdict badge and its reasons (pass, fail, inconclusive), the
 * findings at a glance, plain words and country names, the clause a
 * finding quotes and what it declares, DNS names, the counts of "Where
 * the traffic went" against the summary's, and the timeline's years.
 */
#include "flowaudit/report.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *pack(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_error_t je;
	json_t *v = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (v == NULL)
		fail_msg("json_pack: %s at %d", je.text, je.position);
	return v;
}

/* A report with a verdict, its reasons (may be NULL) and no finding. */
static json_t *doc_with_verdict(const char *verdict, json_t *reasons)
{
	json_t *doc = pack("{s:s, s:s, s:s, s:{s:{s:s}}, s:{s:i, s:i, s:i, s:i, s:i},"
			   " s:[], s:[], s:[], s:[]}",
			   "schema", "flowaudit-report/1", "verdict", verdict, "fail_on", "low",
			   "policy", "app", "name", "Demo", "summary", "packets", 60, "flows", 10,
			   "device_flows", 0, "public_flows", 0, "findings", 0, "findings", "flows",
			   "statements", "devices");
	if (reasons != NULL)
		json_object_set_new(doc, "verdict_reasons", reasons);
	return doc;
}

static char *render(const json_t *doc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	struct fa_err err = {{0}};
	assert_int_equal(report_html_write(doc, m, &err), FA_OK);
	fclose(m);
	return buf;
}

static const char CLEAN[] = "No finding: the captured traffic did not contradict the declarations";

static void test_inconclusive_badge(void **state)
{
	(void)state;
	json_t *reasons = pack("[{s:s, s:s}, {s:s, s:s}]", "code", "no-device-traffic", "text",
			       "No traffic of the devices <10.9.9.9> was in the capture",
			       "code", "capture-truncated", "text", "The capture ends inside a frame");
	json_t *doc = doc_with_verdict("inconclusive", reasons);
	char *html = render(doc);
	assert_non_null(strstr(html, "<span class=\"badge verdict inconclusive\">INCONCLUSIVE</span>"));
	/* neither green nor red */
	assert_null(strstr(html, "badge verdict pass"));
	assert_null(strstr(html, "badge verdict fail"));
	assert_null(strstr(html, ">PASS<"));
	assert_null(strstr(html, CLEAN));
	/* the reasons right under the badge, escaped, each with its code */
	const char *badge = strstr(html, "INCONCLUSIVE</span>");
	const char *list = strstr(html, "<ul class=\"reasons\">");
	assert_non_null(list);
	assert_true(list > badge);
	assert_null(memmem(badge, (size_t)(list - badge), "<h2", 3));
	assert_non_null(strstr(list, "No traffic of the devices &lt;10.9.9.9&gt; was in the capture"));
	assert_non_null(strstr(list, "no-device-traffic"));
	assert_non_null(strstr(list, "The capture ends inside a frame"));
	assert_non_null(strstr(list, "capture-truncated"));
	assert_null(strstr(html, "<10.9.9.9>"));
	/* and the findings section says an empty list proves nothing */
	assert_non_null(strstr(html, "the absence of findings says nothing about the app"));
	free(html);
	json_decref(doc);
}

static void test_pass_and_fail_badges(void **state)
{
	(void)state;
	json_t *doc = doc_with_verdict("pass", NULL);
	char *html = render(doc);
	assert_non_null(strstr(html, "<span class=\"badge verdict pass\">PASS</span>"));
	assert_non_null(strstr(html, CLEAN));
	assert_null(strstr(html, "class=\"reasons\""));
	free(html);
	json_decref(doc);

	/* a verdict the page does not know is neither a pass nor a clean result */
	doc = doc_with_verdict("maybe", NULL);
	html = render(doc);
	assert_non_null(strstr(html, "NO VERDICT"));
	assert_null(strstr(html, CLEAN));
	free(html);
	json_decref(doc);

	json_t *reasons = pack("[{s:s, s:s}]", "code", "findings", "text", "3 findings at or above low");
	doc = doc_with_verdict("fail", reasons);
	html = render(doc);
	assert_non_null(strstr(html, "<span class=\"badge verdict fail\">FAIL</span>"));
	assert_non_null(strstr(html, "3 findings at or above low"));
	assert_null(strstr(html, CLEAN));
	free(html);
	json_decref(doc);
}

/* The demo's shape: one declared SDK, an undeclared one, an unknown
   endpoint that got identifiers, a DNS flow. */
static json_t *doc_with_findings(void)
{
	json_t *doc = pack(
		"{s:s, s:s, s:[{s:s, s:s}],"
		" s:{s:{s:s}, s:{s:[s], s:[s, s]}, s:[{s:s, s:[s, s], s:s}]},"
		" s:{s:i, s:i, s:i, s:i, s:[{s:s, s:i, s:i, s:{s:i, s:i}}, {s:s, s:i, s:i, s:{s:i}}]},"
		" s:{s:[{s:s, s:i, s:s}]}, s:[], s:[], s:[]}",
		"schema", "flowaudit-report/1", "verdict", "fail", "verdict_reasons", "code", "findings",
		"text", "3 findings",
		"policy", "app", "name", "Demo", "first_party", "domains", "xigeme.com", "data", "account",
		"email", "recipients", "sdk", "admob", "data", "device_id", "ip_address", "clause",
		"S1: 'Admob SDK'",
		"summary", "flows", 12, "device_flows", 10, "public_flows", 6, "findings", 3, "by_country",
		"country", "US", "flows", 4, "bytes", 2000, "by_kind", "sdk", 3, "unknown", 1, "country",
		"ZZ", "flows", 2, "bytes", 900, "by_kind", "first_party", 2,
		"inputs", "captures", "path", "demo.pcap", "packets", 60, "link_name", "EN10MB",
		"findings", "flows", "devices");
	json_t *fs = json_object_get(doc, "findings");
	json_array_append_new(fs, pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s},"
				       " s:s, s:s, s:s, s:s}",
				       "id", "F0001", "rule", "undeclared-recipient", "severity", "high",
				       "title", "Traffic to Facebook SDK", "host", "graph.facebook.com",
				       "recipient", "kind", "sdk", "id", "facebook-sdk", "name",
				       "Facebook SDK", "entity", "Meta Platforms, Inc.", "entity_country",
				       "US", "country", "US", "name_source", "sni", "clause",
				       "S1: 'Admob SDK'", "statement", "recipients"));
	json_array_append_new(fs, pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:n}",
				       "id", "F0002", "rule", "unknown-endpoint", "severity", "low",
				       "title", "Traffic to collect.example", "host", "collect.example",
				       "recipient", "kind", "unknown", "country", "ZZ", "name_source",
				       "http_host", "clause", "S1: 'Admob SDK'", "statement"));
	json_array_append_new(fs, pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s,"
				       " s:[{s:s}, {s:s}]}",
				       "id", "F0003", "rule", "undeclared-data", "severity", "medium",
				       "title", "imei, android_id reached AdMob", "host", "ads.example",
				       "recipient", "kind", "sdk", "id", "admob", "name", "AdMob",
				       "country", "US", "clause", "S1: 'Admob SDK'", "identifiers", "type",
				       "imei", "type", "android_id"));
	json_t *flows = json_object_get(doc, "flows");
	json_array_append_new(flows, pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:n, s:s, s:s, s:b}",
					  "id", 1, "transport", "udp", "client_ip", "10.0.0.2",
					  "server_ip", "10.0.0.1", "server_port", 53, "protocol", "DNS",
					  "name", "dns_query", "api.xigeme.com", "scope", "private",
					  "encrypted", 0));
	json_array_append_new(flows, pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:b}",
					  "id", 2, "transport", "tcp", "client_ip", "10.0.0.2",
					  "server_ip", "203.0.113.7", "server_port", 443, "protocol",
					  "TLS", "name", "graph.facebook.com", "country", "US", "scope",
					  "public", "encrypted", 1));
	json_array_append_new(json_object_get(doc, "devices"),
			      pack("{s:s, s:[s, s, s]}", "address", "10.0.0.2", "findings", "F0001",
				   "F0002", "F0003"));
	return doc;
}

static void test_glance_and_plain_words(void **state)
{
	(void)state;
	json_t *doc = doc_with_findings();
	char *html = render(doc);
	const char *glance = strstr(html, "<h2 id=\"at-a-glance\">Findings at a glance</h2>");
	const char *details = strstr(html, "<h2 id=\"findings\">");
	assert_non_null(glance);
	assert_non_null(details);
	assert_true(glance < details);
	/* a row per finding: id, severity, rule, destination, country */
	assert_non_null(strstr(glance, "<a href=\"#finding-F0001\">F0001</a></td><td><span class=\"badge "
				       "sev-high\">high</span></td><td><span title=\"undeclared-recipient\">"
				       "recipient not declared</span></td><td class=\"mono\">graph.facebook.com"
				       "</td><td>United States (US)</td>"));
	/* a code the country table lacks is shown as itself */
	assert_non_null(strstr(glance, "collect.example</td><td>ZZ</td>"));
	/* plain words, with the code kept in the title */
	assert_non_null(strstr(details, "<span title=\"sdk\">third-party SDK</span>"));
	assert_non_null(strstr(details, "<span title=\"sni\">TLS server name</span>"));
	assert_non_null(strstr(details, "<span title=\"http_host\">HTTP Host header</span>"));
	assert_non_null(strstr(html, "Ethernet (link type EN10MB)"));
	assert_non_null(strstr(details, "run by Meta Platforms, Inc. (United States (US))"));
	/* the glossary and the limits */
	const char *gl = strstr(html, "<h2 id=\"glossary\">");
	assert_non_null(gl);
	assert_non_null(strstr(gl, "<td class=\"mono\">first_party</td>"));
	assert_non_null(strstr(gl, "<td class=\"mono\">sni</td>"));
	assert_non_null(strstr(gl, "<td class=\"mono\">unknown-endpoint</td>"));
	const char *lim = strstr(html, "<h2 id=\"limits\">What this audit cannot see</h2>");
	assert_non_null(lim);
	assert_non_null(strstr(lim, "Inside encrypted connections"));
	assert_non_null(strstr(lim, "1 of the 2 flows listed in this report were encrypted"));
	assert_non_null(strstr(lim, "2 of the 12 flows in the capture were between other hosts"));
	free(html);
	json_decref(doc);
}

static void test_clause_and_what_it_declares(void **state)
{
	(void)state;
	json_t *doc = doc_with_findings();
	char *html = render(doc);
	const char *f1 = strstr(html, "id=\"finding-F0001\"");
	const char *f2 = strstr(html, "id=\"finding-F0002\"");
	const char *f3 = strstr(html, "id=\"finding-F0003\"");
	assert_non_null(f1);
	assert_non_null(f2);
	assert_non_null(f3);
	/* the undeclared recipient: the recipients' clause, what it names, what it does not */
	char *p = strstr(f1, "<blockquote>S1: &#39;Admob SDK&#39;</blockquote>");
	assert_non_null(p);
	assert_true(p < f2);
	p = strstr(f1, "The policy names as third-party recipients: <b>admob</b>; as the first "
		       "party's domains: <b>xigeme.com</b>. It does not name Facebook SDK");
	assert_non_null(p);
	assert_true(p < f2);
	/* the unknown endpoint: the same clause, and that it is none of them */
	p = strstr(f2, "<span class=\"mono\">collect.example</span> is none of them");
	assert_non_null(p);
	assert_true(p < f3);
	/* undeclared data to a declared SDK: what it is declared to receive */
	assert_non_null(strstr(f3, "The policy declares that AdMob receives <b>device_id</b> and "
				   "<b>ip_address</b>."));
	free(html);
	json_decref(doc);
}

static void test_dns_name_and_country_counts(void **state)
{
	(void)state;
	json_t *doc = doc_with_findings();
	char *html = render(doc);
	const char *dev = strstr(html, "<h2 id=\"devices\">");
	assert_non_null(dev);
	assert_non_null(strstr(dev, "<span class=\"meta\">asks for</span> api.xigeme.com"));
	const char *went = strstr(html, "<h2 id=\"countries\">Where the traffic went</h2>");
	assert_non_null(went);
	assert_non_null(strstr(went, "Of the 12 flows in the capture, 10 were the devices'"));
	assert_non_null(strstr(went, "<b>6 to public addresses</b>"));
	assert_non_null(strstr(went, "and 4 on the local network"));
	assert_non_null(strstr(went, "The other 2 were between other hosts"));
	/* the table's total is the sum of its rows, and the summary's public flows */
	assert_non_null(strstr(went, "<tr class=\"total\"><th>All countries</th>"));
	assert_non_null(strstr(went, "<th>6</th><th>2.9 kB</th></tr>"));
	assert_non_null(strstr(went, "<td>United States (US)</td>"));
	free(html);
	json_decref(doc);

	/* a chart that does not hold all the public flows says so */
	doc = doc_with_findings();
	json_object_set_new(json_object_get(doc, "summary"), "public_flows", json_integer(9));
	html = render(doc);
	assert_non_null(strstr(html, "3 of the devices' public flows are not in the table"));
	free(html);
	json_decref(doc);
}

/* A clamped time stamp stretches the timeline over decades: the axis
   says which year each tick is in. */
static void test_timeline_years(void **state)
{
	(void)state;
	json_t *doc = doc_with_findings();
	json_t *sum = json_object_get(doc, "summary");
	json_object_set_new(sum, "first_seen", json_string("1970-01-01T00:00:00Z"));
	json_object_set_new(sum, "last_seen", json_string("2026-11-28T10:00:00Z"));
	json_t *f = json_array_get(json_object_get(doc, "findings"), 0);
	json_object_set_new(f, "first_seen", json_string("2026-11-28T09:00:00Z"));
	json_object_set_new(f, "last_seen", json_string("2026-11-28T09:30:00Z"));
	char *html = render(doc);
	const char *tl = strstr(html, "<h2 id=\"timeline\">");
	assert_non_null(tl);
	assert_non_null(strstr(tl, "text-anchor=\"start\">1970-01-01</text>"));
	assert_non_null(strstr(tl, "text-anchor=\"end\">2026-11-28</text>"));
	free(html);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inconclusive_badge),
		cmocka_unit_test(test_pass_and_fail_badges),
		cmocka_unit_test(test_glance_and_plain_words),
		cmocka_unit_test(test_clause_and_what_it_declares),
		cmocka_unit_test(test_dns_name_and_country_counts),
		cmocka_unit_test(test_timeline_years),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
