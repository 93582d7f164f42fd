/*
 * http_body.h - undoing the content coding of one HTTP message body (gzip,
 * x-gzip, deflate), shared by the HTTP/1.x and HTTP/2 decoders.
 *
 * Receives the body's bytes in order, in pieces of any size; hands on the
 * decoded bytes through a callback. Output is bounded per body
 * (HTTP_BODY_MAX) and, past the first 64 KiB, by ratio to its compressed
 * input (HTTP_INFLATE_RATIO), so a compression bomb costs little. A body
 * whose coding is HTTP_CODING_NONE is handed on as it is, within the same
 * bound.
 *
 * Ownership: struct http_body is embedded by its owner; http_body_start()
 * zeroes it and allocates nothing; the zlib state is allocated at the first
 * compressed byte and released when the body ends, is cut, fails, or at
 * http_body_end() (on a zeroed or ended struct a no-op).
 */
#ifndef FLOWAUDIT_HTTP_BODY_H
#define FLOWAUDIT_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_BODY_MAX (1024 * 1024)  /* decoded bytes handed on per message */
#define HTTP_INFLATE_RATIO 200       /* decoded : compressed, past the first 64 KiB */

enum { HTTP_CODING_NONE = 0, HTTP_CODING_GZIP, HTTP_CODING_DEFLATE };

/* What one http_body_feed() call ran into; each happens at most once a body. */
enum { HTTP_BODY_OK = 0, HTTP_BODY_CUT, HTTP_BODY_ERROR };

typedef void (*http_body_cb)(const uint8_t *d, size_t n, void *user);

struct z_stream_s;

struct http_body {
	int coding;
	struct z_stream_s *z;
	uint8_t zpend[2];     /* the first two bytes of a "deflate" body */
	size_t zpend_len;
	bool done;            /* ended, cut or failed: later bytes are ignored */
	uint64_t in, out;
};

/* The coding a Content-Encoding value names; stacked or other codings are NONE. */
int http_body_coding(const uint8_t *v, size_t n);
void http_body_start(struct http_body *b, int coding);
/* Decodes n bytes; returns HTTP_BODY_CUT or HTTP_BODY_ERROR when this call hit one. */
int http_body_feed(struct http_body *b, const uint8_t *d, size_t n, http_body_cb cb, void *user);
void http_body_end(struct http_body *b);

#endif
