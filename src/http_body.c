/*
 * http_body.c - gzip and deflate content coding undone, bounded.
 *
 * Receives one message body's bytes in order (a piece can end inside a gzip
 * header or a deflate block); hands on the decoded bytes through a callback.
 * Owns, while a compressed body is open, one zlib inflate state; decoding
 * goes through a 16 KiB stack buffer, so nothing grows with the body.
 */
#include "flowaudit/http_body.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define INFLATE_FREE_OUT (64 * 1024)

int http_body_coding(const uint8_t *v, size_t n)
{
	if ((n == 4 && strncasecmp((const char *)v, "gzip", 4) == 0) ||
	    (n == 6 && strncasecmp((const char *)v, "x-gzip", 6) == 0))
		return HTTP_CODING_GZIP;
	if (n == 7 && strncasecmp((const char *)v, "deflate", 7) == 0)
		return HTTP_CODING_DEFLATE;
	return HTTP_CODING_NONE; /* identity, br, stacked codings */
}

void http_body_start(struct http_body *b, int coding)
{
	memset(b, 0, sizeof(*b));
	b->coding = coding;
}

void http_body_end(struct http_body *b)
{
	if (b->z != NULL) {
		inflateEnd(b->z);
		free(b->z);
		b->z = NULL;
	}
}

static int emit_out(struct http_body *b, const uint8_t *d, size_t n, http_body_cb cb, void *user)
{
	if (b->out >= HTTP_BODY_MAX)
		return HTTP_BODY_OK;
	int rc = HTTP_BODY_OK;
	size_t room = (size_t)(HTTP_BODY_MAX - b->out);
	if (n > room) {
		n = room;
		rc = HTTP_BODY_CUT;
		b->done = true;
	}
	b->out += n;
	if (n > 0 && cb != NULL)
		cb(d, n, user);
	return rc;
}

static bool open_inflate(struct http_body *b, int window_bits)
{
	b->z = calloc(1, sizeof(*b->z));
	if (b->z == NULL || inflateInit2(b->z, window_bits) != Z_OK) {
		free(b->z);
		b->z = NULL;
		b->done = true;
		return false;
	}
	return true;
}

static int inflate_bytes(struct http_body *b, const uint8_t *d, size_t n, http_body_cb cb, void *user)
{
	uint8_t out[16384];
	int ret = HTTP_BODY_OK;
	b->z->next_in = (Bytef *)(uintptr_t)d;
	b->z->avail_in = (uInt)n;
	while (!b->done) {
		b->z->next_out = out;
		b->z->avail_out = sizeof(out);
		int rc = inflate(b->z, Z_NO_FLUSH);
		size_t got = sizeof(out) - b->z->avail_out;
		if (b->out + got > INFLATE_FREE_OUT &&
		    b->out + got > (uint64_t)HTTP_INFLATE_RATIO * b->z->total_in) {
			ret = HTTP_BODY_CUT;
			b->done = true;
			break;
		}
		if (emit_out(b, out, got, cb, user) != HTTP_BODY_OK)
			ret = HTTP_BODY_CUT;
		if (rc == Z_STREAM_END) {
			b->done = true;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			ret = HTTP_BODY_ERROR;
			b->done = true;
		} else if (b->z->avail_in == 0 && got < sizeof(out)) {
			break;
		} else if (rc == Z_BUF_ERROR && got == 0) {
			break;
		}
	}
	if (b->done)
		http_body_end(b);
	return ret;
}

int http_body_feed(struct http_body *b, const uint8_t *d, size_t n, http_body_cb cb, void *user)
{
	if (n == 0)
		return HTTP_BODY_OK;
	if (b->coding == HTTP_CODING_NONE)
		return emit_out(b, d, n, cb, user);
	if (b->done)
		return HTTP_BODY_OK;
	b->in += n;
	if (b->z == NULL) {
		if (b->coding == HTTP_CODING_GZIP) {
			if (!open_inflate(b, 15 + 32)) /* gzip or zlib, detected */
				return HTTP_BODY_OK;
		} else {
			/* "deflate" means zlib-wrapped, but servers send raw deflate too;
			   a zlib header is two bytes whose value is a multiple of 31 */
			while (b->zpend_len < 2 && n > 0) {
				b->zpend[b->zpend_len++] = *d++;
				n--;
			}
			if (b->zpend_len < 2)
				return HTTP_BODY_OK;
			unsigned v = (unsigned)b->zpend[0] << 8 | b->zpend[1];
			bool zlib = (b->zpend[0] & 0x0f) == 8 && v % 31 == 0;
			if (!open_inflate(b, zlib ? 15 : -15))
				return HTTP_BODY_OK;
			int rc = inflate_bytes(b, b->zpend, 2, cb, user);
			if (b->z == NULL || n == 0)
				return rc;
		}
	}
	return inflate_bytes(b, d, n, cb, user);
}
