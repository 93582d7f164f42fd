/*
 * http2.h - incremental HTTP/2 decoder for one connection (RFC 9113, HPACK
 * RFC 7541), so that names, request lines and the identifier scanner see
 * inside HTTP/2 what they see in HTTP/1.x: the requests' header fields
 * (HPACK-coded on the wire) and bodies (cut into DATA frames, padded,
 * maybe gzip- or deflate-coded).
 *
 * The caller feeds the in-order bytes of each direction of one TCP stream
 * (HTTP2_C2S: client to server, HTTP2_S2C: server to client; the values of
 * FLOW_OUT and FLOW_IN), in pieces of any size and in any interleaving of
 * the two directions that the capture gives. Whether the bytes came from
 * TLS (after decryption) or from a plain TCP stream with prior knowledge
 * (h2c) makes no difference. The client's bytes must start with the
 * connection preface and the server's with a SETTINGS frame; anything else
 * switches the connection off (inactive): every later feed returns at once.
 * So does a malformed frame, a header block that does not decode
 * (COMPRESSION_ERROR) or a bound crossed; off_reason says which.
 *
 * Handed on, through the callbacks given to each feed:
 * - every header field of every header block (HEADERS, CONTINUATION,
 *   PUSH_PROMISE), decoded, with its stream and direction;
 * - each request (a client header block with :method), with :method,
 *   :scheme, :authority (or Host), :path and User-Agent, when its header
 *   block is complete;
 * - the body of every stream in each direction (DATA payload without
 *   padding) with gzip or deflate content coding undone, in order, with its
 *   offset in that body, bounded as HTTP/1.x bodies are (http_body.h).
 *
 * Bounds: frames up to the receiver's SETTINGS_MAX_FRAME_SIZE and never
 * over HTTP2_FRAME_MAX; only non-DATA frames are buffered. HPACK dynamic
 * tables follow each side's SETTINGS_HEADER_TABLE_SIZE, applied when the
 * peer acknowledges it, and never exceed HTTP2_TABLE_MAX. Fields of a header
 * block past HTTP2_HEADER_LIST_MAX bytes are decoded but not handed on.
 * HTTP2_STREAMS_MAX streams are tracked at once; opening one more forgets
 * the oldest (its later DATA is skipped).
 *
 * Ownership: struct http2_conn is embedded by its owner; init zeroes it
 * and allocates nothing; state is allocated at the first byte and released
 * when the connection is switched off or by http2_conn_free() (on a zeroed
 * or freed struct a no-op). Pointers handed to callbacks are valid during
 * the call only. http2_conn_info() stays valid until http2_conn_free().
 */
#ifndef FLOWAUDIT_HTTP2_H
#define FLOWAUDIT_HTTP2_H

#include "flowaudit/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP2_FRAME_MAX (256 * 1024)       /* any frame, whatever SETTINGS allow */
#define HTTP2_TABLE_MAX (64 * 1024)        /* HPACK dynamic table, each direction */
#define HTTP2_HEADER_LIST_MAX (64 * 1024)  /* name + value bytes handed on per block */
#define HTTP2_STREAMS_MAX 256              /* streams tracked at once */

enum { HTTP2_C2S = 0, HTTP2_S2C = 1 };

enum http2_off {
	HTTP2_ON = 0,
	HTTP2_OFF_NOT_HTTP2,    /* no client preface, or the server did not start with SETTINGS */
	HTTP2_OFF_FRAME_SIZE,   /* a frame over its limit, or of a length its type forbids */
	HTTP2_OFF_PROTOCOL,     /* a frame where it may not be (stream 0, CONTINUATION, padding) */
	HTTP2_OFF_COMPRESSION,  /* a header block HPACK cannot decode */
	HTTP2_OFF_NOMEM,
};

struct http2_field {
	uint32_t stream_id;
	int dir;
	bool trailer;             /* the stream's second header block in this direction */
	const uint8_t *name, *value;
	size_t name_len, value_len;
};

struct http2_request {
	uint32_t stream_id;
	struct http_info info;    /* method, target = :path, host = :authority, user agent */
	char scheme[16];
};

struct http2_data {
	uint32_t stream_id;
	int dir;
	const uint8_t *d;
	size_t n;
	uint64_t offset;          /* of d[0] in this stream's decoded body in this direction */
	uint32_t *state;          /* the caller's word, kept with the body; 0 at offset 0 */
};

struct http2_callbacks {
	void (*field)(const struct http2_field *f, void *user);
	void (*request)(const struct http2_request *r, void *user);
	void (*data)(const struct http2_data *d, void *user);
	void *user;
};

struct http2_state;

struct http2_conn {
	bool inactive;
	bool active;              /* the client preface was seen */
	enum http2_off off_reason;
	bool have_info;
	struct http_info info;    /* from the first request */
	struct http2_state *st;

	/* statistics */
	uint64_t frames[2];       /* complete frames, by direction */
	uint64_t requests, responses;
	uint64_t streams_evicted; /* forgotten to make room for a newer stream */
	uint64_t lists_cut;       /* header blocks over HTTP2_HEADER_LIST_MAX */
	uint64_t data_skipped;    /* DATA bytes of streams not tracked */
	uint64_t bombs;           /* decoded bodies cut at a bound */
	uint64_t inflate_errors;  /* bodies whose content coding failed */
	uint64_t goaways;
};

/*
 * Whether a connection whose first byte in direction dir is b can be HTTP/2:
 * the client's preface starts with 'P', the server's SETTINGS frame with the
 * high byte of a length under 16384. A caller that keeps decoders apart from
 * its per-flow state can allocate one only for such connections; the
 * decoder itself switches off on other first bytes before allocating.
 */
static inline bool http2_first_byte_ok(int dir, uint8_t b)
{
	return dir == HTTP2_C2S ? b == 'P' : b == 0;
}

void http2_conn_init(struct http2_conn *c);
/* Feeds n in-order bytes of direction dir; cb (or any of its members) may be NULL. */
void http2_conn_feed(struct http2_conn *c, int dir, const uint8_t *d, size_t n,
		     const struct http2_callbacks *cb);
void http2_conn_free(struct http2_conn *c);
/* The first request's :method, :path, :authority and user agent; NULL until one was decoded. */
const struct http_info *http2_conn_info(const struct http2_conn *c);
/* "not_http2", "frame_size", "protocol", "compression", "nomem"; "" while on. */
const char *http2_off_str(enum http2_off r);

#endif
