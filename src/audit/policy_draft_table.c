/*
 * policy_draft_table.c - the SDK tables of a policy text.
 *
 * Receives: the text's lines. Hands on: a candidate SDK name per record,
 * with the purposes and data of its row or block (draft_candidate), and
 * which lines the tables took, so the sentence reader leaves them alone.
 *
 * Layouts: key-value blocks ("SDK名称：友盟+" then "使用目的：统计分析" on
 * the lines after, a value on the line below its key), inline records
 * ("SDK名称：…；使用目的：…；收集个人信息类型：…", "SDK name: … Purpose: …
 * Data collected: …"), and rows of cells split by tabs (HTML cells), '|',
 * '│' or runs of two spaces or more. A header row says which column is the
 * name, the purpose and the data; without one, the first cell is the name
 * when it reads as an SDK's and the other cells give purposes and data.
 */
#include "policy_draft_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int header_role(const char *s, size_t n);

/*
 * A label of at most 45 bytes without spaces or separators that ends in a
 * colon, read by the table keys it holds ("收集个人信息的类型：" is a data
 * key): the keys a text writes in its own words. Such a label never names
 * the SDK ("我们接入的第三方SDK包括：" opens a list, not a record); the name
 * keys are the fixed ones. *colon gets the offset after the colon.
 */
static int label_role(const char *s, size_t n, size_t p, size_t *colon)
{
	static const char *const stops[] = {" ", "\t", "|", ";", ",", "；", "，", "。", "│", NULL};
	for (size_t c = p; c < n && c < p + 45; c++) {
		size_t k = 0;
		for (; stops[k] != NULL; k++)
			if (c + strlen(stops[k]) <= n && memcmp(s + c, stops[k], strlen(stops[k])) == 0)
				break;
		if (stops[k] != NULL)
			return -1;
		bool ascii = s[c] == ':' && !(c + 1 < n && s[c + 1] == '/');
		if (ascii || (c + 3 <= n && memcmp(s + c, "：", 3) == 0)) {
			int role = c > p ? header_role(s + p, c - p) : -1;
			*colon = c + (ascii ? 1 : 3);
			return role == K_NAME ? -1 : role;
		}
	}
	return -1;
}

/* The keys of SDK tables on a line ("SDK名称：A；使用目的：B"), in order. */
static size_t kv_parse(const char *s, size_t n, struct kv *out, size_t max)
{
	/* the bytes a key can start with, so most places are passed over at once */
	bool first[256] = {false};
	for (size_t i = 0; dw_table_keys[i].key != NULL; i++) {
		unsigned char c = (unsigned char)dw_table_keys[i].key[0];
		first[c] = true;
		first[c >= 'A' && c <= 'Z' ? c + 32 : c >= 'a' && c <= 'z' ? c - 32 : c] = true;
	}
	size_t k = 0;
	for (size_t p = 0; p < n && k < max; p++) {
		if (!key_sep_before(s, p))
			continue;
		size_t best = 0, colon = 0;
		enum krole role = K_OTHER;
		for (size_t i = 0; first[(unsigned char)s[p]] && dw_table_keys[i].key != NULL; i++) {
			size_t l = strlen(dw_table_keys[i].key);
			if (l <= best || p + l > n || strncasecmp(s + p, dw_table_keys[i].key, l) != 0)
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
			role = dw_table_keys[i].role;
		}
		if (best == 0 && (p == 0 || s[p - 1] != ' ')) {
			int r = label_role(s, n, p, &colon);
			if (r < 0)
				continue;
			role = (enum krole)r;
		} else if (best == 0) {
			continue;
		}
		if (k > 0)
			out[k - 1].end = p;
		out[k++] = (struct kv){.role = role, .at = p, .val = colon, .end = n};
		p = colon - 1;
	}
	return k;
}

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
		r->purposes |= draft_scan(dw_purposes, s + a, b - a, false);
		r->purpose_given = r->purpose_given || b > a;
		break;
	case K_DATA:
		r->data |= draft_scan(dw_data, s + a, b - a, true);
		r->data_given = r->data_given || b > a;
		break;
	case K_URL:
		draft_first_host(s + a, b - a, r->host, sizeof(r->host));
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
	draft_quote(q, sizeof(q), l, l->s, l->n);
	bool fields = r->purpose_given || r->data_given || r->other_given;
	for (size_t a = 0; a < r->name_n;) {
		size_t b = a;
		while (b < r->name_n && !(b + 3 <= r->name_n && memcmp(r->name + b, "、", 3) == 0))
			b++;
		if (fields || dmatcher_resolve(d->m, r->name + a, b - a) != NULL)
			draft_candidate(d, r->name + a, b - a, r->purposes, r->data, r->host, true, false, q);
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
	for (size_t i = 0; dw_table_keys[i].key != NULL; i++) {
		size_t l = strlen(dw_table_keys[i].key);
		if (l > best && l <= n && dfind(s, n, dw_table_keys[i].key) != NULL) {
			best = l;
			role = (int)dw_table_keys[i].role;
		}
	}
	return role;
}

struct table {
	int roles[16];
	size_t n;
	bool header;
};

/*
 * The other cells of a row: each piece of a cell ("Firebase Auth, Firestore,
 * Crashlytics") that is exactly a catalogue name is a recipient too, with the
 * row's purposes and data. Data cells are not read: a name there says what
 * is collected ("MIUI"), not who receives it.
 */
static void row_names(struct draft *d, const struct record *r, const char *s, const size_t *at,
		      const size_t *len, const int *roles, size_t k)
{
	static const char *const seps[] = {",", "，", "、", ";", "；", " / ", " and ", NULL};
	const struct dline *l = &d->t.lines[r->line];
	char q[WHERE_CAP];
	draft_quote(q, sizeof(q), l, l->s, l->n);
	for (size_t i = 0; i < k; i++) {
		if (roles != NULL && roles[i] != K_NAME && roles[i] != K_OTHER && roles[i] != -1)
			continue;
		const char *c = s + at[i];
		for (size_t a = 0; a < len[i];) {
			size_t sl, b = dsplit(c, len[i], a, seps, &sl);
			size_t ia = a, ib = b;
			dtrim(c, &ia, &ib);
			const struct sig_entry *e =
				ib > ia ? dmatcher_exact(d->m, c + ia, ib - ia) : NULL;
			if (e == NULL && ib > ia) {
				/* "Firebase Cloud Messaging (FCM)" */
				draft_drop_paren(c, ia, &ib);
				e = ib > ia ? dmatcher_exact(d->m, c + ia, ib - ia) : NULL;
			}
			if (e != NULL && (c + ia < r->name || c + ia >= r->name + r->name_n))
				draft_candidate(d, c + ia, ib - ia, r->purposes, r->data, NULL, true,
						false, q);
			a = b + sl;
		}
	}
}

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
	bool sdk_cell = false; /* a header names no SDK: "Maps SDK" in a row is a value */
	for (size_t i = 0; i < k; i++) {
		roles[i] = len[i] <= 60 ? header_role(l->s + at[i], len[i]) : -1;
		named += roles[i] >= 0;
		with_name += roles[i] == K_NAME;
		sdk_cell = sdk_cell || dmatcher_exact(d->m, l->s + at[i], len[i]) != NULL;
	}
	if (named >= 2 && named * 2 >= k && !sdk_cell) {
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
		if (!draft_looks_like_sdk(l->s + at[0], len[0]) &&
		    dmatcher_resolve(d->m, l->s + at[0], len[0]) == NULL)
			return false;
		r.name = l->s + at[0];
		r.name_n = len[0];
		for (size_t i = 1; i < k; i++) {
			r.purposes |= draft_scan(dw_purposes, l->s + at[i], len[i], false);
			r.data |= draft_scan(dw_data, l->s + at[i], len[i], true);
		}
		r.purpose_given = r.data_given = true;
	}
	if (r.host[0] == '\0')
		draft_first_host(l->s, l->n, r.host, sizeof(r.host));
	struct record whole = r;
	record_flush(d, &r);
	row_names(d, &whole, l->s, at, len, tb->header ? tb->roles : NULL, k);
	return true;
}

/* Key-value records and table rows, line by line; marks the lines they take. */
void draft_read_tables(struct draft *d)
{
	struct record r = {0};
	struct table tb = {.header = false};
	bool open = false, last_empty = false;
	enum krole last_role = K_OTHER;
	size_t name_line = SIZE_MAX, prev = SIZE_MAX; /* a line that is an SDK's name alone */
	for (size_t li = 0; li < d->t.n_lines; li++) {
		const struct dline *l = &d->t.lines[li];
		if (l->n == 0)
			continue;
		struct kv v[MAX_KV];
		size_t k = kv_parse(l->s, l->n, v, MAX_KV);
		bool has_name = false;
		for (size_t i = 0; i < k; i++)
			has_name = has_name || v[i].role == K_NAME;
		bool named_above = !open && k > 0 && v[0].at == 0 && name_line == prev &&
				   prev != SIZE_MAX && v[0].role != K_OTHER && v[0].role != K_COMPANY;
		if (has_name || (open && k > 0 && v[0].at == 0) || named_above) {
			if (has_name && v[0].role == K_NAME && open)
				record_flush(d, &r);
			if (named_above) {
				/* "1. 友盟统计SDK" on a line, then "使用目的：…" under it */
				const struct dline *nl = &d->t.lines[name_line];
				r = (struct record){.line = name_line, .name = nl->s, .name_n = nl->n};
				d->in_table[name_line] = true;
			} else if (!open || (has_name && v[0].role == K_NAME)) {
				r = (struct record){.line = li};
			}
			open = true;
			for (size_t i = 0; i < k; i++) {
				if (v[i].role == K_NAME && r.name != NULL && i > 0) {
					record_flush(d, &r);
					r = (struct record){.line = li};
				}
				kv_add(&r, l->s, &v[i]);
			}
			last_empty = k > 0 && v[k - 1].end - v[k - 1].val == 0;
			last_role = k > 0 ? v[k - 1].role : K_OTHER;
			d->in_table[li] = true;
			prev = li;
			continue;
		}
		if (open && last_empty && !l->labelled && k == 0) {
			/* "使用目的：" with the value on the next line */
			struct kv c = {.role = last_role, .val = 0, .end = l->n};
			kv_add(&r, l->s, &c);
			d->in_table[li] = true;
			last_empty = false;
			prev = li;
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
					draft_span_copy(d->controller, sizeof(d->controller), l->s + a, b - a);
				}
		if (!d->in_table[li] && k == 0 &&
		    (draft_looks_like_sdk(l->s, l->n) || dmatcher_exact(d->m, l->s, l->n) != NULL))
			name_line = li;
		prev = li;
	}
	if (open)
		record_flush(d, &r);
}
