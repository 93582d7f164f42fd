/*
 * policy_draft_read.c - the pieces a draft is read into.
 *
 * Receives: sentences of the policy text (policy_draft_text.c's lines) and
 * the draft they go into. Hands on: quotes with their section paths, the
 * review list's entries, the purposes and data categories a clause names,
 * the hosts of its addresses and the first-party domains among them, and
 * the app's name, controller and date from the top of the text.
 */
#include "flowaudit/policy.h"
#include "policy_draft_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int vocab_index(const char *const *v, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], w) == 0)
			return (int)i;
	return -1;
}

uint32_t draft_purpose_bit(const char *p)
{
	size_t n;
	const char *const *v = policy_purposes(&n);
	int i = vocab_index(v, n, p);
	return i < 0 ? 0 : 1u << i;
}

uint32_t draft_category_bit(const char *c)
{
	size_t n;
	const char *const *v = policy_categories(&n);
	if (strcmp(c, "location") == 0)
		return draft_category_bit("precise_location") | draft_category_bit("approx_location");
	int i = vocab_index(v, n, c);
	return i < 0 ? 0 : 1u << i;
}

/* s[0..n) cut at a character boundary to at most cap - 1 bytes (with "..." when cut). */
void draft_span_copy(char *out, size_t cap, const char *s, size_t n)
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
void draft_quote(char *out, size_t cap, const struct dline *l, const char *s, size_t n)
{
	char q[QUOTE_MAX + 64];
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	draft_span_copy(q, QUOTE_MAX + 1, s + a, b - a);
	untab(q, sizeof(q));
	if (l->sec[0] != '\0')
		snprintf(out, cap, "\xc2\xa7%s: '%s'", l->sec, q);
	else
		snprintf(out, cap, "'%s'", q);
}

/* Appends a quote to a clause ("; " between), once, while it fits. */
void draft_clause_add(char *clause, size_t cap, const char *q)
{
	size_t cl = strlen(clause), ql = strlen(q);
	if (strstr(clause, q) != NULL || cl + ql + 3 > cap)
		return;
	snprintf(clause + cl, cap - cl, "%s%s", cl ? "; " : "", q);
}

void draft_review(struct draft *d, const char *where, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *v;
	if (json_array_size(d->review) >= MAX_REVIEW) {
		d->review_dropped++;
		return;
	}
	json_array_foreach(d->review, i, v)
		if (strcmp(json_string_value(json_object_get(v, "what")), what) == 0)
			return;
	json_t *o = json_pack("{s:s, s:s}", "what", what, "where", where);
	if (o == NULL || json_array_append_new(d->review, o) != 0)
		d->oom = true;
}

/* Bits of the words found in s[0..n); data words in a clause that refuses them do not count. */
uint32_t draft_scan(const struct dword *w, const char *s, size_t n, bool data)
{
	uint32_t bits = 0;
	for (size_t a = 0; a < n;) {
		static const char *const seps[] = {"，", "；", "。", ";", NULL};
		size_t sl, b = dsplit(s, n, a, seps, &sl);
		if (!(data && dfind_any(s + a, b - a, dw_not_collected)))
			for (size_t i = 0; w[i].needle != NULL; i++)
				if (dfind(s + a, b - a, w[i].needle) != NULL)
					bits |= data ? draft_category_bit(w[i].what) : draft_purpose_bit(w[i].what);
		a = b + sl;
	}
	return bits;
}

/* The clause (between '，', '；', ';', '。'; with commas false, not '，') of s[0..n) around at. */
void draft_clause_in(const char *s, size_t n, size_t at, bool commas, size_t *a, size_t *b)
{
	static const char *const seps[] = {"；", "。", ";", "，", NULL};
	size_t nsep = commas ? 4 : 3;
	/* from at outwards, so a sentence of many clauses is read once, not once a clause */
	for (*a = at; *a > 0; (*a)--) {
		bool end = false;
		for (size_t k = 0; k < nsep && !end; k++) {
			size_t l = strlen(seps[k]);
			end = *a >= l && memcmp(s + *a - l, seps[k], l) == 0;
		}
		if (end)
			break;
	}
	for (*b = at; *b < n; (*b)++) {
		bool start = false;
		for (size_t k = 0; k < nsep && !start; k++) {
			size_t l = strlen(seps[k]);
			start = *b + l <= n && memcmp(s + *b, seps[k], l) == 0;
		}
		if (start)
			break;
	}
}

void draft_clause_of(const char *s, size_t n, size_t at, size_t *a, size_t *b)
{
	draft_clause_in(s, n, at, true, a, b);
}

/* "HTTPS", "TLS", "SSL" or "encrypt" as a word, not the scheme of a URL ("https://"). */
const char *draft_encryption_at(const char *s, size_t n)
{
	for (size_t i = 0; dw_encryption[i] != NULL; i++)
		for (const char *p = s; p < s + n;) {
			const char *w = dfind(p, (size_t)(s + n - p), dw_encryption[i]);
			if (w == NULL)
				break;
			size_t k = strlen(dw_encryption[i]);
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
void draft_quote_at(char *out, size_t cap, const struct dline *l, const char *s, size_t n,
		     size_t at)
{
	size_t a = 0, b = n;
	dtrim(s, &a, &b);
	if (b - a <= QUOTE_MAX) {
		draft_quote(out, cap, l, s, n);
		return;
	}
	draft_clause_of(s, n, at, &a, &b);
	dtrim(s, &a, &b);
	char q[QUOTE_MAX + 8];
	size_t o = 0;
	if (a > 0)
		o = (size_t)snprintf(q, sizeof(q), "...");
	draft_span_copy(q + o, sizeof(q) - o - 3, s + a, b - a);
	if (b < n && strlen(q) + 4 <= sizeof(q) && strcmp(q + strlen(q) - 3, "...") != 0)
		strcat(q, "...");
	if (l->sec[0] != '\0')
		snprintf(out, cap, "\xc2\xa7%s: '%s'", l->sec, q);
	else
		snprintf(out, cap, "'%s'", q);
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

void draft_first_host(const char *s, size_t n, char *host, size_t cap)
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
void draft_read_addresses(struct draft *d, const char *s, size_t n, const char *q)
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
		draft_clause_add(d->fp_clause, sizeof(d->fp_clause), q);
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
	draft_span_copy(buf, sizeof(buf), s, n);
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

void draft_read_app(struct draft *d, json_t *app)
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
				draft_span_copy(d->controller, sizeof(d->controller), l->s, l->n);
		}
	}
	char name[160] = "", q[WHERE_CAP] = "the whole text";
	size_t from = 0, len = title ? title_app(title->s, title->n, &from) : 0;
	if (len > 0) {
		draft_span_copy(name, sizeof(name), title->s + from, len);
	} else if (title != NULL) {
		draft_span_copy(name, sizeof(name), title->s, title->n);
		draft_quote(q, sizeof(q), title, title->s, title->n);
		draft_review(d, q, "app.name: the title names no app; the title itself is written there. "
		       "Write the app's name");
	} else {
		snprintf(name, sizeof(name), "(untitled)");
		draft_review(d, q, "app.name: the text is empty; write the app's name");
	}
	json_object_set_new(app, "name", json_string(name));
	if (d->controller[0] != '\0')
		json_object_set_new(app, "controller", json_string(d->controller));
	if (d->date[0] != '\0')
		json_object_set_new(app, "policy_date", json_string(d->date));
}

