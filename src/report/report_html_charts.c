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
static void write_flow_counts(struct jsonw *out, const json_t *doc, const json_t *by)
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
	rt_printf(out,
		  "<p>Of the %lld flows in the capture, %lld were the devices': <b>%lld to public "
		  "addresses</b>, counted below by the country each address is registered in, "
		  "and %lld on the local network (such as DNS to the router). ",
		  flows, dev, pub, dev - pub);
	if (flows > dev)
		rt_printf(out, "The other %lld were between other hosts and were not audited. ",
			  flows - dev);
	if (charted != pub)
		rt_printf(
		    out,
		    "%lld of the devices' public flows are not in the table: the report keeps "
		    "no record of them (summary.flows_not_listed). ",
		    pub - charted);
	rt_put(out, "</p>\n");
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

void rh_country_chart(struct jsonw *out, const json_t *doc)
{
	/* summary.by_country: one row per country over every flow, with the
	   flows per recipient kind (report_json.c) */
	const json_t *by = rh_get(rh_get(doc, "summary"), "by_country");
	const char *kinds[MAX_CHART_KINDS];
	size_t n_kinds = 0, n_rows = 0, cap = json_array_size(by);
	rt_put(out, "<h2 id=\"countries\">Where the traffic went</h2>\n");
	write_flow_counts(out, doc, by);
	struct country_row *rows = calloc(cap ? cap : 1, sizeof(*rows));
	if (rows == NULL) {
		rt_put(out, "<p>Chart left out: not enough memory.</p>\n");
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
		rt_put(out, "<p>No flow to a public address.</p>\n");
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
	rt_put(out, "<figure>\n");
	rt_printf(out,
		  "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		  "aria-label=\"Flows by country\">\n",
		  VIEW_W, height, VIEW_W, height);
	for (size_t r = 0; r < n_rows; r++) {
		int y = top + (int)r * row_h;
		rt_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><title>", label_w - 8,
			  y + 16);
		rh_esc(out, rows[r].cc);
		rt_put(out, "</title>");
		const char *name = rh_country_name(rows[r].cc);
		rh_esc(out, name && strlen(name) <= 20 ? name : rows[r].cc);
		rt_put(out, "</text>\n");
		double x = label_w;
		for (int k = 0; k <= MAX_CHART_KINDS; k++) {
			if (rows[r].flows[k] == 0)
				continue;
			double w = (double)bar_w * (double)rows[r].flows[k] / (double)max;
			rt_printf(
			    out,
			    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"%s\" "
			    "stroke=\"#fff\"><title>",
			    x, y + 3, w, palette[k]);
			rh_esc(out, rows[r].cc);
			rt_put(out, ": ");
			rh_esc(out, rh_plain(RH_KIND, k < MAX_CHART_KINDS ? kinds[k] : "other"));
			rt_printf(out, ", %lld flows</title></rect>\n", rows[r].flows[k]);
			x += w;
		}
		rt_printf(out, "<text x=\"%.1f\" y=\"%d\">%lld</text>\n", x + 6, y + 16,
			  rows[r].total);
	}
	rt_put(out, "</svg>\n<figcaption class=\"legend\">");
	for (size_t k = 0; k < n_kinds + other; k++) {
		rt_printf(out, "<span><i class=\"swatch\" style=\"background:%s\"></i>",
			  palette[k < n_kinds ? k : MAX_CHART_KINDS]);
		rh_word(out, RH_KIND, k < n_kinds ? kinds[k] : "other", NULL);
		rt_put(out, "</span>");
	}
	rt_put(out, "</figcaption>\n</figure>\n<table>\n<tr><th>Country</th>");
	for (size_t k = 0; k < n_kinds + other; k++) {
		rt_put(out, "<th>");
		rh_word(out, RH_KIND, k < n_kinds ? kinds[k] : "other", NULL);
		rt_put(out, "</th>");
	}
	rt_put(out, "<th>Flows</th><th>Bytes</th></tr>\n");
	struct country_row sum = {.cc = NULL};
	for (size_t r = 0; r < n_rows; r++) {
		rt_put(out, "<tr><td>");
		rh_country(out, rows[r].cc, NULL);
		rt_put(out, "</td>");
		for (size_t k = 0; k < n_kinds + other; k++)
			rt_printf(out, "<td>%lld</td>",
				  rows[r].flows[k < n_kinds ? k : MAX_CHART_KINDS]);
		rt_printf(out, "<td>%lld</td><td>", rows[r].total);
		rh_bytes(out, rows[r].bytes);
		rt_put(out, "</td></tr>\n");
		for (int k = 0; k <= MAX_CHART_KINDS; k++)
			sum.flows[k] += rows[r].flows[k];
		sum.total += rows[r].total;
		sum.bytes += rows[r].bytes;
	}
	rt_put(out, "<tr class=\"total\"><th>All countries</th>");
	for (size_t k = 0; k < n_kinds + other; k++)
		rt_printf(out, "<th>%lld</th>", sum.flows[k < n_kinds ? k : MAX_CHART_KINDS]);
	rt_printf(out, "<th>%lld</th><th>", sum.total);
	rh_bytes(out, sum.bytes);
	rt_put(out, "</th></tr>\n</table>\n");
	free(rows);
}

/* ---- timeline: findings per recipient against consent events ---- */

static const char *finding_row_label(const struct rh_briefs *bs, const struct rh_brief *b)
{
	const char *l = rh_bstr(bs, b->recipient);
	if (l == NULL)
		l = rh_bstr(bs, b->host);
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
	size_t r = 0; /* the first byte first: tens of thousands of findings ask */
	while (r < n_rows && (rows[r][0] != l[0] || strcmp(rows[r], l) != 0))
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
static void clock_label(struct jsonw *out, fa_time t, bool with_date, bool tenths, bool with_year)
{
	char buf[48];
	fa_time_str(t, buf, sizeof(buf));
	/* "2026-11-22T10:00:03Z": the date is chars 5..9, the clock 11..18 */
	if (strlen(buf) < 19) {
		rh_esc(out, buf);
		return;
	}
	if (with_year) {
		rt_printf(out, "%.10s", buf);
		return;
	}
	rt_printf(out, with_date ? "%.5s %.8s" : "%.0s%.8s", buf + 5, buf + 11);
	if (tenths)
		rt_printf(out, ".%d", (int)((t % 1000000 + 1000000) % 1000000 / 100000));
}

/* Where finding i is drawn: its row (-1: none), times, severity's place
   in the drawing order. */
struct bar {
	int row, order;
	bool timed;
	fa_time a, b;
};

static const char *const draw_order[] = {"info", "low", "medium", "high"};

void rh_timeline(struct jsonw *out, const json_t *doc, const struct rh_briefs *bs)
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
	struct bar *bars = calloc(bs->n ? bs->n : 1, sizeof(*bars));
	char *rows[MAX_TIMELINE_ROWS];
	size_t n_rows = 0, not_drawn = 0;
	for (i = 0; bars != NULL && i < bs->n; i++) {
		const struct rh_brief *f = &bs->b[i];
		struct bar *br = &bars[i];
		br->row = -1;
		br->timed = f->has_first;
		br->a = f->has_first ? f->first : 0;
		bool has_last = f->has_last;
		t = f->last;
		if (br->timed)
			widen(&lo, &hi, &any, br->a);
		if (has_last)
			widen(&lo, &hi, &any, t);
		br->b = br->timed && has_last && t >= br->a ? t : br->a;
		const char *sv = rh_bstr(bs, f->severity);
		for (int q = 0; q < 4; q++)
			if (sv != NULL && strcmp(sv, draw_order[q]) == 0)
				br->order = q;
		const char *l = finding_row_label(bs, f);
		size_t r = row_of((const char *const *)rows, n_rows, l);
		if (r == n_rows && n_rows < MAX_TIMELINE_ROWS && (rows[n_rows] = strdup(l)) != NULL)
			n_rows++;
		br->row = r < n_rows ? (int)r : -1;
	}
	json_array_foreach(events, i, x)
		if (rh_time(x, "time", &t))
			widen(&lo, &hi, &any, t);
	rt_put(out, "<h2 id=\"timeline\">Timeline against consent</h2>\n");
	if (!any || bs->n == 0 || bars == NULL) {
		rt_put(out, "<p>No finding to place in time.</p>\n");
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
	rt_put(
	    out,
	    "<p>Each bar is a finding, from the first to the last packet it covers, on the row of "
	    "its recipient; the thin grey marks under them are the transfers themselves (the "
	    "devices' flows listed in this report), findings or not; dashed lines are the "
	    "consent events of the session.</p>\n<figure>\n");
	rt_printf(out,
		  "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		  "aria-label=\"Timeline of findings and consent\">\n",
		  VIEW_W, height, VIEW_W, height);
	for (size_t r = 0; r < n_rows; r++) {
		int y = top + (int)r * row_h;
		rt_printf(
		    out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%d\" y2=\"%d\" stroke=\"#eaecf0\"/>\n",
		    left, left + width, y + 12, y + 12);
		rt_printf(out, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"end\"><title>", left - 8,
			  y + 16);
		rh_esc(out, rows[r]);
		rt_put(out, "</title>");
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
			rt_put(out, "&hellip;");
		}
		rt_put(out, "</text>\n");
	}
	int axis_y = top + (int)n_rows * row_h + 4;
	rt_printf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>\n",
		  left, left + width, axis_y, axis_y);
	for (int k = 0; k <= 4; k++) {
		fa_time tk = lo + (hi - lo) / 4 * k;
		double xk = TX(tk);
		rt_printf(out,
			  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
			  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">",
			  xk, xk, axis_y, axis_y + 5, xk, axis_y + 20,
			  k == 0   ? "start"
			  : k == 4 ? "end"
				   : "middle");
		clock_label(out, tk, days, hi - lo < 240LL * 1000000, hi - lo > 200 * 86400LL * 1000000);
		rt_put(out, "</text>\n");
	}
	json_array_foreach(events, i, x) {
		if (!rh_time(x, "time", &t))
			continue;
		const char *ev = rh_str(x, "event");
		bool granted = ev && strstr(ev, "granted") != NULL;
		double xe = TX(t);
		int ly = 14 + (int)(i % 3) * 16;
		rt_printf(out,
			  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
			  "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n",
			  xe, xe, ly + 4, axis_y, granted ? "#1a7f37" : "#b42318");
		rt_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">", xe, ly,
			  xe > left + width * 0.7 ? "end" : "start");
		rt_printf(out, "#%lld ", rh_int0(x, "index"));
		rh_esc_or(out, granted ? "consent granted" : ev && strstr(ev, "withdrawn") ? "consent withdrawn" : ev,
		   "event");
		size_t k;
		const json_t *p;
		json_array_foreach(rh_get(x, "purposes"), k, p) {
			rt_put(out, k ? ", " : ": ");
			rh_esc(out, json_string_value(p));
		}
		rt_put(out, "</text>\n");
	}
	json_array_foreach(rh_get(doc, "flows"), i, x) {
		fa_time a, b;
		size_t r = row_of((const char *const *)rows, n_rows, flow_row_label(x));
		if (!public_flow(x) || r == n_rows || !rh_time(x, "first_seen", &a))
			continue;
		if (!rh_time(x, "last_seen", &b) || b < a)
			b = a;
		double xa = TX(a), w = TX(b) - xa;
		rt_printf(out,
			  "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"3\" fill=\"#667085\">"
			  "<title>flow %lld to ",
			  xa, top + (int)r * row_h + 20, w < 2 ? 2 : w, rh_int0(x, "id"));
		rh_esc_or(out, rh_str(x, "name"), rh_str(x, "server_ip"));
		rt_put(out, "</title></rect>\n");
	}
	/* the lower severities first, so that a high finding on the same flow
	   as a low one is drawn on top of it; an unknown severity goes first */
	for (int pass = 0; pass < 4; pass++) {
		for (i = 0; i < bs->n; i++) {
			const struct bar *br = &bars[i];
			if (br->order != pass)
				continue;
			if (br->row < 0 || !br->timed) {
				not_drawn++;
				continue;
			}
			const struct rh_brief *f = &bs->b[i];
			const char *id = rh_bstr(bs, f->id);
			double xa = TX(br->a), w = TX(br->b) - xa;
			if (w < 5)
				w = 5;
			int y = top + br->row * row_h;
			rt_put(out, "<a href=\"#finding-");
			rh_esc(out, id);
			rt_printf(
			    out,
			    "\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" rx=\"2\" "
			    "fill=\"%s\" fill-opacity=\"0.85\"><title>",
			    xa, y + 5, w, sev_colour(rh_bstr(bs, f->severity)));
			rh_esc(out, id);
			rt_put(out, " ");
			rh_esc(out, rh_bstr(bs, f->title));
			rt_put(out, "</title></rect></a>\n");
		}
	}
#undef TX
	rt_put(out, "</svg>\n<figcaption class=\"legend\">");
	static const char *const sevs[] = {"high", "medium", "low", "info"};
	for (size_t k = 0; k < 4; k++) {
		rt_printf(
		    out, "<span><i class=\"swatch\" style=\"background:%s\"></i>%s severity</span>",
		    sev_colour(sevs[k]), sevs[k]);
	}
	rt_put(out, "<span>time axis: UTC</span>");
	if (not_drawn)
		rt_printf(
		    out,
		    "<span>%zu findings not drawn (no time, or more than %d recipients)</span>",
		    not_drawn, MAX_TIMELINE_ROWS);
	rt_put(out, "</figcaption>\n</figure>\n");
done:
	for (size_t r = 0; r < n_rows; r++)
		free(rows[r]);
	free(bars);
}
