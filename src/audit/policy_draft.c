/*
 * policy_draft.c - a flowaudit-policy/1 declaration drafted from a policy's text.
 *
 * Receives: the bytes of a privacy policy (plain text or HTML, UTF-8,
 * Chinese or English) and the signature catalogue. Hands on: a declaration
 * as a jansson object, with a top-level `review` list of what the text
 * leaves open. Owns nothing past the call.
 *
 * How it reads (docs/policy.md has the long form):
 * - policy_draft_text.c gives the lines, each with the section path of the
 *   nearest numbering label; statements quote their sentence with it.
 * - SDK tables come first: key-value blocks and inline records ("SDK名称：
 *   …；使用目的：…"), and rows of cells (tabs, '|', '│', runs of spaces)
 *   under a header that says which column is the name, the purpose and the
 *   data. The name resolves through the catalogue's aliases; an unresolved
 *   name in the name column goes to review by the name the text uses.
 * - Every other line is cut into sentences. A sentence names SDKs
 *   (policy_draft_match.c), lists them after a colon ("第三方SDK：A、B"), or
 *   opens a line with one ("Admob SDK(...)"); a mention in a clause that says
 *   the SDK is not used becomes a review note, never a recipient. Purposes
 *   and data come from the clause around the mention, else its sentence.
 * - Addresses (e-mail, http(s) URLs) outside SDK tables and SDK sentences
 *   whose host the catalogue does not know give the first-party domains.
 * - Storage, transfers abroad, consent and encryption come from sentences
 *   that carry the marker words of policy_draft_words.c.
 * What a sentence does not settle is said in `review`, with the quote.
 */
#include "flowaudit/policy_draft.h"

#include "flowaudit/policy.h"
#include "policy_draft_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- recipients ---- */

static struct recip *recip_for(struct draft *d, const struct sig_entry *e, const char *named,
			       size_t named_n)
{
	for (size_t i = 0; i < d->n_r; i++)
		if (d->r[i].e == e)
			return &d->r[i];
	if (d->n_r == d->cap_r) {
		size_t nc = d->cap_r ? 2 * d->cap_r : 16;
		struct recip *nv = realloc(d->r, nc * sizeof(*nv));
		if (nv == NULL) {
			d->oom = true;
			return NULL;
		}
		d->r = nv;
		d->cap_r = nc;
	}
	struct recip *r = &d->r[d->n_r++];
	memset(r, 0, sizeof(*r));
	r->e = e;
	draft_span_copy(r->named, sizeof(r->named), named, named_n);
	return r;
}

static void add_recip(struct draft *d, const struct sig_entry *e, const char *named,
		      size_t named_n, uint32_t purposes, uint32_t data, const char *q)
{
	struct recip *r = recip_for(d, e, named, named_n);
	if (r == NULL)
		return;
	r->purposes |= purposes;
	r->data |= data;
	draft_clause_add(r->clause, sizeof(r->clause), q);
	if (r->where[0] == '\0')
		snprintf(r->where, sizeof(r->where), "%s", q);
}

static void add_negated(struct draft *d, const struct sig_entry *e, const char *q)
{
	for (size_t i = 0; i < d->n_negated; i++)
		if (d->negated[i] == e)
			return;
	if (d->n_negated < sizeof(d->negated) / sizeof(d->negated[0])) {
		d->negated[d->n_negated] = e;
		snprintf(d->negated_where[d->n_negated++], WHERE_CAP, "%s", q);
	}
}

void draft_drop_paren(const char *s, size_t a, size_t *b)
{
	if (*b > a && (s[*b - 1] == ')' || (*b - a >= 3 && memcmp(s + *b - 3, "）", 3) == 0))) {
		for (size_t i = *b; i > a; i--)
			if (s[i - 1] == '(' || (i - a >= 3 && memcmp(s + i - 3, "（", 3) == 0)) {
				*b = s[i - 1] == '(' ? i - 1 : i - 3;
				break;
			}
		dtrim(s, &a, b);
	}
}

/* True when s[0..n) (a name cell, a list item) reads as an SDK's name: "... SDK". */
bool draft_looks_like_sdk(const char *s, size_t n)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	/* "Admob SDK(GoogleMobileAds SDK)": the part before a closing parenthesis */
	draft_drop_paren(s, a, &b);
	if (b - a < 4 || b - a > 80 || strncasecmp(s + b - 3, "sdk", 3) != 0)
		return false;
	static const char *const generic[] = {"第三方", "third*", "following", "以下", "相关",
					      "其他", "other", "these", "those", "this", "our",
					      "我们", "该", "本", "any", "such", NULL};
	size_t c = b - 3;
	dtrim(s, &a, &c);
	return c > a && !dfind_any(s + a, c - a, generic);
}

/* An SDK name from a table, a list or a line start: a recipient, or a review item. */
void draft_candidate(struct draft *d, const char *s, size_t n, uint32_t purposes, uint32_t data,
		      const char *host, bool name_column, bool negated, const char *q)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	if (a == b)
		return;
	const struct sig_entry *e = dmatcher_resolve(d->m, s + a, b - a);
	if (e == NULL && host != NULL && host[0] != '\0')
		e = sig_match_host(d->db, host, NULL);
	char named[128];
	draft_span_copy(named, sizeof(named), s + a, b - a);
	if (e != NULL && e->kind != SIG_SDK)
		return; /* infrastructure (a cloud, a CDN) is no recipient */
	if (e != NULL && negated)
		add_negated(d, e, q);
	else if (e != NULL)
		add_recip(d, e, s + a, b - a, purposes, data, q);
	else if (!negated && (name_column || draft_looks_like_sdk(s + a, b - a)))
		draft_review(d, q, "the text names the SDK '%s', which the signature catalogue does not "
		       "know: add an entry (with this name as an alias) or leave its traffic to "
		       "show as unknown endpoints", named);
}

/* ---- sentences ---- */

/* "第三方SDK：A、B、C" and "We use the following SDKs: A, B and C". */
static void read_list(struct draft *d, const char *s, size_t n, const char *q)
{
	size_t colon = n, cl = 0;
	for (size_t i = 0; i < n && colon == n; i++)
		if (s[i] == ':' && !(i + 1 < n && s[i + 1] == '/'))
			colon = i, cl = 1;
		else if (i + 3 <= n && memcmp(s + i, "：", 3) == 0)
			colon = i, cl = 3;
	if (colon == n || dfind(s, colon, "sdk*") == NULL)
		return;
	bool negated = dfind_any(s, colon, dw_not_used);
	uint32_t purposes = draft_scan(dw_purposes, s, colon, false);
	static const char *const seps[] = {"、", "，", ",", "；", ";", "。", " and ", "以及", "和",
					   "及", NULL};
	for (size_t a = colon + cl; a < n;) {
		size_t sl, b = dsplit(s, n, a, seps, &sl);
		size_t ia = a, ib = b;
		dtrim(s, &ia, &ib);
		while (ib > ia && (s[ib - 1] == '.' || s[ib - 1] == ' '))
			ib--;
		if (ib - ia >= 3 && memcmp(s + ib - 3, "等", 3) == 0)
			ib -= 3;
		if (ib > ia && ib - ia <= 80)
			draft_candidate(d, s + ia, ib - ia, purposes, 0, NULL, false, negated, q);
		a = b + sl;
	}
}

/* A line that opens with an SDK's name: "Admob SDK(GoogleMobileAds SDK)", "友盟SDK：用于统计". */
static void read_line_start(struct draft *d, const char *s, size_t n, const char *q)
{
	size_t end = n;
	static const char *const stops[] = {"：", ":", "，", ",", "。", "；", ";", " - ", " – ",
					    NULL};
	int depth = 0; /* "钉钉 SDK (Android 端,iOS端)": no stop inside a parenthesis */
	for (size_t i = 0; i < n && end == n; i++) {
		if (s[i] == '(' || (i + 3 <= n && memcmp(s + i, "（", 3) == 0))
			depth++;
		else if (depth > 0 && (s[i] == ')' || (i + 3 <= n && memcmp(s + i, "）", 3) == 0)))
			depth--;
		if (depth > 0)
			continue;
		for (size_t k = 0; stops[k] != NULL; k++)
			if (i + strlen(stops[k]) <= n && memcmp(s + i, stops[k], strlen(stops[k])) == 0 &&
			    !(s[i] == ':' && i + 1 < n && s[i + 1] == '/')) {
				end = i;
				break;
			}
	}
	if (!draft_looks_like_sdk(s, end)) {
		/* a row whose cells lost their separators: "1Foo Android SDK某某科技有限公司…" */
		const char *w = dfind(s, end, "SDK*");
		size_t a = 0;
		while (a < end && s[a] >= '0' && s[a] <= '9')
			a++;
		if (w == NULL || a == 0 || w + 3 >= s + end || (unsigned char)w[3] < 0x80)
			return;
		s += a;
		n -= a;
		end = (size_t)(w + 3 - s);
		if (!draft_looks_like_sdk(s, end))
			return;
	}
	bool negated = dfind_any(s, n, dw_not_used);
	draft_candidate(d, s, end, draft_scan(dw_purposes, s + end, n - end, false),
		  draft_scan(dw_data, s + end, n - end, true), NULL, false, negated, q);
}

/* True when the name at s[at..at + len) is part of an address: "linkedin.com", "//x", "a@x". */
static bool in_address(const char *s, size_t n, size_t at, size_t len)
{
	size_t e = at + len;
	if (at > 0 && strchr("./@", s[at - 1]) != NULL)
		return true;
	return e + 1 < n && s[e] == '.' && ((s[e + 1] >= 'a' && s[e + 1] <= 'z') ||
					    (s[e + 1] >= 'A' && s[e + 1] <= 'Z'));
}

/*
 * True when the name at offset at is the owner inside a parenthesis after
 * "of" or "by": "MoPub (monetization platform of Twitter, Inc.)" names
 * Twitter's company, not its SDK.
 */
static bool owner_in_parens(const char *s, size_t at)
{
	static const char *const owner[] = {"of", "by", NULL};
	for (size_t i = at; i > 0; i--) {
		char c = s[i - 1];
		if (c == ')' || (i >= 3 && memcmp(s + i - 3, "）", 3) == 0))
			return false;
		if (c == '(' || (i >= 3 && memcmp(s + i - 3, "（", 3) == 0))
			return dfind_any(s + i, at - i, owner);
	}
	return false;
}

/* True when s[0..n) lists SDKs after a colon ("第三方SDK：A、B"): its words belong to none alone. */
static bool is_sdk_list(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] == ':' && !(i + 1 < n && s[i + 1] == '/')) ||
		    (i + 3 <= n && memcmp(s + i, "：", 3) == 0))
			return dfind(s, i, "sdk*") != NULL;
	return false;
}

/*
 * True when the clause s[ca..cb) says the SDK named at offset at is not
 * used. A contrast ("，仅使用", "but", "only") ends the reach of a negation:
 * "不包含友盟统计,仅使用腾讯Bugly" negates 友盟 only, "uses Crashlytics but not
 * Google Analytics" Google Analytics only. A clause that opens with "No"
 * ("No advertising SDKs such as AdMob are included") negates its names.
 */
static bool negated_at(const char *s, size_t ca, size_t cb, size_t at)
{
	static const char *const contrast[] = {"仅使用", "只使用", "仅接入", "只接入", "但", "而是",
					       "but", "only", "however", "instead", NULL};
	size_t a = ca, b = cb;
	for (size_t i = 0; contrast[i] != NULL; i++)
		for (const char *p = s + ca; p < s + cb;) {
			const char *w = dfind(p, (size_t)(s + cb - p), contrast[i]);
			if (w == NULL)
				break;
			size_t o = (size_t)(w - s);
			if (o <= at && o > a)
				a = o;
			else if (o > at && o < b)
				b = o;
			p = w + strlen(contrast[i]);
		}
	static const char *const opening[] = {"No", "Neither", NULL};
	size_t ta = ca, tb = cb;
	dtrim(s, &ta, &tb);
	for (size_t i = 0; opening[i] != NULL && a == ca; i++) {
		size_t l = strlen(opening[i]);
		if (tb - ta > l && strncmp(s + ta, opening[i], l) == 0 && s[ta + l] == ' ')
			return true;
	}
	return dfind_any(s + a, b - a, dw_not_used);
}

/* True when s[0..n) speaks of SDKs, third parties, their use, a purpose or data. */
static bool speaks_of_sdks(const char *s, size_t n)
{
	static const char *const more[] = {"processor*", "subprocessor*", "sub-processor*",
					   "vendor*", "合作伙伴", NULL};
	return dfind_any(s, n, dw_sdk_context) || dfind_any(s, n, more) ||
	       draft_scan(dw_purposes, s, n, false) != 0 || draft_scan(dw_data, s, n, true) != 0;
}

/*
 * A line that sets the context of the lines under it: a lead-in ending with
 * a colon or announcing "the following", or a heading (short, no sentence,
 * not a list item) that names no
 * catalogue entry. Names in the lines under one that speaks of SDKs count
 * even where their own sentence does not ("Advertising" then "• AdMob").
 */
static bool sets_context(const struct draft *d, const struct dline *l)
{
	const char *s = l->s;
	size_t n = l->n;
	static const char *const lead_in[] = {"the following", "以下", NULL};
	if (s[n - 1] == ':' || (n >= 3 && memcmp(s + n - 3, "：", 3) == 0) ||
	    dfind_any(s, n, lead_in))
		return true;
	if (l->bulleted || n > 80 || strchr(".;!?)", s[n - 1]) != NULL || dsent_end(s, n, 0) != n ||
	    (n >= 3 && (memcmp(s + n - 3, "。", 3) == 0 || memcmp(s + n - 3, "；", 3) == 0 ||
			memcmp(s + n - 3, "）", 3) == 0)))
		return false;
	size_t pos = 0;
	struct dmatch mt;
	return !dmatcher_next(d->m, s, n, &pos, false, &mt);
}

/*
 * A line that is nothing but a catalogue name, under a heading or after a
 * line that speaks of SDKs: "• Adjust", "2. Ironsource.", "Sentry (by Functional Software,
 * Inc.)". A parenthesis after the name says who makes it.
 */
static void read_name_line(struct draft *d, const struct dline *l, bool negated, const char *q)
{
	size_t a = 0, b = l->n;
	const char *s = l->s;
	while (b > a && (s[b - 1] == '.' || s[b - 1] == ' '))
		b--;
	draft_drop_paren(s, a, &b);
	dtrim(s, &a, &b);
	if (b == a || b - a > 60)
		return;
	const struct sig_entry *e = dmatcher_exact(d->m, s + a, b - a);
	if (e == NULL || e->kind != SIG_SDK)
		return;
	if (negated)
		add_negated(d, e, q);
	else
		add_recip(d, e, s + a, b - a, 0, 0, q);
}

/*
 * Catalogue names in a sentence. Purposes and data are read from the clause
 * around a mention when no other SDK is named in it, else from the sentence
 * when it names one SDK only; a list of SDKs gives none of them its words.
 */
static void read_mentions(struct draft *d, const struct dline *l, const char *s, size_t n,
			  bool in_context, bool *named)
{
	struct dmatch mt[64];
	size_t k = 0;
	char q[WHERE_CAP];
	for (size_t pos = 0; k < 64 && dmatcher_next(d->m, s, n, &pos, true, &mt[k]);)
		k += !in_address(s, n, mt[k].at, mt[k].len) && !owner_in_parens(s, mt[k].at);
	bool list = is_sdk_list(s, n);
	/* a name in running text counts where the sentence speaks of SDKs, their use or a
	   purpose: "Follow us on Instagram" names no recipient */
	if (!list && !in_context && !speaks_of_sdks(s, n))
		return;
	/* what a clause says is worked out once, for the first of its mentions */
	size_t ca = 0, cb = 0, in_clause = 0;
	uint32_t cp = 0, cd = 0;
	for (size_t i = 0; i < k; i++) {
		if (i == 0 || mt[i].at >= cb) {
			draft_clause_of(s, n, mt[i].at, &ca, &cb);
			draft_quote_at(q, sizeof(q), l, s, n, mt[i].at);
			in_clause = 0;
			for (size_t j = i; j < k && mt[j].at < cb; j++)
				in_clause += mt[j].e != NULL;
			cp = cd = 0;
			if (!list && in_clause == 1) {
				cp = draft_scan(dw_purposes, s + ca, cb - ca, false);
				cd = draft_scan(dw_data, s + ca, cb - ca, true);
			}
			if (!list && k == 1) {
				cp = cp ? cp : draft_scan(dw_purposes, s, n, false);
				cd = cd ? cd : draft_scan(dw_data, s, n, true);
			}
		}
		char text[128];
		draft_span_copy(text, sizeof(text), s + mt[i].at, mt[i].len);
		if (mt[i].e == NULL) {
			draft_review(d, q, "'%s' is the name of several catalogue entries: declare the "
				     "one the app uses", text);
			continue;
		}
		*named = true;
		if (mt[i].e->kind != SIG_SDK)
			continue;
		bool negated = negated_at(s, ca, cb, mt[i].at);
		if (negated)
			add_negated(d, mt[i].e, q);
		else
			add_recip(d, mt[i].e, s + mt[i].at, mt[i].len, cp, cd, q);
	}
}

/* The clause of s[0..n) that starts at a; returns where the next one starts. */
static size_t next_clause(const char *s, size_t n, size_t a, bool commas, size_t *ca, size_t *cb)
{
	draft_clause_in(s, n, a, commas, ca, cb);
	size_t next = *cb + 1;
	while (next < n && ((unsigned char)s[next] & 0xC0) == 0x80)
		next++;
	return next;
}

/*
 * Regions, transfers abroad, consent and encryption in a sentence. In a row
 * of a table (processor_row) a region is the processor's location, not where
 * the app stores data: it goes to review instead.
 */
static void read_promises(struct draft *d, const struct dline *l, const char *s, size_t n,
			  bool processor_row)
{
	char q[WHERE_CAP];
	size_t ca, cb;
	for (size_t a = 0; a < n; a = next_clause(s, n, a, true, &ca, &cb)) {
		draft_clause_of(s, n, a, &ca, &cb);
		const char *c = s + ca;
		size_t cn = cb - ca;
		if (!dfind_any(c, cn, dw_storage))
			continue;
		size_t before = d->n_regions;
		for (size_t i = 0; dw_regions[i].needle != NULL; i++) {
			if (dfind(c, cn, dw_regions[i].needle) == NULL)
				continue;
			if (processor_row) {
				draft_quote_at(q, sizeof(q), l, s, n, ca);
				draft_review(d, q, "storage_regions: a table row gives a processor's "
					     "location ('%s'), which is where that processor keeps "
					     "data, not where the app stores it: decide whether it "
					     "belongs in storage_regions", dw_regions[i].what);
				break;
			}
			bool have = false;
			for (size_t j = 0; j < d->n_regions && !have; j++)
				have = strcmp(d->regions[j], dw_regions[i].what) == 0;
			if (!have && d->n_regions < MAX_REGIONS)
				snprintf(d->regions[d->n_regions++], 4, "%s", dw_regions[i].what);
			draft_quote_at(q, sizeof(q), l, s, n, ca);
			draft_clause_add(d->reg_clause, sizeof(d->reg_clause), q);
		}
		for (size_t i = 0; dw_vague_places[i] != NULL && d->vague_where[0] == '\0'; i++)
			if (d->n_regions == before && dfind(c, cn, dw_vague_places[i]) != NULL) {
				draft_quote_at(d->vague_where, sizeof(d->vague_where), l, s, n, ca);
				snprintf(d->vague_term, sizeof(d->vague_term), "%s", dw_vague_places[i]);
			}
	}
	/* consent and its purpose in one clause, commas included ("经您同意后，…广告") */
	uint32_t asked = draft_purpose_bit("advertising") | draft_purpose_bit("analytics") |
			 draft_purpose_bit("push") | draft_purpose_bit("location");
	for (size_t a = 0; a < n; a = next_clause(s, n, a, false, &ca, &cb)) {
		draft_clause_in(s, n, a, false, &ca, &cb);
		if (!dfind_any(s + ca, cb - ca, dw_consent))
			continue;
		uint32_t p = draft_scan(dw_purposes, s + ca, cb - ca, false) & asked;
		if (p != 0) {
			d->consent |= p;
			draft_quote_at(q, sizeof(q), l, s, n, ca);
			draft_clause_add(d->consent_clause, sizeof(d->consent_clause), q);
		}
	}
	const char *w;
	for (size_t i = 0; dw_abroad[i] != NULL; i++)
		if ((w = dfind(s, n, dw_abroad[i])) != NULL) {
			draft_quote_at(q, sizeof(q), l, s, n, (size_t)(w - s));
			break;
		}
	/* a numbered line that is no sentence ("4. International Transfers") is a heading */
	bool heading = l->labelled && s == l->s && n == l->n && n <= 80 && n > 0 &&
		       strchr(".;:!?", s[n - 1]) == NULL && dsent_end(s, n, 0) == n &&
		       (n < 3 || memcmp(s + n - 3, "。", 3) != 0);
	if (dfind_any(s, n, dw_abroad)) {
		int rule = dfind_any(s, n, dw_consent) ? XB_WITH_CONSENT
			   : dfind_any(s, n, dw_refusal) ? XB_NEVER : -1;
		if (rule >= 0 && d->xb < 0) {
			d->xb = rule;
			snprintf(d->xb_clause, sizeof(d->xb_clause), "%s", q);
		} else if (rule < 0 && d->xb_open[0] == '\0' && !heading) {
			snprintf(d->xb_open, sizeof(d->xb_open), "%s", q);
		}
	}
	if ((w = draft_encryption_at(s, n)) != NULL) {
		draft_quote_at(q, sizeof(q), l, s, n, (size_t)(w - s));
		bool protocol = strncasecmp(w, "https", 5) == 0 || strncasecmp(w, "tls", 3) == 0 ||
				strncasecmp(w, "ssl", 3) == 0;
		if (protocol || dfind_any(s, n, dw_transit)) {
			d->enc = true;
			draft_clause_add(d->enc_clause, sizeof(d->enc_clause), q);
		} else if (d->enc_open[0] == '\0') {
			snprintf(d->enc_open, sizeof(d->enc_open), "%s", q);
		}
	}
}

static void read_prose(struct draft *d)
{
	bool context = false, context_negated = false, after_sdks = false;
	for (size_t li = 0; li < d->t.n_lines; li++) {
		const struct dline *l = &d->t.lines[li];
		if (l->n == 0)
			continue;
		char lq[WHERE_CAP];
		draft_quote(lq, sizeof(lq), l, l->s, l->n);
		if (d->in_table[li]) {
			bool row = memchr(l->s, '|', l->n) != NULL || memchr(l->s, '\t', l->n) != NULL ||
				   dfind(l->s, l->n, "│") != NULL;
			read_promises(d, l, l->s, l->n, row);
			continue;
		}
		bool word = false;
		for (size_t i = 0; i < l->n && !word; i++)
			word = (unsigned char)l->s[i] >= 0x80 || isalnum((unsigned char)l->s[i]);
		if (!word)
			continue; /* a rule or a lone "-" between items changes no context */
		bool in_context = context;
		if (sets_context(d, l)) {
			context = speaks_of_sdks(l->s, l->n);
			context_negated = context && dfind_any(l->s, l->n, dw_not_used);
		} else if (in_context || after_sdks) {
			read_name_line(d, l, in_context && context_negated, lq);
		}
		/* a name alone on the line after a sentence about third-party services */
		after_sdks = speaks_of_sdks(l->s, l->n) && !dfind_any(l->s, l->n, dw_not_used);
		read_line_start(d, l->s, l->n, lq);
		for (size_t a = 0; a < l->n;) {
			size_t b = dsent_end(l->s, l->n, a);
			const char *s = l->s + a;
			size_t n = b - a;
			char q[WHERE_CAP];
			draft_quote(q, sizeof(q), l, s, n);
			bool named = false;
			read_mentions(d, l, s, n, in_context && !context_negated, &named);
			read_list(d, s, n, q);
			if (!named)
				draft_read_addresses(d, s, n, q);
			read_promises(d, l, s, n, false);
			if (!named && dfind_any(s, n, dw_collect))
				d->fp_data |= draft_scan(dw_data, s, n, true);
			a = b;
		}
	}
}

/* ---- the declaration ---- */

static json_t *bits_list(uint32_t bits, bool data)
{
	size_t n;
	const char *const *v = data ? policy_categories(&n) : policy_purposes(&n);
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_string(v[i]));
	return a;
}

static void bits_text(uint32_t bits, char *out, size_t cap)
{
	size_t n, o = 0;
	const char *const *v = policy_purposes(&n);
	out[0] = '\0';
	for (size_t i = 0; i < n && o < cap; i++)
		if (bits & (1u << i)) {
			int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", v[i]);
			o += w > 0 ? (size_t)w : 0;
		}
}

static json_t *recipients_json(struct draft *d, uint32_t *all_purposes)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < d->n_r; i++) {
		struct recip *r = &d->r[i];
		json_t *o = json_object();
		json_object_set_new(o, "sdk", json_string(r->e->id));
		bool from_text = r->purposes != 0;
		if (r->purposes == 0) {
			for (size_t j = 0; j < r->e->n_purposes; j++)
				r->purposes |= draft_purpose_bit(r->e->purposes[j]);
			if (r->purposes == 0)
				r->purposes = draft_purpose_bit("other");
			char p[256];
			bits_text(r->purposes, p, sizeof(p));
			draft_review(d, r->where, "recipients '%s': the text gives no purpose for '%s'; the "
			       "catalogue's (%s) are written: check them against the text", r->e->id,
			       r->named, p);
		}
		if (r->data == 0)
			draft_review(d, r->where, "recipients '%s': the text does not say what data '%s' "
			       "receives; data is left empty, so every identifier sent to it will be a "
			       "finding: add what the text implies", r->e->id, r->named);
		*all_purposes |= r->purposes;
		json_object_set_new(o, "purposes", bits_list(r->purposes, false));
		json_object_set_new(o, "data", bits_list(r->data, true));
		json_object_set_new(o, "clause", json_string(r->clause));
		if (!from_text)
			json_object_set_new(o, "comment", json_string("purposes are the catalogue's: "
								      "the text gives none"));
		if (json_array_append_new(arr, o) != 0)
			d->oom = true;
	}
	for (size_t i = 0; i < d->n_negated; i++) {
		const struct sig_entry *e = d->negated[i];
		bool used = false;
		for (size_t j = 0; j < d->n_r && !used; j++)
			used = d->r[j].e == e;
		if (used)
			draft_review(d, d->negated_where[i], "recipients '%s': the text names %s as used in "
			       "one place and as not used in another: check the recipient", e->id,
			       e->name);
		else
			draft_review(d, d->negated_where[i], "'%s' (%s) is named only to say it is not used, "
			       "so it is not declared: declare it if the app does use it", e->name,
			       e->id);
	}
	return arr;
}

static void regions_json(struct draft *d, json_t *doc)
{
	if (d->xb < 0 && d->xb_open[0] != '\0') {
		/* data may go abroad, and the text neither asks consent for it nor rules it out */
		d->xb = XB_ALLOWED;
		snprintf(d->xb_clause, sizeof(d->xb_clause), "%s", d->xb_open);
		draft_review(d, d->xb_open, "cross_border.rule: the text says data may go abroad "
			     "without asking consent or ruling it out; 'allowed' is written: check it");
	}
	const char *rule = d->xb == XB_NEVER ? "never" : d->xb == XB_WITH_CONSENT ? "with_consent"
						 : "allowed";
	if (d->n_regions > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < d->n_regions; i++)
			json_array_append_new(a, json_string(d->regions[i]));
		json_object_set_new(doc, "storage_regions", a);
		if (d->xb >= 0) {
			json_object_set_new(doc, "cross_border", json_pack("{s:s, s:s}", "rule", rule,
									   "clause", d->xb_clause));
		} else {
			json_object_set_new(doc, "cross_border", json_pack(
				"{s:s, s:s, s:s}", "rule", "never", "clause", d->reg_clause, "comment",
				"the text names where data is stored but no rule for transfers abroad"));
			draft_review(d, d->reg_clause, "cross_border.rule: the text says where data is stored "
			       "but not whether it may leave; 'never' is written, as storing there "
			       "implies: change it if the text allows transfers");
		}
	} else if (d->vague_where[0] != '\0') {
		draft_review(d, d->vague_where, "storage_regions: the text stores data in '%s', which names "
		       "no country: write the country codes (and cross_border with them)",
		       d->vague_term);
	} else if (d->xb < 0) {
		draft_review(d, "the whole text", "storage_regions and cross_border: the text does not say "
		       "where data is stored; without them the declaration makes no regional "
		       "promise");
	}
	if (d->n_regions == 0 && d->xb >= 0)
		draft_review(d, d->xb_clause, "cross_border: the text's rule for transfers abroad reads as "
		       "'%s'; it is not written because no storage region is known: write "
		       "storage_regions and cross_border together", rule);
}

static json_t *build(struct draft *d)
{
	json_t *doc = json_object();
	if (doc == NULL)
		return NULL;
	char comment[1200];
	snprintf(comment, sizeof(comment), "Drafted by flowaudit policy draft from %.900s: each "
		 "statement quotes the sentence it was read from, and 'review' lists what the text "
		 "leaves open. Check the draft against the text before auditing with it.", d->name);
	json_object_set_new(doc, "schema", json_string(POLICY_SCHEMA));
	json_object_set_new(doc, "comment", json_string(comment));
	json_t *app = json_object();
	draft_read_app(d, app);
	json_object_set_new(doc, "app", app);
	if (d->n_fp > 0) {
		json_t *fp = json_object(), *dom = json_array();
		for (size_t i = 0; i < d->n_fp; i++)
			json_array_append_new(dom, json_string(d->fp[i]));
		json_object_set_new(fp, "domains", dom);
		json_object_set_new(fp, "data", bits_list(d->fp_data, true));
		json_object_set_new(fp, "clause", json_string(d->fp_clause));
		json_object_set_new(fp, "comment", json_string(
			"domains: the text's own addresses; data: the categories named in the "
			"sentences on what is collected"));
		json_object_set_new(doc, "first_party", fp);
		draft_review(d, d->fp_clause, "first_party: the domains are those of the text's own "
		       "addresses, and the data the categories its sentences on collection name: "
		       "check both");
	} else {
		draft_review(d, "the whole text", "first_party: the text gives no address of its own "
		       "(e-mail, web site): write first_party.domains");
	}
	uint32_t all = 0;
	json_object_set_new(doc, "recipients", recipients_json(d, &all));
	regions_json(d, doc);
	if (d->consent != 0) {
		json_object_set_new(doc, "consent_required_for", bits_list(d->consent, false));
		json_object_set_new(doc, "consent_clause", json_string(d->consent_clause));
	} else {
		char p[256];
		bits_text(all, p, sizeof(p));
		draft_review(d, "the whole text", "consent_required_for: no sentence ties a purpose to "
		       "consent; decide which purposes need it%s%s%s", p[0] ? " (the recipients': " : "",
		       p, p[0] ? ")" : "");
	}
	if (d->enc) {
		json_object_set_new(doc, "encryption_in_transit",
				    json_pack("{s:b, s:s}", "promised", 1, "clause", d->enc_clause));
	} else if (d->enc_open[0] != '\0') {
		draft_review(d, d->enc_open, "encryption_in_transit: the text promises encryption without "
		       "saying it covers data sent over the network: decide whether it does");
	} else {
		draft_review(d, "the whole text", "encryption_in_transit: the text does not promise "
		       "encryption in transit");
	}
	if (d->review_dropped > 0) {
		char more[160];
		snprintf(more, sizeof(more), "%zu more points like the ones above were left out of this "
			 "list (it holds at most %d): read the text for them", d->review_dropped,
			 MAX_REVIEW);
		json_t *o = json_pack("{s:s, s:s}", "what", more, "where", "the whole text");
		if (o == NULL || json_array_append_new(d->review, o) != 0)
			d->oom = true;
	}
	json_object_set(doc, "review", d->review);
	return doc;
}

int policy_draft_text(const char *text, size_t len, const char *name, const struct sig_db *db,
		      json_t **out, struct fa_err *err)
{
	*out = NULL;
	if (len > POLICY_DRAFT_MAX_BYTES) {
		fa_err_set(err, "%s: %zu bytes; a policy text is at most %d bytes (4 MiB)", name, len,
			   POLICY_DRAFT_MAX_BYTES);
		return FA_EINPUT;
	}
	struct draft *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fa_err_set(err, "%s: out of memory", name);
		return FA_ERUNTIME;
	}
	d->name = name;
	d->db = db;
	d->xb = -1;
	int rc = dtext_make(&d->t, text, len, name, err);
	if (rc != FA_OK) {
		free(d);
		return rc;
	}
	d->m = dmatcher_new(db);
	d->in_table = calloc(d->t.n_lines + 1, sizeof(bool));
	d->review = json_array();
	json_t *doc = NULL;
	if (d->m != NULL && d->in_table != NULL && d->review != NULL) {
		draft_read_tables(d);
		read_prose(d);
		doc = build(d);
	}
	if (doc == NULL || d->oom) {
		json_decref(doc);
		doc = NULL;
		fa_err_set(err, "%s: out of memory", name);
		rc = FA_ERUNTIME;
	}
	json_decref(d->review);
	free(d->in_table);
	free(d->r);
	dmatcher_free(d->m);
	dtext_free(&d->t);
	free(d);
	*out = doc;
	return rc;
}

int policy_draft_file(const char *path, const struct sig_db *db, json_t **out, struct fa_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: cannot open: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fa_err_set(err, "%s: not a regular file", path);
		close(fd);
		return FA_EINPUT;
	}
	if ((unsigned long long)st.st_size > POLICY_DRAFT_MAX_BYTES) {
		fa_err_set(err, "%s: %lld bytes; a policy text is at most %d bytes (4 MiB)", path,
			   (long long)st.st_size, POLICY_DRAFT_MAX_BYTES);
		close(fd);
		return FA_EINPUT;
	}
	size_t size = (size_t)st.st_size, n = 0;
	char *buf = malloc(size + 1);
	ssize_t r = 1;
	while (buf != NULL && n < size && (r = read(fd, buf + n, size - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (buf == NULL || r < 0) {
		fa_err_set(err, "%s: cannot read: %s", path, buf ? strerror(errno) : "out of memory");
		free(buf);
		return FA_ERUNTIME;
	}
	int rc = policy_draft_text(buf, n, path, db, out, err);
	free(buf);
	return rc;
}

bool policy_draft_write(json_t *doc, const char *source, FILE *f)
{
	json_t *app = json_object_get(doc, "app");
	if (source != NULL && app != NULL && json_object_set_new(app, "source", json_string(source)) != 0)
		return false;
	return json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF;
}

void policy_draft_counts(const json_t *doc, size_t *recipients, size_t *review_n)
{
	*recipients = json_array_size(json_object_get(doc, "recipients"));
	*review_n = json_array_size(json_object_get(doc, "review"));
}

void policy_draft_free(json_t *doc)
{
	json_decref(doc);
}
