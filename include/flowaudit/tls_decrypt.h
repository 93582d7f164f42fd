/*
 * tls_decrypt.h - TLS 1.2 and 1.3 decryption of one TCP connection with
 * the secrets of a key log (keylog.h).
 *
 * Receives the in-order stream bytes of each direction of a connection (as
 * reasm.c hands them on: a record may be cut across any number of feeds,
 * and one feed may hold several records). Follows the handshake in the
 * clear (ClientHello: client random, offered encrypt_then_mac and
 * early_data; ServerHello: version, including supported_versions, the
 * cipher suite, encrypt_then_mac, pre_shared_key; HelloRetryRequest),
 * looks the keys up in the key log, and hands the application data of
 * both directions, decrypted, to a callback, in stream order.
 *
 *   TLS 1.3  TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
 *            TLS_CHACHA20_POLY1305_SHA256; the encrypted handshake under
 *            the handshake traffic secrets, then traffic secret 0 and every
 *            KeyUpdate after it; the inner content type and padding of
 *            TLSInnerPlaintext; compatibility ChangeCipherSpec records
 *            skipped. 0-RTT data is not read (its secret,
 *            CLIENT_EARLY_TRAFFIC_SECRET, is not used): while the client
 *            has offered early_data and none of its records has opened
 *            under the handshake key, records that do not open are
 *            skipped and counted (early_skipped), up to max_pending bytes;
 *            a client that never gets past them is TLS_DEC_AUTH_FAILED.
 *   TLS 1.2  AES-128/256-GCM and ChaCha20-Poly1305 suites, and AES-128/256-
 *            CBC with HMAC-SHA1/SHA256/SHA384, MAC-then-encrypt or
 *            encrypt-then-MAC (RFC 7366); keys from the CLIENT_RANDOM master
 *            secret through the TLS 1.2 PRF, also for resumed sessions.
 *            Every record after ChangeCipherSpec is opened (heartbeats and
 *            alerts too, so that sequence numbers stay right); a
 *            renegotiation (a second, encrypted ChangeCipherSpec) stops the
 *            direction as TLS_DEC_UNSUPPORTED.
 *
 * Keys that are not (yet) in the key log: the direction keeps its
 * ciphertext records (up to tls_dec_cfg.max_pending bytes) and decrypts
 * them in order once the key log's generation has changed and the key is
 * there (tls_dec_retry, also tried at every feed). Past the bound the
 * direction gives up (TLS_DEC_KEY_TOO_LATE).
 *
 * A record that fails authentication (tag, MAC or padding) yields no
 * bytes, is counted, and ends decryption of its direction
 * (TLS_DEC_AUTH_FAILED). Bounds: a record's ciphertext is at most 2^14 +
 * 2048 bytes (larger is TLS_DEC_MALFORMED, or TLS_DEC_NOT_TLS in the first
 * record), a clear ClientHello or ServerHello at most TLS_DEC_HELLO_MAX.
 *
 * Use by the engine: tls_dec_new() when a TCP flow's client sends what
 * looks like a TLS record; tls_dec_feed() with each in-order piece of
 * either direction, and tls_dec_gap() when reassembly skipped bytes (its
 * stream offset jumped) or stopped at its limit, which for a flow being
 * decrypted should be far above the cleartext default; when the key log's
 * generation changes (a pcapng DSB read, a polled key log file grew),
 * tls_dec_retry() on the connections
 * for which tls_dec_waiting() is true; tls_dec_finish() when the flow
 * ends; then tls_dec_status() for the flow record (tls_dec_status_name()
 * for JSON) and tls_dec_info()->client_random for keylog_export() when a
 * finding's evidence needs the connection's secrets.
 *
 * Ownership: the connection borrows the key log (it must outlive it) and
 * owns its buffers and cipher contexts; tls_dec_free(NULL) is a no-op.
 * The plaintext passed to the callback is borrowed for the call only; the
 * callback must not feed, retry, finish or free the connection calling it.
 * Nothing is printed, and no secret or key leaves this module.
 */
#ifndef FLOWAUDIT_TLS_DECRYPT_H
#define FLOWAUDIT_TLS_DECRYPT_H

#include "flowaudit/keylog.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_DEC_RECORD_MAX (16384 + 2048) /* ciphertext of one record */
#define TLS_DEC_HELLO_MAX 65536           /* a clear ClientHello or ServerHello */
#define TLS_DEC_DEFAULT_PENDING ((size_t)256 * 1024)

/* Directions: the TLS client's bytes, and the server's. */
enum tls_dec_dir {
	TLS_DEC_FROM_CLIENT = 0,
	TLS_DEC_FROM_SERVER = 1,
};

/* Ordered from least to most telling: a connection reports its directions' highest. */
enum tls_dec_status {
	TLS_DEC_PENDING = 0,      /* nothing decided yet */
	TLS_DEC_NO_DATA,          /* finished with no encrypted record */
	TLS_DEC_DECRYPTED,        /* every encrypted record so far authenticated */
	TLS_DEC_NO_KEY,           /* the key log has no secret for it */
	TLS_DEC_KEY_TOO_LATE,     /* ciphertext waiting for keys passed max_pending */
	TLS_DEC_STREAM_GAP,       /* stream bytes were lost (tls_dec_gap) */
	TLS_DEC_NO_HANDSHAKE,     /* the ClientHello or ServerHello was not captured */
	TLS_DEC_NOT_TLS,          /* the stream does not start with TLS records */
	TLS_DEC_MALFORMED,        /* a record or hello that breaks the protocol or a bound */
	TLS_DEC_UNSUPPORTED,      /* cipher suite, version or renegotiation not supported */
	TLS_DEC_AUTH_FAILED,      /* a record did not authenticate */
};

/* "decrypted", "no_key", "cipher_not_supported", ...: stable names for JSON. */
const char *tls_dec_status_name(enum tls_dec_status s);

struct tls_dec_cfg {
	size_t max_pending; /* ciphertext bytes kept per direction for late keys; 0: 256 KiB */
};

struct tls_dec_info {
	uint16_t version;      /* 0x0303 or 0x0304 once the ServerHello is read; else 0 */
	uint16_t cipher_suite; /* the server's choice; 0 before it */
	bool have_random;      /* client_random is valid (the ClientHello was read) */
	uint8_t client_random[KEYLOG_RANDOM_LEN];
	bool etm;              /* TLS 1.2 encrypt-then-MAC in use */
	bool resumed;          /* abbreviated handshake (1.2) or PSK (1.3) */
	bool hello_retry;      /* a HelloRetryRequest was seen */
	enum tls_dec_status dir_status[2];
	uint64_t records[2];   /* encrypted records that authenticated */
	uint64_t plain_bytes[2]; /* application data handed to the callback */
	uint64_t key_updates[2];
	uint64_t auth_failures;  /* records that did not authenticate */
	uint64_t early_skipped;  /* 0-RTT records skipped (no early secret) */
	uint64_t pending_bytes[2]; /* ciphertext waiting for keys now */
};

typedef void (*tls_dec_plain_fn)(void *user, enum tls_dec_dir dir, const uint8_t *data,
				 size_t len);

struct tls_dec;

/* A connection decryptor; NULL without memory. cfg may be NULL. */
struct tls_dec *tls_dec_new(const struct keylog *kl, const struct tls_dec_cfg *cfg,
			    tls_dec_plain_fn fn, void *user);
void tls_dec_free(struct tls_dec *d);

/* The next len in-order bytes of direction dir. */
void tls_dec_feed(struct tls_dec *d, enum tls_dec_dir dir, const uint8_t *data, size_t len);

/*
 * Bytes of direction dir were lost before the next feed (reassembly gave
 * a hole up, or stopped at its limit): record boundaries and sequence
 * numbers are gone, so the direction stops (TLS_DEC_STREAM_GAP) after
 * what it has already handed on.
 */
void tls_dec_gap(struct tls_dec *d, enum tls_dec_dir dir);

/* True while some direction holds ciphertext waiting for a key. */
bool tls_dec_waiting(const struct tls_dec *d);

/* Looks the keys up again if the key log changed, and decrypts what waited. */
void tls_dec_retry(struct tls_dec *d);

/* The connection ended: what still waits for keys is given up (no key). */
void tls_dec_finish(struct tls_dec *d);

enum tls_dec_status tls_dec_status(const struct tls_dec *d);
const struct tls_dec_info *tls_dec_info(const struct tls_dec *d);

#endif
