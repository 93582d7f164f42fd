/*
 * http.c - HTTP/1.x messages in one direction of a TCP stream, bodies
 * de-chunked and inflated.
 *
 * Receives in-order stream bytes in pieces of any size (a piece can end in
 * the middle of a header line, a chunk-size line or a gzip block); hands on
 * decoded body bytes through a callback and the first request's line, Host
 * and User-Agent. Owns the header buffer (grows to HTTP_HEADER_MAX) and,
 * while a compressed body is open, one zlib inflate state (http_body.c).
 *
 * Workload: the cleartext streams of a capture, most of them short API
 * calls. Non-HTTP streams are recognised within their first 8 bytes and
 * cost nothing afterwards. Header blocks are collected line by line with
 * memchr and parsed once, through a cursor; body bytes are never copied
 * unless they must be inflated.
 */
#include "flowaudit/http.h"

#include "flowaudit/cursor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	HS_START = 0, /* between messages */
	HS_HEADERS,
	HS_BODY_LEN,
	HS_BODY_CLOSE,
	HS_CHUNK_SIZE,
	HS_CHUNK_DATA,
	HS_CHUNK_CRLF,
	HS_TRAILERS,
};

static const char *const starts[] = {
	"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
	"HTTP/1.",
};

void http_stream_init(struct http_stream *h) { memset(h, 0, sizeof(*h)); }

void http_stream_free(struct http_stream *h)
{
	if (h == NULL)
		return;
	http_body_end(&h->body);
	free(h->hdr);
	h->hdr = NULL;
	h->hdr_cap = h->hdr_len = 0;
}

const struct http_info *http_stream_info(const struct http_stream *h)
{
	return h->have_info ? &h->info : NULL;
}

static void go_inactive(struct http_stream *h)
{
	h->inactive = true;
	http_body_end(&h->body);
	free(h->hdr);
	h->hdr = NULL;
	h->hdr_cap = h->hdr_len = 0;
}

static void end_message(struct http_stream *h)
{
	http_body_end(&h->body);
	h->state = HS_START;
	h->hdr_len = h->line_start = 0;
	h->prefix_ok = false;
	h->remaining = 0;
	h->line_len = 0;
	h->chunked = h->is_response = false;
	http_body_start(&h->body, HTTP_CODING_NONE);
}

/* ---- body decoding ---- */

static void body_bytes(struct http_stream *h, const uint8_t *d, size_t n, http_body_cb body,
		       void *user)
{
	if (h->body.coding == HTTP_CODING_NONE && !h->chunked)
		return; /* in the raw bytes already */
	int rc = http_body_feed(&h->body, d, n, body, user);
	if (rc == HTTP_BODY_CUT)
		h->bombs++;
	else if (rc == HTTP_BODY_ERROR)
		h->inflate_errors++;
}

/* ---- header block ---- */

static bool name_is(const uint8_t *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp((const char *)name, want, n) == 0;
}

bool http_name_is(const uint8_t *name, size_t name_len, const char *want)
{
	return name_len == strlen(want) && strncasecmp((const char *)name, want, name_len) == 0;
}

bool http_request_field(struct http_info *ri, char *scheme, size_t scheme_cap, const uint8_t *name,
			size_t name_len, const uint8_t *value, size_t value_len)
{
	if (http_name_is(name, name_len, ":method")) {
		http_copy_text(ri->method, sizeof(ri->method), value, value_len);
		return true;
	}
	if (http_name_is(name, name_len, ":path"))
		http_copy_text(ri->target, sizeof(ri->target), value, value_len);
	else if (http_name_is(name, name_len, ":scheme"))
		http_copy_text(scheme, scheme_cap, value, value_len);
	else if (http_name_is(name, name_len, ":authority") ||
		 (http_name_is(name, name_len, "host") && ri->host[0] == '\0'))
		http_copy_text(ri->host, sizeof(ri->host), value, value_len);
	else if (http_name_is(name, name_len, "user-agent"))
		http_copy_text(ri->user_agent, sizeof(ri->user_agent), value, value_len);
	return false;
}

void http_copy_text(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++)
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[o] = '\0';
}

static void trim(const uint8_t **s, size_t *n)
{
	while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* Next line from the cursor without its CR LF; false at the end. */
static bool next_line(struct cursor *c, const uint8_t **line, size_t *n)
{
	size_t left = cur_left(c);
	if (left == 0)
		return false;
	const uint8_t *nl = memchr(c->p, '\n', left);
	size_t len = nl ? (size_t)(nl - c->p) : left;
	*line = cur_take(c, len);
	if (nl)
		cur_skip(c, 1);
	*n = len;
	if (*n > 0 && (*line)[*n - 1] == '\r')
		(*n)--;
	return true;
}

static bool has_token(const uint8_t *v, size_t n, const char *tok)
{
	size_t t = strlen(tok);
	for (size_t i = 0; i + t <= n; i++)
		if (strncasecmp((const char *)v + i, tok, t) == 0)
			return true;
	return false;
}

/* Parses the collected header block and picks the body's framing. */
static void parse_headers(struct http_stream *h)
{
	struct cursor c = cur_make(h->hdr, h->hdr_len);
	const uint8_t *line;
	size_t n;
	if (!next_line(&c, &line, &n)) {
		go_inactive(h);
		return;
	}
	h->messages++;
	int status = 0;
	bool connect = false, is_request = false;
	const uint8_t *sp1 = memchr(line, ' ', n);
	if (n >= 7 && memcmp(line, "HTTP/1.", 7) == 0) {
		h->is_response = true;
		if (sp1 != NULL && (size_t)(line + n - sp1) >= 4) {
			for (int i = 1; i <= 3; i++)
				if (sp1[i] >= '0' && sp1[i] <= '9')
					status = status * 10 + (sp1[i] - '0');
		}
	} else if (sp1 != NULL) {
		is_request = true;
		size_t mlen = (size_t)(sp1 - line);
		connect = mlen == 7 && memcmp(line, "CONNECT", 7) == 0;
		if (!h->have_info) {
			http_copy_text(h->info.method, sizeof(h->info.method), line, mlen);
			const uint8_t *t = sp1 + 1;
			size_t tn = n - mlen - 1;
			const uint8_t *sp2 = memchr(t, ' ', tn);
			http_copy_text(h->info.target, sizeof(h->info.target), t, sp2 ? (size_t)(sp2 - t) : tn);
		}
	}
	bool have_len = false, bad_len = false;
	uint64_t clen = 0;
	while (next_line(&c, &line, &n)) {
		const uint8_t *colon = memchr(line, ':', n);
		if (colon == NULL)
			continue;
		size_t nn = (size_t)(colon - line);
		const uint8_t *v = colon + 1;
		size_t vn = n - nn - 1;
		trim(&v, &vn);
		if (name_is(line, nn, "content-length")) {
			uint64_t x = 0;
			bad_len |= vn == 0 || vn > 15;
			for (size_t i = 0; i < vn && !bad_len; i++) {
				if (v[i] < '0' || v[i] > '9')
					bad_len = true;
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			bad_len |= have_len && x != clen;
			clen = x;
			have_len = true;
		} else if (name_is(line, nn, "transfer-encoding")) {
			h->chunked = has_token(v, vn, "chunked");
		} else if (name_is(line, nn, "content-encoding")) {
			h->body.coding = http_body_coding(v, vn);
		} else if (is_request && !h->have_info && name_is(line, nn, "host")) {
			http_copy_text(h->info.host, sizeof(h->info.host), v, vn);
		} else if (is_request && !h->have_info && name_is(line, nn, "user-agent")) {
			http_copy_text(h->info.user_agent, sizeof(h->info.user_agent), v, vn);
		}
	}
	if (is_request)
		h->have_info = true;
	h->hdr_len = h->line_start = 0;
	if (connect || status == 101) {
		go_inactive(h); /* a tunnel or another protocol follows */
		return;
	}
	bool no_body = h->is_response && ((status >= 100 && status < 200) || status == 204 || status == 304);
	if (no_body) {
		end_message(h);
	} else if (h->chunked) {
		h->state = HS_CHUNK_SIZE;
	} else if (bad_len) {
		go_inactive(h); /* the framing is unknowable */
	} else if (have_len) {
		h->remaining = clen;
		h->state = HS_BODY_LEN;
		if (clen == 0)
			end_message(h);
	} else if (h->is_response) {
		h->state = HS_BODY_CLOSE;
	} else {
		end_message(h);
	}
}

static bool prefix_plausible(const struct http_stream *h)
{
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		size_t k = strlen(starts[i]);
		size_t m = h->hdr_len < k ? h->hdr_len : k;
		if (memcmp(h->hdr, starts[i], m) == 0)
			return true;
	}
	return false;
}

/* Collects header bytes up to the empty line; returns bytes consumed. */
static size_t header_bytes(struct http_stream *h, const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t take = nl ? (size_t)(nl - d) + 1 : n;
	if (h->hdr_len + take > HTTP_HEADER_MAX) {
		h->header_too_long++;
		go_inactive(h);
		return n;
	}
	if (h->hdr_len + take > h->hdr_cap) {
		size_t cap = h->hdr_cap ? h->hdr_cap : 512;
		while (cap < h->hdr_len + take)
			cap *= 2;
		if (cap > HTTP_HEADER_MAX)
			cap = HTTP_HEADER_MAX;
		uint8_t *b = realloc(h->hdr, cap);
		if (b == NULL) {
			go_inactive(h);
			return n;
		}
		h->hdr = b;
		h->hdr_cap = cap;
	}
	memcpy(h->hdr + h->hdr_len, d, take);
	h->hdr_len += take;
	if (!h->prefix_ok) {
		/* empty lines before a message are allowed (RFC 9112, 2.2) */
		if (h->hdr_len == 1 && h->hdr[0] == '\r')
			return take;
		if (nl && h->hdr_len <= 2 && (h->hdr[0] == '\n' || h->hdr[0] == '\r')) {
			h->hdr_len = h->line_start = 0;
			return take;
		}
		if (!prefix_plausible(h)) {
			go_inactive(h);
			return n;
		}
		h->prefix_ok = h->hdr_len >= 8;
	}
	if (nl) {
		size_t line = h->hdr_len - h->line_start;
		bool empty = line == 1 || (line == 2 && h->hdr[h->line_start] == '\r');
		h->line_start = h->hdr_len;
		if (empty && h->hdr_len > line)
			parse_headers(h);
	}
	return take;
}

/* ---- chunked framing ---- */

static size_t chunk_line_bytes(struct http_stream *h, const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t take = nl ? (size_t)(nl - d) + 1 : n;
	for (size_t i = 0; i < take; i++)
		if (h->line_len < sizeof(h->line) - 1)
			h->line[h->line_len++] = (char)d[i];
	if (nl == NULL)
		return take;
	h->line[h->line_len] = '\0';
	size_t len = h->line_len;
	h->line_len = 0;
	if (h->state == HS_TRAILERS) {
		if (len <= 2 && (h->line[0] == '\n' || h->line[0] == '\r'))
			end_message(h);
		return take;
	}
	uint64_t size = 0;
	size_t digits = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = h->line[i];
		int v = ch >= '0' && ch <= '9' ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (v < 0)
			break;
		size = size * 16 + (uint64_t)v;
		digits++;
	}
	if (digits == 0 || digits > 15) {
		go_inactive(h);
		return n;
	}
	if (size == 0) {
		h->state = HS_TRAILERS;
	} else {
		h->remaining = size;
		h->state = HS_CHUNK_DATA;
	}
	return take;
}

void http_stream_feed(struct http_stream *h, const uint8_t *d, size_t n, http_body_cb body,
		      void *user)
{
	size_t i = 0;
	while (i < n && !h->inactive) {
		size_t left = n - i, take;
		switch (h->state) {
		case HS_START:
			h->state = HS_HEADERS;
			h->started = true;
			/* fall through */
		case HS_HEADERS:
			i += header_bytes(h, d + i, left);
			break;
		case HS_BODY_LEN:
		case HS_CHUNK_DATA:
			take = left < h->remaining ? left : (size_t)h->remaining;
			body_bytes(h, d + i, take, body, user);
			h->remaining -= take;
			i += take;
			if (h->remaining == 0) {
				if (h->state == HS_BODY_LEN)
					end_message(h);
				else
					h->state = HS_CHUNK_CRLF;
			}
			break;
		case HS_BODY_CLOSE:
			body_bytes(h, d + i, left, body, user);
			i = n;
			break;
		case HS_CHUNK_CRLF:
			if (d[i] == '\n')
				h->state = HS_CHUNK_SIZE;
			else if (d[i] != '\r')
				go_inactive(h);
			i++;
			break;
		case HS_CHUNK_SIZE:
		case HS_TRAILERS:
			i += chunk_line_bytes(h, d + i, left);
			break;
		default:
			go_inactive(h);
			break;
		}
	}
}
