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
 *   that carry the marker words of policy_draft_words.h.
 * What a sentence does not settle is said in `review`, with the quote.
 */
#include "flowaudit/policy_draft.h"

#include "flowaudit/policy.h"
#include "policy_draft_int.h"
#include "policy_draft_words.h"

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

#define QUOTE_MAX 360   /* bytes of one quoted sentence */
#define CLAUSE_CAP 1024 /* bytes of a clause made of several quotes */
#define WHERE_CAP 512
#define MAX_DOMAINS 16
#define MAX_REGIONS 16
#define MAX_KV 12

struct recip {
	const struct sig_entry *e;
	uint32_t purposes, data; /* bits: the vocabularies of policy.c, in order */
	char clause[CLAUSE_CAP];
	char where[WHERE_CAP];   /* the first quote, for review entries */
	char named[128];         /* the name the text first used */
};

struct record { /* one row or block of an SDK table */
	const char *name;
	size_t name_n;
	size_t line;
	uint32_t purposes, data;
	bool purpose_given, data_given, other_given;
	char host[254];
};

struct draft {
	const char *name;
	const struct sig_db *db;
	struct dmatcher *m;
	struct dtext t;
	bool *in_table;
	struct recip *r;
	size_t n_r, cap_r;
	const struct sig_entry *negated[64];
	char negated_where[64][WHERE_CAP];
	size_t n_negated;
	json_t *review;
	bool oom;
	char controller[160], date[40];
	char fp[MAX_DOMAINS][254];
	size_t n_fp;
	char fp_clause[CLAUSE_CAP];
	uint32_t fp_data;
	char regions[MAX_REGIONS][4];
	size_t n_regions;
	char reg_clause[CLAUSE_CAP], vague_where[WHERE_CAP], vague_term[48];
	int xb; /* enum cross_border_rule, -1 when the text states none */
	char xb_clause[CLAUSE_CAP], xb_open[WHERE_CAP];
	uint32_t consent;
	char consent_clause[CLAUSE_CAP];
	bool enc;
	char enc_clause[CLAUSE_CAP], enc_open[WHERE_CAP];
};

/* ---- small helpers ---- */

static int vocab_index(const char *const *v, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], w) == 0)
			return (int)i;
	return -1;
}

static uint32_t purpose_bit(const char *p)
{
	size_t n;
	const char *const *v = policy_purposes(&n);
	int i = vocab_index(v, n, p);
	return i < 0 ? 0 : 1u << i;
}

static uint32_t category_bit(const char *c)
{
	size_t n;
	const char *const *v = policy_categories(&n);
	if (strcmp(c, "location") == 0)
		return category_bit("precise_location") | category_bit("approx_location");
	int i = vocab_index(v, n, c);
	return i < 0 ? 0 : 1u << i;
}

/* s[0..n) cut at a character boundary to at most cap - 1 bytes (with "..." when cut). */
static void span_copy(char *out, size_t cap, const char *s, size_t n)
{
	bool cut = n >= cap;
	size_t k = cut ? cap - 4 : n;
	while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	memcpy(out, s, k);
	strcpy(out + k, cut ? "..." : "");
}

/* Table cells (tabs in the text) shown as " | " in a quote. */
static void untab(char *q, size_t cap)
{
	for (char *t = strchr(q, '\t'); t != NULL && strlen(q) + 3 < cap; t = strchr(t, '\t')) {
		memmove(t + 3, t + 1, strlen(t + 1) + 1);
		memcpy(t, " | ", 3);
	}
	for (char *t = strchr(q, '\t'); t != NULL; t = strchr(t, '\t'))
		*t = ' ';
}

/* "§SEC: 'sentence'" (or "'sentence'" before any numbering). */
static void quote(char *out, size_t cap, const struct dline *l, const char *s, size_t n)
{
	char q[QUOTE_MAX + 64];
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	span_copy(q, QUOTE_MAX + 1, s + a, b - a);
	untab(q, sizeof(q));
	if (l->sec[0] != '\0')
		snprintf(out, cap, "\xc2\xa7%s: '%s'", l->sec, q);
	else
		snprintf(out, cap, "'%s'", q);
}

/* Appends a quote to a clause ("; " between), once, while it fits. */
static void clause_add(char *clause, size_t cap, const char *q)
{
	size_t cl = strlen(clause), ql = strlen(q);
	if (strstr(clause, q) != NULL || cl + ql + 3 > cap)
		return;
	snprintf(clause + cl, cap - cl, "%s%s", cl ? "; " : "", q);
}

__attribute__((format(printf, 3, 4))) static void review(struct draft *d, const char *where,
							 const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *v;
	json_array_foreach(d->review, i, v)
		if (strcmp(json_string_value(json_object_get(v, "what")), what) == 0)
			return;
	json_t *o = json_pack("{s:s, s:s}", "what", what, "where", where);
	if (o == NULL || json_array_append_new(d->review, o) != 0)
		d->oom = true;
}

/* Bits of the words found in s[0..n); data words in a clause that refuses them do not count. */
static uint32_t scan_words(const struct dword *w, const char *s, size_t n, bool data)
{
	uint32_t bits = 0;
	for (size_t a = 0; a < n;) {
		size_t b = a;
		static const char *const seps[] = {"，", "；", "。", ";", NULL};
		size_t sl = 0;
		while (b < n && sl == 0) {
			for (size_t k = 0; seps[k] != NULL && sl == 0; k++)
				if (b + strlen(seps[k]) <= n && memcmp(s + b, seps[k], strlen(seps[k])) == 0)
					sl = strlen(seps[k]);
			if (sl == 0)
				b++;
		}
		if (!(data && dfind_any(s + a, b - a, not_collected)))
			for (size_t i = 0; w[i].needle != NULL; i++)
				if (dfind(s + a, b - a, w[i].needle) != NULL)
					bits |= data ? category_bit(w[i].what) : purpose_bit(w[i].what);
		a = b + sl;
	}
	return bits;
}

/* The clause (between '，', '；', ';', '。'; with commas false, not '，') of s[0..n) around at. */
static void clause_in(const char *s, size_t n, size_t at, bool commas, size_t *a, size_t *b)
{
	static const char *const seps[] = {"；", "。", ";", "，", NULL};
	*a = 0;
	*b = n;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; seps[k] != NULL && (commas || k < 3); k++) {
			size_t l = strlen(seps[k]);
			if (i + l <= n && memcmp(s + i, seps[k], l) == 0) {
				if (i + l <= at)
					*a = i + l;
				else if (i >= at && i < *b)
					*b = i;
			}
		}
}

static void clause_of(const char *s, size_t n, size_t at, size_t *a, size_t *b)
{
	clause_in(s, n, at, true, a, b);
}

/* "HTTPS", "TLS", "SSL" or "encrypt" as a word, not the scheme of a URL ("https://"). */
static const char *encryption_at(const char *s, size_t n)
{
	for (size_t i = 0; encryption_words[i] != NULL; i++)
		for (const char *p = s; p < s + n;) {
			const char *w = dfind(p, (size_t)(s + n - p), encryption_words[i]);
			if (w == NULL)
				break;
			size_t k = strlen(encryption_words[i]);
			if (!(w + k + 3 <= s + n && memcmp(w + k, "://", 3) == 0))
				return w;
			p = w + k;
		}
	return NULL;
}

/*
 * The quote for a statement drawn from offset at of a sentence: the whole
 * sentence when it is short enough, else the clause around at, marked as
 * an excerpt with "...".
 */
static void quote_at(char *out, size_t cap, const struct dline *l, const char *s, size_t n,
		     size_t at)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	if (b - a <= QUOTE_MAX) {
		quote(out, cap, l, s, n);
		return;
	}
	clause_of(s, n, at, &a, &b);
	dtrim(s, &a, &b);
	char q[QUOTE_MAX + 8];
	size_t o = 0;
	if (a > 0)
		o = (size_t)snprintf(q, sizeof(q), "...");
	span_copy(q + o, sizeof(q) - o - 3, s + a, b - a);
	if (b < n && strlen(q) + 4 <= sizeof(q) && strcmp(q + strlen(q) - 3, "...") != 0)
		strcat(q, "...");
	if (l->sec[0] != '\0')
		snprintf(out, cap, "\xc2\xa7%s: '%s'", l->sec, q);
	else
		snprintf(out, cap, "'%s'", q);
}

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
	span_copy(r->named, sizeof(r->named), named, named_n);
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
	clause_add(r->clause, sizeof(r->clause), q);
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

/* True when s[0..n) (a name cell, a list item) reads as an SDK's name: "... SDK". */
static bool looks_like_sdk(const char *s, size_t n)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	/* "Admob SDK(GoogleMobileAds SDK)": the part before a closing parenthesis */
	if (b > a && (s[b - 1] == ')' || (b - a >= 3 && memcmp(s + b - 3, "）", 3) == 0))) {
		for (size_t i = b; i > a; i--)
			if (s[i - 1] == '(' || (i - a >= 3 && memcmp(s + i - 3, "（", 3) == 0)) {
				b = s[i - 1] == '(' ? i - 1 : i - 3;
				break;
			}
		dtrim(s, &a, &b);
	}
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
static void candidate(struct draft *d, const char *s, size_t n, uint32_t purposes, uint32_t data,
		      const char *host, bool name_column, bool negated, const char *q)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	if (a == b)
		return;
	const struct sig_entry *e = dmatcher_resolve(d->m, d->db, s + a, b - a);
	if (e == NULL && host != NULL && host[0] != '\0')
		e = sig_match_host(d->db, host, NULL);
	char named[128];
	span_copy(named, sizeof(named), s + a, b - a);
	if (e != NULL && negated)
		add_negated(d, e, q);
	else if (e != NULL)
		add_recip(d, e, s + a, b - a, purposes, data, q);
	else if (!negated && (name_column || looks_like_sdk(s + a, b - a)))
		review(d, q, "the text names the SDK '%s', which the signature catalogue does not "
		       "know: add an entry (with this name as an alias) or leave its traffic to "
		       "show as unknown endpoints", named);
}

/* ---- SDK tables ---- */

struct kv {
	enum krole role;
	size_t at, val, end; /* key start, value start, value end */
};

static bool key_sep_before(const char *s, size_t p)
{
	if (p == 0)
		return true;
	if (strchr(" \t|;,.)", s[p - 1]) != NULL)
		return true;
	static const char *const w[] = {"；", "，", "。", "│", "、", "）", "】", NULL};
	for (size_t i = 0; w[i] != NULL; i++)
		if (p >= 3 && memcmp(s + p - 3, w[i], 3) == 0)
			return true;
	return false;
}

/* The keys of SDK tables on a line ("SDK名称：A；使用目的：B"), in order. */
static size_t kv_parse(const char *s, size_t n, struct kv *out, size_t max)
{
	size_t k = 0;
	for (size_t p = 0; p < n && k < max; p++) {
		if (!key_sep_before(s, p))
			continue;
		size_t best = 0, colon = 0;
		enum krole role = K_OTHER;
		for (size_t i = 0; i < sizeof(table_keys) / sizeof(table_keys[0]); i++) {
			size_t l = strlen(table_keys[i].key);
			if (l <= best || p + l > n || strncasecmp(s + p, table_keys[i].key, l) != 0)
				continue;
			size_t c = p + l;
			while (c < n && s[c] == ' ')
				c++;
			if (c < n && s[c] == ':' && !(c + 2 < n && s[c + 1] == '/' && s[c + 2] == '/'))
				colon = c + 1;
			else if (c + 3 <= n && memcmp(s + c, "：", 3) == 0)
				colon = c + 3;
			else
				continue;
			best = l;
			role = table_keys[i].role;
		}
		if (best == 0)
			continue;
		if (k > 0)
			out[k - 1].end = p;
		out[k++] = (struct kv){.role = role, .at = p, .val = colon, .end = n};
		p = colon - 1;
	}
	return k;
}

static void first_host(const char *s, size_t n, char *host, size_t cap);

static void kv_add(struct record *r, const char *s, const struct kv *v)
{
	size_t a = v->val, b = v->end;
	dtrim(s, &a, &b);
	while (b > a && strchr(";,|", s[b - 1]) != NULL)
		b--;
	static const char *const tails[] = {"；", "，", "。", "│", NULL};
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; tails[i] != NULL; i++)
			if (b - a >= 3 && memcmp(s + b - 3, tails[i], 3) == 0) {
				b -= 3;
				again = true;
			}
		dtrim(s, &a, &b);
	}
	switch (v->role) {
	case K_NAME:
		r->name = s + a;
		r->name_n = b - a;
		break;
	case K_PURPOSE:
		r->purposes |= scan_words(purpose_words, s + a, b - a, false);
		r->purpose_given = r->purpose_given || b > a;
		break;
	case K_DATA:
		r->data |= scan_words(data_words, s + a, b - a, true);
		r->data_given = r->data_given || b > a;
		break;
	case K_URL:
		first_host(s + a, b - a, r->host, sizeof(r->host));
		r->other_given = true;
		break;
	default:
		r->other_given = r->other_given || b > a;
		break;
	}
}

/* A record's names (a cell may list several: "友盟、极光") become recipients. */
static void record_flush(struct draft *d, struct record *r)
{
	if (r->name == NULL || r->name_n == 0) {
		memset(r, 0, sizeof(*r));
		return;
	}
	const struct dline *l = &d->t.lines[r->line];
	char q[WHERE_CAP];
	quote(q, sizeof(q), l, l->s, l->n);
	bool fields = r->purpose_given || r->data_given || r->other_given;
	for (size_t a = 0; a < r->name_n;) {
		size_t b = a;
		while (b < r->name_n && !(b + 3 <= r->name_n && memcmp(r->name + b, "、", 3) == 0))
			b++;
		if (fields || dmatcher_resolve(d->m, d->db, r->name + a, b - a) != NULL)
			candidate(d, r->name + a, b - a, r->purposes, r->data, r->host, true, false, q);
		a = b + 3;
	}
	memset(r, 0, sizeof(*r));
}

/* Cells of a table row: tabs, '|', '│', or runs of two spaces or more. */
static size_t row_cells(const char *s, size_t n, size_t *at, size_t *len, size_t max)
{
	int sep = memchr(s, '\t', n) ? 't' : memchr(s, '|', n) ? '|' : 0;
	for (size_t i = 0; sep == 0 && i + 3 <= n; i++)
		if (memcmp(s + i, "│", 3) == 0)
			sep = 'b';
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= n && k < max;) {
		size_t w = 0;
		if (i == n)
			w = 1;
		else if (sep == 't' && s[i] == '\t')
			w = 1;
		else if (sep == '|' && s[i] == '|')
			w = 1;
		else if (sep == 'b' && i + 3 <= n && memcmp(s + i, "│", 3) == 0)
			w = 3;
		else if (sep == 0 && i + 1 < n && s[i] == ' ' && s[i + 1] == ' ')
			for (w = 2; i + w < n && s[i + w] == ' '; w++)
				;
		else if (sep == 0 && i + 3 <= n && memcmp(s + i, "\xe3\x80\x80", 3) == 0)
			w = 3;
		if (w == 0) {
			i++;
			continue;
		}
		size_t a = start, b = i;
		dtrim(s, &a, &b);
		if (b > a && !(s[a] == '-' && b - a >= 3 && strspn(s + a, "-: ") >= b - a)) {
			at[k] = a;
			len[k++] = b - a;
		}
		i += w;
		start = i;
	}
	return k;
}

/* The role of a header cell: the longest table key it contains. */
static int header_role(const char *s, size_t n)
{
	size_t best = 0;
	int role = -1;
	for (size_t i = 0; i < sizeof(table_keys) / sizeof(table_keys[0]); i++) {
		size_t l = strlen(table_keys[i].key);
		if (l > best && l <= n && dfind(s, n, table_keys[i].key) != NULL) {
			best = l;
			role = (int)table_keys[i].role;
		}
	}
	return role;
}

struct table {
	int roles[16];
	size_t n;
	bool header;
};

/* One line as a table row; true when it was one (a header or a row of SDKs). */
static bool table_row(struct draft *d, struct table *tb, size_t li)
{
	const struct dline *l = &d->t.lines[li];
	size_t at[16], len[16];
	size_t k = row_cells(l->s, l->n, at, len, 16);
	if (k < 2) {
		tb->header = false;
		return false;
	}
	int roles[16];
	size_t named = 0, with_name = 0;
	for (size_t i = 0; i < k; i++) {
		roles[i] = len[i] <= 60 ? header_role(l->s + at[i], len[i]) : -1;
		named += roles[i] >= 0;
		with_name += roles[i] == K_NAME;
	}
	if (named >= 2 && named * 2 >= k) {
		memcpy(tb->roles, roles, sizeof(roles));
		tb->n = k;
		tb->header = true;
		if (with_name == 0)
			tb->roles[0] = K_NAME;
		return true;
	}
	struct record r = {.line = li};
	if (tb->header) {
		for (size_t i = 0; i < k && i < tb->n; i++) {
			struct kv v = {.role = (enum krole)tb->roles[i], .val = at[i],
				       .end = at[i] + len[i]};
			if (tb->roles[i] >= 0)
				kv_add(&r, l->s, &v);
		}
		if (r.name == NULL || r.name_n > 120)
			return false;
	} else {
		if (!looks_like_sdk(l->s + at[0], len[0]) &&
		    dmatcher_resolve(d->m, d->db, l->s + at[0], len[0]) == NULL)
			return false;
		r.name = l->s + at[0];
		r.name_n = len[0];
		for (size_t i = 1; i < k; i++) {
			r.purposes |= scan_words(purpose_words, l->s + at[i], len[i], false);
			r.data |= scan_words(data_words, l->s + at[i], len[i], true);
		}
		r.purpose_given = r.data_given = true;
	}
	if (r.host[0] == '\0')
		first_host(l->s, l->n, r.host, sizeof(r.host));
	record_flush(d, &r);
	return true;
}

/* Key-value records and table rows, line by line; marks the lines they take. */
static void read_tables(struct draft *d)
{
	struct record r = {0};
	struct table tb = {.header = false};
	bool open = false, last_empty = false;
	for (size_t li = 0; li < d->t.n_lines; li++) {
		const struct dline *l = &d->t.lines[li];
		if (l->n == 0)
			continue;
		struct kv v[MAX_KV];
		size_t k = kv_parse(l->s, l->n, v, MAX_KV);
		bool has_name = false;
		for (size_t i = 0; i < k; i++)
			has_name = has_name || v[i].role == K_NAME;
		if (has_name || (open && k > 0 && v[0].at == 0)) {
			if (has_name && v[0].role == K_NAME && open)
				record_flush(d, &r);
			if (!open || (has_name && v[0].role == K_NAME))
				r = (struct record){.line = li};
			open = true;
			for (size_t i = 0; i < k; i++) {
				if (v[i].role == K_NAME && r.name != NULL && i > 0) {
					record_flush(d, &r);
					r = (struct record){.line = li};
				}
				kv_add(&r, l->s, &v[i]);
			}
			last_empty = k > 0 && v[k - 1].end - v[k - 1].val == 0;
			d->in_table[li] = true;
			continue;
		}
		if (open && last_empty && !l->labelled && k == 0) {
			/* "使用目的：" with the value on the next line */
			struct kv c = {.role = K_OTHER, .val = 0, .end = l->n};
			struct kv prev[MAX_KV];
			const struct dline *pl = &d->t.lines[li - 1];
			size_t pk = kv_parse(pl->s, pl->n, prev, MAX_KV);
			c.role = pk > 0 ? prev[pk - 1].role : K_OTHER;
			kv_add(&r, l->s, &c);
			d->in_table[li] = true;
			last_empty = false;
			continue;
		}
		if (open) {
			record_flush(d, &r);
			open = false;
		}
		if (k == 0 || row_cells(l->s, l->n, (size_t[16]){0}, (size_t[16]){0}, 16) >= 2)
			d->in_table[li] = table_row(d, &tb, li);
		if (!d->in_table[li] && k > 0 && d->controller[0] == '\0')
			for (size_t i = 0; i < k; i++)
				if (v[i].role == K_COMPANY) {
					size_t a = v[i].val, b = v[i].end;
					dtrim(l->s, &a, &b);
					span_copy(d->controller, sizeof(d->controller), l->s + a, b - a);
				}
	}
	if (open)
		record_flush(d, &r);
}

/* ---- addresses ---- */

static bool host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

/* The host at s[i], lower case, trailing dots and dashes off; its end. */
static size_t take_host(const char *s, size_t n, size_t i, char *host, size_t cap)
{
	size_t j = i, k = 0;
	while (j < n && host_char((unsigned char)s[j])) {
		if (k + 1 < cap)
			host[k++] = (char)((s[j] >= 'A' && s[j] <= 'Z') ? s[j] + 32 : s[j]);
		j++;
	}
	while (k > 0 && (host[k - 1] == '.' || host[k - 1] == '-'))
		k--;
	host[k] = '\0';
	return j;
}

/*
 * The next address in s[0..n) from *pos: an e-mail's domain, an http(s) URL's
 * host or a "www." name. False when there is none.
 */
static bool next_host(const char *s, size_t n, size_t *pos, char *host, size_t cap)
{
	for (size_t i = *pos; i < n; i++) {
		if (s[i] == '@' && i > 0 && i + 1 < n) {
			size_t b = i;
			while (b > 0 && (host_char((unsigned char)s[b - 1]) || strchr("_%+", s[b - 1])))
				b--;
			if (b == i)
				continue;
			*pos = take_host(s, n, i + 1, host, cap);
			if (strchr(host, '.') != NULL)
				return true;
			continue;
		}
		if (i > 0 && host_char((unsigned char)s[i - 1]))
			continue;
		size_t from;
		if (i + 7 <= n && strncasecmp(s + i, "http://", 7) == 0)
			from = i + 7;
		else if (i + 8 <= n && strncasecmp(s + i, "https://", 8) == 0)
			from = i + 8;
		else if (i + 4 < n && strncasecmp(s + i, "www.", 4) == 0)
			from = i;
		else
			continue;
		*pos = take_host(s, n, from, host, cap);
		if (strchr(host, '.') != NULL)
			return true;
	}
	*pos = n;
	return false;
}

static void first_host(const char *s, size_t n, char *host, size_t cap)
{
	size_t pos = 0;
	if (!next_host(s, n, &pos, host, cap))
		host[0] = '\0';
}

/* The last k labels of h (all of it when it has fewer). */
static const char *label_tail(const char *h, size_t k)
{
	size_t seen = 0;
	for (size_t i = strlen(h); i > 0; i--)
		if (h[i - 1] == '.' && ++seen == k)
			return h + i;
	return h;
}

/* The registrable part of a host: two labels, three under a known second level. */
static const char *registrable(const char *host)
{
	static const char *const sld[] = {
		"com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "co.uk", "org.uk",
		"ac.uk", "com.hk", "com.tw", "co.jp", "ne.jp", "or.jp", "com.au", "net.au",
		"org.au", "co.kr", "com.sg", "com.br", "co.in", "co.nz", "com.my", "co.id",
		"com.vn", "com.mx", NULL};
	const char *two = label_tail(host, 2);
	for (size_t i = 0; sld[i] != NULL; i++)
		if (strcmp(two, sld[i]) == 0)
			return label_tail(host, 3);
	return two;
}

/* A domain policy.c accepts: labels of letters, digits and '-', not ending in a digit. */
static bool domain_ok(const char *h)
{
	size_t n = strlen(h), lab = 0, labels = 1;
	if (n == 0 || n > 253 || (h[n - 1] >= '0' && h[n - 1] <= '9'))
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (h[i] == '.' || h[i] == '\0') {
			if (lab == 0 || lab > 63 || h[i - 1] == '-' || h[i - lab] == '-')
				return false;
			labels += h[i] == '.';
			lab = 0;
		} else {
			lab++;
		}
	}
	return labels >= 2;
}

/* Addresses of a sentence that names no SDK: the first party's, unless the catalogue knows them. */
static void read_addresses(struct draft *d, const char *s, size_t n, const char *q)
{
	static const char *const not_ours[] = {"gov.cn", "12377.cn", "w3.org", "example.com",
					       "example.org", "example.net", NULL};
	char host[254];
	for (size_t pos = 0; next_host(s, n, &pos, host, sizeof(host));) {
		if (sig_match_host(d->db, host, NULL) != NULL)
			continue;
		const char *reg = registrable(host);
		bool skip = !domain_ok(reg);
		for (size_t i = 0; !skip && not_ours[i] != NULL; i++)
			skip = strcmp(label_tail(reg, 2), not_ours[i]) == 0;
		for (size_t i = 0; !skip && i < d->n_fp; i++)
			skip = strcmp(d->fp[i], reg) == 0;
		if (skip || d->n_fp == MAX_DOMAINS)
			continue;
		snprintf(d->fp[d->n_fp++], sizeof(d->fp[0]), "%s", reg);
		clause_add(d->fp_clause, sizeof(d->fp_clause), q);
	}
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
	bool negated = dfind_any(s, colon, not_used);
	uint32_t purposes = scan_words(purpose_words, s, colon, false);
	static const char *const seps[] = {"、", "，", ",", "；", ";", "。", " and ", "以及", "和",
					   "及", NULL};
	for (size_t a = colon + cl; a < n;) {
		size_t b = a, sl = 0;
		while (b < n && sl == 0) {
			for (size_t k = 0; seps[k] != NULL && sl == 0; k++)
				if (b + strlen(seps[k]) <= n && memcmp(s + b, seps[k], strlen(seps[k])) == 0)
					sl = strlen(seps[k]);
			if (sl == 0)
				b++;
		}
		size_t ia = a, ib = b;
		dtrim(s, &ia, &ib);
		while (ib > ia && (s[ib - 1] == '.' || s[ib - 1] == ' '))
			ib--;
		if (ib - ia >= 3 && memcmp(s + ib - 3, "等", 3) == 0)
			ib -= 3;
		if (ib > ia && ib - ia <= 80)
			candidate(d, s + ia, ib - ia, purposes, 0, NULL, false, negated, q);
		a = b + sl;
	}
}

/* A line that opens with an SDK's name: "Admob SDK(GoogleMobileAds SDK)", "友盟SDK：用于统计". */
static void read_line_start(struct draft *d, const char *s, size_t n, const char *q)
{
	size_t end = n;
	static const char *const stops[] = {"：", ":", "，", ",", "。", "；", ";", " - ", " – ",
					    NULL};
	for (size_t i = 0; i < n && end == n; i++)
		for (size_t k = 0; stops[k] != NULL; k++)
			if (i + strlen(stops[k]) <= n && memcmp(s + i, stops[k], strlen(stops[k])) == 0 &&
			    !(s[i] == ':' && i + 1 < n && s[i + 1] == '/')) {
				end = i;
				break;
			}
	if (!looks_like_sdk(s, end))
		return;
	bool negated = dfind_any(s, n, not_used);
	candidate(d, s, end, scan_words(purpose_words, s + end, n - end, false),
		  scan_words(data_words, s + end, n - end, true), NULL, false, negated, q);
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
 * Catalogue names in a sentence. Purposes and data are read from the clause
 * around a mention when no other SDK is named in it, else from the sentence
 * when it names one SDK only; a list of SDKs gives none of them its words.
 */
static void read_mentions(struct draft *d, const struct dline *l, const char *s, size_t n,
			  bool *named)
{
	struct dmatch mt[16];
	size_t k = 0;
	char q[WHERE_CAP];
	for (size_t pos = 0; k < 16 && dmatcher_next(d->m, s, n, &pos, true, &mt[k]);)
		k++;
	bool list = is_sdk_list(s, n);
	for (size_t i = 0; i < k; i++) {
		quote_at(q, sizeof(q), l, s, n, mt[i].at);
		char text[128];
		span_copy(text, sizeof(text), s + mt[i].at, mt[i].len);
		if (mt[i].e == NULL) {
			review(d, q, "'%s' is the name of several catalogue entries: declare the one "
			       "the app uses", text);
			continue;
		}
		*named = true;
		if (mt[i].e->kind != SIG_SDK)
			continue;
		size_t a, b, others = 0;
		clause_of(s, n, mt[i].at, &a, &b);
		for (size_t j = 0; j < k; j++)
			others += j != i && mt[j].at >= a && mt[j].at < b;
		if (dfind_any(s + a, b - a, not_used)) {
			add_negated(d, mt[i].e, q);
			continue;
		}
		uint32_t p = 0, dt = 0;
		if (!list && others == 0) {
			p = scan_words(purpose_words, s + a, b - a, false);
			dt = scan_words(data_words, s + a, b - a, true);
		}
		if (!list && k == 1) {
			p = p ? p : scan_words(purpose_words, s, n, false);
			dt = dt ? dt : scan_words(data_words, s, n, true);
		}
		add_recip(d, mt[i].e, s + mt[i].at, mt[i].len, p, dt, q);
	}
}

/* Storage regions, the cross-border rule, consent and encryption of one sentence. */
static void read_promises(struct draft *d, const struct dline *l, const char *s, size_t n)
{
	char q[WHERE_CAP];
	for (size_t a = 0; a < n;) {
		size_t ca, cb;
		clause_of(s, n, a, &ca, &cb);
		const char *c = s + ca;
		size_t cn = cb - ca;
		if (dfind_any(c, cn, storage_words)) {
			size_t before = d->n_regions;
			for (size_t i = 0; region_words[i].needle != NULL; i++) {
				if (dfind(c, cn, region_words[i].needle) == NULL)
					continue;
				bool have = false;
				for (size_t j = 0; j < d->n_regions && !have; j++)
					have = strcmp(d->regions[j], region_words[i].what) == 0;
				if (!have && d->n_regions < MAX_REGIONS)
					snprintf(d->regions[d->n_regions++], 4, "%s", region_words[i].what);
				quote_at(q, sizeof(q), l, s, n, ca);
				clause_add(d->reg_clause, sizeof(d->reg_clause), q);
			}
			for (size_t i = 0; vague_places[i] != NULL && d->vague_where[0] == '\0'; i++)
				if (d->n_regions == before && dfind(c, cn, vague_places[i]) != NULL) {
					quote_at(d->vague_where, sizeof(d->vague_where), l, s, n, ca);
					snprintf(d->vague_term, sizeof(d->vague_term), "%s", vague_places[i]);
				}
		}
		/* consent and its purpose in one clause, commas included ("经您同意后，…广告") */
		size_t ka, kb;
		clause_in(s, n, ca, false, &ka, &kb);
		if (dfind_any(s + ka, kb - ka, consent_words)) {
			uint32_t p = scan_words(purpose_words, s + ka, kb - ka, false) &
				     (purpose_bit("advertising") | purpose_bit("analytics") |
				      purpose_bit("push") | purpose_bit("location"));
			if (p != 0) {
				d->consent |= p;
				quote_at(q, sizeof(q), l, s, n, ca);
				clause_add(d->consent_clause, sizeof(d->consent_clause), q);
			}
		}
		a = cb + 1;
		while (a < n && ((unsigned char)s[a] & 0xC0) == 0x80)
			a++;
	}
	const char *w;
	for (size_t i = 0; abroad_words[i] != NULL; i++)
		if ((w = dfind(s, n, abroad_words[i])) != NULL) {
			quote_at(q, sizeof(q), l, s, n, (size_t)(w - s));
			break;
		}
	if (dfind_any(s, n, abroad_words)) {
		int rule = dfind_any(s, n, consent_words) ? XB_WITH_CONSENT
			   : dfind_any(s, n, refusal_words) ? XB_NEVER : -1;
		if (rule >= 0 && d->xb < 0) {
			d->xb = rule;
			snprintf(d->xb_clause, sizeof(d->xb_clause), "%s", q);
		} else if (rule < 0 && d->xb_open[0] == '\0') {
			snprintf(d->xb_open, sizeof(d->xb_open), "%s", q);
		}
	}
	if ((w = encryption_at(s, n)) != NULL) {
		quote_at(q, sizeof(q), l, s, n, (size_t)(w - s));
		bool protocol = strncasecmp(w, "https", 5) == 0 || strncasecmp(w, "tls", 3) == 0 ||
				strncasecmp(w, "ssl", 3) == 0;
		if (protocol || dfind_any(s, n, transit_words)) {
			d->enc = true;
			clause_add(d->enc_clause, sizeof(d->enc_clause), q);
		} else if (d->enc_open[0] == '\0') {
			snprintf(d->enc_open, sizeof(d->enc_open), "%s", q);
		}
	}
}

static void read_prose(struct draft *d)
{
	for (size_t li = 0; li < d->t.n_lines; li++) {
		const struct dline *l = &d->t.lines[li];
		if (l->n == 0)
			continue;
		char lq[WHERE_CAP];
		quote(lq, sizeof(lq), l, l->s, l->n);
		if (d->in_table[li]) {
			read_promises(d, l, l->s, l->n);
			continue;
		}
		read_line_start(d, l->s, l->n, lq);
		for (size_t a = 0; a < l->n;) {
			size_t b = dsent_end(l->s, l->n, a);
			const char *s = l->s + a;
			size_t n = b - a;
			char q[WHERE_CAP];
			quote(q, sizeof(q), l, s, n);
			bool named = false;
			read_mentions(d, l, s, n, &named);
			read_list(d, s, n, q);
			if (!named)
				read_addresses(d, s, n, q);
			read_promises(d, l, s, n);
			if (!named && dfind_any(s, n, collect_words))
				d->fp_data |= scan_words(data_words, s, n, true);
			a = b;
		}
	}
}

/* ---- the app: name, controller, date ---- */

/* The app a title names: "Privacy Policy of X", "X Privacy Policy", "《X隐私政策》". */
static size_t title_app(const char *s, size_t n, size_t *from)
{
	static const char *const before[] = {"Privacy Policy of ", "Privacy Policy for ",
					     "Privacy Notice of ", "Privacy Notice for ", NULL};
	static const char *const after[] = {"隐私政策", "隐私权政策", "个人信息保护政策", "隐私协议",
					    "隐私保护指引", " Privacy Policy", " Privacy Notice",
					    NULL};
	size_t a = 0, b = n;
	for (size_t i = 0; before[i] != NULL; i++) {
		const char *p = dfind(s, n, before[i]);
		if (p != NULL && (size_t)(p - s) + strlen(before[i]) < n) {
			a = (size_t)(p - s) + strlen(before[i]);
			break;
		}
	}
	for (size_t i = 0; a == 0 && after[i] != NULL; i++) {
		const char *p = dfind(s, n, after[i]);
		if (p != NULL)
			b = (size_t)(p - s);
	}
	if (a == 0 && b == n)
		return 0;
	static const char *const wrap[] = {"《", "》", "“", "”", "\"", NULL};
	for (bool again = true; again;) {
		again = false;
		dtrim(s, &a, &b);
		for (size_t i = 0; wrap[i] != NULL; i++) {
			size_t k = strlen(wrap[i]);
			if (b - a >= k && memcmp(s + a, wrap[i], k) == 0)
				a += k, again = true;
			if (b - a >= k && memcmp(s + b - k, wrap[i], k) == 0)
				b -= k, again = true;
		}
	}
	while (b > a && (s[b - 1] == '.' || s[b - 1] == ':'))
		b--;
	*from = a;
	return b - a;
}

static const char *const month_names[] = {"january", "february", "march", "april", "may",
					   "june", "july", "august", "september", "october",
					   "november", "december"};

static bool date_ok(int y, int m, int dd)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1990 || y > 2100 || m < 1 || m > 12 || dd < 0 || dd > mdays[m - 1])
		return false;
	return !(m == 2 && dd == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

/* A date in s: "2024-02-02", "2024/2/2", "2024年2月2日", "August 2020", "2 August 2020". */
static bool find_date(const char *s, size_t n, char *out, size_t cap)
{
	char buf[256];
	span_copy(buf, sizeof(buf), s, n);
	for (const char *p = buf; *p != '\0'; p++) {
		int y, m, dd = 0, used = 0;
		if (p > buf && p[-1] >= '0' && p[-1] <= '9')
			continue;
		if ((sscanf(p, "%4d-%2d-%2d%n", &y, &m, &dd, &used) == 3 ||
		     sscanf(p, "%4d/%2d/%2d%n", &y, &m, &dd, &used) == 3 ||
		     sscanf(p, "%4d.%2d.%2d%n", &y, &m, &dd, &used) == 3 ||
		     sscanf(p, "%4d年%2d月%2d日%n", &y, &m, &dd, &used) == 3) && date_ok(y, m, dd) &&
		    dd > 0) {
			snprintf(out, cap, "%04d-%02d-%02d", y, m, dd);
			return true;
		}
		if (sscanf(p, "%4d年%2d月%n", &y, &m, &used) == 2 && used > 0 && date_ok(y, m, 0)) {
			snprintf(out, cap, "%04d-%02d", y, m);
			return true;
		}
		for (int k = 0; k < 12; k++) {
			size_t ml = strlen(month_names[k]);
			if (strncasecmp(p, month_names[k], ml) != 0)
				continue;
			const char *r = p + ml;
			if (sscanf(r, " %2d, %4d", &dd, &y) == 2 && date_ok(y, k + 1, dd) && dd > 0)
				snprintf(out, cap, "%04d-%02d-%02d", y, k + 1, dd);
			else if (sscanf(r, " %4d", &y) == 1 && date_ok(y, k + 1, 0))
				snprintf(out, cap, "%04d-%02d", y, k + 1);
			else
				continue;
			return true;
		}
	}
	return false;
}

static void read_app(struct draft *d, json_t *app)
{
	static const char *const suffixes[] = {"Ltd.", "Ltd", "Limited", "Inc.", "Inc", "LLC",
					       "GmbH", "Corporation", "Corp.", "有限公司",
					       "有限责任公司", NULL};
	static const char *const dated[] = {"更新", "生效", "发布", "update*", "effective",
					    "date", "日期", NULL};
	const struct dline *title = NULL;
	for (size_t li = 0; li < d->t.n_lines && li < 40; li++) {
		const struct dline *l = &d->t.lines[li];
		if (l->n == 0)
			continue;
		if (title == NULL)
			title = l;
		if (d->date[0] == '\0' && dfind_any(l->s, l->n, dated))
			find_date(l->s, l->n, d->date, sizeof(d->date));
		for (size_t i = 0; d->controller[0] == '\0' && suffixes[i] != NULL && l->n <= 120; i++) {
			size_t k = strlen(suffixes[i]);
			if (l->n > k && strncasecmp(l->s + l->n - k, suffixes[i], k) == 0 &&
			    !memchr(l->s, ':', l->n) && dfind(l->s, l->n, "：") == NULL)
				span_copy(d->controller, sizeof(d->controller), l->s, l->n);
		}
	}
	char name[160] = "", q[WHERE_CAP] = "the whole text";
	size_t from = 0, len = title ? title_app(title->s, title->n, &from) : 0;
	if (len > 0) {
		span_copy(name, sizeof(name), title->s + from, len);
	} else if (title != NULL) {
		span_copy(name, sizeof(name), title->s, title->n);
		quote(q, sizeof(q), title, title->s, title->n);
		review(d, q, "app.name: the title names no app; the title itself is written there. "
		       "Write the app's name");
	} else {
		snprintf(name, sizeof(name), "(untitled)");
		review(d, q, "app.name: the text is empty; write the app's name");
	}
	json_object_set_new(app, "name", json_string(name));
	if (d->controller[0] != '\0')
		json_object_set_new(app, "controller", json_string(d->controller));
	if (d->date[0] != '\0')
		json_object_set_new(app, "policy_date", json_string(d->date));
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
				r->purposes |= purpose_bit(r->e->purposes[j]);
			if (r->purposes == 0)
				r->purposes = purpose_bit("other");
			char p[256];
			bits_text(r->purposes, p, sizeof(p));
			review(d, r->where, "recipients '%s': the text gives no purpose for '%s'; the "
			       "catalogue's (%s) are written: check them against the text", r->e->id,
			       r->named, p);
		}
		if (r->data == 0)
			review(d, r->where, "recipients '%s': the text does not say what data '%s' "
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
			review(d, d->negated_where[i], "recipients '%s': the text names %s as used in "
			       "one place and as not used in another: check the recipient", e->id,
			       e->name);
		else
			review(d, d->negated_where[i], "'%s' (%s) is named only to say it is not used, "
			       "so it is not declared: declare it if the app does use it", e->name,
			       e->id);
	}
	return arr;
}

static void regions_json(struct draft *d, json_t *doc)
{
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
			review(d, d->reg_clause, "cross_border.rule: the text says where data is stored "
			       "but not whether it may leave; 'never' is written, as storing there "
			       "implies: change it if the text allows transfers");
		}
	} else if (d->vague_where[0] != '\0') {
		review(d, d->vague_where, "storage_regions: the text stores data in '%s', which names "
		       "no country: write the country codes (and cross_border with them)",
		       d->vague_term);
	} else if (d->xb < 0) {
		review(d, "the whole text", "storage_regions and cross_border: the text does not say "
		       "where data is stored; without them the declaration makes no regional "
		       "promise");
	}
	if (d->n_regions == 0 && d->xb >= 0)
		review(d, d->xb_clause, "cross_border: the text's rule for transfers abroad reads as "
		       "'%s'; it is not written because no storage region is known: write "
		       "storage_regions and cross_border together", rule);
	if (d->xb < 0 && d->xb_open[0] != '\0')
		review(d, d->xb_open, "cross_border.rule: the text speaks of transfers abroad "
		       "without saying when they are allowed");
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
	read_app(d, app);
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
		review(d, d->fp_clause, "first_party: the domains are those of the text's own "
		       "addresses, and the data the categories its sentences on collection name: "
		       "check both");
	} else {
		review(d, "the whole text", "first_party: the text gives no address of its own "
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
		review(d, "the whole text", "consent_required_for: no sentence ties a purpose to "
		       "consent; decide which purposes need it%s%s%s", p[0] ? " (the recipients': " : "",
		       p, p[0] ? ")" : "");
	}
	if (d->enc) {
		json_object_set_new(doc, "encryption_in_transit",
				    json_pack("{s:b, s:s}", "promised", 1, "clause", d->enc_clause));
	} else if (d->enc_open[0] != '\0') {
		review(d, d->enc_open, "encryption_in_transit: the text promises encryption without "
		       "saying it covers data sent over the network: decide whether it does");
	} else {
		review(d, "the whole text", "encryption_in_transit: the text does not promise "
		       "encryption in transit");
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
		read_tables(d);
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
