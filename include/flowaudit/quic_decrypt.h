/*
 * quic_decrypt.h - QUIC v1 and v2 decryption of one connection with the
 * TLS 1.3 secrets of a key log (keylog.h), up to in-order stream bytes.
 *
 * Receives the UDP payloads of both directions of a connection, in
 * capture order. Follows the handshake that QUIC sends in Initial packets
 * (opened with the keys every observer can derive, RFC 9001 5.2): the
 * client random of the ClientHello, the cipher suite of the ServerHello,
 * and each endpoint's Source Connection ID, whose length tells where a
 * short header's packet number starts. With the client random it looks up
 *
 *   Handshake packets  CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET
 *   1-RTT packets      CLIENT_/SERVER_TRAFFIC_SECRET_0, then each key
 *                      update ("quic ku", RFC 9001 6) as the key phase bit
 *                      flips; a packet of the previous phase that arrives
 *                      late still opens
 *
 * with the labels "quic key", "quic iv", "quic hp" (v2: "quicv2 ..."), and
 * TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
 * TLS_CHACHA20_POLY1305_SHA256 (ChaCha20 header protection). 0-RTT packets
 * are counted, not read (their secret is not used).
 *
 * Frames are walked in every packet that opens (RFC 9000 19: every frame
 * type, so that nothing is skipped wrongly); STREAM frames are put back
 * in order by offset per stream and direction and handed on, out-of-order
 * pieces held until what precedes them arrives. Bounds: QDEC_STREAM_HOLD
 * bytes held per stream, QDEC_CONN_HOLD per connection, QDEC_STREAMS
 * streams at once (the least recently used is forgotten: its stream gets
 * a gap). Past a bound the stream gets a gap: what it already handed on
 * stays, nothing more of it is handed on.
 *
 * A packet that cannot be opened (no key yet, a tag that fails, a header
 * that breaks a bound) is counted and skipped, never fatal: the next
 * packet is tried on its own.
 *
 * Ownership: the connection borrows the key log (which must outlive it)
 * and owns its buffers and cipher contexts. Stream bytes passed to the
 * callback are borrowed for the call only; the callback must not feed or
 * free the connection. No secret or key leaves this module.
 */
#ifndef FLOWAUDIT_QUIC_DECRYPT_H
#define FLOWAUDIT_QUIC_DECRYPT_H

#include "flowaudit/keylog.h"
#include "flowaudit/tls_decrypt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QDEC_STREAM_HOLD ((size_t)256 * 1024) /* out-of-order bytes held per stream */
#define QDEC_CONN_HOLD ((size_t)1024 * 1024)  /* ... per connection, every stream */
#define QDEC_STREAMS 64                       /* streams followed at once */
#define QDEC_REKEYS 8                         /* Initial key derivations (Retry, new DCIDs) */

/* Directions, as in tls_decrypt.h: the client's datagrams, and the server's. */
enum { QDEC_FROM_CLIENT = 0, QDEC_FROM_SERVER = 1 };

/* Packet number spaces. */
enum { QDEC_INITIAL = 0, QDEC_HANDSHAKE = 1, QDEC_APP = 2 };

struct quic_dec_info {
	uint32_t version;
	uint16_t cipher_suite;      /* the ServerHello's; 0 before it */
	bool have_random;           /* client_random is valid */
	uint8_t client_random[KEYLOG_RANDOM_LEN];
	uint64_t opened[3][2];      /* packets opened, by space and direction */
	uint64_t no_key;            /* packets whose keys were not (yet) known */
	uint64_t auth_failed;       /* packets that did not authenticate */
	uint64_t malformed;         /* headers or frames that break the protocol or a bound */
	uint64_t zero_rtt;          /* 0-RTT packets, not read */
	uint64_t key_updates[2];
	uint64_t stream_bytes[2];   /* handed on in order */
	uint64_t streams_evicted;   /* forgotten to follow a newer stream */
	uint64_t held_refused;      /* out-of-order bytes past the hold bounds */
};

struct quic_dec_cbs {
	/* The next in-order bytes of one stream in one direction; fin once the stream ended. */
	void (*stream)(void *user, int dir, uint64_t stream_id, const uint8_t *d, size_t n,
		       bool fin);
	/* Bytes of the stream were lost or not kept: nothing more of it follows. */
	void (*gap)(void *user, int dir, uint64_t stream_id);
	/*
	 * A connection ID the endpoint of direction dir chose for itself (its
	 * Source Connection ID, or one it issued in NEW_CONNECTION_ID): the
	 * other side's short headers carry it, also on a new path. May be NULL.
	 */
	void (*cid)(void *user, int dir, const uint8_t *cid, size_t len);
	void *user;
};

struct quic_dec;
/* A connection decryptor; NULL without memory. */
struct quic_dec *quic_dec_new(const struct keylog *kl, const struct quic_dec_cbs *cbs);
void quic_dec_free(struct quic_dec *d);
/* One UDP payload of direction dir (QDEC_FROM_CLIENT or QDEC_FROM_SERVER). */
void quic_dec_datagram(struct quic_dec *d, int dir, const uint8_t *p, size_t n);
/*
 * The frames of a packet of number space `space` (QDEC_INITIAL,
 * QDEC_HANDSHAKE, QDEC_APP) that opened to p: what quic_dec_datagram() does
 * after opening a packet, for the tests and the fuzz target of the frame
 * layer. False at a frame that breaks the protocol (counted as malformed).
 */
bool quic_dec_frames(struct quic_dec *d, int dir, int space, const uint8_t *p, size_t n);
/*
 * decrypted once some 1-RTT packet opened; no_key when the handshake was
 * read but the key log has no 1-RTT secret; no_handshake without the
 * Initial packets' hellos; cipher_not_supported for another version or
 * suite; auth_failed when keys were found but nothing opened.
 */
enum tls_dec_status quic_dec_status(const struct quic_dec *d);
const struct quic_dec_info *quic_dec_info(const struct quic_dec *d);

#endif
