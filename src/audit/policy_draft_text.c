/*
 * policy_draft_text.c - a policy's text as lines with section numbers.
 *
 * Receives: the bytes of a policy (plain text or HTML, UTF-8). Hands on:
 * the text with the markup dropped (scripts and styles removed, entities
 * decoded, block elements ending lines, table cells separated by tabs),
 * cut into trimmed lines, each carrying the section path of the nearest
 * numbering label above it ("一、" then "（二）" then "3." gives
 * "一.（二）.3"). Owns the copy of the text the lines point into.
 *
 * Section paths: each label has a style (Chinese numeral, parenthesised
 * numeral, decimal, circled, Roman, letter...). A label whose style is
 * already on the stack closes everything below that level and takes its
 * place; a new style opens a level under the current one. That follows a
 * numbering without knowing its order in advance, as policies differ.
 *
 * Workload: one file of at most 4 MiB, read once.
 */
#include "policy_draft_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small text helpers ---- */

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Length of a space at s[i] (ASCII blank, U+3000, U+00A0, U+FEFF); 0 when none. */
static size_t space_at(const char *s, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)s + i;
	size_t left = n - i;
	if (left >= 1 && (u[0] == ' ' || u[0] == '\t' || u[0] == '\r' || u[0] == '\v' || u[0] == '\f'))
		return 1;
	if (left >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
		return 2;
	if (left >= 3 && ((u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) ||
			  (u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)))
		return 3;
	return 0;
}

void dtrim(const char *s, size_t *from, size_t *to)
{
	size_t k;
	while (*from < *to && (k = space_at(s, *to, *from)) > 0)
		*from += k;
	for (;;) {
		size_t before = *to;
		for (size_t w = 1; w <= 3 && w <= *to - *from; w++)
			if (space_at(s, *to, *to - w) == w) {
				*to -= w;
				break;
			}
		if (*to == before)
			break;
	}
}

const char *dfind(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	bool prefix = k > 0 && needle[k - 1] == '*';
	if (prefix)
		k--;
	if (k == 0 || k > n)
		return NULL;
	unsigned char first = (unsigned char)needle[0], last = (unsigned char)needle[k - 1];
	bool letter = lower(first) != first || (first >= 'a' && first <= 'z');
	for (size_t i = 0; i + k <= n; i++) {
		if (!letter) { /* a byte with one case: memchr finds its places */
			const char *f = memchr(s + i, first, n - k + 1 - i);
			if (f == NULL)
				return NULL;
			i = (size_t)(f - s);
		} else if (lower((unsigned char)s[i]) != lower(first)) {
			continue;
		}
		size_t j = 0;
		while (j < k && lower((unsigned char)s[i + j]) == lower((unsigned char)needle[j]))
			j++;
		if (j < k)
			continue;
		if (ascii_alnum(first) && i > 0 && ascii_alnum((unsigned char)s[i - 1]))
			continue;
		if (!prefix && ascii_alnum(last) && i + k < n && ascii_alnum((unsigned char)s[i + k]))
			continue;
		return s + i;
	}
	return NULL;
}

bool dfind_any(const char *s, size_t n, const char *const *needles)
{
	for (size_t i = 0; needles[i] != NULL; i++)
		if (dfind(s, n, needles[i]) != NULL)
			return true;
	return false;
}

static bool starts(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	return k <= n && memcmp(s, w, k) == 0;
}

size_t dsplit(const char *s, size_t n, size_t from, const char *const *seps, size_t *sep)
{
	for (size_t b = from; b < n; b++)
		for (size_t k = 0; seps[k] != NULL; k++) {
			size_t l = strlen(seps[k]);
			if (b + l <= n && memcmp(s + b, seps[k], l) == 0) {
				*sep = l;
				return b;
			}
		}
	*sep = 0;
	return n;
}

size_t dsent_end(const char *s, size_t n, size_t from)
{
	/* a "sentence" of more than DRAFT_SENTENCE_MAX bytes is cut, at a character */
	if (n - from > DRAFT_SENTENCE_MAX) {
		size_t cut = from + DRAFT_SENTENCE_MAX;
		while (cut > from && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		n = cut;
	}
	static const char *const stops[] = {"\xe3\x80\x82" /* 。 */, "\xef\xbc\x81" /* ！ */,
					    "\xef\xbc\x9f" /* ？ */, NULL};
	for (size_t i = from; i < n; i++) {
		for (size_t k = 0; stops[k] != NULL; k++)
			if (starts(s + i, n - i, stops[k]))
				return i + strlen(stops[k]);
		char c = s[i];
		if ((c == '.' || c == '!' || c == '?') && (i + 1 == n || s[i + 1] == ' ')) {
			/* "e.g. " and "i.e. " do not end a sentence, nor does "No. 5" */
			bool abbr = c == '.' && i >= 3 && s[i - 2] == '.' && i - from >= 3;
			bool num = c == '.' && i + 2 < n && s[i + 2] >= '0' && s[i + 2] <= '9';
			if (!abbr && !num)
				return i + 1;
		}
	}
	return n;
}

/* ---- UTF-8 ---- */

static int check_utf8(const char *s, size_t n, const char *name, struct fa_err *err)
{
	for (size_t i = 0; i < n;) {
		if (s[i] == '\0') {
			fa_err_set(err, "%s: byte offset %zu: a NUL byte (policy text is UTF-8 text; "
				   "UTF-16 files must be converted first)", name, i);
			return FA_EINPUT;
		}
		size_t k = fa_utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0) {
			fa_err_set(err, "%s: byte offset %zu: not UTF-8 (byte 0x%02x); convert the "
				   "text to UTF-8 first", name, i, (unsigned char)s[i]);
			return FA_EINPUT;
		}
		i += k;
	}
	return FA_OK;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x20 && cp != '\t' && cp != '\n')
		cp = ' ';
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ---- Kangxi radicals ---- */

/*
 * The unified ideographs of the Kangxi radicals U+2F00..U+2FD5 (their NFKC
 * forms): texts converted from PDF often write "⽀付" for "支付", and the
 * catalogue's names use the ideographs.
 */
static const uint16_t kangxi[214] = {
	0x4E00, 0x4E28, 0x4E36, 0x4E3F, 0x4E59, 0x4E85, 0x4E8C, 0x4EA0, 0x4EBA, 0x513F,
	0x5165, 0x516B, 0x5182, 0x5196, 0x51AB, 0x51E0, 0x51F5, 0x5200, 0x529B, 0x52F9,
	0x5315, 0x531A, 0x5338, 0x5341, 0x535C, 0x5369, 0x5382, 0x53B6, 0x53C8, 0x53E3,
	0x56D7, 0x571F, 0x58EB, 0x5902, 0x590A, 0x5915, 0x5927, 0x5973, 0x5B50, 0x5B80,
	0x5BF8, 0x5C0F, 0x5C22, 0x5C38, 0x5C6E, 0x5C71, 0x5DDB, 0x5DE5, 0x5DF1, 0x5DFE,
	0x5E72, 0x5E7A, 0x5E7F, 0x5EF4, 0x5EFE, 0x5F0B, 0x5F13, 0x5F50, 0x5F61, 0x5F73,
	0x5FC3, 0x6208, 0x6236, 0x624B, 0x652F, 0x6534, 0x6587, 0x6597, 0x65A4, 0x65B9,
	0x65E0, 0x65E5, 0x66F0, 0x6708, 0x6728, 0x6B20, 0x6B62, 0x6B79, 0x6BB3, 0x6BCB,
	0x6BD4, 0x6BDB, 0x6C0F, 0x6C14, 0x6C34, 0x706B, 0x722A, 0x7236, 0x723B, 0x723F,
	0x7247, 0x7259, 0x725B, 0x72AC, 0x7384, 0x7389, 0x74DC, 0x74E6, 0x7518, 0x751F,
	0x7528, 0x7530, 0x758B, 0x7592, 0x7676, 0x767D, 0x76AE, 0x76BF, 0x76EE, 0x77DB,
	0x77E2, 0x77F3, 0x793A, 0x79B8, 0x79BE, 0x7A74, 0x7ACB, 0x7AF9, 0x7C73, 0x7CF8,
	0x7F36, 0x7F51, 0x7F8A, 0x7FBD, 0x8001, 0x800C, 0x8012, 0x8033, 0x807F, 0x8089,
	0x81E3, 0x81EA, 0x81F3, 0x81FC, 0x820C, 0x821B, 0x821F, 0x826E, 0x8272, 0x8278,
	0x864D, 0x866B, 0x8840, 0x884C, 0x8863, 0x897E, 0x898B, 0x89D2, 0x8A00, 0x8C37,
	0x8C46, 0x8C55, 0x8C78, 0x8C9D, 0x8D64, 0x8D70, 0x8DB3, 0x8EAB, 0x8ECA, 0x8F9B,
	0x8FB0, 0x8FB5, 0x9091, 0x9149, 0x91C6, 0x91CC, 0x91D1, 0x9577, 0x9580, 0x961C,
	0x96B6, 0x96B9, 0x96E8, 0x9751, 0x975E, 0x9762, 0x9769, 0x97CB, 0x97ED, 0x97F3,
	0x9801, 0x98A8, 0x98DB, 0x98DF, 0x9996, 0x9999, 0x99AC, 0x9AA8, 0x9AD8, 0x9ADF,
	0x9B25, 0x9B2F, 0x9B32, 0x9B3C, 0x9B5A, 0x9CE5, 0x9E75, 0x9E7F, 0x9EA5, 0x9EBB,
	0x9EC3, 0x9ECD, 0x9ED1, 0x9EF9, 0x9EFD, 0x9F0E, 0x9F13, 0x9F20, 0x9F3B, 0x9F4A,
	0x9F52, 0x9F8D, 0x9F9C, 0x9FA0,
};

/* Kangxi radicals to ideographs in place: both are three bytes in UTF-8. */
static void fold_kangxi(char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++) {
		unsigned char b0 = (unsigned char)s[i], b1 = (unsigned char)s[i + 1];
		unsigned char b2 = (unsigned char)s[i + 2];
		if (b0 != 0xE2 || b1 < 0xBC || b1 > 0xBF || (b2 & 0xC0) != 0x80)
			continue;
		uint32_t cp = ((uint32_t)(b1 & 0x3F) << 6 | (b2 & 0x3F)) + 0x2000;
		if (cp < 0x2F00 || cp > 0x2FD5)
			continue;
		put_utf8(s + i, kangxi[cp - 0x2F00]);
		i += 2;
	}
}

/* ---- HTML ---- */

static bool is_html(const char *s, size_t n)
{
	size_t i = 0, k;
	while (i < n && ((k = space_at(s, n, i)) > 0 || s[i] == '\n'))
		i += k > 0 ? k : 1;
	if (i < n && s[i] == '<')
		return true;
	size_t head = n < 4096 ? n : 4096;
	return dfind(s, head, "<html*") || dfind(s, head, "<body*") || dfind(s, head, "<!doctype*");
}

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
	{"ensp", ' '}, {"emsp", ' '}, {"thinsp", ' '}, {"mdash", 0x2014}, {"ndash", 0x2013},
	{"hellip", 0x2026}, {"middot", 0xB7}, {"bull", 0x2022}, {"ldquo", 0x201C},
	{"rdquo", 0x201D}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"laquo", 0xAB}, {"raquo", 0xBB},
	{"copy", 0xA9}, {"reg", 0xAE}, {"trade", 0x2122}, {"times", 0xD7}, {"yen", 0xA5},
	{"euro", 0x20AC}, {"sect", 0xA7}, {"rarr", 0x2192}, {"larr", 0x2190}, {"deg", 0xB0},
};

/* Decodes the entity at s[i] ('&'); its length, 0 when it is not one (kept as text). */
static size_t entity(const char *s, size_t n, size_t i, uint32_t *cp)
{
	size_t j = i + 1;
	if (j < n && s[j] == '#') {
		bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
		j += hex ? 2 : 1;
		uint32_t v = 0;
		size_t digits = 0;
		for (; j < n && digits < 8; j++, digits++) {
			char c = s[j];
			int d = c >= '0' && c <= '9' ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (digits == 0 || j >= n || s[j] != ';')
			return 0;
		*cp = v;
		return j + 1 - i;
	}
	for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		size_t k = strlen(entities[e].name);
		if (j + k < n && memcmp(s + j, entities[e].name, k) == 0 && s[j + k] == ';') {
			*cp = entities[e].cp;
			return k + 2;
		}
	}
	return 0;
}

static const char *const block_tags[] = {
	"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
	"thead", "tbody", "tfoot", "section", "article", "header", "footer", "nav", "blockquote",
	"pre", "dt", "dd", "dl", "hr", "title", "caption", "form", "main", "aside", "figure",
	"figcaption", "address", "details", "summary", "center", "body", "html", "head", NULL};
static const char *const drop_tags[] = {"script", "style", "noscript", "template", "svg", NULL};

static bool name_in(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/*
 * End of the tag that opens at s[i] ('<'): past its '>', quotes respected;
 * with a quote left open, past the first '>'. n when no '>' follows.
 */
static size_t tag_end(const char *s, size_t n, size_t i)
{
	char q = 0;
	for (size_t j = i + 1; j < n; j++) {
		if (q != 0) {
			if (s[j] == q)
				q = 0;
		} else if (s[j] == '"' || s[j] == '\'') {
			q = s[j];
		} else if (s[j] == '>') {
			return j + 1;
		}
	}
	const char *gt = memchr(s + i, '>', n - i);
	return gt ? (size_t)(gt - s) + 1 : n;
}

static void out_space(char *o, size_t *on)
{
	if (*on > 0 && o[*on - 1] != ' ' && o[*on - 1] != '\n' && o[*on - 1] != '\t')
		o[(*on)++] = ' ';
}

/*
 * HTML in s to text in o (which has room for n + 1 bytes: the text never
 * grows). A '<' after the last '>' opens no tag: it is text, found without
 * searching the rest of the input again for each one.
 */
static size_t html_to_text(const char *s, size_t n, char *o)
{
	size_t on = 0;
	const char *last_gt = memrchr(s, '>', n);
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c == '<' && i + 3 < n && memcmp(s + i, "<!--", 4) == 0) {
			const char *e = NULL;
			for (size_t j = i + 4; j + 3 <= n && e == NULL; j++)
				if (memcmp(s + j, "-->", 3) == 0)
					e = s + j;
			i = e ? (size_t)(e - s) + 3 : n;
			continue;
		}
		if (c == '<' && i + 1 < n) {
			size_t j = i + 1;
			bool closing = s[j] == '/';
			if (closing)
				j++;
			char name[16];
			size_t k = 0;
			while (j < n && ascii_alnum((unsigned char)s[j]) && k + 1 < sizeof(name))
				name[k++] = (char)lower((unsigned char)s[j++]);
			name[k] = '\0';
			bool tag = ((k > 0 && !(name[0] >= '0' && name[0] <= '9')) || (j < n && s[j] == '!')) &&
				   last_gt != NULL && s + i < last_gt;
			if (!tag) {
				o[on++] = c;
				i++;
				continue;
			}
			size_t end = tag_end(s, n, i);
			if (!closing && name_in(name, drop_tags)) {
				/* skip to the closing tag of the same name */
				char close[20];
				snprintf(close, sizeof(close), "</%s", name);
				const char *e = dfind(s + end, n - end, close);
				i = e ? tag_end(s, n, (size_t)(e - s)) : n;
				continue;
			}
			if (name_in(name, block_tags))
				o[on++] = '\n';
			else if (!closing && (strcmp(name, "td") == 0 || strcmp(name, "th") == 0))
				o[on++] = '\t';
			i = end;
			continue;
		}
		if (c == '&') {
			uint32_t cp;
			size_t k = entity(s, n, i, &cp);
			if (k > 0) {
				if (cp == ' ')
					out_space(o, &on);
				else
					on += put_utf8(o + on, cp);
				i += k;
				continue;
			}
		}
		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			out_space(o, &on);
			i++;
			continue;
		}
		o[on++] = c;
		i++;
	}
	o[on] = '\0';
	return on;
}

/* Plain text: "\r\n" and "\r" to "\n", a leading byte order mark dropped. */
static size_t plain_to_text(const char *s, size_t n, char *o)
{
	size_t on = 0, i = 0;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (; i < n; i++) {
		if (s[i] == '\r') {
			o[on++] = '\n';
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
		} else {
			o[on++] = s[i];
		}
	}
	o[on] = '\0';
	return on;
}

/* ---- numbering labels ---- */

enum lstyle {
	L_NONE, L_DI, L_CJK, L_PCJK, L_NUM, L_PNUM, L_NUMP, L_CIRC, L_PCIRC, L_ROMAN, L_ALPHA,
	L_PALPHA,
};

static bool cjk_digit(const char *s, size_t n, size_t i, size_t *k)
{
	static const char *const d[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
					"百", "零", "〇", "两", NULL};
	for (size_t j = 0; d[j] != NULL; j++)
		if (starts(s + i, n - i, d[j])) {
			*k = strlen(d[j]);
			return true;
		}
	return false;
}

static size_t cjk_run(const char *s, size_t n, size_t i)
{
	size_t j = i, k;
	while (j < n && j - i < 15 && cjk_digit(s, n, j, &k))
		j += k;
	return j - i;
}

static size_t digit_run(const char *s, size_t n, size_t i)
{
	size_t j = i;
	while (j < n && j - i < 4 && s[j] >= '0' && s[j] <= '9')
		j++;
	return j - i;
}

/* Skips '.', '、', '．' and spaces after a label; returns the new offset. */
static size_t after_label(const char *s, size_t n, size_t i)
{
	size_t k;
	for (;;) {
		if (i < n && s[i] == '.')
			i++;
		else if (starts(s + i, n - i, "、") || starts(s + i, n - i, "．"))
			i += 3;
		else if (i < n && (k = space_at(s, n, i)) > 0)
			i += k;
		else
			return i;
	}
}

/* The label at the start of s[0..n): its style, text (in lab) and length; L_NONE if none. */
static enum lstyle label_at(const char *s, size_t n, char *lab, size_t cap, size_t *len)
{
	size_t k, r;
	const unsigned char *u = (const unsigned char *)s;
	*len = 0;
	lab[0] = '\0';
	if (starts(s, n, "第") && (r = cjk_run(s, n, 3) + digit_run(s, n, 3)) > 0) {
		static const char *const units[] = {"章", "节", "条", "部分", "款", NULL};
		for (size_t j = 0; units[j] != NULL; j++)
			if (starts(s + 3 + r, n - 3 - r, units[j])) {
				size_t l = 3 + r + strlen(units[j]);
				snprintf(lab, cap, "%.*s", (int)l, s);
				*len = after_label(s, n, l);
				return L_DI;
			}
	}
	if ((r = cjk_run(s, n, 0)) > 0 && (starts(s + r, n - r, "、") || starts(s + r, n - r, "．"))) {
		snprintf(lab, cap, "%.*s", (int)r, s);
		*len = after_label(s, n, r);
		return L_CJK;
	}
	bool fw = starts(s, n, "（");
	if (fw || (n > 0 && s[0] == '(')) {
		size_t o = fw ? 3 : 1;
		enum lstyle st = L_NONE;
		if ((r = cjk_run(s, n, o)) > 0)
			st = L_PCJK;
		else if ((r = digit_run(s, n, o)) > 0 && r <= 2)
			st = L_PNUM;
		else if (o < n && s[o] >= 'a' && s[o] <= 'z' && (r = 1))
			st = L_PALPHA;
		size_t c = o + r;
		if (st != L_NONE && (starts(s + c, n - c, "）") || (c < n && s[c] == ')'))) {
			size_t cl = s[c] == ')' ? 1 : 3;
			if (st == L_PCJK)
				snprintf(lab, cap, "（%.*s）", (int)r, s + o);
			else
				snprintf(lab, cap, "(%.*s)", (int)r, s + o);
			*len = after_label(s, n, c + cl);
			return st;
		}
	}
	if ((r = digit_run(s, n, 0)) > 0 && r <= 2) {
		size_t j = r;
		int levels = 1;
		while (j + 1 < n && s[j] == '.' && (k = digit_run(s, n, j + 1)) > 0 && k <= 3) {
			j += 1 + k;
			levels++;
		}
		bool ok;
		if (j < n && s[j] == ')')
			ok = levels == 1;
		else if (starts(s + j, n - j, "、") || starts(s + j, n - j, "．"))
			ok = true;
		else if (j < n && s[j] == '.')
			ok = j + 1 == n || !(s[j + 1] >= '0' && s[j + 1] <= '9');
		else
			ok = levels > 1 && (j == n || space_at(s, n, j) > 0 || u[j] >= 0x80);
		if (ok && j < n && s[j] == ')') {
			snprintf(lab, cap, "%.*s)", (int)j, s);
			*len = after_label(s, n, j + 1);
			return L_NUMP;
		}
		if (ok) {
			snprintf(lab, cap, "%.*s", (int)j, s);
			*len = after_label(s, n, j);
			return L_NUM;
		}
	}
	/* ① to ⑳ (U+2460-2473), ⑴ to ⒇ (U+2474-2487), Ⅰ to Ⅻ (U+2160-216B), ⅰ to ⅻ */
	if (n >= 3 && u[0] == 0xE2 && (u[1] == 0x91 || u[1] == 0x92)) {
		unsigned cp = 0x2000u | ((unsigned)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
		if (cp >= 0x2460 && cp <= 0x2473) {
			snprintf(lab, cap, "%.3s", s);
			*len = after_label(s, n, 3);
			return L_CIRC;
		}
		if (cp >= 0x2474 && cp <= 0x2487) {
			snprintf(lab, cap, "(%u)", cp - 0x2474 + 1);
			*len = after_label(s, n, 3);
			return L_PCIRC;
		}
	}
	static const char *const roman[] = {"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX",
					    "X", "XI", "XII"};
	if (n >= 3 && u[0] == 0xE2 && u[1] == 0x85 && u[2] >= 0xA0 && u[2] <= 0xBB &&
	    (u[2] - 0xA0) % 16 < 12) {
		snprintf(lab, cap, "%s", roman[(u[2] - 0xA0) % 16]);
		*len = after_label(s, n, 3);
		return L_ROMAN;
	}
	for (r = 0; r < n && r < 5 && (s[r] == 'I' || s[r] == 'V' || s[r] == 'X'); r++)
		;
	if (r > 0 && r < n && (s[r] == '.' || starts(s + r, n - r, "、"))) {
		for (size_t j = 0; j < 12; j++)
			if (strlen(roman[j]) == r && memcmp(roman[j], s, r) == 0) {
				snprintf(lab, cap, "%s", roman[j]);
				*len = after_label(s, n, r);
				return L_ROMAN;
			}
	}
	if (n >= 3 && s[0] >= 'a' && s[0] <= 'z' && (s[1] == ')' || (s[1] == '.' && s[2] == ' '))) {
		snprintf(lab, cap, "%c)", s[0]);
		*len = after_label(s, n, 2);
		return L_ALPHA;
	}
	return L_NONE;
}

/* The number a label stands for (1 for "一", "①", "(1)", "I", "a)"); 0 when unknown. */
static int cjk_value(const char *s)
{
	static const char *const d[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
	int total = 0, cur = 0;
	for (size_t i = 0; s[i] != '\0';) {
		size_t k = 0;
		for (int j = 0; j < 10 && k == 0; j++)
			if (strncmp(s + i, d[j], 3) == 0) {
				cur = j;
				k = 3;
			}
		if (k == 0 && strncmp(s + i, "两", 3) == 0)
			cur = 2, k = 3;
		if (k == 0 && strncmp(s + i, "十", 3) == 0)
			total += (cur ? cur : 1) * 10, cur = 0, k = 3;
		if (k == 0 && strncmp(s + i, "百", 3) == 0)
			total += (cur ? cur : 1) * 100, cur = 0, k = 3;
		if (k == 0)
			k = 1;
		i += k;
	}
	return total + cur;
}

static int label_value(enum lstyle st, const char *lab)
{
	static const char *const roman[] = {"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX",
					    "X", "XI", "XII"};
	const unsigned char *u = (const unsigned char *)lab;
	const char *dot = strrchr(lab, '.');
	switch (st) {
	case L_NUM: return atoi(dot ? dot + 1 : lab);
	case L_NUMP: return atoi(lab);
	case L_PNUM:
	case L_PCIRC: return atoi(lab + 1);
	case L_CIRC: return (int)((((unsigned)(u[1] & 0x3F) << 6) | (u[2] & 0x3F)) - 0x460 + 1);
	case L_ALPHA: return lab[0] - 'a' + 1;
	case L_PALPHA: return lab[1] - 'a' + 1;
	case L_CJK: return cjk_value(lab);
	case L_PCJK: return cjk_value(lab + 3);
	case L_DI: return lab[3] >= '0' && lab[3] <= '9' ? atoi(lab + 3) : cjk_value(lab + 3);
	case L_ROMAN:
		for (int i = 0; i < 12; i++)
			if (strcmp(lab, roman[i]) == 0)
				return i + 1;
		return 0;
	default: return 0;
	}
}

struct sec_stack {
	enum lstyle st[8];
	int val[8];
	char lab[8][24];
	size_t depth;
};

/*
 * A label takes the place of the level that it continues (same style, the
 * next number), deepest first; a "1" of a style already above the current
 * level opens a nested list (a "1." under "(3)" under "2."), and a "1" of the
 * current level's own style restarts it (a table of contents, then the text);
 * any other label of a known style goes back to that style's level.
 */
static void sec_push(struct sec_stack *k, enum lstyle st, const char *lab)
{
	int v = label_value(st, lab);
	size_t i = k->depth;
	for (size_t j = k->depth; j > 0 && i == k->depth; j--)
		if (k->st[j - 1] == st && v > 0 && k->val[j - 1] + 1 == v)
			i = j - 1;
	if (i == k->depth && v == 1 && k->depth > 0 && k->st[k->depth - 1] == st)
		i = k->depth - 1;
	bool above = false;
	for (size_t j = 0; j < k->depth; j++)
		above = above || k->st[j] == st;
	if (i == k->depth && !(v == 1 && above))
		for (size_t j = k->depth; j > 0 && i == k->depth; j--)
			if (k->st[j - 1] == st)
				i = j - 1;
	if (i == 8)
		i = 7;
	k->depth = i + 1;
	k->st[i] = st;
	k->val[i] = v;
	snprintf(k->lab[i], sizeof(k->lab[i]), "%s", lab);
}

static void sec_path(const struct sec_stack *k, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < k->depth && o + 1 < cap; i++) {
		int w = snprintf(out + o, cap - o, "%s%s", i ? "." : "", k->lab[i]);
		if (w < 0 || (size_t)w >= cap - o) {
			out[o] = '\0'; /* a path too deep for the buffer keeps its upper levels */
			break;
		}
		o += (size_t)w;
	}
}

/* Bullets that open a list item without numbering it. */
static size_t bullet_at(const char *s, size_t n)
{
	static const char *const b[] = {"●", "•", "▪", "■", "◆", "◇", "○", "·", "* ", "- ",
					"—", "➢", "►", "※", NULL};
	for (size_t i = 0; b[i] != NULL; i++)
		if (starts(s, n, b[i]))
			return strlen(b[i]);
	return 0;
}

/* Appends path to the section strings unless it is the last one there; its offset. */
static bool sec_intern(struct dtext *t, const char *path, size_t *off)
{
	size_t pl = strlen(path) + 1;
	if (t->secs_len > 0) {
		size_t last = t->secs_len - 1;
		while (last > 0 && t->secs[last - 1] != '\0')
			last--;
		if (strcmp(t->secs + last, path) == 0) {
			*off = last;
			return true;
		}
	}
	if (t->secs_len + pl > t->secs_cap) {
		size_t nc = t->secs_cap ? 2 * t->secs_cap : 1024;
		while (nc < t->secs_len + pl)
			nc *= 2;
		char *nv = realloc(t->secs, nc);
		if (nv == NULL)
			return false;
		t->secs = nv;
		t->secs_cap = nc;
	}
	memcpy(t->secs + t->secs_len, path, pl);
	*off = t->secs_len;
	t->secs_len += pl;
	return true;
}

static int make_lines(struct dtext *t)
{
	size_t cap = 64;
	t->lines = calloc(cap, sizeof(*t->lines));
	if (t->lines == NULL)
		return FA_ERUNTIME;
	struct sec_stack k = {.depth = 0};
	for (size_t i = 0; i <= t->len;) {
		const char *nl = memchr(t->buf + i, '\n', t->len - i);
		size_t end = nl ? (size_t)(nl - t->buf) : t->len;
		size_t a = i, b = end;
		i = end + 1;
		dtrim(t->buf, &a, &b);
		if (a == b)
			continue;
		if (t->n_lines == cap) {
			struct dline *nv = realloc(t->lines, 2 * cap * sizeof(*nv));
			if (nv == NULL)
				return FA_ERUNTIME;
			t->lines = nv;
			cap *= 2;
		}
		struct dline l = {.labelled = false};
		char lab[24], path[DRAFT_SEC_MAX];
		size_t ll;
		enum lstyle st = label_at(t->buf + a, b - a, lab, sizeof(lab), &ll);
		if (st != L_NONE && a + ll < b) {
			sec_push(&k, st, lab);
			a += ll;
			l.labelled = true;
		}
		size_t bl = bullet_at(t->buf + a, b - a);
		l.bulleted = bl > 0;
		a += bl;
		dtrim(t->buf, &a, &b);
		if (a == b)
			continue;
		l.s = t->buf + a;
		l.n = b - a;
		sec_path(&k, path, sizeof(path));
		if (!sec_intern(t, path, &l.sec_off))
			return FA_ERUNTIME;
		t->lines[t->n_lines++] = l;
	}
	if (!sec_intern(t, "", &(size_t){0}))
		return FA_ERUNTIME;
	for (size_t j = 0; j < t->n_lines; j++)
		t->lines[j].sec = t->secs + t->lines[j].sec_off;
	return FA_OK;
}

int dtext_make(struct dtext *t, const char *in, size_t len, const char *name, struct fa_err *err)
{
	memset(t, 0, sizeof(*t));
	int rc = check_utf8(in, len, name, err);
	if (rc != FA_OK)
		return rc;
	t->buf = malloc(len + 1);
	if (t->buf == NULL) {
		fa_err_set(err, "%s: out of memory", name);
		return FA_ERUNTIME;
	}
	t->len = is_html(in, len) ? html_to_text(in, len, t->buf) : plain_to_text(in, len, t->buf);
	fold_kangxi(t->buf, t->len);
	if (make_lines(t) != FA_OK) {
		dtext_free(t);
		fa_err_set(err, "%s: out of memory", name);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

void dtext_free(struct dtext *t)
{
	free(t->buf);
	free(t->lines);
	free(t->secs);
	memset(t, 0, sizeof(*t));
}
