/*
 * test_tls_decrypt.c - TLS decryption of real sessions against tshark.
 *
 * tests/fixtures/tls/ (made by tests/gen/tls_fixtures.sh) holds TLS 1.2
 * and 1.3 sessions between openssl s_server and s_client, the key log
 * s_client wrote, the stream bytes of each connection as tshark follows
 * them (follow,tcp,raw) and the application data tshark decrypts with the
 * key log (follow,tls,raw): every suite, KeyUpdate, padded records, a
 * HelloRetryRequest, a refused renegotiation (encrypted handshake and alert
 * records), resumed sessions, 0-RTT data. Each connection's stream is fed to the
 * decryptor in capture order - segment by segment, cut into pieces of 1, 7
 * and 1000 bytes, and with a direction's consecutive segments joined - and
 * its plaintext must equal tshark's, byte for byte, in both directions.
 * Then what goes wrong: a flipped ciphertext byte (authentication failed,
 * no bytes from that record on), keys that arrive late (decrypted in order
 * once the key log grows) or too late (the bound), half the keys missing,
 * a missing handshake, a hole in the stream, bytes that are not TLS, and
 * an unsupported suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/keylog.h"
#include "flowaudit/tls_decrypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FIX "tests/fixtures/tls/"

struct chunk {
	int dir; /* TLS_DEC_FROM_CLIENT / TLS_DEC_FROM_SERVER */
	uint8_t *p;
	size_t n;
};

struct follow {
	struct chunk *c;
	size_t n;
	char node0[64];
};

static void follow_free(struct follow *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->c[i].p);
	free(f->c);
	memset(f, 0, sizeof(*f));
}

/*
 * Reads a gzipped tshark "follow,...,raw" output: lines of hex, those of
 * node 1 indented by a tab. flip: node 0 is the server (tshark's follow,tls
 * may name the nodes the other way round from follow,tcp).
 */
static bool follow_read(const char *path, struct follow *f, const char *client_node)
{
	memset(f, 0, sizeof(*f));
	gzFile gz = gzopen(path, "rb");
	if (gz == NULL)
		return false;
	size_t cap = 1 << 20;
	char *line = malloc(cap);
	assert_non_null(line);
	bool swap = false;
	while (gzgets(gz, line, (int)cap) != NULL) {
		size_t len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (strncmp(line, "Node 0: ", 8) == 0) {
			snprintf(f->node0, sizeof(f->node0), "%s", line + 8);
			swap = client_node != NULL && strcmp(f->node0, client_node) != 0;
			continue;
		}
		const char *h = line;
		int node = 0;
		if (*h == '\t') {
			node = 1;
			h++;
		}
		if (*h == '\0' || strspn(h, "0123456789abcdef") != strlen(h))
			continue;
		size_t n = strlen(h) / 2;
		f->c = realloc(f->c, (f->n + 1) * sizeof(*f->c));
		assert_non_null(f->c);
		struct chunk *c = &f->c[f->n++];
		c->dir = swap ? !node : node;
		c->p = malloc(n);
		c->n = n;
		for (size_t i = 0; i < n; i++) {
			unsigned v;
			sscanf(h + 2 * i, "%2x", &v);
			c->p[i] = (uint8_t)v;
		}
	}
	free(line);
	gzclose(gz);
	return true;
}

struct out {
	uint8_t *p[2];
	size_t n[2], cap[2];
};

static void on_plain(void *user, enum tls_dec_dir dir, const uint8_t *data, size_t len)
{
	struct out *o = user;
	int i = dir == TLS_DEC_FROM_SERVER;
	assert_true(len > 0);
	if (o->n[i] + len > o->cap[i]) {
		o->cap[i] = (o->n[i] + len) * 2;
		o->p[i] = realloc(o->p[i], o->cap[i]);
		assert_non_null(o->p[i]);
	}
	memcpy(o->p[i] + o->n[i], data, len);
	o->n[i] += len;
}

static void out_free(struct out *o)
{
	free(o->p[0]);
	free(o->p[1]);
	memset(o, 0, sizeof(*o));
}

/* One connection of a fixture: its stream, tshark's plaintext, the key log. */
struct conn {
	struct follow tcp;
	struct out want;
	struct keylog *kl;
	char keys_path[256];
};

static bool conn_load(struct conn *c, const char *name, int stream)
{
	char path[256];
	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), FIX "%s.tcp.%d.txt.gz", name, stream);
	if (access(path, R_OK) != 0)
		return false;
	assert_true(follow_read(path, &c->tcp, NULL));
	char client[64];
	snprintf(client, sizeof(client), "%s", c->tcp.node0);
	struct follow tls;
	snprintf(path, sizeof(path), FIX "%s.tls.%d.txt.gz", name, stream);
	assert_true(follow_read(path, &tls, client));
	for (size_t i = 0; i < tls.n; i++)
		on_plain(&c->want, (enum tls_dec_dir)tls.c[i].dir, tls.c[i].p, tls.c[i].n);
	follow_free(&tls);
	snprintf(c->keys_path, sizeof(c->keys_path), FIX "%s.keys", name);
	c->kl = keylog_new(0);
	struct fa_err err = {{0}};
	assert_int_equal(keylog_load_file(c->kl, c->keys_path, &err), FA_OK);
	return true;
}

static void conn_free(struct conn *c)
{
	follow_free(&c->tcp);
	out_free(&c->want);
	keylog_free(c->kl);
}

/*
 * Feeds chunks [from, to) of the stream: piece 0 feeds each segment whole,
 * piece > 0 cuts it into pieces of that size, piece < 0 joins a direction's
 * consecutive segments into one feed.
 */
static void feed_range(struct tls_dec *d, const struct follow *f, size_t from, size_t to, long piece)
{
	for (size_t i = from; i < to; i++) {
		const struct chunk *c = &f->c[i];
		if (piece < 0) {
			size_t j = i, total = 0;
			while (j < to && f->c[j].dir == c->dir)
				total += f->c[j++].n;
			uint8_t *buf = malloc(total);
			size_t off = 0;
			for (size_t k = i; k < j; k++) {
				memcpy(buf + off, f->c[k].p, f->c[k].n);
				off += f->c[k].n;
			}
			tls_dec_feed(d, (enum tls_dec_dir)c->dir, buf, total);
			free(buf);
			i = j - 1;
			continue;
		}
		size_t step = piece > 0 ? (size_t)piece : c->n;
		for (size_t off = 0; off < c->n; off += step) {
			size_t n = c->n - off < step ? c->n - off : step;
			/* A copy of exactly the piece, so that ASan sees any read past it. */
			uint8_t *p = malloc(n);
			memcpy(p, c->p + off, n);
			tls_dec_feed(d, (enum tls_dec_dir)c->dir, p, n);
			free(p);
		}
	}
}

static void assert_same(const struct out *got, const struct out *want)
{
	for (int i = 0; i < 2; i++) {
		assert_int_equal(got->n[i], want->n[i]);
		if (want->n[i] > 0)
			assert_memory_equal(got->p[i], want->p[i], want->n[i]);
	}
}

struct expect {
	const char *name;
	int streams;
	uint16_t version, suite;
	bool etm;
	bool hello_retry;
	bool resumed_second; /* the second connection resumes the first's session */
	int key_updates[2];  /* at least this many, client and server (the server
				answers each request to update, but may answer two at once) */
};

static void check_session(const struct expect *e)
{
	for (int s = 0; s < e->streams; s++) {
		struct conn c;
		if (!conn_load(&c, e->name, s)) {
			print_message("skipped: " FIX "%s not found (run from the repository root)\n",
				      e->name);
			skip();
		}
		assert_true(c.want.n[0] > 100 && c.want.n[1] > 100);
		static const long pieces[] = {0, 1, 7, 1000, -1};
		for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
			struct out got = {0};
			struct tls_dec *d = tls_dec_new(c.kl, NULL, on_plain, &got);
			assert_non_null(d);
			feed_range(d, &c.tcp, 0, c.tcp.n, pieces[k]);
			tls_dec_finish(d);
			assert_same(&got, &c.want);
			assert_int_equal(tls_dec_status(d), TLS_DEC_DECRYPTED);
			assert_string_equal(tls_dec_status_name(tls_dec_status(d)), "decrypted");
			const struct tls_dec_info *in = tls_dec_info(d);
			assert_int_equal(in->version, e->version);
			assert_int_equal(in->cipher_suite, e->suite);
			assert_int_equal(in->etm, e->etm);
			assert_int_equal(in->hello_retry, e->hello_retry);
			assert_int_equal(in->resumed, e->resumed_second && s == 1);
			assert_true(in->have_random);
			assert_int_equal(in->auth_failures, 0);
			assert_int_equal(in->plain_bytes[0], c.want.n[0]);
			assert_int_equal(in->plain_bytes[1], c.want.n[1]);
			assert_true(in->key_updates[0] >= (uint64_t)e->key_updates[0]);
			assert_true(in->key_updates[1] >= (uint64_t)e->key_updates[1]);
			if (e->key_updates[0] == 0) {
				assert_int_equal(in->key_updates[0], 0);
				assert_int_equal(in->key_updates[1], 0);
			}
			/* The connection's secrets can be exported for its evidence. */
			char buf[KEYLOG_EXPORT_MAX];
			assert_true(keylog_export(c.kl, in->client_random, buf, sizeof(buf)) > 0);
			tls_dec_free(d);
			out_free(&got);
		}
		conn_free(&c);
	}
}

#define SESSION_TEST(fn, ...)                                   \
	static void fn(void **state)                            \
	{                                                       \
		(void)state;                                    \
		static const struct expect e = __VA_ARGS__;     \
		check_session(&e);                              \
	}

SESSION_TEST(test_t12_aes128gcm, {"t12-aes128gcm", 1, 0x0303, 0xc02f, false, false, false, {0, 0}})
SESSION_TEST(test_t12_aes256gcm, {"t12-aes256gcm", 1, 0x0303, 0xc030, false, false, false, {0, 0}})
SESSION_TEST(test_t12_chacha20, {"t12-chacha20", 1, 0x0303, 0xcca8, false, false, false, {0, 0}})
SESSION_TEST(test_t12_cbc_sha1_etm, {"t12-cbc-sha1-etm", 1, 0x0303, 0xc013, true, false, false, {0, 0}})
SESSION_TEST(test_t12_cbc_sha1, {"t12-cbc-sha1", 1, 0x0303, 0xc013, false, false, false, {0, 0}})
SESSION_TEST(test_t12_cbc_sha256, {"t12-cbc-sha256", 1, 0x0303, 0xc027, false, false, false, {0, 0}})
SESSION_TEST(test_t12_cbc256_sha384_etm, {"t12-cbc256-sha384-etm", 1, 0x0303, 0xc028, true, false, false, {0, 0}})
SESSION_TEST(test_t12_reneg_refused, {"t12-reneg-refused", 1, 0x0303, 0xc02f, false, false, false, {0, 0}})
SESSION_TEST(test_t12_resumed, {"t12-resumed", 2, 0x0303, 0xc02f, false, false, true, {0, 0}})
SESSION_TEST(test_t13_aes128gcm, {"t13-aes128gcm", 1, 0x0304, 0x1301, false, false, false, {0, 0}})
SESSION_TEST(test_t13_aes256gcm, {"t13-aes256gcm", 1, 0x0304, 0x1302, false, false, false, {0, 0}})
SESSION_TEST(test_t13_chacha20, {"t13-chacha20", 1, 0x0304, 0x1303, false, false, false, {0, 0}})
SESSION_TEST(test_t13_keyupdate, {"t13-keyupdate", 1, 0x0304, 0x1301, false, false, false, {2, 1}})
SESSION_TEST(test_t13_hrr, {"t13-hrr", 1, 0x0304, 0x1301, false, true, false, {0, 0}})
SESSION_TEST(test_t13_resumed, {"t13-resumed", 2, 0x0304, 0x1302, false, false, true, {0, 0}})

#define LOAD_OR_SKIP(c, name, s)                                                       \
	do {                                                                           \
		if (!conn_load(c, name, s)) {                                          \
			print_message("skipped: " FIX "%s not found\n", name);        \
			skip();                                                        \
		}                                                                      \
	} while (0)

/*
 * 0-RTT: the resumed connection's first record is early data under
 * CLIENT_EARLY_TRAFFIC_SECRET, a label flowaudit does not use. It is
 * skipped and counted; everything after it is read as tshark reads it.
 */
static void test_t13_early_data(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t13-early", 1);
	static const char early[] = "early data line\n";
	size_t el = sizeof(early) - 1;
	assert_true(c.want.n[0] > el);
	assert_memory_equal(c.want.p[0], early, el); /* tshark, with the early secret, reads it */
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	tls_dec_finish(d);
	const struct tls_dec_info *in = tls_dec_info(d);
	assert_int_equal(tls_dec_status(d), TLS_DEC_DECRYPTED);
	assert_true(in->resumed);
	assert_true(in->early_skipped >= 1);
	assert_int_equal(in->auth_failures, 0);
	assert_int_equal(got.n[0], c.want.n[0] - el);
	assert_memory_equal(got.p[0], c.want.p[0] + el, got.n[0]);
	assert_int_equal(got.n[1], c.want.n[1]);
	tls_dec_free(d);
	out_free(&got);

	/* Every client record after the ClientHello damaged: skipping them as 0-RTT
	 * must not hide that none of them ever opened. */
	bool first = true;
	for (size_t i = 0; i < c.tcp.n; i++) {
		if (c.tcp.c[i].dir != 0)
			continue;
		if (!first)
			c.tcp.c[i].p[c.tcp.c[i].n - 1] ^= 0x80;
		first = false;
	}
	d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	tls_dec_finish(d);
	assert_int_equal(tls_dec_info(d)->dir_status[0], TLS_DEC_AUTH_FAILED);
	assert_int_equal(tls_dec_status(d), TLS_DEC_AUTH_FAILED);
	assert_int_equal(got.n[0], 0);
	tls_dec_free(d);
	out_free(&got);
	conn_free(&c);
}


/* Per chunk, how many client plaintext bytes a clean run had handed on after it. */
static size_t *progress(struct conn *c)
{
	size_t *after = calloc(c->tcp.n, sizeof(*after));
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(c->kl, NULL, on_plain, &got);
	for (size_t i = 0; i < c->tcp.n; i++) {
		feed_range(d, &c->tcp, i, i + 1, 0);
		after[i] = got.n[0];
	}
	tls_dec_free(d);
	out_free(&got);
	return after;
}

static void flip_one(const char *name)
{
	struct conn c;
	LOAD_OR_SKIP(&c, name, 0);
	size_t *after = progress(&c);
	/* The first client segment that carries application data: its last byte is in a tag or MAC. */
	size_t k = 0;
	while (k < c.tcp.n && !(c.tcp.c[k].dir == 0 && after[k] > (k ? after[k - 1] : 0)))
		k++;
	assert_true(k < c.tcp.n);
	size_t before = k ? after[k - 1] : 0;
	c.tcp.c[k].p[c.tcp.c[k].n - 1] ^= 0x01;

	struct out got = {0};
	struct tls_dec *d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	tls_dec_finish(d);
	const struct tls_dec_info *in = tls_dec_info(d);
	assert_int_equal(tls_dec_status(d), TLS_DEC_AUTH_FAILED);
	assert_string_equal(tls_dec_status_name(TLS_DEC_AUTH_FAILED), "authentication_failed");
	assert_int_equal(in->dir_status[0], TLS_DEC_AUTH_FAILED);
	assert_int_equal(in->auth_failures, 1);
	/* Nothing of the bad record, nor after it; what came before, unchanged. */
	assert_true(got.n[0] >= before && got.n[0] < after[k]);
	assert_memory_equal(got.p[0], c.want.p[0], got.n[0]);
	/* The other direction is not affected. */
	assert_int_equal(in->dir_status[1], TLS_DEC_DECRYPTED);
	assert_int_equal(got.n[1], c.want.n[1]);
	assert_memory_equal(got.p[1], c.want.p[1], got.n[1]);
	tls_dec_free(d);
	out_free(&got);
	free(after);
	conn_free(&c);
}

static void test_flipped_byte(void **state)
{
	(void)state;
	flip_one("t13-aes128gcm");
	flip_one("t12-aes128gcm");
	flip_one("t12-chacha20");
	flip_one("t12-cbc-sha1");
	flip_one("t12-cbc-sha1-etm");
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 16);
	*n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

/* Keys that arrive after the traffic: halfway, and after the last segment. */
static void late_keys(const char *name)
{
	struct conn c;
	LOAD_OR_SKIP(&c, name, 0);
	size_t klen;
	char *keys = slurp(c.keys_path, &klen);
	for (int at_end = 0; at_end < 2; at_end++) {
		struct keylog *kl = keylog_new(0);
		struct out got = {0};
		struct tls_dec *d = tls_dec_new(kl, NULL, on_plain, &got);
		size_t half = at_end ? c.tcp.n : c.tcp.n / 2;
		feed_range(d, &c.tcp, 0, half, 0);
		assert_int_equal(got.n[0] + got.n[1], 0);
		assert_true(tls_dec_waiting(d));
		assert_int_equal(tls_dec_status(d), TLS_DEC_NO_KEY);
		assert_true(tls_dec_info(d)->pending_bytes[0] > 0);
		tls_dec_retry(d); /* the key log did not change: nothing happens */
		assert_int_equal(got.n[0] + got.n[1], 0);
		keylog_add_text(kl, (const uint8_t *)keys, klen, "late");
		if (at_end)
			tls_dec_retry(d);
		feed_range(d, &c.tcp, half, c.tcp.n, 0);
		tls_dec_finish(d);
		assert_false(tls_dec_waiting(d));
		assert_int_equal(tls_dec_status(d), TLS_DEC_DECRYPTED);
		assert_same(&got, &c.want);
		tls_dec_free(d);
		out_free(&got);
		keylog_free(kl);
	}
	free(keys);
	conn_free(&c);
}

static void test_late_keys(void **state)
{
	(void)state;
	late_keys("t13-keyupdate");
	late_keys("t12-cbc-sha1");
}

static void test_keys_too_late(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t13-aes128gcm", 0);
	struct keylog *kl = keylog_new(0);
	struct out got = {0};
	struct tls_dec_cfg cfg = {.max_pending = 4096};
	struct tls_dec *d = tls_dec_new(kl, &cfg, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	const struct tls_dec_info *in = tls_dec_info(d);
	assert_int_equal(in->dir_status[0], TLS_DEC_KEY_TOO_LATE);
	assert_int_equal(in->dir_status[1], TLS_DEC_KEY_TOO_LATE);
	assert_false(tls_dec_waiting(d));
	struct fa_err err = {{0}};
	assert_int_equal(keylog_load_file(kl, c.keys_path, &err), FA_OK);
	tls_dec_retry(d);
	tls_dec_finish(d);
	assert_int_equal(got.n[0] + got.n[1], 0);
	assert_int_equal(tls_dec_status(d), TLS_DEC_KEY_TOO_LATE);
	assert_string_equal(tls_dec_status_name(TLS_DEC_KEY_TOO_LATE), "key_too_late");
	tls_dec_free(d);
	out_free(&got);
	keylog_free(kl);
	conn_free(&c);
}

/* Only the client's secrets: the client's data is read, the server's is not. */
static void test_half_the_keys(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t13-chacha20", 0);
	size_t klen;
	char *keys = slurp(c.keys_path, &klen);
	struct keylog *kl = keylog_new(0);
	char *save = NULL;
	for (char *line = strtok_r(keys, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "CLIENT_", 7) == 0)
			keylog_add_text(kl, (const uint8_t *)line, strlen(line), "half");
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	tls_dec_finish(d);
	const struct tls_dec_info *in = tls_dec_info(d);
	assert_int_equal(in->dir_status[0], TLS_DEC_DECRYPTED);
	assert_int_equal(in->dir_status[1], TLS_DEC_NO_KEY);
	assert_int_equal(tls_dec_status(d), TLS_DEC_NO_KEY);
	assert_string_equal(tls_dec_status_name(TLS_DEC_NO_KEY), "no_key");
	assert_int_equal(got.n[0], c.want.n[0]);
	assert_memory_equal(got.p[0], c.want.p[0], got.n[0]);
	assert_int_equal(got.n[1], 0);
	tls_dec_free(d);
	out_free(&got);
	keylog_free(kl);
	free(keys);
	conn_free(&c);
}

/* The capture starts after the hellos. */
static void test_no_handshake(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t12-aes256gcm", 0);
	/* Skip the segments up to and including the client's second (its key exchange). */
	size_t k = 0;
	for (int seen = 0; k < c.tcp.n && seen < 2; k++)
		seen += c.tcp.c[k].dir == 0;
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, k, c.tcp.n, 0);
	tls_dec_finish(d);
	assert_int_equal(tls_dec_status(d), TLS_DEC_NO_HANDSHAKE);
	assert_string_equal(tls_dec_status_name(TLS_DEC_NO_HANDSHAKE), "handshake_not_captured");
	assert_int_equal(got.n[0] + got.n[1], 0);
	assert_false(tls_dec_info(d)->have_random);
	tls_dec_free(d);
	out_free(&got);

	/* Only the server's side was captured. */
	d = tls_dec_new(c.kl, NULL, on_plain, &got);
	for (size_t i = 0; i < c.tcp.n; i++)
		if (c.tcp.c[i].dir == 1)
			tls_dec_feed(d, TLS_DEC_FROM_SERVER, c.tcp.c[i].p, c.tcp.c[i].n);
	tls_dec_finish(d);
	assert_int_equal(tls_dec_info(d)->dir_status[1], TLS_DEC_NO_HANDSHAKE);
	assert_int_equal(tls_dec_status(d), TLS_DEC_NO_HANDSHAKE);
	assert_int_equal(tls_dec_info(d)->version, 0x0303);
	assert_int_equal(got.n[1], 0);
	tls_dec_free(d);

	/* The ClientHello alone, no answer. */
	d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, 1, 0);
	tls_dec_finish(d);
	assert_true(tls_dec_info(d)->have_random);
	assert_int_equal(tls_dec_status(d), TLS_DEC_NO_HANDSHAKE);
	tls_dec_free(d);
	conn_free(&c);
}

/* Stream bytes lost: what came before the hole is read, nothing after it. */
static void test_stream_gap(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t13-keyupdate", 0);
	size_t *after = progress(&c);
	/* The last client segment that carries plaintext: the gap goes before it. */
	size_t k = c.tcp.n;
	while (k > 0 && !(c.tcp.c[k - 1].dir == 0 && after[k - 1] > (k > 1 ? after[k - 2] : 0)))
		k--;
	assert_true(k > 1);
	k--;
	for (int late = 0; late < 2; late++) {
		struct keylog *kl = keylog_new(0);
		struct fa_err err = {{0}};
		if (!late)
			assert_int_equal(keylog_load_file(kl, c.keys_path, &err), FA_OK);
		struct out got = {0};
		struct tls_dec *d = tls_dec_new(kl, NULL, on_plain, &got);
		feed_range(d, &c.tcp, 0, k, 0);
		tls_dec_gap(d, TLS_DEC_FROM_CLIENT);
		feed_range(d, &c.tcp, k, c.tcp.n, 0);
		if (late) { /* the records before the hole still wait for their keys */
			assert_int_equal(got.n[0], 0);
			assert_int_equal(keylog_load_file(kl, c.keys_path, &err), FA_OK);
			tls_dec_retry(d);
		}
		tls_dec_finish(d);
		const struct tls_dec_info *in = tls_dec_info(d);
		assert_int_equal(in->dir_status[0], TLS_DEC_STREAM_GAP);
		assert_string_equal(tls_dec_status_name(TLS_DEC_STREAM_GAP), "stream_gap");
		assert_int_equal(got.n[0], k ? after[k - 1] : 0);
		assert_memory_equal(got.p[0], c.want.p[0], got.n[0]);
		assert_true(got.n[0] < c.want.n[0]);
		assert_int_equal(in->dir_status[1], TLS_DEC_DECRYPTED);
		assert_int_equal(got.n[1], c.want.n[1]);
		tls_dec_free(d);
		out_free(&got);
		keylog_free(kl);
	}
	free(after);
	conn_free(&c);
}

static void test_not_tls(void **state)
{
	(void)state;
	struct keylog *kl = keylog_new(0);
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(kl, NULL, on_plain, &got);
	const char *req = "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
	tls_dec_feed(d, TLS_DEC_FROM_CLIENT, (const uint8_t *)req, strlen(req));
	tls_dec_finish(d);
	assert_int_equal(tls_dec_status(d), TLS_DEC_NOT_TLS);
	assert_string_equal(tls_dec_status_name(TLS_DEC_NOT_TLS), "not_tls");
	tls_dec_free(d);

	/* A record longer than 2^14 + 2048 bytes breaks the protocol. */
	d = tls_dec_new(kl, NULL, on_plain, &got);
	static const uint8_t big[] = {0x16, 0x03, 0x01, 0x48, 0x01};
	tls_dec_feed(d, TLS_DEC_FROM_CLIENT, big, sizeof(big));
	assert_int_equal(tls_dec_status(d), TLS_DEC_NOT_TLS);
	tls_dec_free(d);
	tls_dec_free(NULL);
	keylog_free(kl);
}

/* The same session with the ServerHello's suite changed to TLS_RSA_WITH_3DES_EDE_CBC_SHA. */
static void test_unsupported_suite(void **state)
{
	(void)state;
	struct conn c;
	LOAD_OR_SKIP(&c, "t12-aes128gcm", 0);
	size_t k = 0;
	while (k < c.tcp.n && c.tcp.c[k].dir != 1)
		k++;
	assert_true(k < c.tcp.n);
	uint8_t *sh = c.tcp.c[k].p;
	/* record header 5, handshake header 4, version 2, random 32, session id */
	size_t off = 5 + 4 + 2 + 32;
	off += 1 + sh[off];
	assert_int_equal(sh[off], 0xc0);
	assert_int_equal(sh[off + 1], 0x2f);
	sh[off] = 0x00;
	sh[off + 1] = 0x0a;
	struct out got = {0};
	struct tls_dec *d = tls_dec_new(c.kl, NULL, on_plain, &got);
	feed_range(d, &c.tcp, 0, c.tcp.n, 0);
	tls_dec_finish(d);
	assert_int_equal(tls_dec_status(d), TLS_DEC_UNSUPPORTED);
	assert_string_equal(tls_dec_status_name(TLS_DEC_UNSUPPORTED), "cipher_not_supported");
	assert_int_equal(tls_dec_info(d)->cipher_suite, 0x000a);
	assert_int_equal(got.n[0] + got.n[1], 0);
	tls_dec_free(d);
	conn_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t12_aes128gcm),
		cmocka_unit_test(test_t12_aes256gcm),
		cmocka_unit_test(test_t12_chacha20),
		cmocka_unit_test(test_t12_cbc_sha1_etm),
		cmocka_unit_test(test_t12_cbc_sha1),
		cmocka_unit_test(test_t12_cbc_sha256),
		cmocka_unit_test(test_t12_cbc256_sha384_etm),
		cmocka_unit_test(test_t12_reneg_refused),
		cmocka_unit_test(test_t12_resumed),
		cmocka_unit_test(test_t13_aes128gcm),
		cmocka_unit_test(test_t13_aes256gcm),
		cmocka_unit_test(test_t13_chacha20),
		cmocka_unit_test(test_t13_keyupdate),
		cmocka_unit_test(test_t13_hrr),
		cmocka_unit_test(test_t13_resumed),
		cmocka_unit_test(test_t13_early_data),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_late_keys),
		cmocka_unit_test(test_keys_too_late),
		cmocka_unit_test(test_half_the_keys),
		cmocka_unit_test(test_no_handshake),
		cmocka_unit_test(test_stream_gap),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_unsupported_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
