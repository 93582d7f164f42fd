/*
 * tls.h - the server name and ALPN of a TLS ClientHello.
 *
 * Receives: the first bytes the client sent on a TCP connection, in stream
 * order (the caller reassembles segments). Hands on: the full SNI host name
 * (nDPI cuts names at 79 characters; this does not) and the first ALPN
 * protocol. Nothing is allocated; the caller owns the data and both output
 * buffers, which are always NUL-terminated when their length is non-zero.
 *
 * A ClientHello split over several handshake records is put back together
 * when it is at most TLS_HELLO_MAX bytes.
 */
#ifndef FLOWAUDIT_TLS_H
#define FLOWAUDIT_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_HELLO_MAX 16384 /* largest ClientHello handshake message inspected */

enum tls_parse_status {
	TLS_PARSE_OK = 0,    /* sni (empty without a server_name extension) and alpn filled */
	TLS_PARSE_NEED_MORE, /* the ClientHello continues past len: call again with more */
	TLS_PARSE_NOT_TLS,   /* not a TLS handshake record holding a ClientHello */
	TLS_PARSE_MALFORMED, /* a ClientHello whose fields are inconsistent, an SNI that is
				not printable ASCII or does not fit sni_len, or a hello
				larger than TLS_HELLO_MAX */
};

/*
 * Parses the ClientHello at the start of data. sni gets the first host_name
 * of the server_name extension in lower case without a trailing dot; alpn
 * gets the first protocol name of the ALPN extension (empty when absent, not
 * printable, or longer than alpn_len - 1). alpn may be NULL with alpn_len 0.
 */
enum tls_parse_status tls_client_hello_sni(const uint8_t *data, size_t len, char *sni,
					   size_t sni_len, char *alpn, size_t alpn_len);

const char *tls_parse_status_name(enum tls_parse_status s);

#endif
