/*
 * quic.h - the TLS ClientHello inside a QUIC connection's client Initial
 * packets.
 *
 * Receives: the UDP payloads a client sends, in capture order. Hands on,
 * once the ClientHello is whole: its SNI, first ALPN protocol and ECH flag
 * (tls.h), parsed by the same code as a TCP ClientHello.
 *
 * What it reads: long-header packets of QUIC v1 (RFC 9000/9001), v2
 * (RFC 9369) and the drafts that share their Initial protection (draft-22
 * to -34, Facebook mvfst, Google T050/T051), several coalesced in one
 * datagram. For each Initial the keys come from its Destination Connection
 * ID (RFC 9001 5.2: the connection's first DCID; a Retry's new DCID is
 * tried when the first keys fail), header protection is removed and the
 * payload opened with AES-128-GCM; the frames are walked (PADDING, PING,
 * ACK, CRYPTO, CONNECTION_CLOSE; anything else ends that packet) and the
 * CRYPTO data is put back together by offset across packets and
 * datagrams, out of order, with gaps and overlaps (the bytes seen first
 * win), until the handshake message is complete.
 *
 * Ownership: a struct quic_ctx per engine holds the cipher contexts (made
 * once, re-keyed when a packet's keys differ from the loaded ones) and a
 * plaintext buffer; a struct quic_conn per flow holds the keys and the
 * CRYPTO bytes, at most QUIC_CRYPTO_MAX of them in at most QUIC_RANGES
 * separate pieces. A flow gives up after QUIC_DATAGRAMS_MAX client
 * datagrams without a hello, or at once when its first datagram is not a
 * QUIC long-header packet. *_free(NULL) is a no-op.
 */
#ifndef FLOWAUDIT_QUIC_H
#define FLOWAUDIT_QUIC_H

#include "flowaudit/tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRYPTO stream bytes kept per flow: the ClientHello comes first in it,
   and tls.c reads none larger than TLS_HELLO_MAX, so nothing past that
   could ever be used; kept as they arrive, grown by doubling from 4 KiB */
#define QUIC_CRYPTO_MAX (TLS_HELLO_MAX + 4)
#define QUIC_RANGES 32              /* separate pieces of it at once */
#define QUIC_DATAGRAMS_MAX 32       /* client datagrams read before giving up */
#define QUIC_CID_MAX 20

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define QUIC_DRAFT29 0xff00001du

/* Initial packet protection keys of one direction (AES-128-GCM). */
struct quic_keys {
	uint8_t key[16], iv[12], hp[16];
};

/* Is this a version whose Initial packets quic.c can open? */
bool quic_version_known(uint32_t version);

/*
 * The client's (server false: the server's) Initial keys for a version and
 * the client's first Destination Connection ID. False for an unknown
 * version or a DCID longer than 20 bytes.
 */
bool quic_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, bool server,
		       struct quic_keys *out);

enum quic_status {
	QUIC_MORE = 0, /* no hello yet: feed the client's next datagram */
	QUIC_HELLO,    /* the ClientHello is complete: *out is filled */
	QUIC_DONE,     /* nothing (more) to find in this flow: stop feeding */
};

struct quic_stats {
	uint64_t packets;       /* Initial packets opened */
	uint64_t open_failed;   /* Initial packets whose tag did not verify */
	uint64_t crypto_refused;/* CRYPTO bytes past QUIC_CRYPTO_MAX or QUIC_RANGES */
};

struct quic_ctx;
struct quic_ctx *quic_ctx_new(void);
void quic_ctx_free(struct quic_ctx *q);
void quic_ctx_stats(const struct quic_ctx *q, struct quic_stats *out);

struct quic_conn;
struct quic_conn *quic_conn_new(void);
void quic_conn_free(struct quic_conn *c);

/*
 * One UDP payload from the client. QUIC_HELLO once the ClientHello is
 * whole (at most once per connection); after QUIC_HELLO or QUIC_DONE
 * every further call returns QUIC_DONE.
 */
enum quic_status quic_client_datagram(struct quic_ctx *q, struct quic_conn *c, const uint8_t *d,
				      size_t n, struct tls_hello *out);

#endif
