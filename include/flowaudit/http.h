/*
 * http.h - incremental HTTP/1.x message decoder for one direction of a
 * plaintext stream, so that the identifier scanner also sees bodies as the
 * application wrote them.
 *
 * The caller scans the raw stream bytes itself; this decoder hands on what
 * the raw bytes hide: the body with chunked transfer coding removed and
 * with gzip or deflate content coding undone. Bodies that are neither
 * chunked nor compressed are not handed on (they are already in the raw
 * bytes). The decoded body of one message arrives in order, in pieces, via
 * the body callback; a scanner should carry its state across the pieces of
 * one stream. Decoded output is bounded per message (HTTP_BODY_MAX) and by
 * ratio to its compressed input, so a compression bomb costs little.
 *
 * Requests and responses are told apart by their first line; pipelined
 * messages follow each other. Headers larger than HTTP_HEADER_MAX, or bytes
 * that do not start an HTTP message, switch the stream off (inactive): every
 * later feed returns at once. A protocol switch (CONNECT, 101) does too.
 *
 * Ownership: struct http_stream is embedded by its owner; init zeroes it
 * and allocates nothing; buffers are allocated when needed and released by
 * http_stream_free() (on a zeroed or freed struct a no-op). The http_info
 * pointer stays valid until http_stream_free().
 */
#ifndef FLOWAUDIT_HTTP_H
#define FLOWAUDIT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowaudit/http_body.h"

#define HTTP_HEADER_MAX (16 * 1024)

struct http_info {
	char method[16];
	char target[512];
	char host[256];       /* as sent, port included */
	char user_agent[256];
};

struct http_stream {
	int state;
	bool inactive;
	bool started;             /* the stream's first message began */
	bool have_info;
	struct http_info info;    /* from the first request */

	uint8_t *hdr;             /* header block being collected */
	size_t hdr_len, hdr_cap, line_start;
	bool prefix_ok;

	uint64_t remaining;       /* of a Content-Length body or of a chunk */
	char line[64];            /* chunk-size or trailer line */
	size_t line_len;
	bool chunked, is_response;
	struct http_body body;    /* content coding being undone */

	/* statistics */
	uint64_t messages;        /* messages whose headers were parsed */
	uint64_t header_too_long; /* gave up: header block over HTTP_HEADER_MAX */
	uint64_t bombs;           /* decoded output cut at a bound */
	uint64_t inflate_errors;
};

void http_stream_init(struct http_stream *h);
void http_stream_feed(struct http_stream *h, const uint8_t *d, size_t n, http_body_cb body,
		      void *user);
void http_stream_free(struct http_stream *h);
/* The first request's line and headers; NULL until one was parsed. */
const struct http_info *http_stream_info(const struct http_stream *h);

/* Copies n bytes as printable ASCII ('?' for others), cut to fit cap. */
void http_copy_text(char *dst, size_t cap, const uint8_t *s, size_t n);

/*
 * One field of an HTTP/2 or HTTP/3 request's header block into what the
 * request says of itself: :method, :path, :scheme (into scheme, of
 * scheme_cap bytes), :authority (or Host, when there is no :authority)
 * and user-agent. True when the field was :method.
 */
bool http_request_field(struct http_info *ri, char *scheme, size_t scheme_cap, const uint8_t *name,
			size_t name_len, const uint8_t *value, size_t value_len);
/* Is the field name (of name_len bytes) want, in any case? */
bool http_name_is(const uint8_t *name, size_t name_len, const char *want);

#endif
