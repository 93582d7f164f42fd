/*
 * tls.h - the server name and ALPN of a TLS ClientHello.
 *
 * Receives: the first bytes the client sent on a TCP connection, in stream
 * order (the caller reassembles segments), or the ClientHello handshake
 * message of a QUIC connection's Initial CRYPTO stream (quic.c), which has
 * no record layer. Both go through the same parser. Hands on: the full SNI
 * host name (nDPI cuts names at 79 characters; this does not), the first
 * ALPN protocol, and whether the hello carries an encrypted_client_hello
 * extension (ECH: the SNI is then the outer, public name and the real
 * destination is hidden). Nothing is allocated; the caller owns the data
 * and the output, whose strings are always NUL-terminated.
 *
 * A ClientHello split over several handshake records is put back together
 * when it is at most TLS_HELLO_MAX bytes.
 */
#ifndef FLOWAUDIT_TLS_H
#define FLOWAUDIT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_HELLO_MAX 16384 /* largest ClientHello handshake message inspected */
#define TLS_SNI_MAX 256
#define TLS_ALPN_MAX 64

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
struct tls_hello {
	char sni[TLS_SNI_MAX];   /* empty without a server_name extension */
	char alpn[TLS_ALPN_MAX]; /* the first protocol; empty when absent */
	bool ech;                /* an encrypted_client_hello extension (0xfe0d) */
};

/* The ClientHello at the start of data, in TLS records. */
enum tls_parse_status tls_client_hello(const uint8_t *data, size_t len, struct tls_hello *out);

/*
 * The ClientHello handshake message at the start of msg, with no record
 * layer (QUIC's CRYPTO stream): NEED_MORE until its whole length is there.
 */
enum tls_parse_status tls_handshake_hello(const uint8_t *msg, size_t len, struct tls_hello *out);

/* tls_client_hello() into separate buffers. */
enum tls_parse_status tls_client_hello_sni(const uint8_t *data, size_t len, char *sni,
					   size_t sni_len, char *alpn, size_t alpn_len);

const char *tls_parse_status_name(enum tls_parse_status s);

#endif
