/*
 * jsonw.c - a JSON value described once, as text or as a jansson tree.
 *
 * Text follows jansson 2.14's dump.c with JSON_COMPACT: no spaces, "\\",
 * "\"" and the short escapes \b \f \n \r \t, other control characters as
 * \u00XX in capitals, everything else (DEL and UTF-8 included) as it is.
 * Bytes that are not UTF-8 become U+FFFD, written as its three bytes.
 */
#include "flowaudit/jsonw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

int jsonw_open_text(struct jsonw *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->buf = malloc(JSONW_BUF);
	if (w->buf == NULL) {
		w->failed = true;
		return FA_ERUNTIME;
	}
	return FA_OK;
}

void jsonw_open_tree(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

void jsonw_flush(struct jsonw *w)
{
	if (w->out == NULL || w->len == 0)
		return;
	if (!w->failed && fwrite(w->buf, 1, w->len, w->out) != w->len)
		w->failed = true;
	w->written += w->len;
	w->len = 0;
}

/* Room for n more bytes in the buffer (n at most JSONW_BUF), flushing it
   first when it is too full; false after a failure. Every text write goes
   through here and then stores into buf + len directly. */
static inline bool room(struct jsonw *w, size_t n)
{
	if (w->failed)
		return false;
	if (w->len + n > JSONW_BUF)
		jsonw_flush(w);
	return !w->failed;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (n > JSONW_BUF) {
		jsonw_flush(w);
		if (!w->failed && fwrite(s, 1, n, w->out) != n)
			w->failed = true;
		w->written += n;
		return;
	}
	if (!room(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static inline void putch(struct jsonw *w, char c)
{
	if (room(w, 1))
		w->buf[w->len++] = c;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (w->out != NULL)
		put(w, s, n);
}

int jsonw_close(struct jsonw *w)
{
	jsonw_flush(w);
	free(w->buf);
	w->buf = NULL;
	json_decref(w->root);
	w->root = NULL;
	return w->failed ? FA_ERUNTIME : FA_OK;
}

json_t *jsonw_tree_take(struct jsonw *w)
{
	json_t *v = w->failed || w->depth != 0 ? NULL : w->root;
	if (v == NULL)
		json_decref(w->root);
	w->root = NULL;
	return v;
}

/* 1 for the bytes a JSON string holds as they are: ASCII from space on,
   but for the quote and the backslash. */
static const unsigned char plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * Eight bytes none of which needs a look of its own: none is 0x80 or
 * above, below 0x20, a quote or a backslash (the has-less-than and
 * has-zero-byte tests on a 64-bit word, exact when no byte has its top bit).
 */
static inline bool plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
	uint64_t v;
	memcpy(&v, p, 8);
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
	return ((v & tops) | ((v - ones * 0x20) & ~v & tops) | ((q - ones) & ~q & tops) |
		((b - ones) & ~b & tops)) == 0;
}

/* Input bytes escaped per pass: each becomes at most six ("\u00XX"). */
#define ESC_CHUNK ((JSONW_BUF - 16) / 6)

/*
 * The bytes from *pp up to stop, escaped into o (which has room for six a
 * byte, and four more); a UTF-8 sequence that starts before stop is taken
 * whole, up to end. Advances *pp; returns the end of what was written.
 */
static char *escape(char *o, const unsigned char **pp, const unsigned char *stop,
		    const unsigned char *end)
{
	const unsigned char *p = *pp;
	while (p < stop) {
		if (stop - p >= 8 && plain8(p)) {
			memcpy(o, p, 8);
			o += 8;
			p += 8;
			continue;
		}
		unsigned char c = *p;
		if (plain[c]) {
			*o++ = (char)c;
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t u = fa_utf8_len(p, (size_t)(end - p));
			if (u == 0) {
				memcpy(o, REPLACEMENT, 3);
				o += 3;
				p++;
			} else {
				memcpy(o, p, u);
				o += u;
				p += u;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default: /* the other control characters */
			memcpy(o, "u00", 3);
			o[3] = "0123456789ABCDEF"[c >> 4];
			o[4] = "0123456789ABCDEF"[c & 15];
			o += 5;
		}
		p++;
	}
	*pp = p;
	return o;
}

/* The n bytes of s as a JSON string, quotes included. */
static void put_string_n(struct jsonw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	putch(w, '"');
	while (p < end) {
		size_t chunk = (size_t)(end - p) < ESC_CHUNK ? (size_t)(end - p) : ESC_CHUNK;
		if (!room(w, 6 * chunk + 4))
			return;
		char *o = escape(w->buf + w->len, &p, p + chunk, end);
		w->len = (size_t)(o - w->buf);
	}
	putch(w, '"');
}

/*
 * The plain bytes at the start of s, at most FAST_MAX, copied to o; how
 * many. The NUL is not plain, so s[result] is where the copy stopped: its
 * end when it is NUL.
 */
#define FAST_MAX 128
static inline size_t copy_plain(char *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < FAST_MAX && plain[p[i]]) {
		o[i] = (char)p[i];
		i++;
	}
	return i;
}

/* s as a JSON string, after a comma when asked, and followed by a colon
   when it is a key: in one pass when s is plain and short, as most are. */
static inline void put_quoted(struct jsonw *w, const char *s, bool comma, bool colon)
{
	if (!room(w, FAST_MAX + 4))
		return;
	w->buf[w->len] = ',';
	w->len += comma;
	char *o = w->buf + w->len;
	size_t n = copy_plain(o + 1, s);
	if (s[n] == '\0') {
		o[0] = '"';
		o[n + 1] = '"';
		o[n + 2] = ':';
		w->len += n + 2 + colon;
		return;
	}
	put_string_n(w, s, strlen(s));
	if (colon)
		putch(w, ':');
}

/* Text: the comma and key before a value. */
static void text_prefix(struct jsonw *w, const char *key)
{
	/* a key exactly inside an object, as a tree insists too */
	if ((key != NULL) != (w->depth > 0 && w->is_object[w->depth - 1])) {
		w->failed = true;
		return;
	}
	bool comma = false;
	if (w->depth > 0) {
		comma = w->more[w->depth - 1];
		w->more[w->depth - 1] = true;
	}
	if (key != NULL)
		put_quoted(w, key, comma, true);
	else if (comma)
		putch(w, ',');
}

/* Tree: v (consumed) into the open container, or as the root. */
static void tree_add(struct jsonw *w, const char *key, json_t *v)
{
	if (w->failed || v == NULL) {
		json_decref(v);
		w->failed = true;
		return;
	}
	if (w->depth == 0) {
		if (w->root != NULL) {
			json_decref(v);
			w->failed = true;
			return;
		}
		w->root = v;
		return;
	}
	json_t *parent = w->stack[w->depth - 1];
	int rc = json_is_object(parent) && key != NULL ? json_object_set_new(parent, key, v)
		 : json_is_array(parent) && key == NULL ? json_array_append_new(parent, v)
							: (json_decref(v), -1);
	if (rc != 0)
		w->failed = true;
}

static void open_container(struct jsonw *w, const char *key, bool object)
{
	if (w->failed)
		return;
	if (w->depth == JSONW_DEPTH) {
		w->failed = true;
		return;
	}
	if (w->out != NULL) {
		text_prefix(w, key);
		putch(w, object ? '{' : '[');
		w->more[w->depth] = false;
	} else {
		json_t *c = object ? json_object() : json_array();
		tree_add(w, key, c);
		if (w->failed)
			return;
		w->stack[w->depth] = c;
	}
	w->is_object[w->depth] = object;
	w->depth++;
}

void jsonw_object(struct jsonw *w, const char *key)
{
	open_container(w, key, true);
}

void jsonw_array(struct jsonw *w, const char *key)
{
	open_container(w, key, false);
}

void jsonw_end(struct jsonw *w)
{
	if (w->failed)
		return;
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	w->depth--;
	if (w->out != NULL)
		putch(w, w->is_object[w->depth] ? '}' : ']');
}

/* s with every byte that is not UTF-8 replaced; NULL without memory. */
static char *repaired(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t u = fa_utf8_len(p, (size_t)(end - p));
		if (u == 0) {
			memcpy(out + o, REPLACEMENT, 3);
			o += 3;
			p++;
		} else {
			memcpy(out + o, p, u);
			o += u;
			p += u;
		}
	}
	out[o] = '\0';
	return out;
}

void jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	if (w->failed)
		return;
	if (s == NULL) {
		jsonw_null(w, key);
		return;
	}
	if (w->out != NULL) {
		text_prefix(w, key);
		put_quoted(w, s, false, false);
		return;
	}
	json_t *v = json_string(s);
	if (v == NULL) { /* not UTF-8 */
		char *fixed = repaired(s);
		v = fixed ? json_string(fixed) : NULL;
		free(fixed);
	}
	tree_add(w, key, v);
}

void jsonw_int(struct jsonw *w, const char *key, int64_t v)
{
	if (w->failed)
		return;
	if (w->out != NULL) {
		text_prefix(w, key);
		if (room(w, 24))
			w->len = (size_t)(fa_put_int(w->buf + w->len, v) - w->buf);
		return;
	}
	tree_add(w, key, json_integer((json_int_t)v));
}

void jsonw_milli(struct jsonw *w, const char *key, int64_t v)
{
	if (w->failed)
		return;
	if (w->out != NULL) {
		text_prefix(w, key);
		if (!room(w, 32))
			return;
		char *o = w->buf + w->len;
		uint64_t a = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
		if (v < 0)
			*o++ = '-';
		o = fa_put_int(o, (int64_t)(a / 1000));
		unsigned r = (unsigned)(a % 1000);
		o[0] = '.';
		o[1] = (char)('0' + r / 100);
		o[2] = (char)('0' + r / 10 % 10);
		o[3] = (char)('0' + r % 10);
		w->len = (size_t)(o + 4 - w->buf);
		return;
	}
	tree_add(w, key, json_real((double)v / 1000.0));
}

static void literal(struct jsonw *w, const char *key, const char *text, size_t n, json_t *v)
{
	if (w->failed)
		return;
	if (w->out != NULL) {
		text_prefix(w, key);
		put(w, text, n);
		return;
	}
	tree_add(w, key, v);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	literal(w, key, v ? "true" : "false", v ? 4 : 5, w->out ? NULL : json_boolean(v));
}

void jsonw_null(struct jsonw *w, const char *key)
{
	literal(w, key, "null", 4, w->out ? NULL : json_null());
}

void jsonw_time(struct jsonw *w, const char *key, fa_time t)
{
	char buf[40];
	if (t == 0) {
		jsonw_null(w, key);
	} else if (w->out != NULL && !w->failed) {
		/* plain ASCII: written in place */
		text_prefix(w, key);
		if (!room(w, sizeof(buf) + 2))
			return;
		char *o = w->buf + w->len;
		fa_time_str(t, o + 1, sizeof(buf));
		size_t n = strlen(o + 1);
		o[0] = '"';
		o[n + 1] = '"';
		w->len += n + 2;
	} else {
		jsonw_string(w, key, fa_time_str(t, buf, sizeof(buf)));
	}
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	struct jsonw *w = data;
	put(w, buf, size);
	return w->failed ? -1 : 0;
}

void jsonw_value(struct jsonw *w, const char *key, const json_t *v)
{
	if (w->failed)
		return;
	if (v == NULL) {
		jsonw_null(w, key);
		return;
	}
	if (w->out != NULL) {
		text_prefix(w, key);
		if (json_dump_callback(v, dump_cb, w,
				       JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) != 0)
			w->failed = true;
		return;
	}
	tree_add(w, key, json_incref((json_t *)v));
}
