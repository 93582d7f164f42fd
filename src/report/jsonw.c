/*
 * jsonw.c - a JSON value described once, as text or as a jansson tree.
 *
 * Text follows jansson 2.14's dump.c with JSON_COMPACT: no spaces, "\\",
 * "\"" and the short escapes \b \f \n \r \t, other control characters as
 * \u00XX in capitals, everything else (DEL and UTF-8 included) as it is.
 * Bytes that are not UTF-8 become U+FFFD, written as its three bytes.
 */
#include "flowaudit/jsonw.h"

#include <inttypes.h>
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

void jsonw_open_tree_no_arrays(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
	w->no_arrays = true;
}

void jsonw_flush(struct jsonw *w)
{
	if (w->out == NULL || w->len == 0)
		return;
	if (!w->failed && fwrite(w->buf, 1, w->len, w->out) != w->len)
		w->failed = true;
	w->len = 0;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > JSONW_BUF) {
		jsonw_flush(w);
		if (n > JSONW_BUF) {
			if (fwrite(s, 1, n, w->out) != n)
				w->failed = true;
			return;
		}
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void putch(struct jsonw *w, char c)
{
	if (w->failed)
		return;
	if (w->len == JSONW_BUF)
		jsonw_flush(w);
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

/* s as a JSON string, quotes included. */
static void put_string(struct jsonw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	const unsigned char *end = p + n, *run = p;
	putch(w, '"');
	while (p < end) {
		unsigned char c = *p;
		if (plain[c]) {
			p++;
			continue;
		}
		size_t u = c >= 0x80 ? fa_utf8_len(p, (size_t)(end - p)) : 0;
		if (u > 0) {
			p += u;
			continue;
		}
		put(w, (const char *)run, (size_t)(p - run));
		char esc[8];
		const char *e = esc;
		size_t elen = 2;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
				elen = 6;
			} else {
				e = REPLACEMENT;
				elen = 3;
			}
		}
		put(w, e, elen);
		run = ++p;
	}
	put(w, (const char *)run, (size_t)(p - run));
	putch(w, '"');
}

/* Text: the comma and key before a value. */
static void text_prefix(struct jsonw *w, const char *key)
{
	/* a key exactly inside an object, as a tree insists too */
	if ((key != NULL) != (w->depth > 0 && w->is_object[w->depth - 1])) {
		w->failed = true;
		return;
	}
	if (w->depth > 0) {
		if (w->more[w->depth - 1])
			putch(w, ',');
		w->more[w->depth - 1] = true;
	}
	if (key != NULL) {
		put_string(w, key);
		putch(w, ':');
	}
}

/* Tree: v (consumed) into the open container, or as the root. */
static void tree_add(struct jsonw *w, const char *key, json_t *v)
{
	if (w->skipping && v != NULL) {
		json_decref(v);
		return;
	}
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
	if (w->skipping || (w->no_arrays && !object && w->depth > 0)) {
		w->skipping++;
		return;
	}
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
	if (w->skipping) {
		w->skipping--;
		return;
	}
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
	if (w->failed || w->skipping)
		return;
	if (s == NULL) {
		jsonw_null(w, key);
		return;
	}
	if (w->out != NULL) {
		text_prefix(w, key);
		put_string(w, s);
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
	if (w->failed || w->skipping)
		return;
	if (w->out != NULL) {
		char num[24];
		size_t n = (size_t)(fa_put_int(num, v) - num);
		text_prefix(w, key);
		put(w, num, n);
		return;
	}
	tree_add(w, key, json_integer((json_int_t)v));
}

void jsonw_milli(struct jsonw *w, const char *key, int64_t v)
{
	if (w->failed || w->skipping)
		return;
	if (w->out != NULL) {
		char num[32];
		int64_t a = v < 0 ? -v : v;
		int n = snprintf(num, sizeof(num), "%s%" PRId64 ".%03" PRId64, v < 0 ? "-" : "",
				 a / 1000, a % 1000);
		text_prefix(w, key);
		put(w, num, (size_t)n);
		return;
	}
	tree_add(w, key, json_real((double)v / 1000.0));
}

static void literal(struct jsonw *w, const char *key, const char *text, json_t *v)
{
	if (w->failed || w->skipping)
		return;
	if (w->out != NULL) {
		text_prefix(w, key);
		put(w, text, strlen(text));
		return;
	}
	tree_add(w, key, v);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	literal(w, key, v ? "true" : "false", w->out ? NULL : json_boolean(v));
}

void jsonw_null(struct jsonw *w, const char *key)
{
	literal(w, key, "null", w->out ? NULL : json_null());
}

void jsonw_time(struct jsonw *w, const char *key, fa_time t)
{
	char buf[40];
	if (t == 0)
		jsonw_null(w, key);
	else
		jsonw_string(w, key, fa_time_str(t, buf, sizeof(buf)));
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	struct jsonw *w = data;
	put(w, buf, size);
	return w->failed ? -1 : 0;
}

void jsonw_value(struct jsonw *w, const char *key, const json_t *v)
{
	if (w->failed || w->skipping)
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
