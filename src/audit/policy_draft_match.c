/*
 * policy_draft_match.c - the catalogue's names found in a policy's text.
 *
 * Receives: the signature catalogue, then pieces of text. Hands on: each
 * place a catalogue entry is named, the longest name at each place, and the
 * entry a candidate name (a table cell, a list item) stands for.
 *
 * The names are the entries' aliases, their names, and the parts of a name
 * a policy writes alone: "Google Mobile Ads (AdMob)" is also "Google Mobile
 * Ads" and "AdMob", "Amap / Gaode (AutoNavi) ..." also "Amap" and "Gaode".
 * A derived name that two entries share names neither; an alias always
 * wins over a name, a name over a derived part. An entry for a company's
 * "other services" is named only by its aliases and full name: the company's
 * name alone ("Google") does not say which of its SDKs is meant.
 *
 * Names compare by their keys (sig_alias_key: ASCII case folded; spaces,
 * '-', '_', '.', '·', '・' dropped), so "Google Mobile Ads" in the text
 * matches the key "googlemobileads" however it is spaced. ASCII names match
 * on word boundaries ("AdMobSDK" is AdMob followed by "SDK"); Chinese ones
 * anywhere. The keys are sorted by their first two bytes, longest first, so
 * a place in the text is tried against a handful of keys, not all of them.
 */
#include "policy_draft_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dkey {
	char key[SIG_MAX_ALIAS + 1];
	size_t len;
	const struct sig_entry *e; /* NULL: the key names several entries */
	int tier; /* 0 alias, 1 name, 2 main name, 3 its parts, 4 parenthesised, 5 id */
};

#define TIER_ID 5 /* an id names an entry in a table cell, never in running text */

struct dmatcher {
	struct dkey *k;
	size_t n, cap;
};

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Bytes the key drops at s[i] (sig_alias_key's set); 0 when s[i] counts. */
static size_t drop_at(const char *s, size_t n, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-' || c == '_' || c == '.')
		return 1;
	if (i + 1 < n && c == 0xC2 && (unsigned char)s[i + 1] == 0xB7)
		return 2;
	if (i + 2 < n && c == 0xE3 && ((memcmp(s + i, "\xe3\x80\x80", 3) == 0) ||
				       memcmp(s + i, "\xe3\x83\xbb", 3) == 0))
		return 3;
	return 0;
}

static int add_key(struct dmatcher *m, const char *text, size_t tn, const struct sig_entry *e,
		   int tier)
{
	char buf[SIG_MAX_ALIAS * 2 + 1];
	if (tn == 0 || tn >= sizeof(buf))
		return FA_OK;
	memcpy(buf, text, tn);
	buf[tn] = '\0';
	struct dkey k = {.e = e, .tier = tier};
	k.len = sig_alias_key(buf, k.key, sizeof(k.key));
	if (k.len < 3)
		return FA_OK;
	if (m->n == m->cap) {
		size_t nc = m->cap ? 2 * m->cap : 256;
		struct dkey *nv = realloc(m->k, nc * sizeof(*nv));
		if (nv == NULL)
			return FA_ERUNTIME;
		m->k = nv;
		m->cap = nc;
	}
	m->k[m->n++] = k;
	return FA_OK;
}

/* The parts of a name: before " (" (split at " / "), and a one-word parenthesis. */
static int add_name_parts(struct dmatcher *m, const struct sig_entry *e)
{
	const char *name = e->name, *open = strstr(name, " (");
	size_t main = open ? (size_t)(open - name) : strlen(name);
	if (open != NULL && strncmp(open, " (other ", 8) == 0)
		return FA_OK;
	int rc = add_key(m, name, main, e, 2);
	for (const char *p = name; rc == FA_OK;) {
		const char *sl = strstr(p, " / ");
		if (sl == NULL || sl >= name + main) {
			if (p != name)
				rc = add_key(m, p, (size_t)(name + main - p), e, 3);
			break;
		}
		rc = add_key(m, p, (size_t)(sl - p), e, 3);
		p = sl + 3;
	}
	if (open == NULL || rc != FA_OK)
		return rc;
	/* "(AdMob)" is a name; a lower-case "(global)" qualifies the name and is none */
	const char *in = open + 2, *close = strchr(in, ')');
	if (close == NULL || memchr(in, ' ', (size_t)(close - in)) ||
	    memchr(in, ',', (size_t)(close - in)) || (*in >= 'a' && *in <= 'z'))
		return rc;
	for (const char *p = in; rc == FA_OK && p < close;) {
		const char *sl = memchr(p, '/', (size_t)(close - p));
		const char *end = sl ? sl : close;
		rc = add_key(m, p, (size_t)(end - p), e, 4);
		p = end + 1;
	}
	return rc;
}

/* Length of the first word of s when more words follow; 0 when s is one word. */
static size_t first_word(const char *s)
{
	const char *sp = strchr(s, ' ');
	return sp ? (size_t)(sp - s) : 0;
}

/*
 * A product family: the first word that several entries' names share and
 * that is not their company's name ("Firebase" of "Firebase Crashlytics" and
 * "Firebase Remote Config", not "Google" or "Tencent"). Written alone it
 * says neither product, so it names several entries: the text is reviewed.
 */
static int add_family(struct dmatcher *m, const struct sig_db *db, const struct sig_entry *e)
{
	size_t w = first_word(e->name);
	if (w < 4 || (e->entity != NULL && strncasecmp(e->entity, e->name, w) == 0))
		return FA_OK;
	for (size_t i = 0; i < sig_db_count(db); i++) {
		const struct sig_entry *o = sig_db_entry(db, i);
		if (o != e && first_word(o->name) == w && strncasecmp(o->name, e->name, w) == 0)
			return add_key(m, e->name, w, e, 3);
	}
	return FA_OK;
}

static int cmp_key_tier(const void *a, const void *b)
{
	const struct dkey *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->tier - y->tier;
}

/* By the first two bytes, then longest first. */
static int cmp_bucket(const void *a, const void *b)
{
	const struct dkey *x = a, *y = b;
	int c = memcmp(x->key, y->key, 2);
	if (c != 0)
		return c;
	return x->len < y->len ? 1 : x->len > y->len ? -1 : strcmp(x->key, y->key);
}

struct dmatcher *dmatcher_new(const struct sig_db *db)
{
	struct dmatcher *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	int rc = FA_OK;
	for (size_t i = 0; rc == FA_OK && i < sig_db_count(db); i++) {
		const struct sig_entry *e = sig_db_entry(db, i);
		for (size_t j = 0; rc == FA_OK && j < e->n_aliases; j++)
			rc = add_key(m, e->aliases[j], strlen(e->aliases[j]), e, 0);
		if (rc == FA_OK)
			rc = add_key(m, e->name, strlen(e->name), e, 1);
		if (rc == FA_OK)
			rc = add_name_parts(m, e);
		if (rc == FA_OK)
			rc = add_key(m, e->id, strlen(e->id), e, TIER_ID);
	}
	for (size_t i = 0; rc == FA_OK && i < sig_db_count(db); i++)
		rc = add_family(m, db, sig_db_entry(db, i));
	if (rc != FA_OK) {
		dmatcher_free(m);
		return NULL;
	}
	/* one key per text: the lowest tier wins; two entries at that tier name neither */
	if (m->n > 0)
		qsort(m->k, m->n, sizeof(*m->k), cmp_key_tier);
	size_t o = 0;
	for (size_t i = 0; i < m->n;) {
		size_t j = i + 1;
		struct dkey k = m->k[i];
		for (; j < m->n && strcmp(m->k[j].key, k.key) == 0; j++)
			if (m->k[j].tier == k.tier && m->k[j].e != k.e)
				k.e = NULL;
		m->k[o++] = k;
		i = j;
	}
	m->n = o;
	if (m->n > 0)
		qsort(m->k, m->n, sizeof(*m->k), cmp_bucket);
	return m;
}

void dmatcher_free(struct dmatcher *m)
{
	if (m == NULL)
		return;
	free(m->k);
	free(m);
}

/* The first key whose first two bytes are two's (or where they would be). */
static size_t bucket(const struct dmatcher *m, const char *two)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(m->k[mid].key, two, 2) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* End of the folded text at p equal to key; 0 when it differs. */
static size_t fold_match(const char *s, size_t n, size_t p, const char *key, size_t klen)
{
	size_t i = p, j = 0, d;
	while (j < klen) {
		if (i >= n)
			return 0;
		if (j > 0 && (d = drop_at(s, n, i)) > 0) {
			i += d;
			continue;
		}
		if (lower((unsigned char)s[i]) != (unsigned char)key[j])
			return 0;
		i++;
		j++;
	}
	return i;
}

/* True when "SDK" (any case) follows s[end], after spaces. */
static bool sdk_follows(const char *s, size_t n, size_t end)
{
	while (end < n && s[end] == ' ')
		end++;
	return end + 3 <= n && lower((unsigned char)s[end]) == 's' &&
	       lower((unsigned char)s[end + 1]) == 'd' && lower((unsigned char)s[end + 2]) == 'k' &&
	       (end + 3 == n || !ascii_alnum((unsigned char)s[end + 3]));
}

/* A name that is also a word counts in running text only when written as a name. */
static bool written_as_name(const char *s, size_t n, size_t at, size_t end)
{
	if (sdk_follows(s, n, end))
		return true;
	bool first_upper = s[at] >= 'A' && s[at] <= 'Z', inner_upper = false;
	for (size_t i = at + 1; i < end; i++)
		inner_upper = inner_upper || (s[i] >= 'A' && s[i] <= 'Z');
	if (inner_upper)
		return true;
	bool sentence_start = true;
	for (size_t i = 0; i < at && sentence_start; i++)
		sentence_start = !ascii_alnum((unsigned char)s[i]) && (unsigned char)s[i] < 0x80;
	return first_upper && !sentence_start;
}

static bool key_ascii(const struct dkey *k)
{
	for (size_t i = 0; i < k->len; i++)
		if ((unsigned char)k->key[i] >= 0x80)
			return false;
	return true;
}

bool dmatcher_next(const struct dmatcher *m, const char *s, size_t n, size_t *pos, bool prose,
		   struct dmatch *out)
{
	for (size_t p = *pos; p < n; p++) {
		unsigned char c = (unsigned char)s[p];
		if ((c & 0xC0) == 0x80 || drop_at(s, n, p) > 0)
			continue;
		if (ascii_alnum(c) && p > 0 && ascii_alnum((unsigned char)s[p - 1]))
			continue;
		/* the first two folded bytes at p */
		char two[2];
		size_t q = p, got = 0, d;
		while (q < n && got < 2) {
			if (got > 0 && (d = drop_at(s, n, q)) > 0) {
				q += d;
				continue;
			}
			two[got++] = (char)lower((unsigned char)s[q++]);
		}
		if (got < 2)
			return false;
		for (size_t i = bucket(m, two); i < m->n && memcmp(m->k[i].key, two, 2) == 0; i++) {
			const struct dkey *k = &m->k[i];
			if (k->tier == TIER_ID)
				continue;
			size_t end = fold_match(s, n, p, k->key, k->len);
			if (end == 0)
				continue;
			unsigned char last = (unsigned char)k->key[k->len - 1];
			if (ascii_alnum(last) && end < n && ascii_alnum((unsigned char)s[end]) &&
			    !sdk_follows(s, n, end))
				continue;
			if (prose && key_ascii(k) && !written_as_name(s, n, p, end))
				continue;
			out->e = k->e;
			out->at = p;
			out->len = end - p;
			*pos = end;
			return true;
		}
	}
	*pos = n;
	return false;
}

/* s[0..n) into buf without surrounding quotes, brackets and spaces. */
static const char *clean(const char *s, size_t n, char *buf, size_t cap)
{
	static const char *const wrap[] = {"《", "》", "“", "”", "\"", "'", "「", "」", "【", "】",
					   NULL};
	size_t a = 0, b = n;
	for (bool again = true; again;) {
		again = false;
		dtrim(s, &a, &b);
		for (size_t i = 0; wrap[i] != NULL; i++) {
			size_t k = strlen(wrap[i]);
			if (b - a >= k && memcmp(s + a, wrap[i], k) == 0) {
				a += k;
				again = true;
			}
			if (b - a >= k && memcmp(s + b - k, wrap[i], k) == 0) {
				b -= k;
				again = true;
			}
		}
	}
	size_t len = b - a < cap - 1 ? b - a : cap - 1;
	while (len > 0 && len < b - a && ((unsigned char)s[a + len] & 0xC0) == 0x80)
		len--;
	memcpy(buf, s + a, len);
	buf[len] = '\0';
	return buf;
}

/* The entry whose key is exactly that of name; NULL when none or several. */
static const struct sig_entry *find_exact(const struct dmatcher *m, const char *name)
{
	char key[SIG_MAX_ALIAS + 1];
	if (sig_alias_key(name, key, sizeof(key)) < 2)
		return NULL;
	for (size_t i = bucket(m, key); i < m->n && memcmp(m->k[i].key, key, 2) == 0; i++)
		if (strcmp(m->k[i].key, key) == 0)
			return m->k[i].e;
	return NULL;
}

/* The entry named by buf exactly, or by buf without a trailing "SDK". */
static const struct sig_entry *exact(const struct dmatcher *m, char *buf)
{
	const struct sig_entry *e = find_exact(m, buf);
	size_t l = strlen(buf);
	if (e == NULL && l > 3 && strcasecmp(buf + l - 3, "sdk") == 0) {
		buf[l - 3] = '\0';
		e = find_exact(m, buf);
	}
	return e;
}

const struct sig_entry *dmatcher_exact(const struct dmatcher *m, const char *s, size_t n)
{
	char buf[256];
	return n < sizeof(buf) ? exact(m, (char *)clean(s, n, buf, sizeof(buf))) : NULL;
}

const struct sig_entry *dmatcher_resolve(const struct dmatcher *m, const char *s, size_t n)
{
	char buf[256];
	const struct sig_entry *e = exact(m, (char *)clean(s, n, buf, sizeof(buf)));
	if (e != NULL)
		return e;
	/* the pieces of "Admob SDK(GoogleMobileAds SDK)", "友盟+/U-App" */
	static const char *const seps[] = {"(", ")", "（", "）", "/", "／", "、", ",", "，", ";", "；",
					   NULL};
	for (size_t i = 0; i < n && e == NULL;) {
		size_t sl, j = dsplit(s, n, i, seps, &sl);
		if (j > i)
			e = exact(m, (char *)clean(s + i, j - i, buf, sizeof(buf)));
		i = j + sl;
	}
	struct dmatch mt;
	for (size_t pos = 0; e == NULL && dmatcher_next(m, s, n, &pos, false, &mt);)
		e = mt.e;
	return e;
}
