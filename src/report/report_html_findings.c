/*
 * report_html_findings.c - the findings of report.html: a table of them
 * all at a glance, then each in full with its evidence.
 *
 * Receives the report document and the findings from report_html.c and
 * borrows both. Every finding is read once, as text in place and only the
 * members a list shows (rh_briefs_load(), report_text.h), for what the
 * table, the timeline and the choice of findings shown in full need; those
 * shown in full are
 * fetched again whole, one at a time, and dropped at once, so hundreds of
 * them never sit in memory together.
 * Each finding says what happened, quotes the policy clause it goes
 * against and, for the rules about recipients, says what that clause does
 * declare (from the document's "policy"), so the reader sees why the
 * clause does not cover the destination. Codes (rule, recipient kind, name
 * source) are shown in plain words with the code in a title attribute;
 * report_html_words.c holds the words.
 *
 * On paper a finding may run across a page break; its heading stays with
 * its first lines and a field never splits (the CSS in report_html.c).
 * Evidence links are relative to the report directory and are printed as
 * the file's name, which is what a reader of the paper copy can look up.
 */
#include "report_html.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FRAME_NUMBERS REPORT_DOC_FRAMES /* frame numbers shown per file of a finding */

/* An href that stays inside the report directory: relative, no scheme, no "..". */
static bool safe_relative_href(const char *s)
{
	if (s == NULL || s[0] == '\0' || s[0] == '/' || s[0] == '\\')
		return false;
	for (const char *p = s; *p; p++)
		if (*p == ':' || *p == '\\' || (unsigned char)*p <= 0x20)
			return false;
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return false;
	return true;
}

/* The severity as a class name: one of the four, else "info". */
static const char *sev_class(const char *sev)
{
	static const char *const known[] = {"high", "medium", "low", "info"};
	for (size_t i = 0; sev != NULL && i < 4; i++)
		if (strcmp(sev, known[i]) == 0)
			return known[i];
	return "info";
}

static void finding_link(struct jsonw *out, const char *id)
{
	rt_put(out, "<a href=\"#finding-");
	rh_esc(out, id);
	rt_put(out, "\">");
	rh_esc(out, id);
	rt_put(out, "</a>");
}

/*
 * Findings shown in full: the first RH_FULL_PER_RULE of each rule. A report
 * of thousands of findings (a capture of hours, an undeclared tracker on
 * every flow) would otherwise be a page no browser renders; the rest stay
 * in the table, which is the anchor their links land on, and in full in
 * report.json and findings.ndjson.
 */

/* Counts a finding of rule; whether it is shown in full. */
static bool tally_full(struct rh_briefs *t, const char *rule)
{
	size_t k = 0;
	rule = rule ? rule : "";
	while (k < t->rules && strcmp(t->rule[k], rule) != 0)
		k++;
	if (k == t->rules && t->rules < RH_TALLY_RULES)
		snprintf(t->rule[t->rules++], sizeof(t->rule[0]), "%s", rule);
	if (k == RH_TALLY_RULES)
		k = RH_TALLY_RULES - 1; /* rules past the table share its last count */
	bool full = ++t->per_rule[k] <= RH_FULL_PER_RULE;
	if (!full)
		t->hidden++;
	return full;
}

/* ---- every finding, read once ---- */

/* s kept in bs->text: its offset, RH_NONE for NULL, false without memory. */
static bool keep(struct rh_briefs *bs, const char *s, size_t *off)
{
	*off = RH_NONE;
	if (s == NULL)
		return true;
	size_t n = strlen(s) + 1;
	if (bs->len + n > bs->cap) {
		size_t cap = bs->cap ? bs->cap * 2 : 65536;
		while (cap < bs->len + n)
			cap *= 2;
		char *t = realloc(bs->text, cap);
		if (t == NULL)
			return false;
		bs->text = t;
		bs->cap = cap;
	}
	memcpy(bs->text + bs->len, s, n);
	*off = bs->len;
	bs->len += n;
	return true;
}

const char *rh_bstr(const struct rh_briefs *bs, size_t off)
{
	return off == RH_NONE ? NULL : bs->text + off;
}

/* The last time parsed, and what it gave: findings of several rules on
   the same flows follow each other with the same times. */
struct time_cache {
	char text[40];
	fa_time t;
	bool ok;
};

/* s as a time (false when NULL or malformed), parsed once for a run of
   findings that give it alike. */
static bool parse_time(struct time_cache *c, const char *s, fa_time *t)
{
	if (s == NULL)
		return false;
	if (strcmp(c->text, s) != 0) {
		if (strlen(s) >= sizeof(c->text))
			return fa_time_parse(s, t);
		memcpy(c->text, s, strlen(s) + 1); /* fits: checked above */
		c->ok = fa_time_parse(s, &c->t);
	}
	*t = c->t;
	return c->ok;
}

bool rh_briefs_load(struct rh_briefs *bs, const struct report_findings *fs)
{
	struct time_cache tc[2] = {{.ok = false}, {.ok = false}};
	memset(bs, 0, sizeof(*bs));
	struct rt_finding v;
	bs->b = calloc(fs->n ? fs->n : 1, sizeof(*bs->b));
	if (bs->b == NULL || rt_finding_open(&v) != FA_OK)
		return false;
	bool ok = true;
	for (size_t i = 0; ok && i < fs->n; i++) {
		struct rh_brief *b = &bs->b[i];
		b->object = rt_finding_load_brief(&v, fs, i);
		const char *first = rt_gstr(&v, RT_ROOT, "first_seen");
		const char *last = rt_gstr(&v, RT_ROOT, "last_seen");
		b->has_first = parse_time(&tc[0], first, &b->first);
		b->has_last = parse_time(&tc[1], last, &b->last);
		ok = keep(bs, rt_gstr(&v, RT_ROOT, "id"), &b->id) &&
		     keep(bs, rt_gstr(&v, RT_ROOT, "severity"), &b->severity) &&
		     keep(bs, rt_gstr(&v, RT_ROOT, "rule"), &b->rule) &&
		     keep(bs, rt_gstr(&v, RT_ROOT, "host"), &b->host) &&
		     keep(bs, rt_gstr(&v, RT_ROOT, "country"), &b->country) &&
		     keep(bs, rt_gstr(&v, RT_ROOT, "title"), &b->title) &&
		     keep(bs, rt_gstr(&v, rt_get(&v, RT_ROOT, "recipient"), "name"), &b->recipient);
		b->full = b->object && tally_full(bs, rh_bstr(bs, b->rule));
		bs->n++;
	}
	rt_finding_close(&v);
	return ok;
}

void rh_briefs_free(struct rh_briefs *bs)
{
	free(bs->b);
	free(bs->text);
	memset(bs, 0, sizeof(*bs));
}

/* ---- at a glance ---- */

void rh_findings_table(struct jsonw *out, const struct rh_briefs *bs)
{
	if (bs->n == 0)
		return;
	rt_put(out, "<h2 id=\"at-a-glance\">Findings at a glance</h2>\n<table class=\"glance\">\n"
		    "<tr><th>Finding</th><th>Severity</th><th>Rule</th><th>Destination</th>"
		    "<th>Country</th></tr>\n");
	for (size_t i = 0; i < bs->n; i++) {
		const struct rh_brief *b = &bs->b[i];
		if (!b->object)
			continue;
		const char *sev = rh_bstr(bs, b->severity), *id = rh_bstr(bs, b->id);
		if (b->full) {
			rt_put(out, "<tr><td>");
		} else { /* not in full below: links to it land here */
			rt_put(out, "<tr id=\"finding-");
			rh_esc(out, id);
			rt_put(out, "\"><td>");
		}
		finding_link(out, id);
		rt_put(out, "</td><td><span class=\"badge sev-");
		rt_put(out, sev_class(sev));
		rt_put(out, "\">");
		rh_esc_or(out, sev, "unrated");
		rt_put(out, "</span></td><td>");
		rh_word(out, RH_RULE, rh_bstr(bs, b->rule), "?");
		rt_put(out, "</td><td class=\"mono\">");
		rh_esc_or(out, rh_bstr(bs, b->host), "(no name)");
		rt_put(out, "</td><td>");
		rh_country(out, rh_bstr(bs, b->country), "unknown");
		rt_put(out, "</td></tr>\n");
	}
	rt_put(out, "</table>\n");
}

/* ---- one finding ---- */

static void dt(struct jsonw *out, const char *label)
{
	rt_put(out, "<div><dt>");
	rt_put(out, label);
	rt_put(out, "</dt><dd>");
}

/* The first MAX_FRAME_NUMBERS numbers of fr (a "frames" object), and how
   many more there are. */
static void frame_numbers(struct jsonw *out, const json_t *fr)
{
	const json_t *nums = rh_get(fr, "numbers");
	long long total;
	if (!rh_int(fr, "numbers_total", &total))
		total = (long long)json_array_size(nums);
	size_t k;
	const json_t *n;
	json_array_foreach(nums, k, n) {
		if (k == MAX_FRAME_NUMBERS) {
			rt_printf(out, " &hellip; and %lld more", total - (long long)k);
			break;
		}
		rt_printf(out, "%s%lld", k ? ", " : "", (long long)json_integer_value(n));
	}
}

static void write_finding_frames(struct jsonw *out, const json_t *f)
{
	const json_t *frames = rh_get(f, "frames");
	if (json_array_size(frames) == 0)
		return;
	dt(out, "Frames");
	size_t i;
	const json_t *fr;
	json_array_foreach(frames, i, fr) {
		rt_put(out, i ? "<br>" : "");
		rt_put(out, "<span class=\"mono\">");
		rh_esc_or(out, rh_str(fr, "file"), "?");
		rt_put(out, "</span>: ");
		frame_numbers(out, fr);
	}
	rt_put(out, "</dd></div>\n");
}

static void write_identifiers(struct jsonw *out, const json_t *f)
{
	const json_t *ids = rh_get(f, "identifiers");
	if (json_array_size(ids) == 0)
		return;
	dt(out, "Identifiers (masked)");
	rt_put(out, "<table><tr><th>Type</th><th>Encoding</th><th>Value</th><th>Where</"
		    "th><th>Packet</th></tr>");
	size_t i;
	const json_t *x;
	json_array_foreach(ids, i, x) {
		rt_put(out, "<tr><td>");
		rh_esc(out, rh_str(x, "type"));
		rt_put(out, "</td><td>");
		rh_esc(out, rh_str(x, "encoding"));
		rt_put(out, "</td><td class=\"mono num\">");
		rh_esc(out, rh_str(x, "masked"));
		rt_put(out, "</td><td>");
		rh_esc(out, rh_str(x, "where"));
		/* the header or query key it came in: the finding's location */
		const json_t *loc = rh_get(x, "location");
		const char *name = rh_str(loc, "header") ? rh_str(loc, "header") : rh_str(loc, "key");
		if (name) {
			rt_put(out, " <span class=\"mono\">");
			rh_esc(out, name);
			rt_put(out, "</span>");
		}
		rt_put(out, " ");
		rh_esc(out, rh_str(x, "direction"));
		if (json_is_true(rh_get(x, "decrypted")))
			rt_put(out, ", read after TLS decryption");
		rt_put(out, "</td><td class=\"mono\">");
		rh_esc(out, rh_str(x, "file"));
		rt_printf(out, " frame %lld, offset %lld</td></tr>", rh_int0(x, "frame"),
			  rh_int0(x, "offset"));
	}
	rt_put(out, "</table></dd></div>\n");
}

static void write_consent(struct jsonw *out, const json_t *f, const json_t *events)
{
	const json_t *c = rh_get(f, "consent");
	if (!json_is_object(c))
		return;
	dt(out, "Consent then");
	rt_put(out, "for <b>");
	rh_esc_or(out, rh_str(c, "purpose"), "?");
	rt_put(out, "</b>: ");
	const char *st = rh_str(c, "state");
	rh_esc(out, st && strcmp(st, "none") == 0 ? "never given" : st);
	long long ev;
	if (rh_int(c, "event", &ev)) {
		rt_printf(out, " (event #%lld", ev);
		size_t i;
		const json_t *e;
		json_array_foreach(events, i, e) {
			if (rh_int0(e, "index") == ev && rh_str(e, "time")) {
				rt_put(out, " at ");
				rh_esc(out, rh_str(e, "time"));
			}
		}
		rt_put(out, ")");
	}
	rt_put(out, "</dd></div>\n");
}

/* A cross-border finding's location check: what the round trip says of
   the registered country, and why. */
static void write_location(struct jsonw *out, const json_t *f)
{
	const char *lc = rh_str(f, "location_check");
	const json_t *l = rh_get(f, "location");
	if (lc == NULL || !json_is_object(l))
		return;
	dt(out, "Where the server is");
	rt_printf(out, "<b class=\"mono\">%s</b>: ",
		  strcmp(lc, "supports") == 0	   ? "supports"
		  : strcmp(lc, "contradicts") == 0 ? "contradicts"
						   : "cannot_judge");
	rh_esc(out, rh_str(l, "reasoning"));
	const char *file = rh_str(l, "file");
	if (file != NULL) {
		rt_put(out, " <span class=\"meta\">(<span class=\"mono\">");
		rh_esc(out, file);
		rt_put(out, "</span>)</span>");
	}
	rt_put(out, "</dd></div>\n");
}

static void evidence_link(struct jsonw *out, const char *path)
{
	if (safe_relative_href(path)) {
		rt_put(out, "<a href=\"");
		rh_esc(out, path);
		rt_put(out, "\" class=\"mono\">");
		rh_esc(out, path);
		rt_put(out, "</a>");
	} else {
		rt_put(out, "<span class=\"mono\">");
		rh_esc(out, path);
		rt_put(out, "</span>");
	}
}

/* "a, b and c" from the string members key of the objects in arr (or
   the strings of arr when key is NULL); false when there is none. */
static bool list_words(struct jsonw *out, const json_t *arr, const char *key)
{
	size_t i, n = json_array_size(arr), shown = 0;
	const json_t *x;
	json_array_foreach(arr, i, x) {
		const char *s = key ? rh_str(x, key) : json_string_value(x);
		if (s == NULL)
			continue;
		rt_put(out, shown == 0 ? "" : i + 1 == n ? " and " : ", ");
		rt_put(out, "<b>");
		rh_esc(out, s);
		rt_put(out, "</b>");
		shown++;
	}
	return shown > 0;
}

/*
 * For the rules about recipients, what the quoted clause does declare:
 * the third parties the policy names, the first party's domains, and what
 * a declared recipient is said to receive. Read from the document's
 * "policy", so the reader sees why the clause does not cover this one.
 */
static void write_not_covered(struct jsonw *out, const json_t *f, const json_t *doc)
{
	const char *rule = rh_str(f, "rule");
	if (rule == NULL || (strcmp(rule, "undeclared-recipient") != 0 &&
			     strcmp(rule, "unknown-endpoint") != 0 && strcmp(rule, "undeclared-data") != 0))
		return;
	const json_t *pol = rh_get(doc, "policy");
	const json_t *rc = rh_get(f, "recipient");
	const char *who = rh_str(rc, "name") ? rh_str(rc, "name") : rh_str(f, "host");
	const char *id = rh_str(rc, "id");
	rt_put(out, "<p class=\"covers\">");
	if (strcmp(rule, "undeclared-data") == 0) {
		const json_t *r, *data = NULL;
		size_t i;
		json_array_foreach(rh_get(pol, "recipients"), i, r) {
			const char *sdk = rh_str(r, "sdk");
			if (id != NULL && sdk != NULL && strcmp(sdk, id) == 0)
				data = rh_get(r, "data");
		}
		const char *kind = rh_str(rc, "kind");
		if (kind && strcmp(kind, "first_party") == 0)
			data = rh_get(rh_get(pol, "first_party"), "data");
		if (data != NULL) {
			rt_put(out, "The policy declares that ");
			rh_esc_or(out, who, "this recipient");
			rt_put(out, " receives ");
			if (!list_words(out, data, NULL))
				rt_put(out, "nothing");
			rt_put(out, ".");
		} else {
			rh_esc_or(out, who, "This destination");
			rt_put(
			    out,
			    " is not a declared recipient, so the policy declares no data for it.");
		}
		rt_put(out, "</p>\n");
		return;
	}
	rt_put(out, "The policy names as third-party recipients: ");
	if (!list_words(out, rh_get(pol, "recipients"), "sdk"))
		rt_put(out, "none");
	const json_t *doms = rh_get(rh_get(pol, "first_party"), "domains");
	if (json_array_size(doms)) {
		rt_put(out, "; as the first party's domains: ");
		list_words(out, doms, NULL);
	}
	rt_put(out, ". ");
	if (strcmp(rule, "undeclared-recipient") == 0) {
		rt_put(out, "It does not name ");
		rh_esc_or(out, who, "this recipient");
		if (id) {
			rt_put(out, " (<span class=\"mono\">");
			rh_esc(out, id);
			rt_put(out, "</span>)");
		}
	} else {
		rt_put(out, "<span class=\"mono\">");
		rh_esc_or(out, rh_str(f, "host"), "This destination");
		rt_put(out, "</span> is none of them, and the signature catalogue does not say who "
			    "runs it");
	}
	rt_put(out, ".</p>\n");
}

static void write_clause(struct jsonw *out, const json_t *f, const json_t *doc)
{
	if (rh_str(f, "clause") == NULL)
		return;
	dt(out, "Policy says");
	rt_put(out, "<blockquote>");
	rh_esc(out, rh_str(f, "clause"));
	rt_put(out, "</blockquote>");
	write_not_covered(out, f, doc);
	rt_put(out, "</dd></div>\n");
}

/* Who: the name and addresses, the recipient, where the address is registered. */
static void write_destination(struct jsonw *out, const json_t *f)
{
	dt(out, "Destination");
	rt_put(out, "<span class=\"mono\">");
	rh_esc_or(out, rh_str(f, "host"), "(no name)");
	size_t i;
	const json_t *a;
	json_array_foreach(rh_get(f, "addresses"), i, a) {
		rt_put(out, i ? ", " : " (");
		rh_esc(out, json_string_value(a));
		if (i + 1 == json_array_size(rh_get(f, "addresses")))
			rt_put(out, ")");
	}
	rt_put(out, "</span><br>");
	const json_t *rc = rh_get(f, "recipient");
	if (json_is_object(rc)) {
		const char *kind = rh_str(rc, "kind");
		if (rh_str(rc, "name") == NULL && kind && strcmp(kind, "first_party") == 0) {
			rh_esc_or(out, rh_str(rc, "first_party_domain"), "the first party");
			rt_put(out, ", ");
		} else if (rh_str(rc, "name") != NULL) {
			rh_esc(out, rh_str(rc, "name"));
			rt_put(out, ", ");
		}
		rh_word(out, RH_KIND, kind, "recipient not identified");
		if (rh_str(rc, "entity")) {
			rt_put(out, " run by ");
			rh_esc(out, rh_str(rc, "entity"));
			if (rh_str(rc, "entity_country")) {
				rt_put(out, " (");
				rh_country(out, rh_str(rc, "entity_country"), NULL);
				rt_put(out, ")");
			}
		}
		if (rh_str(rc, "catalogue")) {
			/* which catalogue said so: vetted entries or an imported list */
			rt_put(out, ", per the catalogue <span class=\"mono\">");
			rh_esc(out, rh_str(rc, "catalogue"));
			rt_put(out, "</span>");
		}
		rt_put(out, "; ");
	}
	rt_put(out, "address registered in ");
	rh_country(out, rh_str(f, "country"), "an unknown country");
	long long asn;
	if (rh_int(f, "asn", &asn)) {
		rt_printf(out, ", network AS%lld ", asn);
		rh_esc(out, rh_str(f, "as_org"));
	}
	rt_put(out, "</dd></div>\n");
}

/* When and how much: the device, the first and last packet, bytes each way. */
static void write_traffic(struct jsonw *out, const json_t *f)
{
	dt(out, "Traffic");
	rt_put(out, "<span class=\"mono\">");
	rh_esc_or(out, rh_str(f, "device"), "?");
	rt_printf(out, "</span> sent %lld packets (", rh_int0(f, "packets_out"));
	rh_bytes(out, rh_int0(f, "bytes_out"));
	rt_printf(out, ") and received %lld (", rh_int0(f, "packets_in"));
	rh_bytes(out, rh_int0(f, "bytes_in"));
	rt_put(out, "), ");
	rh_esc_or(out, rh_str(f, "first_seen"), "?");
	rt_put(out, " &ndash; ");
	rh_esc_or(out, rh_str(f, "last_seen"), "?");
	rt_put(out, "</dd></div>\n");
}

/* The finding's packets in the evidence pack: the file, their frame
   numbers there, the display filter that shows them, and the command that
   cuts them out as a capture of their own. */
static void write_pack_evidence(struct jsonw *out, const json_t *f)
{
	dt(out, "Evidence");
	size_t i;
	const json_t *fr;
	json_array_foreach(rh_get(f, "evidence_frames"), i, fr) {
		rt_put(out, i ? "<br>" : "");
		evidence_link(out, rh_str(fr, "file"));
		rt_put(out, ", frames ");
		frame_numbers(out, fr);
	}
	rt_put(out, "<br>Wireshark filter: <span class=\"mono\">");
	rh_esc(out, rh_str(f, "evidence_filter"));
	rt_put(out, "</span><br>Its own capture: <span class=\"mono\">flowaudit evidence "
		    "REPORT_DIR ");
	rh_esc(out, rh_str(f, "id"));
	rt_put(out, " -w ");
	rh_esc(out, rh_str(f, "id"));
	rt_put(out, ".pcap</span></dd></div>\n");
}

/* The evidence captures, then how the destination's name was learned. */
static void write_evidence(struct jsonw *out, const json_t *f)
{
	const json_t *more = rh_get(f, "evidence_files");
	if (rh_str(f, "evidence_filter")) {
		write_pack_evidence(out, f);
	} else if (rh_str(f, "evidence") || json_array_size(more)) {
		dt(out, "Evidence");
		if (json_array_size(more)) {
			size_t i;
			const json_t *p;
			json_array_foreach(more, i, p) {
				rt_put(out, i ? ", " : "");
				evidence_link(out, json_string_value(p));
			}
		} else {
			evidence_link(out, rh_str(f, "evidence"));
		}
		rt_put(out, "</dd></div>\n");
	}
	dt(out, "Name from");
	rh_word(out, RH_SOURCE, rh_str(f, "name_source"), "unknown");
	long long nf;
	if (rh_int(f, "name_frame", &nf)) {
		rt_printf(out, ", frame %lld", nf);
		if (rh_str(f, "name_file")) {
			rt_put(out, " of <span class=\"mono\">");
			rh_esc(out, rh_str(f, "name_file"));
			rt_put(out, "</span>");
		}
	}
	rt_put(out, "</dd></div>\n");
}

static void write_finding(struct jsonw *out, const json_t *f, const json_t *doc)
{
	const char *sev = rh_str(f, "severity");
	const char *sevc = sev_class(sev);
	rt_printf(out, "<article class=\"finding %s\" id=\"finding-", sevc);
	rh_esc(out, rh_str(f, "id"));
	rt_put(out, "\">\n<h3>");
	rh_esc(out, rh_str(f, "id"));
	rt_printf(out, " <span class=\"badge sev-%s\">", sevc);
	rh_esc_or(out, sev, "unrated");
	rt_put(out, "</span> ");
	rh_esc_or(out, rh_str(f, "title"), "(untitled)");
	rt_put(out, "</h3>\n<dl>\n");
	dt(out, "Rule");
	rh_word(out, RH_RULE, rh_str(f, "rule"), "?");
	rt_put(out, " <span class=\"meta\">(<span class=\"mono\">");
	rh_esc(out, rh_str(f, "rule"));
	rt_put(out, "</span>");
	if (rh_str(f, "statement")) {
		const char *lc = rh_str(f, "location_check");
		rt_put(out, lc && strcmp(lc, "contradicts") == 0 ? "; does not break statement "
								 : "; breaks statement ");
		rt_put(out, "<a href=\"#statements\" class=\"mono\">");
		rh_esc(out, rh_str(f, "statement"));
		rt_put(out, "</a>");
	}
	rt_put(out, ")</span></dd></div>\n");
	if (rh_str(f, "detail")) {
		dt(out, "What happened");
		rt_put(out, "<span class=\"pre\">");
		rh_esc(out, rh_str(f, "detail"));
		rt_put(out, "</span></dd></div>\n");
	}
	if (json_is_true(rh_get(f, "decrypted"))) {
		dt(out, "Inside TLS");
		rt_put(out,
		       "read in the plaintext of TLS connections decrypted with the session keys "
		       "given; the evidence capture carries those connections' keys and no others, "
		       "so Wireshark opens it decrypted</dd></div>\n");
	}
	write_clause(out, f, doc);
	write_destination(out, f);
	write_traffic(out, f);
	write_identifiers(out, f);
	write_consent(out, f, rh_get(doc, "consent_events"));
	write_location(out, f);
	write_evidence(out, f);
	write_finding_frames(out, f);
	rt_put(out, "</dl>\n</article>\n");
}

void rh_findings(struct jsonw *out, const json_t *doc, const struct report_findings *fs,
		 const struct rh_briefs *bs)
{
	rt_printf(out, "<h2 id=\"findings\">Findings (%zu)</h2>\n", fs->n);
	if (fs->n == 0) {
		const char *v = rh_str(doc, "verdict");
		if (v && strcmp(v, "pass") == 0)
			rt_put(out, "<p>No finding: the captured traffic did not contradict the "
				    "declarations.</p>\n");
		else if (v && strcmp(v, "inconclusive") == 0)
			rt_put(out, "<p>No finding, and no clean result either: the audit could "
				    "not look at "
				    "what it was asked to (the reasons are under the verdict at "
				    "the top), so "
				    "the absence of findings says nothing about the app.</p>\n");
		else
			rt_put(out, "<p>No finding.</p>\n");
		return;
	}
	rt_put(
	    out,
	    "<p class=\"meta\">Evidence is a capture in the report directory, named in its "
	    "finding and listed with its SHA-256 in <span class=\"mono\">MANIFEST.sha256</span>; "
	    "Wireshark opens it. A report of a few findings gives each its own file "
	    "(<span class=\"mono\">evidence/F0001.pcap</span>); a report of many keeps every "
	    "packet once in <span class=\"mono\">evidence/findings.pcapng</span>, each packet "
	    "commented with the findings it belongs to: the filter under a finding shows its "
	    "packets, and <span class=\"mono\">flowaudit evidence</span> writes them as a file "
	    "of their own. Evidence of a finding read inside TLS is a pcapng that carries the "
	    "session keys of its connections, so Wireshark shows them decrypted. Frame numbers "
	    "count the packets of the input capture from 1.");
	if (fs->n > RH_FULL_PER_RULE)
		rt_printf(
		    out,
		    " Each rule's first %d findings are shown in full; the others are in "
		    "the table above, and in full in <span class=\"mono\">report.json</span> and "
		    "<span class=\"mono\">findings.ndjson</span>.",
		    RH_FULL_PER_RULE);
	rt_put(out, "</p>\n");
	for (size_t i = 0; i < bs->n; i++) {
		if (!bs->b[i].full)
			continue;
		json_t *f = fs->get(i, fs->user);
		if (json_is_object(f))
			write_finding(out, f, doc);
		json_decref(f);
	}
	if (bs->hidden > 0) {
		rt_printf(out, "<p class=\"meta\">%zu more findings are not shown in full here:",
			  bs->hidden);
		for (size_t k = 0, said = 0; k < bs->rules; k++)
			if (bs->per_rule[k] > RH_FULL_PER_RULE) {
				rt_printf(out, "%s %zu of ", said++ ? ";" : "",
					  bs->per_rule[k] - RH_FULL_PER_RULE);
				rh_word(out, RH_RULE, bs->rule[k], "?");
			}
		rt_put(out,
		       ". They are in the table above, and in full in <span class=\"mono\">"
		       "report.json</span> and <span class=\"mono\">findings.ndjson</span>.</p>\n");
	}
}
