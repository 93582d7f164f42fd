/*
 * jsonw.h - one description of a JSON value, written two ways.
 *
 * A writer is opened either on a stream (text: jansson's JSON_COMPACT form
 * with JSON_PRESERVE_ORDER, byte for byte, written through a buffer of the
 * writer's own) or as a tree (a jansson value the caller receives with
 * jsonw_tree_take()). Code that describes a value once, with the calls
 * below, serves both: report.json streams thousands of flows and findings
 * without making a jansson value for each, and report.html gets the very
 * same objects as values.
 *
 * Keys: inside an object every call names its member (key non-NULL);
 * inside an array and at the top, key is NULL. Strings that are not valid
 * UTF-8 (user agents and URLs come from the traffic) have each bad byte
 * replaced by U+FFFD in both forms, so no member is ever dropped. A NULL
 * string is written as null.
 *
 * Errors are sticky: after a failed write or allocation every call does
 * nothing and jsonw_close() returns FA_ERUNTIME.
 */
#ifndef FLOWAUDIT_JSONW_H
#define FLOWAUDIT_JSONW_H

#include "flowaudit/common.h"

#include <jansson.h>
#include <stdio.h>

#define JSONW_DEPTH 16
#define JSONW_BUF 65536

struct jsonw {
	FILE *out;                  /* text: the stream; NULL for a tree */
	json_t *stack[JSONW_DEPTH]; /* tree: the open containers */
	json_t *root;               /* tree: the value made */
	bool more[JSONW_DEPTH];     /* text: a value already written at this depth */
	bool is_object[JSONW_DEPTH];
	int depth;
	bool failed;
	size_t len;                 /* text: bytes waiting in buf */
	char *buf;
	uint64_t written;           /* text: bytes handed to out */
};

/* Text on out (which the caller owns). FA_OK, or FA_ERUNTIME without memory. */
int jsonw_open_text(struct jsonw *w, FILE *out);
/* Text: the bytes written so far, those still in the buffer included (the
   offset in out of what comes next, when out started empty). */
static inline uint64_t jsonw_offset(const struct jsonw *w)
{
	return w->written + w->len;
}
/* A tree. */
void jsonw_open_tree(struct jsonw *w);
/* Text: flushes to the stream. Frees what the writer holds (a tree not
   taken too). FA_OK, or FA_ERUNTIME after any failure. */
int jsonw_close(struct jsonw *w);
/* Tree: the value made (a new reference), or NULL after a failure. */
json_t *jsonw_tree_take(struct jsonw *w);

/* Text: hands what is buffered to the stream, for a caller that writes to
   it between values. */
void jsonw_flush(struct jsonw *w);
/* Text: bytes written as they are, between values (newlines, indent). */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);

void jsonw_object(struct jsonw *w, const char *key);
void jsonw_array(struct jsonw *w, const char *key);
void jsonw_end(struct jsonw *w);
void jsonw_string(struct jsonw *w, const char *key, const char *s);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_bool(struct jsonw *w, const char *key, bool v);
/* v thousandths as a decimal number with three places ("3.021", "180.000";
   a tree holds the nearest double): milliseconds from microseconds,
   without the binary noise of "%.17g". */
void jsonw_milli(struct jsonw *w, const char *key, int64_t v);
void jsonw_null(struct jsonw *w, const char *key);
/* "2026-11-22T10:00:03Z", or null for 0. */
void jsonw_time(struct jsonw *w, const char *key, fa_time t);
/* Any jansson value (v NULL: null). */
void jsonw_value(struct jsonw *w, const char *key, const json_t *v);

#endif
