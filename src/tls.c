/*
 * tls.c - server name (RFC 6066 section 3), ALPN (RFC 7301) and the
 * encrypted_client_hello extension (draft-ietf-tls-esni) of a TLS
 * ClientHello (RFC 8446 section 4.1.2; RFC 5246 section 7.4.1.2).
 *
 * Receives: the client's first stream bytes, possibly incomplete, or (from
 * QUIC) a bare handshake message. Hands on: the whole SNI host name, the
 * first ALPN protocol and whether ECH is in use. Owns nothing; writes
 * only into the caller's buffers (plus a TLS_HELLO_MAX scratch buffer on the
 * stack, used when a hello is split over several records).
 *
 * Workload: called once per new TCP connection, and again each time more of
 * the client stream arrives until the hello is complete, so the common case
 * (one record holding the whole hello) reads in place with no copy.
 *
 *   record:    type(1)=0x16 version(2)=0x03 0x00..0x04 length(2)
 *   handshake: type(1)=1 length(3) ClientHello
 *   hello:     version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *              compression_methods<1..2^8-1> extensions<0..2^16-1>
 */
#include "flowaudit/tls.h"

#include "flowaudit/common.h"
#include "flowaudit/cursor.h"

#include <stdbool.h>
#include <string.h>

#define REC_HANDSHAKE 0x16
#define REC_BODY_MAX (16384 + 2048) /* RFC 8446 5.2: the largest TLSCiphertext */
#define HS_CLIENT_HELLO 1
#define HS_HEADER 4
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_ECH 0xfe0d /* encrypted_client_hello (draft-ietf-tls-esni) */
#define SNI_HOST_NAME 0

const char *tls_parse_status_name(enum tls_parse_status s)
{
	switch (s) {
	case TLS_PARSE_OK: return "ok";
	case TLS_PARSE_NEED_MORE: return "need-more";
	case TLS_PARSE_NOT_TLS: return "not-tls";
	case TLS_PARSE_MALFORMED: return "malformed";
	}
	return "unknown";
}

/*
 * Record header, read a byte at a time so that a short prefix which could
 * still become a handshake record asks for more instead of being refused.
 * A record after the first that is not a handshake record cuts the hello.
 */
static enum tls_parse_status record_header(struct cursor *c, bool first, size_t *rec_len)
{
	enum tls_parse_status wrong = first ? TLS_PARSE_NOT_TLS : TLS_PARSE_MALFORMED;
	if (cur_left(c) < 1)
		return TLS_PARSE_NEED_MORE;
	if (cur_u8(c) != REC_HANDSHAKE)
		return wrong;
	if (cur_left(c) < 1)
		return TLS_PARSE_NEED_MORE;
	if (cur_u8(c) != 0x03)
		return wrong;
	if (cur_left(c) < 1)
		return TLS_PARSE_NEED_MORE;
	if (cur_u8(c) > 0x04)
		return wrong;
	if (cur_left(c) < 2)
		return TLS_PARSE_NEED_MORE;
	*rec_len = cur_be16(c);
	if (*rec_len == 0 || *rec_len > REC_BODY_MAX)
		return TLS_PARSE_MALFORMED;
	return TLS_PARSE_OK;
}

/* Handshake header at the start of b (at least 4 bytes): type and length. */
static enum tls_parse_status hs_header(struct cursor b, size_t *hs_len)
{
	if (cur_u8(&b) != HS_CLIENT_HELLO)
		return TLS_PARSE_NOT_TLS;
	uint32_t hi = cur_u8(&b);
	uint32_t lo = cur_be16(&b);
	*hs_len = (size_t)(hi << 16 | lo);
	if (*hs_len > TLS_HELLO_MAX)
		return TLS_PARSE_MALFORMED;
	return TLS_PARSE_OK;
}

/*
 * Finds the whole handshake message (header included): borrowed from the
 * first record when it fits there, else gathered from successive records
 * into buf (TLS_HELLO_MAX + HS_HEADER bytes).
 */
static enum tls_parse_status gather(const uint8_t *data, size_t len, uint8_t *buf,
				    struct cursor *msg)
{
	struct cursor c = cur_make(data, len);
	size_t have = 0, hs_len = 0;
	bool first = true;
	for (;;) {
		size_t rec_len = 0;
		enum tls_parse_status st = record_header(&c, first, &rec_len);
		if (st != TLS_PARSE_OK)
			return st;
		size_t avail = cur_left(&c) < rec_len ? cur_left(&c) : rec_len;
		struct cursor body = cur_sub(&c, avail);
		if (first) {
			struct cursor peek = body;
			if (avail >= 1 && cur_u8(&peek) != HS_CLIENT_HELLO)
				return TLS_PARSE_NOT_TLS;
			if (avail >= HS_HEADER) {
				st = hs_header(body, &hs_len);
				if (st != TLS_PARSE_OK)
					return st;
				if (avail - HS_HEADER >= hs_len) {
					*msg = cur_sub(&body, HS_HEADER + hs_len);
					return TLS_PARSE_OK;
				}
			}
			/* the hello may go on in a later record only once this one ends */
			if (avail < rec_len)
				return TLS_PARSE_NEED_MORE;
			first = false;
		}
		size_t room = TLS_HELLO_MAX + HS_HEADER - have;
		size_t n = avail < room ? avail : room;
		cur_bytes(&body, buf + have, n);
		have += n;
		if (have >= HS_HEADER) {
			st = hs_header(cur_make(buf, have), &hs_len);
			if (st != TLS_PARSE_OK)
				return st;
			if (have - HS_HEADER >= hs_len) {
				*msg = cur_make(buf, HS_HEADER + hs_len);
				return TLS_PARSE_OK;
			}
		}
		if (avail < rec_len)
			return TLS_PARSE_NEED_MORE;
	}
}

static bool host_byte_ok(uint8_t b) { return b > 0x20 && b < 0x7f; }

static enum tls_parse_status read_sni(struct cursor d, char *sni, size_t sni_len)
{
	if (cur_left(&d) == 0)
		return TLS_PARSE_OK;
	uint16_t list_len = cur_be16(&d);
	struct cursor list = cur_sub(&d, list_len);
	if (!cur_ok(&d))
		return TLS_PARSE_MALFORMED;
	bool found = false;
	while (cur_left(&list) > 0) {
		uint8_t type = cur_u8(&list);
		uint16_t n = cur_be16(&list);
		const uint8_t *name = cur_take(&list, n);
		if (name == NULL)
			return TLS_PARSE_MALFORMED;
		if (type != SNI_HOST_NAME || found)
			continue;
		found = true;
		if (n == 0)
			return TLS_PARSE_MALFORMED;
		struct cursor nc = cur_make(name, n);
		for (size_t i = 0; i < n; i++)
			if (!host_byte_ok(cur_u8(&nc)))
				return TLS_PARSE_MALFORMED;
		if (sni == NULL || (size_t)n >= sni_len)
			return TLS_PARSE_MALFORMED;
		memcpy(sni, name, n);
		sni[n] = '\0';
		fa_host_normalize(sni);
	}
	return TLS_PARSE_OK;
}

static enum tls_parse_status read_alpn(struct cursor d, char *alpn, size_t alpn_len)
{
	uint16_t list_len = cur_be16(&d);
	struct cursor list = cur_sub(&d, list_len);
	uint8_t n = cur_u8(&list);
	const uint8_t *proto = cur_take(&list, n);
	if (!cur_ok(&d) || proto == NULL || n == 0)
		return TLS_PARSE_MALFORMED;
	if (alpn == NULL || (size_t)n >= alpn_len)
		return TLS_PARSE_OK;
	struct cursor pc = cur_make(proto, n);
	for (size_t i = 0; i < n; i++)
		if (!host_byte_ok(cur_u8(&pc)))
			return TLS_PARSE_OK;
	memcpy(alpn, proto, n);
	alpn[n] = '\0';
	return TLS_PARSE_OK;
}

/* Where parse_hello() writes: the caller's buffers and flag. */
struct hello_out {
	char *sni, *alpn;
	size_t sni_len, alpn_len;
	bool ech;
};

static enum tls_parse_status parse_hello(struct cursor h, struct hello_out *o)
{
	cur_skip(&h, HS_HEADER + 2 + 32); /* header, legacy_version, random */
	uint8_t sid = cur_u8(&h);
	cur_skip(&h, sid);
	uint16_t cs = cur_be16(&h);
	cur_skip(&h, cs);
	uint8_t comp = cur_u8(&h);
	cur_skip(&h, comp);
	if (!cur_ok(&h) || sid > 32 || cs < 2 || (cs & 1) != 0 || comp < 1)
		return TLS_PARSE_MALFORMED;
	if (cur_left(&h) == 0) /* a hello without extensions */
		return TLS_PARSE_OK;
	uint16_t ext_len = cur_be16(&h);
	struct cursor ext = cur_sub(&h, ext_len);
	if (!cur_ok(&h))
		return TLS_PARSE_MALFORMED;
	bool seen_sni = false, seen_alpn = false;
	while (cur_left(&ext) > 0) {
		uint16_t type = cur_be16(&ext);
		uint16_t n = cur_be16(&ext);
		struct cursor d = cur_sub(&ext, n);
		if (!cur_ok(&ext))
			return TLS_PARSE_MALFORMED;
		enum tls_parse_status st = TLS_PARSE_OK;
		if (type == EXT_SERVER_NAME) {
			/* RFC 8446 4.2: one extension of each type at most */
			if (seen_sni)
				return TLS_PARSE_MALFORMED;
			seen_sni = true;
			st = read_sni(d, o->sni, o->sni_len);
		} else if (type == EXT_ALPN) {
			if (seen_alpn)
				return TLS_PARSE_MALFORMED;
			seen_alpn = true;
			st = read_alpn(d, o->alpn, o->alpn_len);
		} else if (type == EXT_ECH) {
			o->ech = true;
		}
		if (st != TLS_PARSE_OK)
			return st;
	}
	return TLS_PARSE_OK;
}

static void out_clear(struct hello_out *o)
{
	if (o->sni != NULL && o->sni_len > 0)
		o->sni[0] = '\0';
	if (o->alpn != NULL && o->alpn_len > 0)
		o->alpn[0] = '\0';
	o->ech = false;
}

/* From TLS records (from_records) or a bare handshake message. */
static enum tls_parse_status hello_parse(const uint8_t *data, size_t len, bool from_records,
					 struct hello_out *o)
{
	out_clear(o);
	if (data == NULL)
		len = 0;
	enum tls_parse_status st;
	struct cursor msg;
	if (from_records) {
		uint8_t buf[TLS_HELLO_MAX + HS_HEADER];
		st = gather(data, len, buf, &msg);
		if (st == TLS_PARSE_OK)
			st = parse_hello(msg, o);
	} else {
		size_t hs_len = 0;
		struct cursor c = cur_make(data, len);
		struct cursor peek = c;
		if (len >= 1 && cur_u8(&peek) != HS_CLIENT_HELLO)
			st = TLS_PARSE_NOT_TLS;
		else if (len < HS_HEADER)
			st = TLS_PARSE_NEED_MORE;
		else if ((st = hs_header(c, &hs_len)) == TLS_PARSE_OK && len - HS_HEADER < hs_len)
			st = TLS_PARSE_NEED_MORE;
		if (st == TLS_PARSE_OK)
			st = parse_hello(cur_sub(&c, HS_HEADER + hs_len), o);
	}
	if (st != TLS_PARSE_OK)
		out_clear(o);
	return st;
}

enum tls_parse_status tls_client_hello(const uint8_t *data, size_t len, struct tls_hello *out)
{
	struct hello_out o = {out->sni, out->alpn, sizeof(out->sni), sizeof(out->alpn), false};
	enum tls_parse_status st = hello_parse(data, len, true, &o);
	out->ech = o.ech;
	return st;
}

enum tls_parse_status tls_handshake_hello(const uint8_t *msg, size_t len, struct tls_hello *out)
{
	struct hello_out o = {out->sni, out->alpn, sizeof(out->sni), sizeof(out->alpn), false};
	enum tls_parse_status st = hello_parse(msg, len, false, &o);
	out->ech = o.ech;
	return st;
}

enum tls_parse_status tls_client_hello_sni(const uint8_t *data, size_t len, char *sni,
					   size_t sni_len, char *alpn, size_t alpn_len)
{
	struct hello_out o = {sni, alpn, sni_len, alpn_len, false};
	return hello_parse(data, len, true, &o);
}
