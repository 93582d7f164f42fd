/*
 * strpool.h - interned strings.
 *
 * Host names, protocol names and categories repeat across thousands of flows;
 * each distinct string is stored once and flows keep a pointer. Strings live
 * until strpool_free(). The pool is bounded: past max_bytes, strpool_intern()
 * returns NULL and counts the refusal, and callers keep the flow without that
 * name rather than growing without limit.
 */
#ifndef FLOWAUDIT_STRPOOL_H
#define FLOWAUDIT_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct strpool;

struct strpool *strpool_new(size_t max_bytes); /* 0: 256 MiB */
void strpool_free(struct strpool *p);          /* NULL is a no-op */
/* Returns the pooled copy of s (first len bytes), or NULL when full. */
const char *strpool_intern_n(struct strpool *p, const char *s, size_t len);
const char *strpool_intern(struct strpool *p, const char *s);
size_t strpool_bytes(const struct strpool *p);
uint64_t strpool_refused(const struct strpool *p);

#endif
