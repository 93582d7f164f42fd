/*
 * report_html_charts.c - the two inline SVG charts of report.html:
 * destinations by country (stacked by recipient kind) and the timeline of
 * findings against consent events.
 *
 * Receives the report document from report_html.c and borrows it; writes
 * SVG and a plain table beside each chart, so no number is shown by colour
 * or length alone and the page prints in black and white. Coordinates are
 * in a fixed 800-unit-wide viewBox drawn 800 px wide on a screen and
 * shrunk to the A4 text width (about 690 px) on paper, where its 13-unit
 * labels stay above 8 pt. Workload:
 * thousands of flows are counted into at most MAX_CHART_COUNTRIES rows and
 * MAX_CHART_KINDS kinds; at most MAX_TIMELINE_ROWS recipients are drawn.
 */
#include "report_html.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CHART_COUNTRIES 25
#define MAX_CHART_KINDS 6
#define MAX_TIMELINE_ROWS 30
#define ROW_LABEL_MAX 30 /* characters of a row label drawn left of the axis */
#define VIEW_W 800       /* viewBox width of both charts */

static const char *const palette[MAX_CHART_KINDS + 1] = {
	"#1f4e9c", "#e08a1e", "#7cc46f", "#8c8c8c", "#8e44ad", "#17becf", "#c7c7c7",
};

/* ---- destinations by country (stacked by recipient kind) ---- */

static int kind_index(const char **kinds, size_t *n, const char *k)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(kinds[i], k) == 0)
			return (int)i;
	if (*n < MAX_CHART_KINDS) {
		kinds[*n] = k;
		return (int)(*n)++;
	}
	return MAX_CHART_KINDS; /* "other" */
}

/*
 * How the chart's flows relate to the summary's: every flow of the capture
 * is the devices' (public or local) or between other hosts, and the chart
 * counts the devices' flows to public addresses.
 */
static void write_flow_counts(FILE *out, const json_t *doc, const json_t *by)
{
	const json_t *s = rh_get(doc, "summary");
	long long flows, dev, pub, charted = 0;
	size_t i;
	const json_t *row;
	json_array_foreach(by, i, row)
		charted += rh_int0(row, "flows");
	if (!rh_int(s, "flows", &flows) || !rh_int(s, "device_flows", &dev) ||
	    !rh_int(s, "public_flows", &pub))
		return;
	fprintf(out, "<p>Of the %lld flows in the capture, %lld were the devices': <b>%lld to public "
		     "addresses</b>, counted below by the country each address is registered in, "
		     "and %lld on the local network (such as DNS to the router). ",
		flows, dev, pub, dev - pub);
	if (flows > dev)
		fprintf(out, "The other %lld were between other hosts and were not audited. ", flows - dev);
	if (charted != pub)
		fprintf(out, "%lld of the devices' public flows are not in the table: the report keeps "
			     "no record of them (summary.flows_not_listed). ", pub - charted);
	fputs("</p>\n", out);
}

struct country_row {
	const char *cc;
	long long flows[MAX_CHART_KINDS + 1];
	long long total, bytes;
};

static int row_cmp(const void *a, const void *b)
{
	const struct country_row *x = a, *y = b;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->cc, y->cc);
}

void rh_country_chart(FILE *out, const json_t *doc)
{
	/* summary.by_country: one row per country over every flow, with the
	   flows per recipient kind (report_json.c) */
	const json_t *by = rh_get(rh_get(doc, "summary"), "by_country");
	const char *kinds[MAX_CHART_KINDS];
	size_t n_kinds = 0, n_rows = 0, cap = json_array_size(by);
	fputs("<h2 id=\"countries\">Where the traffic went</h2>\n", out);
	write_flow_counts(out, doc, by);
	struct country_row *rows = calloc(cap ? cap : 1, sizeof(*rows));
	if (rows == NULL) {
		fputs("<p>Chart left out: not enough memory.</p>\n", out);
		return;
	}
	size_t i;
	const json_t *row;
	json_array_foreach(by, i, row) {
		const char *cc = rh_str(row, "country");
		if (cc == NULL)
			continue;
		struct country_row *cr = &rows[n_rows++];
		cr->cc = cc;
		const char *kind;
		const json_t *n;
		json_object_foreach((json_t *)rh_get(row, "by_kind"), kind, n) {
			int k = kind_index(kinds, &n_kinds, kind);
			cr->flows[k] += json_integer_value(n);
			cr->total += json_integer_value(n);
		}
		cr->bytes = rh_int0(row, "bytes");
	}
	if (n_rows == 0) {
		fputs("<p>No flow to a public address.</p>\n", out);
		free(rows);
		return;
	}
	qsort(rows, n_rows, sizeof(*rows), row_cmp);
	if (n_rows > MAX_CHART_COUNTRIES) {
		struct country_row *o = &rows[MAX_CHART_COUNTRIES - 1];
		for (size_t r = MAX_CHART_COUNTRIES; r < n_rows; r++) {
			for (int k = 0; k <= MAX_CHART_KINDS; k++)
				o->flows[k] += rows[r].flows[k];
			o->total += rows[r].total;
			o->bytes += rows[r].bytes;
		}
		o->cc = "other";
		n_rows = MAX_CHART_COUNTRIES;
	}
	bool other = false;
	for (size_t r = 0; r < n_rows; r++)
		other |= rows[r].flows[MAX_CHART_KINDS] != 0;
	long long max = rows[0].total;
	for (size_t r = 1; r < n_rows; r++)
		max = rows[r].total > max ? rows[r].total : max;
	const int label_w = 150, bar_w = VIEW_W - label_w - 50, row_h = 26, top = 8;
	int height = top + (int)n_rows * row_h + 8;
	fputs("<figure>\n", out);
	fprintf(out, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		     "aria-label=\"Flows by country\">\n", VIEW_W, height, VIEW_W, height);
	for (size_t r = 0; r < n_rows; r++) {
		int y = top + (int)r * row_h;
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><title>", label_w - 8, y + 16);
		rh_esc(out, rows[r].cc);
		fputs("</title>", out);
		const char *name = rh_country_name(rows[r].cc);
		rh_esc(out, name && strlen(name) <= 20 ? name : rows[r].cc);
		fputs("</text>\n", out);
		double x = label_w;
		for (int k = 0; k <= MAX_CHART_KINDS; k++) {
			if (rows[r].flows[k] == 0)
				continue;
			double w = (double)bar_w * (double)rows[r].flows[k] / (double)max;
			fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"%s\" "
				     "stroke=\"#fff\"><title>", x, y + 3, w, palette[k]);
			rh_esc(out, rows[r].cc);
			fputs(": ", out);
			rh_esc(out, rh_plain(RH_KIND, k < MAX_CHART_KINDS ? kinds[k] : "other"));
			fprintf(out, ", %lld flows</title></rect>\n", rows[r].flows[k]);
			x += w;
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%d\">%lld</text>\n", x + 6, y + 16, rows[r].total);
	}
	fputs("</svg>\n<figcaption class=\"legend\">", out);
	for (size_t k = 0; k < n_kinds + other; k++) {
		fprintf(out, "<span><i class=\"swatch\" style=\"background:%s\"></i>",
			palette[k < n_kinds ? k : MAX_CHART_KINDS]);
		rh_word(out, RH_KIND, k < n_kinds ? kinds[k] : "other", NULL);
		fputs("</span>", out);
	}
	fputs("</figcaption>\n</figure>\n<table>\n<tr><th>Country</th>", out);
	for (size_t k = 0; k < n_kinds + other; k++) {
		fputs("<th>", out);
		rh_word(out, RH_KIND, k < n_kinds ? kinds[k] : "other", NULL);
		fputs("</th>", out);
	}
	fputs("<th>Flows</th><th>Bytes</th></tr>\n", out);
	struct country_row sum = {.cc = NULL};
	for (size_t r = 0; r < n_rows; r++) {
		fputs("<tr><td>", out);
		rh_country(out, rows[r].cc, NULL);
		fputs("</td>", out);
		for (size_t k = 0; k < n_kinds + other; k++)
			fprintf(out, "<td>%lld</td>", rows[r].flows[k < n_kinds ? k : MAX_CHART_KINDS]);
		fprintf(out, "<td>%lld</td><td>", rows[r].total);
		rh_bytes(out, rows[r].bytes);
		fputs("</td></tr>\n", out);
		for (int k = 0; k <= MAX_CHART_KINDS; k++)
			sum.flows[k] += rows[r].flows[k];
		sum.total += rows[r].total;
		sum.bytes += rows[r].bytes;
	}
	fputs("<tr class=\"total\"><th>All countries</th>", out);
	for (size_t k = 0; k < n_kinds + other; k++)
		fprintf(out, "<th>%lld</th>", sum.flows[k < n_kinds ? k : MAX_CHART_KINDS]);
	fprintf(out, "<th>%lld</th><th>", sum.total);
	rh_bytes(out, sum.bytes);
	fputs("</th></tr>\n</table>\n", out);
	free(rows);
}

/* ---- timeline: findings per recipient against consent events ---- */

static const char *finding_row_label(const json_t *f)
{
	const char *l = rh_str(rh_get(f, "recipient"), "name");
	if (l == NULL)
		l = rh_str(f, "host");
	return l ? l : "(unnamed destination)";
}

/* The row of a flow: its recipient's name, else its name, else its address. */
static const char *flow_row_label(const json_t *f)
{
	const char *l = rh_str(rh_get(f, "signature"), "name");
	if (l == NULL)
		l = rh_str(f, "name");
	if (l == NULL)
		l = rh_str(f, "server_ip");
	return l ? l : "(unnamed destination)";
}

static bool public_flow(const json_t *f)
{
	const char *scope = rh_str(f, "scope");
	return scope != NULL && strcmp(scope, "public") == 0;
}

static size_t row_of(const char *const *rows, size_t n_rows, const char *l)
{
	size_t r = 0;
	while (r < n_rows && strcmp(rows[r], l) != 0)
		r++;
	return r;
}

static const char *sev_colour(const char *sev)
{
	if (sev && strcmp(sev, "high") == 0)
		return "#b42318";
	if (sev && strcmp(sev, "medium") == 0)
		return "#c4620a";
	if (sev && strcmp(sev, "low") == 0)
		return "#8a6d00";
	return "#4b5563";
}

static void widen(fa_time *lo, fa_time *hi, bool *any, fa_time t)
{
	if (!*any || t < *lo)
		*lo = t;
	if (!*any || t > *hi)
		*hi = t;
	*any = true;
}

/* "11-22 10:00:03", or with tenths of a second ("10:00:03.3") when the
   ticks are closer than a minute, so a label never names another time;
   over a span of months, the date with its year ("2026-11-22") */
static void clock_label(FILE *out, fa_time t, bool with_date, bool tenths, bool with_year)
{
	char buf[48];
	fa_time_str(t, buf, sizeof(buf));
	/* "2026-11-22T10:00:03Z": the date is chars 5..9, the clock 11..18 */
	if (strlen(buf) < 19) {
		rh_esc(out, buf);
		return;
	}
	if (with_year) {
		fprintf(out, "%.10s", buf);
		return;
	}
	fprintf(out, with_date ? "%.5s %.8s" : "%.0s%.8s", buf + 5, buf + 11);
	if (tenths)
		fprintf(out, ".%d", (int)((t % 1000000 + 1000000) % 1000000 / 100000));
}

/* Where finding i is drawn: its row (-1: none), times, severity's place
   in the drawing order. Kept between the passes, since the findings
   themselves are fetched one at a time. */
struct bar {
	int row, order;
	bool timed;
	fa_time a, b;
};

static const char *const draw_order[] = {"info", "low", "medium", "high"};

void rh_timeline(FILE *out, const json_t *doc, const struct report_findings *fs)
{
	const json_t *events = rh_get(doc, "consent_events");
	fa_time lo = 0, hi = 0, t;
	bool any = false;
	size_t i;
	const json_t *x;
	const json_t *sum = rh_get(doc, "summary");
	if (rh_time(sum, "first_seen", &t))
		widen(&lo, &hi, &any, t);
	if (rh_time(sum, "last_seen", &t))
		widen(&lo, &hi, &any, t);
	struct bar *bars = calloc(fs->n ? fs->n : 1, sizeof(*bars));
	char *rows[MAX_TIMELINE_ROWS];
	size_t n_rows = 0, not_drawn = 0;
	for (i = 0; bars != NULL && i < fs->n; i++) {
		json_t *f = report_finding_brief(fs, i);
		struct bar *br = &bars[i];
		br->row = -1;
		br->timed = rh_time(f, "first_seen", &br->a);
		bool has_last = rh_time(f, "last_seen", &t);
		if (br->timed)
			widen(&lo, &hi, &any, br->a);
		if (has_last)
			widen(&lo, &hi, &any, t);
		br->b = br->timed && has_last && t >= br->a ? t : br->a;
		const char *sv = rh_str(f, "severity");
		for (int q = 0; q < 4; q++)
			if (sv != NULL && strcmp(sv, draw_order[q]) == 0)
				br->order = q;
		const char *l = finding_row_label(f);
		size_t r = row_of((const char *const *)rows, n_rows, l);
		if (r == n_rows && n_rows < MAX_TIMELINE_ROWS && (rows[n_rows] = strdup(l)) != NULL)
			n_rows++;
		br->row = r < n_rows ? (int)r : -1;
		json_decref(f);
	}
	json_array_foreach(events, i, x)
		if (rh_time(x, "time", &t))
			widen(&lo, &hi, &any, t);
	fputs("<h2 id=\"timeline\">Timeline against consent</h2>\n", out);
	if (!any || fs->n == 0 || bars == NULL) {
		fputs("<p>No finding to place in time.</p>\n", out);
		goto done;
	}
	if (hi == lo)
		hi = lo + 1000000;
	/* recipients that got transfers and no finding get a row too */
	json_array_foreach(rh_get(doc, "flows"), i, x) {
		if (!public_flow(x))
			continue;
		const char *l = flow_row_label(x);
		if (row_of((const char *const *)rows, n_rows, l) == n_rows && n_rows < MAX_TIMELINE_ROWS &&
		    (rows[n_rows] = strdup(l)) != NULL)
			n_rows++;
	}
	const double left = 220, width = VIEW_W - 220 - 20;
	const int top = 64, row_h = 24;
	int height = top + (int)n_rows * row_h + 40;
	bool days = hi - lo > 86400LL * 1000000;
#define TX(tt) (left + width * (double)((tt) - lo) / (double)(hi - lo))
	fputs("<p>Each bar is a finding, from the first to the last packet it covers, on the row of "
	      "its recipient; the thin grey marks under them are the transfers themselves (the "
	      "devices' flows listed in this report), findings or not; dashed lines are the "
	      "consent events of the session.</p>\n<figure>\n",
	      out);
	fprintf(out, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		     "aria-label=\"Timeline of findings and consent\">\n", VIEW_W, height, VIEW_W, height);
	for (size_t r = 0; r < n_rows; r++) {
		int y = top + (int)r * row_h;
		fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%d\" y2=\"%d\" stroke=\"#eaecf0\"/>\n",
			left, left + width, y + 12, y + 12);
		fprintf(out, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"end\"><title>", left - 8, y + 16);
		rh_esc(out, rows[r]);
		fputs("</title>", out);
		/* what fits left of the axis; the whole name is in the title */
		size_t len = strlen(rows[r]);
		if (len <= ROW_LABEL_MAX) {
			rh_esc(out, rows[r]);
		} else {
			char cut[ROW_LABEL_MAX + 1];
			size_t n = ROW_LABEL_MAX - 1;
			while (n > 0 && ((unsigned char)rows[r][n] & 0xc0) == 0x80)
				n--; /* not inside a UTF-8 sequence */
			memcpy(cut, rows[r], n);
			cut[n] = '\0';
			rh_esc(out, cut);
			fputs("&hellip;", out);
		}
		fputs("</text>\n", out);
	}
	int axis_y = top + (int)n_rows * row_h + 4;
	fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>\n", left,
		left + width, axis_y, axis_y);
	for (int k = 0; k <= 4; k++) {
		fa_time tk = lo + (hi - lo) / 4 * k;
		double xk = TX(tk);
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
			     "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">", xk, xk, axis_y, axis_y + 5,
			xk, axis_y + 20, k == 0 ? "start" : k == 4 ? "end" : "middle");
		clock_label(out, tk, days, hi - lo < 240LL * 1000000, hi - lo > 200 * 86400LL * 1000000);
		fputs("</text>\n", out);
	}
	json_array_foreach(events, i, x) {
		if (!rh_time(x, "time", &t))
			continue;
		const char *ev = rh_str(x, "event");
		bool granted = ev && strstr(ev, "granted") != NULL;
		double xe = TX(t);
		int ly = 14 + (int)(i % 3) * 16;
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
			     "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n", xe, xe, ly + 4, axis_y,
			granted ? "#1a7f37" : "#b42318");
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">", xe, ly,
			xe > left + width * 0.7 ? "end" : "start");
		fprintf(out, "#%lld ", rh_int0(x, "index"));
		rh_esc_or(out, granted ? "consent granted" : ev && strstr(ev, "withdrawn") ? "consent withdrawn" : ev,
		   "event");
		size_t k;
		const json_t *p;
		json_array_foreach(rh_get(x, "purposes"), k, p) {
			fputs(k ? ", " : ": ", out);
			rh_esc(out, json_string_value(p));
		}
		fputs("</text>\n", out);
	}
	json_array_foreach(rh_get(doc, "flows"), i, x) {
		fa_time a, b;
		size_t r = row_of((const char *const *)rows, n_rows, flow_row_label(x));
		if (!public_flow(x) || r == n_rows || !rh_time(x, "first_seen", &a))
			continue;
		if (!rh_time(x, "last_seen", &b) || b < a)
			b = a;
		double xa = TX(a), w = TX(b) - xa;
		fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"3\" fill=\"#667085\">"
			     "<title>flow %lld to ", xa, top + (int)r * row_h + 20, w < 2 ? 2 : w,
			rh_int0(x, "id"));
		rh_esc_or(out, rh_str(x, "name"), rh_str(x, "server_ip"));
		fputs("</title></rect>\n", out);
	}
	/* the lower severities first, so that a high finding on the same flow
	   as a low one is drawn on top of it; an unknown severity goes first */
	for (int pass = 0; pass < 4; pass++) {
		for (i = 0; i < fs->n; i++) {
			const struct bar *br = &bars[i];
			if (br->order != pass)
				continue;
			if (br->row < 0 || !br->timed) {
				not_drawn++;
				continue;
			}
			json_t *f = report_finding_brief(fs, i);
			double xa = TX(br->a), w = TX(br->b) - xa;
			if (w < 5)
				w = 5;
			int y = top + br->row * row_h;
			fputs("<a href=\"#finding-", out);
			rh_esc(out, rh_str(f, "id"));
			fprintf(out, "\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" rx=\"2\" fill=\"%s\" "
				     "fill-opacity=\"0.85\"><title>", xa, y + 5, w, sev_colour(rh_str(f, "severity")));
			rh_esc(out, rh_str(f, "id"));
			fputs(" ", out);
			rh_esc(out, rh_str(f, "title"));
			fputs("</title></rect></a>\n", out);
			json_decref(f);
		}
	}
#undef TX
	fputs("</svg>\n<figcaption class=\"legend\">", out);
	static const char *const sevs[] = {"high", "medium", "low", "info"};
	for (size_t k = 0; k < 4; k++) {
		fprintf(out, "<span><i class=\"swatch\" style=\"background:%s\"></i>%s severity</span>",
			sev_colour(sevs[k]), sevs[k]);
	}
	fputs("<span>time axis: UTC</span>", out);
	if (not_drawn)
		fprintf(out, "<span>%zu findings not drawn (no time, or more than %d recipients)</span>",
			not_drawn, MAX_TIMELINE_ROWS);
	fputs("</figcaption>\n</figure>\n", out);
done:
	for (size_t r = 0; r < n_rows; r++)
		free(rows[r]);
	free(bars);
}
