/*
 * report_html.c - report.html: the report document as one page a person
 * who is not an engineer can read, print and hand on.
 *
 * Receives the report document (docs/report-format.md) and borrows it;
 * writes to a stream the caller owns. The page is self-contained: inline
 * CSS, inline SVG charts, no script, no font, no image and no link that
 * leaves the report directory (evidence links are relative and are dropped
 * when they are not). Sections: verdict (with its reasons) and summary,
 * notes, findings at a glance, declared statements, destinations by
 * country, timeline against consent, findings in full, devices, what the
 * audit cannot see, inputs and hashes, the words used, data attribution. A
 * missing or null member leaves its line or section out.
 *
 * Every string of the document may come from captured traffic (host names,
 * user agents, URLs), so every one goes through rh_esc() before it reaches
 * the page, in text and in attribute values alike. Owns nothing after it
 * returns. The page is written through one buffer (report_text.h). The two SVG charts live in report_html_charts.c, the findings
 * in report_html_findings.c, the plain words in report_html_words.c.
 * Printing (A4) lets a finding run over a page break but keeps headings
 * with what follows them and small blocks whole. Workload:
 * thousands of flows, hundreds of findings; lists longer than a reader can
 * use are cut with "... and N more".
 */
#include "flowaudit/report.h"

#include "report_html.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVICE_FLOWS REPORT_DEVICE_FLOWS

/* ---- accessors and escaping shared with the other report_html*.c (report_html.h) ---- */

const json_t *rh_get(const json_t *o, const char *key)
{
	if (!json_is_object(o))
		return NULL;
	const json_t *v = json_object_get(o, key);
	return json_is_null(v) ? NULL : v;
}

const char *rh_str(const json_t *o, const char *key)
{
	return json_string_value(rh_get(o, key));
}

bool rh_int(const json_t *o, const char *key, long long *v)
{
	const json_t *x = rh_get(o, key);
	if (!json_is_integer(x))
		return false;
	*v = (long long)json_integer_value(x);
	return true;
}

long long rh_int0(const json_t *o, const char *key)
{
	long long v = 0;
	rh_int(o, key, &v);
	return v;
}

bool rh_time(const json_t *o, const char *key, fa_time *t)
{
	const char *s = rh_str(o, key);
	return s != NULL && fa_time_parse(s, t);
}

/*
 * The one escape for the page: text and (double-quoted) attribute values.
 * Control characters other than tab and newline are not allowed in HTML
 * text and become U+FFFD so a hidden byte stays visible (rt_html).
 */
void rh_esc(struct jsonw *out, const char *s)
{
	rt_esc(out, s, &rt_html);
}

/* rh_esc() with a fallback for absent values. */
void rh_esc_or(struct jsonw *out, const char *s, const char *dflt)
{
	rh_esc(out, s ? s : dflt);
}

void rh_bytes(struct jsonw *out, long long b)
{
	static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)b;
	int u = 0;
	while (v >= 1000.0 && u < 4)
		v /= 1000.0, u++;
	if (u == 0)
		rt_printf(out, "%lld B", b);
	else
		rt_printf(out, "%.1f %s", v, unit[u]);
}

/* ---- page frame ---- */

static const char css[] =
	":root{--pass:#1a7f37;--fail:#b42318;--amber:#b45309;--muted:#5b6470;--line:#d0d5dd}"
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;"
	"max-width:1100px;margin:0 auto;padding:24px}"
	"h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:2px solid "
	"var(--line);padding-bottom:4px}h3{font-size:16px;margin:0 0 8px}"
	"table{border-collapse:collapse;width:100%;margin:8px 0}th,td{text-align:left;vertical-align:top;"
	"padding:4px 8px;border-bottom:1px solid var(--line)}th{background:#f2f4f7}"
	".mono,code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:13px;word-break:break-all}"
	".badge{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;color:#fff}"
	".verdict{font-size:22px;padding:4px 16px}.pass{background:var(--pass)}.fail{background:var(--fail)}"
	".inconclusive{background:var(--amber)}.none{background:var(--muted)}"
	".reasons{margin:6px 0 8px;padding:8px 12px 8px 32px;border-left:6px solid var(--amber);"
	"background:#fffaeb}.reasons li{margin:2px 0}"
	".kept{color:var(--pass);font-weight:700}.broken{color:var(--fail);font-weight:700}"
	".not_exercised{color:var(--muted);font-weight:700}"
	".sev-high{background:#b42318}.sev-medium{background:#c4620a}.sev-low{background:#8a6d00}"
	".sev-info{background:#4b5563}.glance .badge{font-size:13px;padding:0 8px}"
	".finding{border:1px solid var(--line);border-left:6px solid #4b5563;border-radius:4px;padding:12px 16px;"
	"margin:12px 0}.finding.high{border-left-color:#b42318}.finding.medium{border-left-color:#c4620a}"
	".finding.low{border-left-color:#8a6d00}"
	".finding dl{display:grid;grid-template-columns:210px 1fr;gap:2px 12px;margin:0}"
	".finding dl>div{display:contents}.finding dt{color:var(--muted)}.finding dd{margin:0}"
	".covers{margin:4px 0}.glossary td.mono{white-space:nowrap;word-break:normal}"
	"blockquote{margin:4px 0;padding:4px 12px;border-left:3px solid var(--line);background:#f8f9fb;"
	"font-style:italic}"
	".pre{white-space:pre-line}.meta{color:var(--muted)}.summary{display:flex;flex-wrap:wrap;gap:8px 24px;margin:12px 0}"
	".summary div{min-width:120px}.summary b{display:block;font-size:20px}"
	".sha{display:block;font-size:11px;color:var(--muted)}.limits li{margin:4px 0}"
	".num{white-space:nowrap}.inputs td:nth-child(2){width:48%}"
	"svg{max-width:100%;height:auto}svg text{font:13px system-ui,sans-serif;fill:#1d2330}"
	".legend span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:12px;"
	"height:12px;margin-right:4px;vertical-align:-1px;border:1px solid #555}"
	"footer{margin-top:32px;color:var(--muted);font-size:13px}"
	"@page{size:A4;margin:14mm}"
	"@media print{body{font-size:9.5pt;max-width:none;padding:0}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"h2{font-size:15pt;margin:18px 0 6px}h1,h2,h3,dt,th,.reasons,h2+p{break-after:avoid;"
	"page-break-after:avoid}"
	"tr,li,dd,blockquote,figure,.summary,.covers,h3{break-inside:avoid;page-break-inside:avoid}"
	".finding{padding:5px 10px;margin:6px 0;font-size:8.5pt;line-height:1.3}.finding h3{font-size:10pt;margin:0 0 4px}"
	".finding dl{display:block}.finding blockquote{margin:2px 0;padding:2px 10px}"
	".finding dl>div{display:block;break-inside:avoid;page-break-inside:avoid}"
	".finding dl>div:nth-child(-n+2){break-after:avoid;page-break-after:avoid}"
	".finding dt{float:left;clear:left;width:112px}.finding dd{margin:0 0 1px 120px}"
	".finding dd::after{content:'';display:block;clear:both}"
	".mono,code{font-size:8.5pt}.sha{font-size:7pt}a{color:inherit;text-decoration:none}"
	"footer{font-size:8pt}}";

/*
 * The badge: PASS green, FAIL red, INCONCLUSIVE amber (the audit could not
 * look at what it was asked to: neither a pass nor a fail), and the
 * verdict's reasons right under it, each with its code.
 */
static void write_verdict(struct jsonw *out, const json_t *doc)
{
	static const struct {
		const char *verdict, *cls, *badge, *says;
	} kinds[] = {
		{"fail", "fail", "FAIL", "The captured traffic contradicts the app's declarations"},
		{"pass", "pass", "PASS", "No finding reached the failure threshold"},
		{"inconclusive", "inconclusive", "INCONCLUSIVE",
		 "The audit could not examine what it was asked to, so it neither confirms nor "
		 "contradicts the declarations"},
	};
	const char *verdict = rh_str(doc, "verdict");
	size_t k = 0;
	while (k < 3 && !(verdict && strcmp(verdict, kinds[k].verdict) == 0))
		k++;
	rt_printf(out, "<p><span class=\"badge verdict %s\">%s</span> %s",
		  k < 3 ? kinds[k].cls : "none", k < 3 ? kinds[k].badge : "NO VERDICT",
		  k < 3 ? kinds[k].says : "");
	if (rh_str(doc, "fail_on") && k < 2) {
		rt_put(out, " (threshold: severity ");
		rh_esc(out, rh_str(doc, "fail_on"));
		rt_put(out, " and above)");
	}
	rt_put(out, ".</p>\n");
	const json_t *why = rh_get(doc, "verdict_reasons");
	if (json_array_size(why) > 0) {
		rt_put(out, "<ul class=\"reasons\">\n");
		size_t i;
		const json_t *r;
		json_array_foreach(why, i, r) {
			const char *code = json_is_string(r) ? json_string_value(r) : rh_str(r, "code");
			rt_put(out, "<li>");
			rh_esc_or(out, rh_str(r, "text"), code);
			if (code && rh_str(r, "text")) {
				rt_put(out, " <span class=\"meta mono\">");
				rh_esc(out, code);
				rt_put(out, "</span>");
			}
			rt_put(out, "</li>\n");
		}
		rt_put(out, "</ul>\n");
	}
}

static void write_header(struct jsonw *out, const json_t *doc)
{
	const json_t *app = rh_get(rh_get(doc, "policy"), "app");
	const char *name = rh_str(app, "name");
	rt_put(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "style-src 'unsafe-inline'\">\n<title>flowaudit report");
	if (name) {
		rt_put(out, ": ");
		rh_esc(out, name);
	}
	rt_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n", css);
	rt_put(out, "<h1>Network traffic audit: ");
	rh_esc_or(out, name, "(unnamed app)");
	rt_put(out, "</h1>\n");
	write_verdict(out, doc);
	rt_put(out, "<p class=\"meta\">");
	if (rh_str(app, "controller")) {
		rt_put(out, "Controller: ");
		rh_esc(out, rh_str(app, "controller"));
		rt_put(out, " &middot; ");
	}
	if (rh_str(app, "policy_date")) {
		rt_put(out, "Policy dated ");
		rh_esc(out, rh_str(app, "policy_date"));
		rt_put(out, " &middot; ");
	}
	rt_put(out, "Generated ");
	rh_esc_or(out, rh_str(doc, "generated_at"), "(time unknown)");
	const json_t *gen = rh_get(doc, "generator");
	rt_put(out, " by ");
	rh_esc_or(out, rh_str(gen, "name"), "flowaudit");
	rt_put(out, " ");
	rh_esc(out, rh_str(gen, "version"));
	if (rh_str(doc, "command")) {
		rt_put(out, " (");
		rh_esc(out, rh_str(doc, "command"));
		rt_put(out, ")");
	}
	rt_put(out, "<br>Inputs: ");
	size_t i;
	const json_t *c;
	json_array_foreach(rh_get(rh_get(doc, "inputs"), "captures"), i, c) {
		rt_put(out, i ? ", " : "");
		rt_put(out, "<span class=\"mono\">");
		rh_esc_or(out, rh_str(c, "path"), "?");
		rt_put(out, "</span>");
	}
	const char *pol = rh_str(rh_get(rh_get(doc, "inputs"), "policy"), "path");
	if (pol) {
		rt_put(out, "; policy <span class=\"mono\">");
		rh_esc(out, pol);
		rt_put(out, "</span>");
	}
	rt_put(out, "</p>\n</header>\n");

	const json_t *s = rh_get(doc, "summary");
	if (s == NULL)
		return;
	rt_put(out, "<section class=\"summary\">\n");
	static const char *const keys[][2] = {
		{"packets", "packets"}, {"flows", "flows"}, {"device_flows", "from the devices"},
		{"destinations", "destinations"}, {"findings", "findings"}};
	for (size_t k = 0; k < 5; k++) {
		long long v;
		if (rh_int(s, keys[k][0], &v))
			rt_printf(out, "<div><b>%lld</b>%s</div>\n", v, keys[k][1]);
	}
	long long b;
	if (rh_int(s, "bytes", &b)) {
		rt_put(out, "<div><b>");
		rh_bytes(out, b);
		rt_put(out, "</b>captured</div>\n");
	}
	const json_t *sev = rh_get(s, "findings_by_severity");
	if (json_is_object(sev)) {
		rt_put(out, "<div>by severity:");
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)sev, k, v) {
			rt_put(out, " ");
			rh_esc(out, k);
			rt_printf(out, " %lld", (long long)json_integer_value(v));
		}
		rt_put(out, "<br><a href=\"#limits\">what this audit cannot see</a> &middot; "
			    "<a href=\"#glossary\">words used</a></div>\n");
	}
	rt_put(out, "</section>\n");
	/* a live capture says what the kernel and the interface dropped */
	const json_t *d = rh_get(s, "capture_drops");
	long long rcv, drop, ifdrop;
	if (json_is_object(d) && rh_int(d, "received", &rcv) && rh_int(d, "dropped", &drop) &&
	    rh_int(d, "if_dropped", &ifdrop)) {
		if (drop || ifdrop)
			rt_printf(
			    out,
			    "<p class=\"broken\">The capture is incomplete: %lld packets were "
			    "dropped by the kernel and %lld by the interface, of %lld received. "
			    "What is not in the capture was not audited.</p>\n",
			    drop, ifdrop, rcv);
		else
			rt_printf(out,
				  "<p class=\"meta\">Live capture: %lld packets received, none "
				  "dropped by the kernel or the interface.</p>\n",
				  rcv);
	}
}

static void write_notes(struct jsonw *out, const json_t *doc)
{
	const json_t *notes = rh_get(doc, "notes");
	if (json_array_size(notes) == 0)
		return;
	rt_put(out, "<h2>Notes for the reader</h2>\n<ul>\n");
	size_t i;
	const json_t *n;
	json_array_foreach(notes, i, n) {
		rt_put(out, "<li>");
		rh_esc(out, json_string_value(n));
		rt_put(out, "</li>\n");
	}
	rt_put(out, "</ul>\n");
}

static void verdict_cell(struct jsonw *out, const char *v)
{
	if (v && strcmp(v, "kept") == 0)
		rt_put(out, "<td class=\"kept\">&#10003; kept</td>");
	else if (v && strcmp(v, "broken") == 0)
		rt_put(out, "<td class=\"broken\">&#10007; broken</td>");
	else if (v && strcmp(v, "not_exercised") == 0)
		rt_put(out, "<td class=\"not_exercised\">&ndash; not exercised</td>");
	else {
		rt_put(out, "<td>");
		rh_esc_or(out, v, "unknown");
		rt_put(out, "</td>");
	}
}

static void write_statements(struct jsonw *out, const json_t *doc)
{
	const json_t *sts = rh_get(doc, "statements");
	rt_put(out, "<h2 id=\"statements\">Declared statements</h2>\n");
	if (json_array_size(sts) == 0) {
		rt_put(out, "<p>The report lists no declared statements.</p>\n");
		return;
	}
	rt_put(out, "<p>What the app's privacy declaration says, and whether the captured traffic "
		    "kept it.</p>\n"
		    "<table>\n<tr><th>Statement</th><th>Verdict</th><th>What the policy says</th>"
		    "<th>Findings</th></tr>\n");
	size_t i;
	const json_t *st;
	json_array_foreach(sts, i, st) {
		rt_put(out, "<tr><td>");
		rh_esc_or(out, rh_str(st, "text"), "");
		rt_put(out, "<br><span class=\"meta mono\">");
		rh_esc(out, rh_str(st, "id"));
		rt_put(out, "</span></td>");
		verdict_cell(out, rh_str(st, "verdict"));
		rt_put(out, "<td>");
		if (rh_str(st, "clause")) {
			rt_put(out, "<blockquote>");
			rh_esc(out, rh_str(st, "clause"));
			rt_put(out, "</blockquote>");
		}
		rt_put(out, "</td><td>");
		size_t k;
		const json_t *id;
		json_array_foreach(rh_get(st, "findings"), k, id) {
			const char *s = json_string_value(id);
			rt_put(out, k ? ", " : "");
			rt_put(out, "<a href=\"#finding-");
			rh_esc(out, s);
			rt_put(out, "\">");
			rh_esc(out, s);
			rt_put(out, "</a>");
		}
		rt_put(out, "</td></tr>\n");
	}
	rt_put(out, "</table>\n");
}

/* What the declaration itself leaves open (a drafted declaration's `review`). */
static void write_policy_review(struct jsonw *out, const json_t *doc)
{
	const json_t *rv = rh_get(doc, "policy_review");
	if (json_array_size(rv) == 0)
		return;
	rt_put(out, "<h3>The declaration leaves open</h3>\n<ul>\n");
	size_t i;
	const json_t *r;
	json_array_foreach(rv, i, r) {
		rt_put(out, "<li>");
		rh_esc_or(out, rh_str(r, "what"), "");
		rt_put(out, " <span class=\"meta\">");
		rh_esc(out, rh_str(r, "where"));
		rt_put(out, "</span></li>\n");
	}
	rt_put(out, "</ul>\n");
}

/* ---- devices ---- */

static void write_devices(struct jsonw *out, const json_t *doc)
{
	const json_t *devs = rh_get(doc, "devices");
	if (json_array_size(devs) == 0)
		return;
	rt_put(out, "<h2 id=\"devices\">Devices</h2>\n");
	/* the flows of each client address, found in one pass (a report can
	   hold thousands of devices) */
	json_t *by_client = json_object();
	size_t i, k;
	const json_t *fl;
	json_array_foreach(rh_get(doc, "flows"), k, fl) {
		const char *c = rh_str(fl, "client_ip");
		if (c == NULL)
			continue;
		json_t *list = json_object_get(by_client, c);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(by_client, c, list);
		}
		json_array_append(list, (json_t *)fl);
	}
	const json_t *d;
	json_array_foreach(devs, i, d) {
		const char *addr = rh_str(d, "address");
		const json_t *mine = addr ? json_object_get(by_client, addr) : NULL;
		size_t nflows = json_array_size(mine);
		long long given;
		if (rh_int(d, "flows", &given))
			nflows = (size_t)given;
		rt_put(out, "<section>\n<h3>Device <span class=\"mono\">");
		rh_esc_or(out, addr, "?");
		rt_printf(out, "</span></h3>\n<p>%zu flows. Findings: ", nflows);
		const json_t *ids = rh_get(d, "findings");
		long long nfind;
		if (json_is_array(ids)) {
			const json_t *id;
			json_array_foreach(ids, k, id) {
				rt_put(out, k ? ", " : "");
				rt_put(out, "<a href=\"#finding-");
				rh_esc(out, json_string_value(id));
				rt_put(out, "\">");
				rh_esc(out, json_string_value(id));
				rt_put(out, "</a>");
			}
			if (json_array_size(ids) == 0)
				rt_put(out, "none");
		} else if (rh_int(d, "findings", &nfind)) {
			rt_printf(out, "%lld", nfind);
		}
		rt_put(out, ".</p>\n");
		if (addr == NULL)
			goto end_section;
		size_t shown = 0, total = 0;
		json_array_foreach(mine, k, fl) {
			if (total++ >= MAX_DEVICE_FLOWS)
				continue;
			if (shown++ == 0)
				rt_put(out,
				       "<table>\n<tr><th>Flow</th><th>Server</th><th>Name</"
				       "th><th>Protocol</th>"
				       "<th>Country</th><th>Sent</th><th>Received</th></tr>\n");
			rt_printf(out, "<tr><td>%lld</td><td class=\"mono\">", rh_int0(fl, "id"));
			rh_esc(out, rh_str(fl, "server_ip"));
			rt_printf(out, ":%lld</td><td class=\"mono\">", rh_int0(fl, "server_port"));
			if (rh_str(fl, "name") == NULL && rh_str(fl, "dns_query") != NULL) {
				rt_put(out, "<span class=\"meta\">asks for</span> ");
				rh_esc(out, rh_str(fl, "dns_query"));
			} else {
				rh_esc_or(out, rh_str(fl, "name"), "-");
			}
			rt_put(out, "</td><td>");
			rh_esc(out, rh_str(fl, "transport"));
			rt_put(out, " ");
			rh_esc(out, rh_str(fl, "protocol"));
			rt_put(out, "</td><td>");
			rh_country(out, rh_str(fl, "country"), "-");
			rt_put(out, "</td><td class=\"num\">");
			rh_bytes(out, rh_int0(fl, "bytes_out"));
			rt_put(out, "</td><td class=\"num\">");
			rh_bytes(out, rh_int0(fl, "bytes_in"));
			rt_put(out, "</td></tr>\n");
		}
		if (shown)
			rt_put(out, "</table>\n");
		if (nflows > shown)
			rt_printf(out,
				  "<p>&hellip; and %zu more flows (all are in report.json).</p>\n",
				  nflows - shown);
end_section:
	rt_put(out, "</section>\n");
	}
	json_decref(by_client);
}

/* ---- inputs and attribution ---- */

static void input_row(struct jsonw *out, const char *what, const json_t *o, const char *extra)
{
	if (!json_is_object(o))
		return;
	rt_printf(out, "<tr><td>%s</td><td><span class=\"mono\">", what);
	rh_esc_or(out, rh_str(o, "path"), "-");
	rt_put(out, "</span><span class=\"mono sha\">SHA-256 ");
	rh_esc_or(out, rh_str(o, "sha256"), "-");
	rt_put(out, "</span></td><td>");
	rh_esc(out, extra);
	rt_put(out, "</td></tr>\n");
}

static void write_inputs(struct jsonw *out, const json_t *doc)
{
	const json_t *in = rh_get(doc, "inputs");
	if (!json_is_object(in))
		return;
	rt_put(out,
	       "<h2 id=\"inputs\">Inputs and hashes</h2>\n<p>Anyone can check these files are the "
	       "ones "
	       "audited: <span class=\"mono\">sha256sum FILE</span> must print the same value (for "
	       "the signature catalogue, a directory, the value is the SHA-256 of what "
	       "<span class=\"mono\">sha256sum *.json</span> prints there; "
	       "<span class=\"mono\">flowaudit verify</span> checks all of them).</p>\n"
	       "<table class=\"inputs\">\n<tr><th>Input</th><th>File and its "
	       "SHA-256</th><th>Details</th></tr>\n");
	size_t i;
	const json_t *c;
	json_array_foreach(rh_get(in, "captures"), i, c) {
		char extra[512];
		const char *link = rh_str(c, "link_name");
		snprintf(extra, sizeof(extra), "%lld packets, %lld bytes, %s (link type %s)%s%s",
			 rh_int0(c, "packets"), rh_int0(c, "bytes"), link ? rh_plain(RH_LINK, link) : "?",
			 link ? link : "?",
			 rh_str(c, "error") ? "; cut short: " : "", rh_str(c, "error") ? rh_str(c, "error") : "");
		input_row(out, "capture", c, extra);
	}
	input_row(out, "policy", rh_get(in, "policy"), NULL);
	input_row(out, "consent events", rh_get(in, "events"), NULL);
	input_row(out, "device profile", rh_get(in, "device_profile"), NULL);
	const json_t *sg = rh_get(in, "signatures");
	if (json_is_object(sg)) {
		char extra[64];
		snprintf(extra, sizeof(extra), "%lld entries", rh_int0(sg, "entries"));
		input_row(out, "signatures", sg, extra);
	}
	static const char *const dbs[][2] = {{"country", "country database"}, {"asn", "ASN database"}};
	for (size_t k = 0; k < 2; k++) {
		const json_t *g = rh_get(rh_get(in, "geo"), dbs[k][0]);
		if (!json_is_object(g))
			continue;
		const char *type = rh_str(g, "database_type"), *built = rh_str(g, "build_time");
		const char *desc = rh_str(g, "description");
		char extra[2048]; /* its attribution is in the page's footer */
		snprintf(extra, sizeof(extra), "%s%s%s%s%s", type ? type : "", built ? ", built " : "",
			 built ? built : "", desc ? "; " : "", desc ? desc : "");
		input_row(out, dbs[k][1], g, extra);
	}
	rt_put(out, "</table>\n");
}

static void write_footer(struct jsonw *out, const json_t *doc)
{
	rt_put(out, "<footer>\n");
	size_t i;
	const json_t *a;
	json_array_foreach(rh_get(doc, "attribution"), i, a) {
		rt_put(out, "<p>");
		rh_esc(out, json_string_value(a));
		rt_put(out, "</p>\n");
	}
	rt_put(out,
	       "<p>Countries are those the address is registered in, which is not always where the "
	       "server stands. Identifier values are masked in this report; the evidence captures "
	       "hold the packets as they were sent.</p>\n</footer>\n");
}

int report_html_write(const json_t *doc, FILE *out, struct fa_err *err)
{
	struct report_findings fs = report_findings_of_doc(doc);
	return report_html_write_each(doc, &fs, out, err);
}

int report_html_write_each(const json_t *doc, const struct report_findings *fs, FILE *fp,
			   struct fa_err *err)
{
	if (!json_is_object(doc)) {
		fa_err_set(err, "report.html: the report document is not a JSON object");
		return FA_ERUNTIME;
	}
	struct rh_briefs bs;
	struct jsonw w;
	if (!rh_briefs_load(&bs, fs)) {
		rh_briefs_free(&bs);
		fa_err_set(err, "report.html: out of memory");
		return FA_ERUNTIME;
	}
	if (jsonw_open_text(&w, fp) != FA_OK) {
		rh_briefs_free(&bs);
		fa_err_set(err, "report.html: out of memory");
		return FA_ERUNTIME;
	}
	struct jsonw *out = &w;
	write_header(out, doc);
	write_notes(out, doc);
	rh_findings_table(out, &bs);
	write_statements(out, doc);
	write_policy_review(out, doc);
	rh_country_chart(out, doc);
	rh_timeline(out, doc, &bs);
	rh_findings(out, doc, fs, &bs);
	write_devices(out, doc);
	rh_cannot_see(out, doc);
	write_inputs(out, doc);
	rh_glossary(out);
	write_footer(out, doc);
	rt_put(out, "</body>\n</html>\n");
	rh_briefs_free(&bs);
	if (jsonw_close(out) != FA_OK || ferror(fp)) {
		fa_err_set(err, "report.html: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
