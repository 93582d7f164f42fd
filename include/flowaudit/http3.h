/*
 * http3.h - HTTP/3 (RFC 9114) and QPACK (RFC 9204) over the decrypted,
 * in-order streams of one QUIC connection.
 *
 * Receives the stream bytes quic_decrypt.c hands on, per stream and
 * direction. Reads the stream type of each unidirectional stream (control,
 * QPACK encoder, QPACK decoder, push; others are ignored), the SETTINGS on
 * each control stream (the QPACK table capacity each side allows), the
 * encoder streams' instructions, and the HEADERS and DATA frames of the
 * request streams. Header blocks are decoded by libnghttp3's QPACK
 * decoder; a block that refers to table entries not inserted yet waits
 * until the encoder stream brings them (a blocked stream) and is decoded
 * then. Hands on the same events as HTTP/2 (http2.h): each header field,
 * each request (method, :path, :authority, user agent) and the decoded
 * body bytes (Content-Encoding gzip or deflate undone by http_body.c), so
 * that what is found in them does not depend on the HTTP version.
 *
 * Bounds: HTTP3_FRAME_MAX per HEADERS frame (larger ones are skipped and
 * counted), HTTP3_CONN_HOLD for every block being collected and every
 * byte that waits behind a blocked block (past it, the frame is skipped or
 * the blocked stream dropped, counted), HTTP3_TABLE_MAX of dynamic table per direction whatever
 * SETTINGS say, HTTP3_STREAMS request streams followed at once,
 * HTTP3_BLOCKED blocked header blocks per direction; bodies as HTTP/2's.
 * A block QPACK cannot decode ends that direction's header decoding
 * (its table is no longer known), counted; other streams' bodies go on.
 *
 * Ownership: the connection owns the QPACK decoders and the streams'
 * state; http3_conn_free(NULL) is a no-op. Fields passed to callbacks are
 * borrowed for the call.
 */
#ifndef FLOWAUDIT_HTTP3_H
#define FLOWAUDIT_HTTP3_H

#include "flowaudit/http2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP3_FRAME_MAX ((size_t)64 * 1024) /* a HEADERS frame's header block */
#define HTTP3_TABLE_MAX ((size_t)64 * 1024) /* QPACK dynamic table, each direction */
#define HTTP3_STREAMS 64             /* request streams at once */
#define HTTP3_BLOCKED 16             /* blocked header blocks per direction */
#define HTTP3_CONN_HOLD ((size_t)256 * 1024) /* header blocks being collected and bytes of
					blocked streams, every stream of a connection */

struct http3_stats {
	uint64_t requests, responses;
	uint64_t frames[2];          /* complete frames, by direction */
	uint64_t qpack_failed;       /* header blocks or encoder instructions QPACK refused */
	uint64_t frames_skipped;     /* HEADERS over HTTP3_FRAME_MAX, blocked past HTTP3_BLOCKED */
	uint64_t streams_evicted;
	uint64_t stream_gaps;        /* streams quic_decrypt.c could not hand on whole */
	uint64_t bombs, inflate_errors;
};

struct http3_conn;
struct http3_conn *http3_conn_new(void);
void http3_conn_free(struct http3_conn *c);

/* The next in-order bytes of stream sid in direction dir (HTTP2_C2S, HTTP2_S2C). */
void http3_stream(struct http3_conn *c, int dir, uint64_t sid, const uint8_t *d, size_t n,
		  bool fin, const struct http2_callbacks *cb);
/* The stream lost bytes: it is read no further. */
void http3_stream_gap(struct http3_conn *c, int dir, uint64_t sid);
/* The first request's method, target, host and user agent; NULL before one. */
const struct http_info *http3_first_request(const struct http3_conn *c);
void http3_stats(const struct http3_conn *c, struct http3_stats *out);

#endif
