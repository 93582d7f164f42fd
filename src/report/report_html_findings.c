/*
 * report_html_findings.c - the findings of report.html: a table of them
 * all at a glance, then each in full with its evidence.
 *
 * Receives the report document and the findings from report_html.c and
 * borrows both; findings are fetched one at a time (struct report_findings)
 * and dropped at once, so hundreds of them never sit in memory together.
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

static void finding_link(FILE *out, const char *id)
{
	fputs("<a href=\"#finding-", out);
	rh_esc(out, id);
	fputs("\">", out);
	rh_esc(out, id);
	fputs("</a>", out);
}

/*
 * Findings shown in full: the first FULL_PER_RULE of each rule. A report of
 * thousands of findings (a capture of hours, an undeclared tracker on every
 * flow) would otherwise be a page no browser renders; the rest stay in the
 * table, which is the anchor their links land on, and in full in
 * report.json and findings.ndjson.
 */
#define FULL_PER_RULE 100
#define TALLY_RULES 64

struct rule_tally {
	char rule[TALLY_RULES][64];
	size_t n[TALLY_RULES];
	size_t rules;
	size_t hidden; /* findings past the cap */
};

/* Counts a finding of rule; whether it is shown in full. */
static bool tally_full(struct rule_tally *t, const char *rule)
{
	size_t k = 0;
	rule = rule ? rule : "";
	while (k < t->rules && strcmp(t->rule[k], rule) != 0)
		k++;
	if (k == t->rules && t->rules < TALLY_RULES)
		snprintf(t->rule[t->rules++], sizeof(t->rule[0]), "%s", rule);
	if (k == TALLY_RULES)
		k = TALLY_RULES - 1; /* rules past the table share its last count */
	bool full = ++t->n[k] <= FULL_PER_RULE;
	if (!full)
		t->hidden++;
	return full;
}

/* ---- at a glance ---- */

void rh_findings_table(FILE *out, const struct report_findings *fs)
{
	if (fs->n == 0)
		return;
	fputs("<h2 id=\"at-a-glance\">Findings at a glance</h2>\n<table class=\"glance\">\n"
	      "<tr><th>Finding</th><th>Severity</th><th>Rule</th><th>Destination</th>"
	      "<th>Country</th></tr>\n",
	      out);
	struct rule_tally t = {.rules = 0};
	for (size_t i = 0; i < fs->n; i++) {
		json_t *f = report_finding_brief(fs, i);
		if (!json_is_object(f)) {
			json_decref(f);
			continue;
		}
		const char *sev = rh_str(f, "severity");
		if (tally_full(&t, rh_str(f, "rule"))) {
			fputs("<tr><td>", out);
		} else { /* not in full below: links to it land here */
			fputs("<tr id=\"finding-", out);
			rh_esc(out, rh_str(f, "id"));
			fputs("\"><td>", out);
		}
		finding_link(out, rh_str(f, "id"));
		fprintf(out, "</td><td><span class=\"badge sev-%s\">", sev_class(sev));
		rh_esc_or(out, sev, "unrated");
		fputs("</span></td><td>", out);
		rh_word(out, RH_RULE, rh_str(f, "rule"), "?");
		fputs("</td><td class=\"mono\">", out);
		rh_esc_or(out, rh_str(f, "host"), "(no name)");
		fputs("</td><td>", out);
		rh_country(out, rh_str(f, "country"), "unknown");
		fputs("</td></tr>\n", out);
		json_decref(f);
	}
	fputs("</table>\n", out);
}

/* ---- one finding ---- */

static void dt(FILE *out, const char *label)
{
	fprintf(out, "<div><dt>%s</dt><dd>", label);
}

/* The first MAX_FRAME_NUMBERS numbers of fr (a "frames" object), and how
   many more there are. */
static void frame_numbers(FILE *out, const json_t *fr)
{
	const json_t *nums = rh_get(fr, "numbers");
	long long total;
	if (!rh_int(fr, "numbers_total", &total))
		total = (long long)json_array_size(nums);
	size_t k;
	const json_t *n;
	json_array_foreach(nums, k, n) {
		if (k == MAX_FRAME_NUMBERS) {
			fprintf(out, " &hellip; and %lld more", total - (long long)k);
			break;
		}
		fprintf(out, "%s%lld", k ? ", " : "", (long long)json_integer_value(n));
	}
}

static void write_finding_frames(FILE *out, const json_t *f)
{
	const json_t *frames = rh_get(f, "frames");
	if (json_array_size(frames) == 0)
		return;
	dt(out, "Frames");
	size_t i;
	const json_t *fr;
	json_array_foreach(frames, i, fr) {
		fputs(i ? "<br>" : "", out);
		fputs("<span class=\"mono\">", out);
		rh_esc_or(out, rh_str(fr, "file"), "?");
		fputs("</span>: ", out);
		frame_numbers(out, fr);
	}
	fputs("</dd></div>\n", out);
}

static void write_identifiers(FILE *out, const json_t *f)
{
	const json_t *ids = rh_get(f, "identifiers");
	if (json_array_size(ids) == 0)
		return;
	dt(out, "Identifiers (masked)");
	fputs("<table><tr><th>Type</th><th>Encoding</th><th>Value</th><th>Where</th><th>Packet</th></tr>",
	      out);
	size_t i;
	const json_t *x;
	json_array_foreach(ids, i, x) {
		fputs("<tr><td>", out);
		rh_esc(out, rh_str(x, "type"));
		fputs("</td><td>", out);
		rh_esc(out, rh_str(x, "encoding"));
		fputs("</td><td class=\"mono num\">", out);
		rh_esc(out, rh_str(x, "masked"));
		fputs("</td><td>", out);
		rh_esc(out, rh_str(x, "where"));
		/* the header or query key it came in: the finding's location */
		const json_t *loc = rh_get(x, "location");
		const char *name = rh_str(loc, "header") ? rh_str(loc, "header") : rh_str(loc, "key");
		if (name) {
			fputs(" <span class=\"mono\">", out);
			rh_esc(out, name);
			fputs("</span>", out);
		}
		fputs(" ", out);
		rh_esc(out, rh_str(x, "direction"));
		if (json_is_true(rh_get(x, "decrypted")))
			fputs(", read after TLS decryption", out);
		fputs("</td><td class=\"mono\">", out);
		rh_esc(out, rh_str(x, "file"));
		fprintf(out, " frame %lld, offset %lld</td></tr>", rh_int0(x, "frame"), rh_int0(x, "offset"));
	}
	fputs("</table></dd></div>\n", out);
}

static void write_consent(FILE *out, const json_t *f, const json_t *events)
{
	const json_t *c = rh_get(f, "consent");
	if (!json_is_object(c))
		return;
	dt(out, "Consent then");
	fputs("for <b>", out);
	rh_esc_or(out, rh_str(c, "purpose"), "?");
	fputs("</b>: ", out);
	const char *st = rh_str(c, "state");
	rh_esc(out, st && strcmp(st, "none") == 0 ? "never given" : st);
	long long ev;
	if (rh_int(c, "event", &ev)) {
		fprintf(out, " (event #%lld", ev);
		size_t i;
		const json_t *e;
		json_array_foreach(events, i, e) {
			if (rh_int0(e, "index") == ev && rh_str(e, "time")) {
				fputs(" at ", out);
				rh_esc(out, rh_str(e, "time"));
			}
		}
		fputs(")", out);
	}
	fputs("</dd></div>\n", out);
}

/* A cross-border finding's location check: what the round trip says of
   the registered country, and why. */
static void write_location(FILE *out, const json_t *f)
{
	const char *lc = rh_str(f, "location_check");
	const json_t *l = rh_get(f, "location");
	if (lc == NULL || !json_is_object(l))
		return;
	dt(out, "Where the server is");
	fprintf(out, "<b class=\"mono\">%s</b>: ",
		 strcmp(lc, "supports") == 0      ? "supports"
		 : strcmp(lc, "contradicts") == 0 ? "contradicts"
						  : "cannot_judge");
	rh_esc(out, rh_str(l, "reasoning"));
	const char *file = rh_str(l, "file");
	if (file != NULL) {
		fputs(" <span class=\"meta\">(<span class=\"mono\">", out);
		rh_esc(out, file);
		fputs("</span>)</span>", out);
	}
	fputs("</dd></div>\n", out);
}

static void evidence_link(FILE *out, const char *path)
{
	if (safe_relative_href(path)) {
		fputs("<a href=\"", out);
		rh_esc(out, path);
		fputs("\" class=\"mono\">", out);
		rh_esc(out, path);
		fputs("</a>", out);
	} else {
		fputs("<span class=\"mono\">", out);
		rh_esc(out, path);
		fputs("</span>", out);
	}
}

/* "a, b and c" from the string members key of the objects in arr (or
   the strings of arr when key is NULL); false when there is none. */
static bool list_words(FILE *out, const json_t *arr, const char *key)
{
	size_t i, n = json_array_size(arr), shown = 0;
	const json_t *x;
	json_array_foreach(arr, i, x) {
		const char *s = key ? rh_str(x, key) : json_string_value(x);
		if (s == NULL)
			continue;
		fputs(shown == 0 ? "" : i + 1 == n ? " and " : ", ", out);
		fputs("<b>", out);
		rh_esc(out, s);
		fputs("</b>", out);
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
static void write_not_covered(FILE *out, const json_t *f, const json_t *doc)
{
	const char *rule = rh_str(f, "rule");
	if (rule == NULL || (strcmp(rule, "undeclared-recipient") != 0 &&
			     strcmp(rule, "unknown-endpoint") != 0 && strcmp(rule, "undeclared-data") != 0))
		return;
	const json_t *pol = rh_get(doc, "policy");
	const json_t *rc = rh_get(f, "recipient");
	const char *who = rh_str(rc, "name") ? rh_str(rc, "name") : rh_str(f, "host");
	const char *id = rh_str(rc, "id");
	fputs("<p class=\"covers\">", out);
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
			fputs("The policy declares that ", out);
			rh_esc_or(out, who, "this recipient");
			fputs(" receives ", out);
			if (!list_words(out, data, NULL))
				fputs("nothing", out);
			fputs(".", out);
		} else {
			rh_esc_or(out, who, "This destination");
			fputs(" is not a declared recipient, so the policy declares no data for it.", out);
		}
		fputs("</p>\n", out);
		return;
	}
	fputs("The policy names as third-party recipients: ", out);
	if (!list_words(out, rh_get(pol, "recipients"), "sdk"))
		fputs("none", out);
	const json_t *doms = rh_get(rh_get(pol, "first_party"), "domains");
	if (json_array_size(doms)) {
		fputs("; as the first party's domains: ", out);
		list_words(out, doms, NULL);
	}
	fputs(". ", out);
	if (strcmp(rule, "undeclared-recipient") == 0) {
		fputs("It does not name ", out);
		rh_esc_or(out, who, "this recipient");
		if (id) {
			fputs(" (<span class=\"mono\">", out);
			rh_esc(out, id);
			fputs("</span>)", out);
		}
	} else {
		fputs("<span class=\"mono\">", out);
		rh_esc_or(out, rh_str(f, "host"), "This destination");
		fputs("</span> is none of them, and the signature catalogue does not say who runs it", out);
	}
	fputs(".</p>\n", out);
}

static void write_clause(FILE *out, const json_t *f, const json_t *doc)
{
	if (rh_str(f, "clause") == NULL)
		return;
	dt(out, "Policy says");
	fputs("<blockquote>", out);
	rh_esc(out, rh_str(f, "clause"));
	fputs("</blockquote>", out);
	write_not_covered(out, f, doc);
	fputs("</dd></div>\n", out);
}

/* Who: the name and addresses, the recipient, where the address is registered. */
static void write_destination(FILE *out, const json_t *f)
{
	dt(out, "Destination");
	fputs("<span class=\"mono\">", out);
	rh_esc_or(out, rh_str(f, "host"), "(no name)");
	size_t i;
	const json_t *a;
	json_array_foreach(rh_get(f, "addresses"), i, a) {
		fputs(i ? ", " : " (", out);
		rh_esc(out, json_string_value(a));
		if (i + 1 == json_array_size(rh_get(f, "addresses")))
			fputs(")", out);
	}
	fputs("</span><br>", out);
	const json_t *rc = rh_get(f, "recipient");
	if (json_is_object(rc)) {
		const char *kind = rh_str(rc, "kind");
		if (rh_str(rc, "name") == NULL && kind && strcmp(kind, "first_party") == 0) {
			rh_esc_or(out, rh_str(rc, "first_party_domain"), "the first party");
			fputs(", ", out);
		} else if (rh_str(rc, "name") != NULL) {
			rh_esc(out, rh_str(rc, "name"));
			fputs(", ", out);
		}
		rh_word(out, RH_KIND, kind, "recipient not identified");
		if (rh_str(rc, "entity")) {
			fputs(" run by ", out);
			rh_esc(out, rh_str(rc, "entity"));
			if (rh_str(rc, "entity_country")) {
				fputs(" (", out);
				rh_country(out, rh_str(rc, "entity_country"), NULL);
				fputs(")", out);
			}
		}
		if (rh_str(rc, "catalogue")) {
			/* which catalogue said so: vetted entries or an imported list */
			fputs(", per the catalogue <span class=\"mono\">", out);
			rh_esc(out, rh_str(rc, "catalogue"));
			fputs("</span>", out);
		}
		fputs("; ", out);
	}
	fputs("address registered in ", out);
	rh_country(out, rh_str(f, "country"), "an unknown country");
	long long asn;
	if (rh_int(f, "asn", &asn)) {
		fprintf(out, ", network AS%lld ", asn);
		rh_esc(out, rh_str(f, "as_org"));
	}
	fputs("</dd></div>\n", out);
}

/* When and how much: the device, the first and last packet, bytes each way. */
static void write_traffic(FILE *out, const json_t *f)
{
	dt(out, "Traffic");
	fputs("<span class=\"mono\">", out);
	rh_esc_or(out, rh_str(f, "device"), "?");
	fprintf(out, "</span> sent %lld packets (", rh_int0(f, "packets_out"));
	rh_bytes(out, rh_int0(f, "bytes_out"));
	fprintf(out, ") and received %lld (", rh_int0(f, "packets_in"));
	rh_bytes(out, rh_int0(f, "bytes_in"));
	fputs("), ", out);
	rh_esc_or(out, rh_str(f, "first_seen"), "?");
	fputs(" &ndash; ", out);
	rh_esc_or(out, rh_str(f, "last_seen"), "?");
	fputs("</dd></div>\n", out);
}

/* The finding's packets in the evidence pack: the file, their frame
   numbers there, the display filter that shows them, and the command that
   cuts them out as a capture of their own. */
static void write_pack_evidence(FILE *out, const json_t *f)
{
	dt(out, "Evidence");
	size_t i;
	const json_t *fr;
	json_array_foreach(rh_get(f, "evidence_frames"), i, fr) {
		fputs(i ? "<br>" : "", out);
		evidence_link(out, rh_str(fr, "file"));
		fputs(", frames ", out);
		frame_numbers(out, fr);
	}
	fputs("<br>Wireshark filter: <span class=\"mono\">", out);
	rh_esc(out, rh_str(f, "evidence_filter"));
	fputs("</span><br>Its own capture: <span class=\"mono\">flowaudit evidence "
	      "REPORT_DIR ", out);
	rh_esc(out, rh_str(f, "id"));
	fputs(" -w ", out);
	rh_esc(out, rh_str(f, "id"));
	fputs(".pcap</span></dd></div>\n", out);
}

/* The evidence captures, then how the destination's name was learned. */
static void write_evidence(FILE *out, const json_t *f)
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
				fputs(i ? ", " : "", out);
				evidence_link(out, json_string_value(p));
			}
		} else {
			evidence_link(out, rh_str(f, "evidence"));
		}
		fputs("</dd></div>\n", out);
	}
	dt(out, "Name from");
	rh_word(out, RH_SOURCE, rh_str(f, "name_source"), "unknown");
	long long nf;
	if (rh_int(f, "name_frame", &nf)) {
		fprintf(out, ", frame %lld", nf);
		if (rh_str(f, "name_file")) {
			fputs(" of <span class=\"mono\">", out);
			rh_esc(out, rh_str(f, "name_file"));
			fputs("</span>", out);
		}
	}
	fputs("</dd></div>\n", out);
}

static void write_finding(FILE *out, const json_t *f, const json_t *doc)
{
	const char *sev = rh_str(f, "severity");
	const char *sevc = sev_class(sev);
	fprintf(out, "<article class=\"finding %s\" id=\"finding-", sevc);
	rh_esc(out, rh_str(f, "id"));
	fputs("\">\n<h3>", out);
	rh_esc(out, rh_str(f, "id"));
	fprintf(out, " <span class=\"badge sev-%s\">", sevc);
	rh_esc_or(out, sev, "unrated");
	fputs("</span> ", out);
	rh_esc_or(out, rh_str(f, "title"), "(untitled)");
	fputs("</h3>\n<dl>\n", out);
	dt(out, "Rule");
	rh_word(out, RH_RULE, rh_str(f, "rule"), "?");
	fputs(" <span class=\"meta\">(<span class=\"mono\">", out);
	rh_esc(out, rh_str(f, "rule"));
	fputs("</span>", out);
	if (rh_str(f, "statement")) {
		const char *lc = rh_str(f, "location_check");
		fputs(lc && strcmp(lc, "contradicts") == 0 ? "; does not break statement "
							   : "; breaks statement ",
		      out);
		fputs("<a href=\"#statements\" class=\"mono\">", out);
		rh_esc(out, rh_str(f, "statement"));
		fputs("</a>", out);
	}
	fputs(")</span></dd></div>\n", out);
	if (rh_str(f, "detail")) {
		dt(out, "What happened");
		fputs("<span class=\"pre\">", out);
		rh_esc(out, rh_str(f, "detail"));
		fputs("</span></dd></div>\n", out);
	}
	if (json_is_true(rh_get(f, "decrypted"))) {
		dt(out, "Inside TLS");
		fputs("read in the plaintext of TLS connections decrypted with the session keys "
		      "given; the evidence capture carries those connections' keys and no others, "
		      "so Wireshark opens it decrypted</dd></div>\n", out);
	}
	write_clause(out, f, doc);
	write_destination(out, f);
	write_traffic(out, f);
	write_identifiers(out, f);
	write_consent(out, f, rh_get(doc, "consent_events"));
	write_location(out, f);
	write_evidence(out, f);
	write_finding_frames(out, f);
	fputs("</dl>\n</article>\n", out);
}

void rh_findings(FILE *out, const json_t *doc, const struct report_findings *fs)
{
	fprintf(out, "<h2 id=\"findings\">Findings (%zu)</h2>\n", fs->n);
	if (fs->n == 0) {
		const char *v = rh_str(doc, "verdict");
		if (v && strcmp(v, "pass") == 0)
			fputs("<p>No finding: the captured traffic did not contradict the "
			      "declarations.</p>\n", out);
		else if (v && strcmp(v, "inconclusive") == 0)
			fputs("<p>No finding, and no clean result either: the audit could not look at "
			      "what it was asked to (the reasons are under the verdict at the top), so "
			      "the absence of findings says nothing about the app.</p>\n", out);
		else
			fputs("<p>No finding.</p>\n", out);
		return;
	}
	fputs("<p class=\"meta\">Evidence is a capture in the report directory, named in its "
	      "finding and listed with its SHA-256 in <span class=\"mono\">MANIFEST.sha256</span>; "
	      "Wireshark opens it. A report of a few findings gives each its own file "
	      "(<span class=\"mono\">evidence/F0001.pcap</span>); a report of many keeps every "
	      "packet once in <span class=\"mono\">evidence/findings.pcapng</span>, each packet "
	      "commented with the findings it belongs to: the filter under a finding shows its "
	      "packets, and <span class=\"mono\">flowaudit evidence</span> writes them as a file "
	      "of their own. Evidence of a finding read inside TLS is a pcapng that carries the "
	      "session keys of its connections, so Wireshark shows them decrypted. Frame numbers "
	      "count the packets of the input capture from 1.", out);
	if (fs->n > FULL_PER_RULE)
		fprintf(out, " Each rule's first %d findings are shown in full; the others are in "
			"the table above, and in full in <span class=\"mono\">report.json</span> and "
			"<span class=\"mono\">findings.ndjson</span>.", FULL_PER_RULE);
	fputs("</p>\n", out);
	struct rule_tally t = {.rules = 0};
	for (size_t i = 0; i < fs->n; i++) {
		json_t *b = report_finding_brief(fs, i);
		bool full = json_is_object(b) && tally_full(&t, rh_str(b, "rule"));
		json_decref(b);
		if (!full)
			continue;
		json_t *f = fs->get(i, fs->user);
		if (json_is_object(f))
			write_finding(out, f, doc);
		json_decref(f);
	}
	if (t.hidden > 0) {
		fprintf(out, "<p class=\"meta\">%zu more findings are not shown in full here:", t.hidden);
		for (size_t k = 0, said = 0; k < t.rules; k++)
			if (t.n[k] > FULL_PER_RULE) {
				fprintf(out, "%s %zu of ", said++ ? ";" : "", t.n[k] - FULL_PER_RULE);
				rh_word(out, RH_RULE, t.rule[k], "?");
			}
		fputs(". They are in the table above, and in full in <span class=\"mono\">"
		      "report.json</span> and <span class=\"mono\">findings.ndjson</span>.</p>\n", out);
	}
}
