/*
 * report_text.c - output, escaping and a look at one finding for the
 * markup writers (report_text.h).
 *
 * Receives findings from a struct report_findings and hands the writers
 * their members as C strings and integers; owns the text and the tokens of
 * the finding last loaded. The workload is a report of tens of thousands
 * of findings, each read once by each writer: on the bench workload a
 * finding as JSON text (about 1.4 kB) costs some 34,000 instructions to
 * write and split (two thirds of them writing it), a jansson object of it
 * 79,000 (a malloc per member), and one without its arrays 32,000.
 *
 * The text comes from jsonw or jansson and is well formed; the splitter
 * still checks every byte it reads against the end, and its separators and
 * brackets, and a text it cannot split is a finding that is not there.
 */
#include "report_text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- output ---- */

void rt_dec(struct jsonw *o, long long v)
{
	char num[24];
	jsonw_raw(o, num, (size_t)(fa_put_int(num, (int64_t)v) - num));
}

void rt_printf(struct jsonw *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		jsonw_raw(o, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL) {
		o->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	jsonw_raw(o, big, (size_t)n);
	free(big);
}

enum { CLS_PLAIN, CLS_END, CLS_EF, REP }; /* rep[] indices start at REP */

/* C0 controls but tab, newline and carriage return */
#define CONTROLS(x)                                                                               \
	[1] = (x), [2] = (x), [3] = (x), [4] = (x), [5] = (x), [6] = (x), [7] = (x), [8] = (x),   \
	[11] = (x), [12] = (x), [14] = (x), [15] = (x), [16] = (x), [17] = (x), [18] = (x),       \
	[19] = (x), [20] = (x), [21] = (x), [22] = (x), [23] = (x), [24] = (x), [25] = (x),       \
	[26] = (x), [27] = (x), [28] = (x), [29] = (x), [30] = (x), [31] = (x)

const struct rt_escapes rt_xml = {
	.cls = {[0] = CLS_END, ['&'] = REP, ['<'] = REP + 1, ['>'] = REP + 2, ['"'] = REP + 3,
		['\''] = REP + 4, ['\n'] = REP + 5, ['\r'] = REP + 6, ['\t'] = REP + 7,
		CONTROLS(REP + 8), [0x7f] = REP + 8, [0xef] = CLS_EF},
	.rep = {[REP] = "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#13;", "&#9;", ""},
};

const struct rt_escapes rt_html = {
	.cls = {[0] = CLS_END, ['&'] = REP, ['<'] = REP + 1, ['>'] = REP + 2, ['"'] = REP + 3,
		['\''] = REP + 4, CONTROLS(REP + 5), ['\r'] = REP + 5, [0x7f] = REP + 5},
	.rep = {[REP] = "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "\xef\xbf\xbd"},
};

void rt_esc(struct jsonw *o, const char *s, const struct rt_escapes *e)
{
	if (s == NULL)
		return;
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (;;) {
		/* four at a time: a NUL stops the test before the bytes after it */
		while (e->cls[p[0]] == CLS_PLAIN && e->cls[p[1]] == CLS_PLAIN &&
		       e->cls[p[2]] == CLS_PLAIN && e->cls[p[3]] == CLS_PLAIN)
			p += 4;
		while (e->cls[*p] == CLS_PLAIN)
			p++;
		unsigned k = e->cls[*p];
		if (k == CLS_END)
			break;
		size_t skip = 1;
		if (k == CLS_EF) {
			if (!(p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))) {
				p++;
				continue;
			}
			skip = 3; /* U+FFFE, U+FFFF: XML 1.0 has no such character */
		}
		jsonw_raw(o, (const char *)run, (size_t)(p - run));
		if (k != CLS_EF)
			rt_put(o, e->rep[k]);
		p += skip;
		run = p;
	}
	jsonw_raw(o, (const char *)run, (size_t)(p - run));
}

/* ---- one finding ---- */

enum { T_OBJ, T_ARR, T_STR, T_PRIM };

int rt_finding_open(struct rt_finding *v)
{
	memset(v, 0, sizeof(*v));
	v->mem = open_memstream(&v->buf, &v->size);
	if (v->mem == NULL)
		return FA_ERUNTIME;
	if (jsonw_open_text(&v->w, v->mem) != FA_OK) {
		fclose(v->mem);
		free(v->buf);
		v->mem = NULL;
		return FA_ERUNTIME;
	}
	return FA_OK;
}

void rt_finding_close(struct rt_finding *v)
{
	if (v->mem != NULL) {
		jsonw_close(&v->w);
		fclose(v->mem);
	}
	free(v->buf);
	free(v->tok);
	free(v->stack);
	memset(v, 0, sizeof(*v));
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap * 2 : 256;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (q == NULL)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* Where the string opening at s[i] ('"') ends (after its quote); 0 when
   it does not. A quote ends it unless an odd run of backslashes comes
   before it. */
static size_t string_end(const char *s, size_t i, size_t n)
{
	size_t j = i + 1;
	for (;;) {
		const char *q = j < n ? memchr(s + j, '"', n - j) : NULL;
		if (q == NULL)
			return 0;
		size_t k = (size_t)(q - s), b = 0;
		while (k - b > i + 1 && s[k - b - 1] == '\\')
			b++;
		if (b % 2 == 0)
			return k + 1;
		j = k + 1;
	}
}

/* Where a number, true, false or null ends: at a separator, a bracket,
   a quote or a space. */
static bool primitive_byte(char c)
{
	return c != ',' && c != '}' && c != ']' && c != ':' && c != '"' && (unsigned char)c > ' ';
}

/*
 * Splits s[0..n) into tokens, in the order their values start: a
 * container's members or elements follow it, an object's as key, value,
 * key, value. false when the text is not one JSON value (separators and
 * brackets are checked; what a number or a word says is read later).
 */
static bool split(struct rt_finding *v, const char *s, size_t n)
{
	size_t depth = 0, i = 0;
	char sep = 0; /* the ',' or ':' since the last value */
	v->n_tok = 0;
	if (n > UINT32_MAX)
		return false;
	while (i < n) {
		char c = s[i];
		if (c == ',' || c == ':') {
			if (sep != 0 || depth == 0)
				return false;
			sep = c;
			i++;
			continue;
		}
		if (c == '}' || c == ']') {
			if (depth == 0 || sep != 0)
				return false;
			struct rt_open *o = &v->stack[depth - 1];
			struct rt_tok *t = &v->tok[o->tok];
			if (o->object != (c == '}') || (o->object && o->n % 2 != 0))
				return false;
			t->end = (uint32_t)(i + 1);
			t->next = (uint32_t)v->n_tok;
			depth--;
			i++;
			continue;
		}
		/* a value: the first at the top, or in its container after the
		   separator its place there asks for */
		if (depth == 0) {
			if (v->n_tok > 0)
				return false;
		} else {
			struct rt_open *o = &v->stack[depth - 1];
			char want = o->n == 0 ? 0 : o->object && o->n % 2 == 1 ? ':' : ',';
			if (sep != want || (o->object && o->n % 2 == 0 && c != '"'))
				return false;
			o->n++;
		}
		sep = 0;
		if (v->n_tok == v->cap_tok &&
		    !grow((void **)&v->tok, &v->cap_tok, v->n_tok + 1, sizeof(*v->tok)))
			return false;
		struct rt_tok *t = &v->tok[v->n_tok];
		t->start = (uint32_t)i;
		t->decoded = false;
		if (c == '{' || c == '[') {
			if (depth == v->cap_stack &&
			    !grow((void **)&v->stack, &v->cap_stack, depth + 1, sizeof(*v->stack)))
				return false;
			t->type = c == '{' ? T_OBJ : T_ARR;
			v->stack[depth++] = (struct rt_open){(uint32_t)v->n_tok++, 0, c == '{'};
			i++;
			continue;
		}
		size_t e;
		if (c == '"') {
			t->type = T_STR;
			if ((e = string_end(s, i, n)) == 0)
				return false;
		} else {
			t->type = T_PRIM;
			for (e = i; e < n && primitive_byte(s[e]); e++)
				;
			if (e == i || !(c == '-' || (unsigned)c - '0' < 10 || c == 't' ||
					c == 'f' || c == 'n'))
				return false;
		}
		t->end = (uint32_t)e;
		t->next = (uint32_t)++v->n_tok;
		i = e;
	}
	return depth == 0 && v->n_tok > 0;
}

static unsigned key_hash(const char *k, size_t n)
{
	return n == 0 ? 0
		      : ((unsigned)n * 131u + (unsigned char)k[0] * 31u +
			 (unsigned char)k[n / 2] * 7u + (unsigned char)k[n - 1]) %
			    RT_SLOTS;
}

/* The finding's own members, by key: a slot holds the key's token + 1, an
   equal key later in the object taking the place of the earlier one. */
static void index_root(struct rt_finding *v)
{
	memset(v->slot, 0, sizeof(v->slot));
	for (uint32_t k = 1; k + 1 < v->tok[0].next; k = v->tok[k + 1].next) {
		const char *key = v->buf + v->tok[k].start + 1;
		size_t n = v->tok[k].end - v->tok[k].start - 2;
		unsigned h = key_hash(key, n);
		for (size_t probe = 0; probe < RT_SLOTS; probe++, h = (h + 1) % RT_SLOTS) {
			uint32_t sl = v->slot[h];
			if (sl == 0 || (v->tok[sl - 1].end - v->tok[sl - 1].start == n + 2 &&
					memcmp(v->buf + v->tok[sl - 1].start + 1, key, n) == 0)) {
				v->slot[h] = k + 1;
				break;
			}
		}
	}
}

/* Finding i, written by members (when not NULL) or served by fs->get. */
static bool load(struct rt_finding *v, const struct report_findings *fs, size_t i,
		 void (*members)(struct jsonw *, size_t, void *))
{
	v->loaded = false;
	v->n_tok = 0;
	if (v->mem == NULL || fseeko(v->mem, 0, SEEK_SET) != 0)
		return false;
	if (members != NULL) {
		jsonw_object(&v->w, NULL);
		members(&v->w, i, fs->user);
		jsonw_end(&v->w);
	} else {
		json_t *f = fs->get(i, fs->user);
		if (!json_is_object(f)) {
			json_decref(f);
			return false;
		}
		jsonw_value(&v->w, NULL, f);
		json_decref(f);
	}
	jsonw_flush(&v->w);
	if (v->w.failed) { /* a writer that failed stays failed: start another */
		jsonw_close(&v->w);
		if (jsonw_open_text(&v->w, v->mem) != FA_OK) {
			fclose(v->mem);
			v->mem = NULL;
		}
		return false;
	}
	off_t len = fflush(v->mem) == 0 ? ftello(v->mem) : -1;
	if (len <= 0 || !split(v, v->buf, (size_t)len) || v->tok[0].type != T_OBJ)
		return false;
	v->loaded = true;
	index_root(v);
	return true;
}

bool rt_finding_load(struct rt_finding *v, const struct report_findings *fs, size_t i)
{
	return load(v, fs, i, fs->members);
}

bool rt_finding_load_brief(struct rt_finding *v, const struct report_findings *fs, size_t i)
{
	return load(v, fs, i, fs->members_brief ? fs->members_brief : fs->members);
}

int rt_get(const struct rt_finding *v, int t, const char *key)
{
	if (!v->loaded || t < 0 || v->tok[t].type != T_OBJ)
		return -1;
	size_t klen = strlen(key);
	int found = -1;
	if (t == RT_ROOT) {
		unsigned h = key_hash(key, klen);
		for (size_t probe = 0; probe < RT_SLOTS; probe++, h = (h + 1) % RT_SLOTS) {
			uint32_t sl = v->slot[h];
			if (sl == 0)
				break;
			const struct rt_tok *kt = &v->tok[sl - 1];
			if (kt->end - kt->start == klen + 2 &&
			    (klen == 0 || v->buf[kt->start + 1] == key[0]) &&
			    memcmp(v->buf + kt->start + 1, key, klen) == 0) {
				found = (int)sl;
				break;
			}
		}
	} else {
		for (uint32_t k = (uint32_t)t + 1; k + 1 < v->tok[t].next; k = v->tok[k + 1].next) {
			const struct rt_tok *kt = &v->tok[k];
			if (kt->end - kt->start == klen + 2 &&
			    (klen == 0 || v->buf[kt->start + 1] == key[0]) &&
			    memcmp(v->buf + kt->start + 1, key, klen) == 0)
				found = (int)k + 1;
		}
	}
	if (found >= 0 && v->tok[found].type == T_PRIM && v->buf[v->tok[found].start] == 'n')
		return -1; /* null */
	return found;
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v = v * 16 + (unsigned)(c >= '0' && c <= '9'   ? c - '0'
					: c >= 'a' && c <= 'f' ? c - 'a' + 10
					: c >= 'A' && c <= 'F' ? c - 'A' + 10
							       : 0);
	}
	return v;
}

static char *put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
	return d;
}

/* The string is unescaped where it stands: its C form is never longer
   than its JSON form, quotes included, and the tokens keep where
   everything else is. */
const char *rt_str(struct rt_finding *v, int t)
{
	if (!v->loaded || t < 0 || v->tok[t].type != T_STR)
		return NULL;
	struct rt_tok *tk = &v->tok[t];
	char *d = v->buf + tk->start;
	if (tk->decoded)
		return d;
	const char *s = d + 1, *end = v->buf + tk->end - 1;
	while (s < end) {
		const char *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = (size_t)((bs ? bs : end) - s);
		memmove(d, s, run);
		d += run;
		s += run;
		if (s == end)
			break;
		if (end - s < 2)
			break;
		char c = s[1];
		s += 2;
		switch (c) {
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u': {
			if (end - s < 4)
				break;
			unsigned cp = hex4(s);
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - s >= 6 && s[0] == '\\' &&
			    s[1] == 'u') {
				unsigned lo = hex4(s + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s += 6;
				}
			}
			d = put_utf8(d, cp);
			break;
		}
		default:
			*d++ = c; /* '"', '\\', '/' */
		}
	}
	*d = '\0';
	tk->decoded = true;
	return v->buf + tk->start;
}

const char *rt_gstr(struct rt_finding *v, int t, const char *key)
{
	return rt_str(v, rt_get(v, t, key));
}

bool rt_int(const struct rt_finding *v, int t, long long *out)
{
	if (!v->loaded || t < 0 || v->tok[t].type != T_PRIM)
		return false;
	const char *s = v->buf + v->tok[t].start, *end = v->buf + v->tok[t].end;
	bool neg = s < end && *s == '-';
	s += neg;
	if (s == end)
		return false;
	unsigned long long x = 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false; /* a real, or a word */
		x = x * 10 + (unsigned)(*s - '0');
	}
	*out = neg ? (long long)(0 - x) : (long long)x;
	return true;
}

bool rt_true(const struct rt_finding *v, int t)
{
	return v->loaded && t >= 0 && v->tok[t].type == T_PRIM && v->buf[v->tok[t].start] == 't';
}

bool rt_is_object(const struct rt_finding *v, int t)
{
	return v->loaded && t >= 0 && v->tok[t].type == T_OBJ;
}

int rt_first(const struct rt_finding *v, int t)
{
	if (!v->loaded || t < 0 || v->tok[t].type != T_ARR || v->tok[t].next == (uint32_t)t + 1)
		return -1;
	return t + 1;
}

int rt_next(const struct rt_finding *v, int t, int elem)
{
	uint32_t n = v->tok[elem].next;
	return n < v->tok[t].next ? (int)n : -1;
}

size_t rt_count(const struct rt_finding *v, int t)
{
	size_t n = 0;
	for (int e = rt_first(v, t); e >= 0; e = rt_next(v, t, e))
		n++;
	return n;
}
