/*
 * tls_decrypt.c - TLS 1.2 and 1.3 record decryption of one TCP connection
 * (tls_decrypt.h).
 *
 * Receives each direction's in-order stream bytes and cuts them into
 * records (RFC 8446 5.1, RFC 5246 6.2): a record wholly inside one feed is
 * read where it lies, one cut across feeds is gathered in the direction's
 * record buffer. Handshake messages, clear or decrypted, go through a small
 * per-direction reader that finds message boundaries across records and
 * keeps the body of a ClientHello or ServerHello only. Keys come from the
 * key log when first needed; a record that cannot be opened yet (no
 * ServerHello read, no key) waits in the direction's queue, with every
 * record after it, until the cause is gone.
 *
 * Owns per direction: the record buffer (allocated when a record is cut),
 * the queue of waiting records (up to max_pending), the hello body being
 * gathered, and the cipher context of the current key. Decrypted
 * plaintext lives in a buffer on the stack for the callback's duration.
 * Crypto: crypto.c (HKDF-Expand-Label, AEAD) and tls_crypto.c (PRF, CBC).
 */
#include "flowaudit/tls_decrypt.h"

#include "flowaudit/crypto.h"
#include "flowaudit/cursor.h"
#include "flowaudit/tls_crypto.h"

#include <stdlib.h>
#include <string.h>

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24 };
enum { HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2, HS_SERVER_HELLO_DONE = 14, HS_FINISHED = 20,
       HS_KEY_UPDATE = 24 };
enum { EXT_ETM = 0x0016, EXT_PSK = 0x0029, EXT_EARLY_DATA = 0x002a, EXT_SUPPORTED_VERSIONS = 0x002b };
enum { REC_HDR = 5 };

/* The random of a HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static const char *const status_names[] = {
	[TLS_DEC_PENDING] = "pending",
	[TLS_DEC_NO_DATA] = "no_encrypted_data",
	[TLS_DEC_DECRYPTED] = "decrypted",
	[TLS_DEC_NO_KEY] = "no_key",
	[TLS_DEC_KEY_TOO_LATE] = "key_too_late",
	[TLS_DEC_STREAM_GAP] = "stream_gap",
	[TLS_DEC_NO_HANDSHAKE] = "handshake_not_captured",
	[TLS_DEC_NOT_TLS] = "not_tls",
	[TLS_DEC_MALFORMED] = "malformed",
	[TLS_DEC_UNSUPPORTED] = "cipher_not_supported",
	[TLS_DEC_AUTH_FAILED] = "authentication_failed",
};

const char *tls_dec_status_name(enum tls_dec_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "?";
}

/* Handshake message boundaries across records; keeps hello bodies. */
struct hs_reader {
	uint8_t hdr[4];
	uint8_t hdr_n;
	uint8_t type;
	uint32_t left;   /* body bytes still to come */
	uint8_t *body;   /* gathered body of a hello (TLS_DEC_HELLO_MAX at most) */
	size_t body_n;
	bool keep;
};

enum wait_for { W_NONE = 0, W_HELLO, W_KEY };

struct dir {
	enum tls_dec_status status;
	bool done;      /* stopped: status says why */
	bool first;     /* a record was read */
	bool hello;     /* its hello (ClientHello / ServerHello) was read */
	bool ccs;       /* TLS 1.2: ChangeCipherSpec read, records encrypted */
	bool app;       /* TLS 1.3: application traffic secrets in use */
	bool keyed;     /* cipher context ready for the current phase */
	bool to_app, key_update; /* set by a decrypted handshake message, acted on after its record */
	bool any_ok;    /* a record authenticated */
	bool gap;       /* bytes were lost: nothing after them is read */
	uint64_t seq;
	uint8_t secret[KEYLOG_SECRET_MAX]; /* TLS 1.3 current traffic secret */
	size_t secret_len;
	uint8_t iv[CRYPTO_NONCE_LEN];      /* 1.3 and ChaCha: iv; GCM: salt in iv[0..3] */
	struct crypto_aead_ctx *aead;
	struct tls_cbc_ctx *cbc;
	uint8_t *rec;   /* a record cut across feeds: header and body so far */
	size_t rec_n;
	uint8_t *q;     /* records waiting, whole, in order */
	size_t q_n, q_cap;
	enum wait_for wait;
	uint64_t wait_gen;
	struct hs_reader hs;
};

struct tls_dec {
	const struct keylog *kl;
	tls_dec_plain_fn fn;
	void *user;
	size_t max_pending;
	const struct tls_suite *suite;
	struct crypto_kdf *kdf; /* TLS 1.3: HKDF over the suite's hash, made at the first key */
	uint8_t server_random[32];
	uint8_t ch_session_id[32], ch_session_id_len;
	bool etm_offered, early_offered, shd_seen;
	size_t early_bytes; /* 0-RTT ciphertext skipped, bounded by max_pending */
	struct tls_dec_info info;
	struct dir d[2];
};

struct tls_dec *tls_dec_new(const struct keylog *kl, const struct tls_dec_cfg *cfg,
			    tls_dec_plain_fn fn, void *user)
{
	struct tls_dec *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->kl = kl;
	d->fn = fn;
	d->user = user;
	d->max_pending = cfg != NULL && cfg->max_pending ? cfg->max_pending : TLS_DEC_DEFAULT_PENDING;
	return d;
}

static void dir_release(struct dir *x)
{
	crypto_aead_free(x->aead);
	tls_cbc_free(x->cbc);
	x->aead = NULL;
	x->cbc = NULL;
	free(x->rec);
	free(x->q);
	free(x->hs.body);
	x->rec = x->q = x->hs.body = NULL;
	x->rec_n = x->q_n = x->q_cap = x->hs.body_n = 0;
	tls_wipe(x->secret, sizeof(x->secret));
	tls_wipe(x->iv, sizeof(x->iv));
}

void tls_dec_free(struct tls_dec *d)
{
	if (d == NULL)
		return;
	dir_release(&d->d[0]);
	dir_release(&d->d[1]);
	crypto_kdf_free(d->kdf);
	free(d);
}

/*
 * Stops a direction for good with a reason. Its buffers may still be in
 * use up the call stack: release_stopped() frees them when the public call
 * returns.
 */
static void dir_stop(struct tls_dec *d, int i, enum tls_dec_status s)
{
	struct dir *x = &d->d[i];
	if (x->done)
		return;
	x->done = true;
	x->status = s;
	x->wait = W_NONE;
	d->info.dir_status[i] = s;
	d->info.pending_bytes[i] = 0;
}

static void release_stopped(struct tls_dec *d)
{
	for (int i = 0; i < 2; i++)
		if (d->d[i].done)
			dir_release(&d->d[i]);
}

static void conn_stop(struct tls_dec *d, enum tls_dec_status s)
{
	dir_stop(d, 0, s);
	dir_stop(d, 1, s);
}

/* ---- hellos ---- */

/* Walks an extensions block, calling back on the types the decryptor uses. */
static void read_client_hello(struct tls_dec *d, struct cursor *c)
{
	cur_skip(c, 2);
	cur_bytes(c, d->info.client_random, KEYLOG_RANDOM_LEN);
	uint8_t sid = cur_u8(c);
	if (sid <= 32) {
		d->ch_session_id_len = sid;
		cur_bytes(c, d->ch_session_id, sid);
	} else {
		c->err = true;
	}
	cur_skip(c, cur_be16(c)); /* cipher suites */
	cur_skip(c, cur_u8(c));   /* compression */
	if (!cur_ok(c))
		return;
	d->info.have_random = true;
	if (cur_left(c) == 0)
		return;
	struct cursor ext = cur_sub(c, cur_be16(c));
	while (cur_ok(&ext) && cur_left(&ext) >= 4) {
		uint16_t t = cur_be16(&ext);
		cur_skip(&ext, cur_be16(&ext));
		if (t == EXT_ETM)
			d->etm_offered = true;
		else if (t == EXT_EARLY_DATA)
			d->early_offered = true;
	}
}

/* False when the hello is malformed. */
static bool read_server_hello(struct tls_dec *d, struct cursor *c)
{
	uint16_t version = cur_be16(c);
	uint8_t random[32];
	cur_bytes(c, random, sizeof(random));
	uint8_t sid_len = cur_u8(c);
	const uint8_t *sid = cur_take(c, sid_len);
	uint16_t suite = cur_be16(c);
	cur_skip(c, 1);
	bool etm = false, psk = false;
	if (cur_ok(c) && cur_left(c) > 0) {
		struct cursor ext = cur_sub(c, cur_be16(c));
		while (cur_ok(&ext) && cur_left(&ext) >= 4) {
			uint16_t t = cur_be16(&ext);
			struct cursor body = cur_sub(&ext, cur_be16(&ext));
			if (t == EXT_SUPPORTED_VERSIONS)
				version = cur_be16(&body);
			else if (t == EXT_ETM)
				etm = true;
			else if (t == EXT_PSK)
				psk = true;
			if (!cur_ok(&body))
				ext.err = true;
		}
		if (!cur_ok(&ext))
			return false;
	}
	if (!cur_ok(c))
		return false;
	bool hrr = memcmp(random, hrr_random, sizeof(random)) == 0;
	d->info.version = version;
	d->info.cipher_suite = suite;
	d->suite = tls_suite_find(suite);
	crypto_kdf_free(d->kdf); /* made again for this hello's suite when a key needs it */
	d->kdf = NULL;
	if (hrr) {
		d->info.hello_retry = true;
	} else {
		memcpy(d->server_random, random, sizeof(random));
		d->d[TLS_DEC_FROM_SERVER].hello = true;
	}
	if (version == 0x0304) {
		d->info.resumed = psk;
	} else {
		d->info.etm = etm && d->etm_offered && d->suite != NULL && d->suite->kind == TLS_K_CBC;
		if (sid_len > 0 && sid_len == d->ch_session_id_len && sid != NULL &&
		    memcmp(sid, d->ch_session_id, sid_len) == 0)
			d->info.resumed = true;
	}
	bool ok = d->suite != NULL &&
		  ((version == 0x0304 && d->suite->kind == TLS_K_TLS13) ||
		   (version == 0x0303 && d->suite->kind != TLS_K_TLS13));
	if (!ok)
		conn_stop(d, TLS_DEC_UNSUPPORTED);
	return true;
}

/* A complete handshake message of direction i (body only for hellos). */
static void on_message(struct tls_dec *d, int i, uint8_t type, const uint8_t *body, size_t n,
		       bool encrypted)
{
	struct dir *x = &d->d[i];
	if (encrypted) {
		if (type == HS_FINISHED && d->info.version == 0x0304 && !x->app)
			x->to_app = true;
		else if (type == HS_KEY_UPDATE && x->app)
			x->key_update = true;
		return;
	}
	struct cursor c = cur_make(body, n);
	if (i == TLS_DEC_FROM_CLIENT && type == HS_CLIENT_HELLO && !d->d[0].hello) {
		read_client_hello(d, &c);
		if (!d->info.have_random)
			dir_stop(d, i, TLS_DEC_MALFORMED);
		d->d[0].hello = true;
	} else if (i == TLS_DEC_FROM_SERVER && type == HS_SERVER_HELLO && !x->hello) {
		if (!read_server_hello(d, &c))
			conn_stop(d, TLS_DEC_MALFORMED);
	} else if (i == TLS_DEC_FROM_SERVER && type == HS_SERVER_HELLO_DONE) {
		d->shd_seen = true;
	}
}

/*
 * Handshake bytes of direction i; hello bodies are gathered, other
 * messages only counted through. Stops the direction on a hello over the
 * bound.
 */
static void hs_feed(struct tls_dec *d, int i, const uint8_t *p, size_t n, bool encrypted)
{
	struct hs_reader *h = &d->d[i].hs;
	struct cursor c = cur_make(p, n);
	while (cur_left(&c) > 0 && !d->d[i].done) {
		if (h->hdr_n < 4) {
			h->hdr[h->hdr_n++] = cur_u8(&c);
			if (h->hdr_n < 4)
				continue;
			h->type = h->hdr[0];
			h->left = (uint32_t)h->hdr[1] << 16 | (uint32_t)h->hdr[2] << 8 | h->hdr[3];
			h->keep = !encrypted && (h->type == HS_CLIENT_HELLO || h->type == HS_SERVER_HELLO);
			h->body_n = 0;
			if (h->keep && h->left > TLS_DEC_HELLO_MAX) {
				dir_stop(d, i, TLS_DEC_MALFORMED);
				return;
			}
			free(h->body);
			h->body = NULL;
			if (h->keep && (h->body = malloc(h->left ? h->left : 1)) == NULL) {
				dir_stop(d, i, TLS_DEC_MALFORMED);
				return;
			}
		}
		size_t take = cur_left(&c) < h->left ? cur_left(&c) : h->left;
		const uint8_t *q = cur_take(&c, take);
		if (h->keep) {
			memcpy(h->body + h->body_n, q, take);
			h->body_n += take;
		}
		h->left -= (uint32_t)take;
		if (h->left == 0) {
			h->hdr_n = 0;
			on_message(d, i, h->type, h->keep ? h->body : NULL, h->keep ? h->body_n : 0,
				   encrypted);
			if (h->keep && !d->d[i].done) { /* a hello is read once */
				free(h->body);
				h->body = NULL;
				h->keep = false;
			}
		}
	}
}

/* ---- keys ---- */

enum rec_result { R_OK, R_WAIT };

/* The TLS 1.3 key and iv of x->secret into x's AEAD context. */
static bool tls13_set_key(struct tls_dec *d, struct dir *x)
{
	uint8_t key[CRYPTO_KEY_MAX];
	size_t kl = crypto_aead_key_len(d->suite->aead);
	bool ok = crypto_hkdf_expand_label(d->kdf, x->secret, x->secret_len, "key", NULL, 0,
					   key, kl) &&
		  crypto_hkdf_expand_label(d->kdf, x->secret, x->secret_len, "iv", NULL, 0,
					   x->iv, CRYPTO_NONCE_LEN);
	if (ok) {
		if (x->aead == NULL)
			ok = (x->aead = crypto_aead_new(d->suite->aead, key)) != NULL;
		else
			ok = crypto_aead_rekey(x->aead, key);
	}
	tls_wipe(key, sizeof(key));
	x->seq = 0;
	return ok;
}

/* The TLS 1.2 key block, for both directions at once. */
static bool tls12_set_keys(struct tls_dec *d, const uint8_t *master, size_t master_len)
{
	const struct tls_suite *s = d->suite;
	size_t mac = s->kind == TLS_K_CBC ? tls_mac_len(s->mac) : 0;
	size_t ivl = s->kind == TLS_K_GCM ? 4 : s->kind == TLS_K_CHACHA ? 12 : 0;
	uint8_t seed[64], kb[2 * (48 + 32 + 12)];
	memcpy(seed, d->server_random, 32);
	memcpy(seed + 32, d->info.client_random, 32);
	size_t need = 2 * (mac + s->key_len + ivl);
	bool ok = tls_prf(s->hash, master, master_len, "key expansion", seed, sizeof(seed), kb, need);
	for (int i = 0; ok && i < 2; i++) {
		struct dir *x = &d->d[i];
		const uint8_t *mk = kb + (size_t)i * mac;
		const uint8_t *key = kb + 2 * mac + (size_t)i * s->key_len;
		const uint8_t *iv = kb + 2 * mac + 2 * (size_t)s->key_len + (size_t)i * ivl;
		if (x->keyed || x->done)
			continue;
		memcpy(x->iv, iv, ivl);
		if (s->kind == TLS_K_CBC)
			ok = (x->cbc = tls_cbc_new(key, s->key_len, s->mac, mk)) != NULL;
		else
			ok = (x->aead = crypto_aead_new(s->aead, key)) != NULL;
		x->keyed = ok;
	}
	tls_wipe(kb, sizeof(kb));
	return ok;
}

/* Makes the key of direction i's current phase ready; R_WAIT when the key log lacks it. */
static enum rec_result need_key(struct tls_dec *d, int i)
{
	struct dir *x = &d->d[i];
	if (x->keyed)
		return R_OK;
	if (!d->info.have_random) { /* no ClientHello: no client random to look up */
		dir_stop(d, i, TLS_DEC_NO_HANDSHAKE);
		return R_OK;
	}
	enum keylog_label l;
	if (d->info.version == 0x0303)
		l = KEYLOG_CLIENT_RANDOM;
	else if (i == TLS_DEC_FROM_CLIENT)
		l = x->app ? KEYLOG_CLIENT_TRAFFIC_0 : KEYLOG_CLIENT_HANDSHAKE;
	else
		l = x->app ? KEYLOG_SERVER_TRAFFIC_0 : KEYLOG_SERVER_HANDSHAKE;
	size_t len = 0;
	const uint8_t *s = keylog_find(d->kl, d->info.client_random, l, &len);
	if (s == NULL) {
		x->wait = W_KEY;
		x->wait_gen = keylog_generation(d->kl);
		x->status = TLS_DEC_NO_KEY;
		d->info.dir_status[i] = TLS_DEC_NO_KEY;
		return R_WAIT;
	}
	bool ok;
	if (d->info.version == 0x0303) {
		ok = tls12_set_keys(d, s, len);
	} else {
		ok = len == crypto_hash_len(d->suite->hash);
		if (ok && d->kdf == NULL)
			ok = (d->kdf = crypto_kdf_new(d->suite->hash)) != NULL;
		if (ok) {
			memcpy(x->secret, s, len);
			x->secret_len = len;
			ok = tls13_set_key(d, x);
		}
		x->keyed = ok;
	}
	if (!ok)
		dir_stop(d, i, TLS_DEC_NO_KEY);
	return R_OK;
}

/* ---- records ---- */

struct rec {
	const uint8_t *raw; /* the header, followed by the body */
	uint8_t type;
	uint16_t version;
	const uint8_t *body;
	size_t len;
};

static void authenticated(struct tls_dec *d, int i)
{
	struct dir *x = &d->d[i];
	x->any_ok = true;
	x->status = TLS_DEC_DECRYPTED;
	d->info.dir_status[i] = TLS_DEC_DECRYPTED;
	d->info.records[i]++;
}

static void deliver(struct tls_dec *d, int i, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	d->info.plain_bytes[i] += n;
	if (d->fn != NULL)
		d->fn(d->user, (enum tls_dec_dir)i, p, n);
}

/* An encrypted TLS 1.3 record (outer type application_data). */
static void open_tls13(struct tls_dec *d, int i, const struct rec *r)
{
	struct dir *x = &d->d[i];
	uint8_t plain[TLS_DEC_RECORD_MAX];
	uint8_t nonce[CRYPTO_NONCE_LEN];
	crypto_nonce(x->iv, x->seq, nonce);
	const uint8_t *body = r->body;
	size_t n = r->len;
	struct crypto_aad aad = {{r->raw, NULL, NULL}, {REC_HDR, 0, 0}};
	if (n < CRYPTO_TAG_LEN || !crypto_aead_open(x->aead, nonce, &aad, body, n, plain)) {
		if (i == TLS_DEC_FROM_CLIENT && d->early_offered && !x->any_ok && !x->app &&
		    d->early_bytes + n <= d->max_pending) {
			/* 0-RTT data under a secret we lack (RFC 8446 4.2.10's trial decryption) */
			d->info.early_skipped++;
			d->early_bytes += n;
			return;
		}
		d->info.auth_failures++;
		dir_stop(d, i, TLS_DEC_AUTH_FAILED);
		return;
	}
	x->seq++;
	size_t len = n - CRYPTO_TAG_LEN;
	while (len > 0 && plain[len - 1] == 0)
		len--;
	if (len == 0) {
		dir_stop(d, i, TLS_DEC_MALFORMED);
		return;
	}
	uint8_t inner = plain[--len];
	authenticated(d, i);
	if (inner == CT_APPDATA)
		deliver(d, i, plain, len);
	else if (inner == CT_HANDSHAKE)
		hs_feed(d, i, plain, len, true);
	if (x->done)
		return;
	if (x->to_app) {
		x->to_app = false;
		x->app = true;
		x->keyed = false; /* traffic secret 0, looked up at the next record */
	} else if (x->key_update) {
		x->key_update = false;
		uint8_t next[KEYLOG_SECRET_MAX];
		if (!crypto_hkdf_expand_label(d->kdf, x->secret, x->secret_len, "traffic upd",
					      NULL, 0, next, x->secret_len)) {
			dir_stop(d, i, TLS_DEC_MALFORMED);
			return;
		}
		memcpy(x->secret, next, x->secret_len);
		tls_wipe(next, sizeof(next));
		d->info.key_updates[i]++;
		if (!tls13_set_key(d, x))
			dir_stop(d, i, TLS_DEC_MALFORMED);
	}
}

/* An encrypted TLS 1.2 record (after ChangeCipherSpec). */
static void open_tls12(struct tls_dec *d, int i, const struct rec *r)
{
	struct dir *x = &d->d[i];
	uint8_t plain[TLS_DEC_RECORD_MAX];
	const uint8_t *body = r->body;
	size_t n = r->len, len = 0;
	bool ok;
	if (d->suite->kind == TLS_K_CBC) {
		ok = tls_cbc_open(x->cbc, d->info.etm, x->seq, r->type, r->version, body, n, plain,
				  &len);
	} else {
		uint8_t nonce[CRYPTO_NONCE_LEN], ad[13];
		size_t explicit_len = d->suite->kind == TLS_K_GCM ? 8 : 0;
		ok = n >= explicit_len + CRYPTO_TAG_LEN;
		if (ok) {
			len = n - explicit_len - CRYPTO_TAG_LEN;
			if (explicit_len) {
				memcpy(nonce, x->iv, 4);
				memcpy(nonce + 4, body, 8);
			} else {
				crypto_nonce(x->iv, x->seq, nonce);
			}
			for (int k = 0; k < 8; k++)
				ad[k] = (uint8_t)(x->seq >> (56 - 8 * k));
			ad[8] = r->type;
			ad[9] = (uint8_t)(r->version >> 8);
			ad[10] = (uint8_t)r->version;
			ad[11] = (uint8_t)(len >> 8);
			ad[12] = (uint8_t)len;
			struct crypto_aad aad = {{ad, NULL, NULL}, {sizeof(ad), 0, 0}};
			ok = crypto_aead_open(x->aead, nonce, &aad, body + explicit_len,
					      n - explicit_len, plain);
		}
	}
	if (!ok) {
		d->info.auth_failures++;
		dir_stop(d, i, TLS_DEC_AUTH_FAILED);
		return;
	}
	x->seq++;
	authenticated(d, i);
	if (r->type == CT_APPDATA)
		deliver(d, i, plain, len);
	else if (r->type == CT_CCS) /* renegotiation: new keys from an encrypted handshake */
		dir_stop(d, i, TLS_DEC_UNSUPPORTED);
}

/* One whole record of direction i. R_WAIT: it (and all after it) must wait. */
static enum rec_result process(struct tls_dec *d, int i, const uint8_t *rec, size_t n)
{
	struct dir *x = &d->d[i];
	struct cursor c = cur_make(rec, n);
	struct rec r = {.raw = rec};
	r.type = cur_u8(&c);
	r.version = cur_be16(&c);
	r.len = cur_be16(&c);
	r.body = cur_take(&c, r.len);
	if (r.body == NULL)
		return R_OK;
	uint8_t type = r.type;
	const uint8_t *body = r.body;
	size_t blen = r.len;
	bool first = !x->first;
	x->first = true;
	if (!x->hello) {
		if (i == TLS_DEC_FROM_CLIENT || d->info.version == 0) {
			/* The hello must open the direction's stream. */
			struct cursor b = cur_make(body, blen);
			uint8_t want = i == TLS_DEC_FROM_CLIENT ? HS_CLIENT_HELLO : HS_SERVER_HELLO;
			if (type != CT_HANDSHAKE || (first && cur_u8(&b) != want)) {
				if (first)
					dir_stop(d, i, TLS_DEC_NO_HANDSHAKE);
				return R_OK;
			}
		}
		if (type == CT_HANDSHAKE) {
			hs_feed(d, i, body, blen, false);
			if (i == TLS_DEC_FROM_SERVER && d->info.version != 0 && !d->d[0].done &&
			    d->d[0].wait == W_HELLO)
				d->d[0].wait = W_NONE; /* the caller drains the client's queue */
			return R_OK;
		}
		/* After a HelloRetryRequest: its ChangeCipherSpec, an alert */
		return R_OK;
	}
	if (i == TLS_DEC_FROM_CLIENT && d->info.version == 0) {
		x->wait = W_HELLO;
		return R_WAIT;
	}
	bool tls13 = d->info.version == 0x0304;
	if (tls13) {
		if (type == CT_HANDSHAKE)
			hs_feed(d, i, body, blen, false); /* the second ClientHello */
		if (type != CT_APPDATA)
			return R_OK; /* compatibility ChangeCipherSpec, clear alerts */
	} else if (!x->ccs) {
		if (type == CT_CCS) {
			x->ccs = true;
			x->seq = 0;
			if (i == TLS_DEC_FROM_SERVER && !d->shd_seen)
				d->info.resumed = true;
		} else if (type == CT_HANDSHAKE) {
			hs_feed(d, i, body, blen, false);
		}
		return R_OK;
	}
	if (need_key(d, i) == R_WAIT)
		return R_WAIT;
	if (!x->done) {
		if (tls13)
			open_tls13(d, i, &r);
		else
			open_tls12(d, i, &r);
	}
	return R_OK;
}

static void enqueue(struct tls_dec *d, int i, const uint8_t *rec, size_t n)
{
	struct dir *x = &d->d[i];
	if (x->q_n + n > d->max_pending) {
		dir_stop(d, i, x->wait == W_KEY ? TLS_DEC_KEY_TOO_LATE : TLS_DEC_NO_HANDSHAKE);
		return;
	}
	if (x->q_n + n > x->q_cap) {
		size_t cap = x->q_cap ? x->q_cap : 16384;
		while (cap < x->q_n + n)
			cap *= 2;
		if (cap > d->max_pending)
			cap = d->max_pending;
		uint8_t *q = realloc(x->q, cap);
		if (q == NULL) {
			dir_stop(d, i, TLS_DEC_KEY_TOO_LATE);
			return;
		}
		x->q = q;
		x->q_cap = cap;
	}
	memcpy(x->q + x->q_n, rec, n);
	x->q_n += n;
	d->info.pending_bytes[i] = x->q_n;
}

/* Processes the waiting records of direction i until one must wait again. */
static void drain(struct tls_dec *d, int i)
{
	struct dir *x = &d->d[i];
	x->wait = W_NONE;
	size_t off = 0;
	while (off < x->q_n && !x->done) {
		struct cursor c = cur_make(x->q + off, x->q_n - off);
		cur_skip(&c, 3);
		size_t n = REC_HDR + (size_t)cur_be16(&c);
		if (process(d, i, x->q + off, n) == R_WAIT)
			break;
		off += n;
	}
	if (x->done)
		return;
	memmove(x->q, x->q + off, x->q_n - off);
	x->q_n -= off;
	d->info.pending_bytes[i] = x->q_n;
	if (x->q_n == 0 && x->gap) {
		dir_stop(d, i, TLS_DEC_STREAM_GAP);
		return;
	}
	if (x->q_n == 0 && x->status == TLS_DEC_NO_KEY) {
		x->status = x->any_ok ? TLS_DEC_DECRYPTED : TLS_DEC_PENDING;
		d->info.dir_status[i] = x->status;
	}
}

static void record(struct tls_dec *d, int i, const uint8_t *rec, size_t n)
{
	struct dir *x = &d->d[i];
	if (x->q_n > 0 || process(d, i, rec, n) == R_WAIT) {
		enqueue(d, i, rec, n);
		return;
	}
	/* A ServerHello may have released the client's waiting records. */
	if (i == TLS_DEC_FROM_SERVER && d->d[0].q_n > 0 && d->d[0].wait == W_NONE)
		drain(d, 0);
}

/* Checks a record header; 0 when it cannot start a TLS record. */
static size_t record_len(const uint8_t *hdr)
{
	struct cursor c = cur_make(hdr, REC_HDR);
	uint8_t type = cur_u8(&c);
	uint16_t version = cur_be16(&c);
	uint16_t len = cur_be16(&c);
	if (type < CT_CCS || type > CT_HEARTBEAT || (version >> 8) != 3 || len > TLS_DEC_RECORD_MAX)
		return 0;
	return REC_HDR + len;
}

void tls_dec_feed(struct tls_dec *d, enum tls_dec_dir dir, const uint8_t *data, size_t len)
{
	int i = dir == TLS_DEC_FROM_SERVER;
	struct dir *x = &d->d[i];
	tls_dec_retry(d);
	struct cursor c = cur_make(data, len);
	while (cur_left(&c) > 0 && !x->done && !x->gap) {
		if (x->rec_n == 0 && cur_left(&c) >= REC_HDR) {
			size_t n = record_len(c.p);
			if (n == 0) {
				dir_stop(d, i, x->first ? TLS_DEC_MALFORMED : TLS_DEC_NOT_TLS);
				break;
			}
			if (cur_left(&c) >= n) { /* whole in this feed: read in place */
				record(d, i, cur_take(&c, n), n);
				continue;
			}
		}
		if (x->rec == NULL && (x->rec = malloc(REC_HDR + TLS_DEC_RECORD_MAX)) == NULL) {
			dir_stop(d, i, TLS_DEC_MALFORMED);
			break;
		}
		size_t want = REC_HDR;
		if (x->rec_n >= REC_HDR) {
			want = record_len(x->rec);
		}
		size_t take = want - x->rec_n < cur_left(&c) ? want - x->rec_n : cur_left(&c);
		cur_bytes(&c, x->rec + x->rec_n, take);
		x->rec_n += take;
		if (x->rec_n == REC_HDR && record_len(x->rec) == 0) {
			dir_stop(d, i, x->first ? TLS_DEC_MALFORMED : TLS_DEC_NOT_TLS);
			break;
		}
		if (x->rec_n >= REC_HDR && x->rec_n == record_len(x->rec)) {
			size_t n = x->rec_n;
			x->rec_n = 0;
			record(d, i, x->rec, n);
		}
	}
	release_stopped(d);
}

void tls_dec_gap(struct tls_dec *d, enum tls_dec_dir dir)
{
	int i = dir == TLS_DEC_FROM_SERVER;
	struct dir *x = &d->d[i];
	x->gap = true;
	x->rec_n = 0; /* a record cut by the hole is lost */
	/* Records waiting for keys came before the hole: they stay readable. */
	if (x->q_n == 0)
		dir_stop(d, i, TLS_DEC_STREAM_GAP);
	release_stopped(d);
}

bool tls_dec_waiting(const struct tls_dec *d)
{
	return (d->d[0].q_n > 0 && !d->d[0].done) || (d->d[1].q_n > 0 && !d->d[1].done);
}

void tls_dec_retry(struct tls_dec *d)
{
	uint64_t g = keylog_generation(d->kl);
	for (int i = 0; i < 2; i++) {
		struct dir *x = &d->d[i];
		if (!x->done && x->q_n > 0 && x->wait == W_KEY && x->wait_gen != g)
			drain(d, i);
	}
	release_stopped(d);
}

void tls_dec_finish(struct tls_dec *d)
{
	tls_dec_retry(d);
	for (int i = 0; i < 2; i++) {
		struct dir *x = &d->d[i];
		if (x->done)
			continue;
		if (x->q_n > 0)
			dir_stop(d, i, x->wait == W_KEY ? TLS_DEC_NO_KEY : TLS_DEC_NO_HANDSHAKE);
		else if (x->status == TLS_DEC_PENDING && d->info.early_skipped > 0 && i == 0)
			dir_stop(d, i, TLS_DEC_AUTH_FAILED); /* skipped as 0-RTT, nothing opened */
		else if (x->status == TLS_DEC_PENDING)
			dir_stop(d, i, x->hello ? TLS_DEC_NO_DATA : TLS_DEC_NO_HANDSHAKE);
		else
			dir_stop(d, i, x->status);
	}
	if (d->d[0].status == TLS_DEC_NO_HANDSHAKE && !d->d[1].first)
		d->d[1].status = d->info.dir_status[1] = TLS_DEC_NO_HANDSHAKE;
	release_stopped(d);
}

enum tls_dec_status tls_dec_status(const struct tls_dec *d)
{
	enum tls_dec_status a = d->d[0].status, b = d->d[1].status;
	return a > b ? a : b;
}

const struct tls_dec_info *tls_dec_info(const struct tls_dec *d) { return &d->info; }
