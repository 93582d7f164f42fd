/*
 * test_engine_tls.c - TLS decryption inside the engine: real connections
 * (tests/fixtures/tls, made with openssl s_server and s_client, checked
 * against tshark) replayed with and without their key log, with the keys
 * arriving late, and with nDPI in a thread of its own.
 *
 * Each fixture's client sends "GET /first?id=3f2c1a HTTP/1.1" inside TLS;
 * the device profile here has serial 3f2c1a, which the scanner can only
 * find in the plaintext, in the query under the key "id". HTTP/2 in the
 * clear (tests/fixtures/http2/h2c.pcap, with tshark's reading of it) goes
 * through the same HTTP/2 decoder as HTTP/2 inside TLS.
 */
#include "flowaudit/device.h"
#include "flowaudit/engine.h"
#include "flowaudit/identifiers.h"
#include "flowaudit/keylog.h"
#include "flowaudit/source.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FIX "tests/fixtures/tls/"

static struct device_identifier serial_id[] = {
	{"serial", (char *)"3f2c1a", NULL},
	{"imei", (char *)"356938035643809", NULL},
};
static struct device_profile profile = {
	.path = (char *)"test-device.json",
	.ids = serial_id,
	.n_ids = 2,
};

struct late {
	struct keylog *kl;
	const char *keys;
	uint64_t at_frame; /* the key log file is read before this frame */
	bool loaded;
};

static void late_update(void *user, const struct source_frame *fr)
{
	struct late *l = user;
	if (l->loaded || (fr != NULL && fr->frame < l->at_frame))
		return;
	struct fa_err err = {""};
	assert_int_equal(keylog_load_file(l->kl, l->keys, &err), FA_OK);
	l->loaded = true;
}

struct result {
	struct flow_record tcp;  /* the fixture's one TCP flow (the last one) */
	size_t n_tcp;
	char names[8][64], urls[8][128], uas[8][64]; /* of each TCP flow */
	struct id_hit hits[8];     /* their strings are gone: see types */
	char types[8][32], fields[8][32];
	size_t n_hits;
	struct engine_stats st;
};

/*
 * Replays capture through an engine with the scanner; keys: NULL (no key
 * log), or the key log file, loaded up front (late_frame 0) or before
 * frame late_frame.
 */
static void replay(const char *capture, const char *keys, uint64_t late_frame, unsigned threads,
		   struct result *out)
{
	memset(out, 0, sizeof(*out));
	struct fa_err err = {""};
	struct idscan *ids = idscan_new(&profile, &err);
	assert_non_null(ids);
	struct keylog *kl = NULL;
	struct late late = {0};
	struct engine_cfg cfg;
	engine_cfg_default(&cfg);
	cfg.ids = ids;
	cfg.threads = threads;
	cfg.ordered = true;
	if (keys != NULL) {
		kl = keylog_new(0);
		assert_non_null(kl);
		cfg.keys = kl;
		if (late_frame == 0) {
			assert_int_equal(keylog_load_file(kl, keys, &err), FA_OK);
		} else {
			late = (struct late){kl, keys, late_frame, false};
			cfg.keys_update = late_update;
			cfg.keys_user = &late;
		}
	}
	struct engine *e = NULL;
	assert_int_equal(engine_new(&cfg, &e, &err), FA_OK);
	const char *paths[1] = {capture};
	struct source *src = NULL;
	assert_int_equal(source_open_files(paths, 1, &src, &err), FA_OK);
	struct source_frame fr;
	while (source_next(src, &fr, &err) == 1)
		engine_frame(e, &fr);
	engine_finish(e);
	size_t nh;
	const struct id_hit *hits = engine_hits(e, &nh);
	struct flow_record r;
	for (uint64_t id = 1; id <= engine_record_count(e); id++) {
		if (!engine_record_get(e, id, &r) || r.proto != 6)
			continue;
		out->tcp = r;
		if (out->n_tcp < 8) {
			snprintf(out->names[out->n_tcp], 64, "%s", r.name ? r.name : "");
			snprintf(out->urls[out->n_tcp], 128, "%s", r.http_url ? r.http_url : "");
			snprintf(out->uas[out->n_tcp], 64, "%s", r.user_agent ? r.user_agent : "");
		}
		out->n_tcp++;
		for (size_t i = 0; i < r.n_hits && out->n_hits < 8; i++) {
			const struct id_hit *h = &hits[r.first_hit + i];
			snprintf(out->types[out->n_hits], sizeof(out->types[0]), "%s", h->type);
			snprintf(out->fields[out->n_hits], sizeof(out->fields[0]), "%s",
				 h->field ? h->field : "");
			out->hits[out->n_hits++] = hits[r.first_hit + i];
		}
	}
	engine_stats(e, &out->st);
	source_free(src);
	engine_free(e);
	keylog_free(kl);
	idscan_free(ids);
}

/* The first client random of a key log file, as bytes. */
static void first_random(const char *keys, uint8_t out[32])
{
	FILE *f = fopen(keys, "r");
	assert_non_null(f);
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char label[64], hex[65];
		if (line[0] == '#' || sscanf(line, "%63s %64s", label, hex) != 2)
			continue;
		for (int i = 0; i < 32; i++) {
			unsigned v;
			assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
			out[i] = (uint8_t)v;
		}
		found = true;
	}
	fclose(f);
	assert_true(found);
}

static void check_decrypted(const char *name)
{
	char cap[256], keys[256];
	snprintf(cap, sizeof(cap), FIX "%s.pcap", name);
	snprintf(keys, sizeof(keys), FIX "%s.keys", name);
	struct result res;
	replay(cap, keys, 0, 1, &res);
	assert_int_equal(res.n_tcp, 1);
	assert_non_null(res.tcp.tls_status);
	assert_string_equal(res.tcp.tls_status, "decrypted");
	assert_true(res.tcp.tls_decrypted);
	assert_true(res.tcp.have_client_random);
	uint8_t cr[32];
	first_random(keys, cr);
	assert_memory_equal(res.tcp.client_random, cr, 32);
	/* the serial in the request line, read after decryption */
	bool found = false;
	for (size_t i = 0; i < res.n_hits; i++) {
		const struct id_hit *h = &res.hits[i];
		if (strcmp(res.types[i], "serial") == 0 && h->dir == FLOW_OUT) {
			assert_true(h->decrypted);
			/* "GET /first?id=3f2c1a HTTP/1.1": the query key */
			assert_string_equal(h->where, "http_query");
			assert_string_equal(res.fields[i], "id");
			assert_true(h->frame > 0);
			found = true;
		}
	}
	assert_true(found);
	assert_int_equal(res.st.tls_flows, 1);
	assert_int_equal(res.st.tls_decrypted, 1);
	assert_int_equal(res.st.tls_by_status[TLS_DEC_DECRYPTED], 1);
}

static void test_tls13_keyed(void **state)
{
	(void)state;
	check_decrypted("t13-aes128gcm");
	check_decrypted("t13-chacha20");
	check_decrypted("t13-keyupdate");
}

static void test_tls12_keyed(void **state)
{
	(void)state;
	check_decrypted("t12-aes256gcm");
	check_decrypted("t12-cbc-sha1-etm");
	check_decrypted("t12-cbc-sha256");
}

/* No key log: the flow is TLS, not read, and nothing is found in ciphertext. */
static void test_no_keys(void **state)
{
	(void)state;
	struct result res;
	replay(FIX "t13-aes128gcm.pcap", NULL, 0, 1, &res);
	assert_int_equal(res.n_tcp, 1);
	assert_non_null(res.tcp.tls_status);
	assert_string_equal(res.tcp.tls_status, "no_key");
	assert_false(res.tcp.tls_decrypted);
	assert_int_equal(res.n_hits, 0);
	assert_int_equal(res.st.tls_flows, 1);
	assert_int_equal(res.st.tls_decrypted, 0);
	assert_int_equal(res.st.tls_by_status[TLS_DEC_NO_KEY], 1);
}

/* An empty key log: the connection's own lines are missing. */
static void test_key_missing(void **state)
{
	(void)state;
	struct result res;
	replay(FIX "t13-aes128gcm.pcap", FIX "t12-aes128gcm.keys", 0, 1, &res);
	assert_string_equal(res.tcp.tls_status, "no_key");
	assert_false(res.tcp.tls_decrypted);
	assert_int_equal(res.n_hits, 0);
}

/*
 * Keys that come after the connection's records (a late secrets block, a
 * key log that grows): the ciphertext waits and is read when they come,
 * here at the last frame, so the hit is dated there.
 */
static void test_late_keys(void **state)
{
	(void)state;
	struct result early, late;
	replay(FIX "t12-aes128gcm.pcap", FIX "t12-aes128gcm.keys", 0, 1, &early);
	replay(FIX "t12-aes128gcm.pcap", FIX "t12-aes128gcm.keys", early.tcp.last_frame, 1, &late);
	assert_string_equal(late.tcp.tls_status, "decrypted");
	assert_int_equal(late.n_hits, early.n_hits);
	assert_true(late.n_hits > 0);
	assert_int_equal(late.hits[0].frame, early.tcp.last_frame);
	assert_true(early.hits[0].frame < early.tcp.last_frame);
	assert_int_equal(late.hits[0].offset, early.hits[0].offset);
}

/* nDPI in its own thread: the same records and hits, keys late or not. */
static void test_two_threads_same(void **state)
{
	(void)state;
	struct result one, two;
	for (int late = 0; late < 2; late++) {
		replay(FIX "t13-keyupdate.pcap", FIX "t13-keyupdate.keys", late ? 6 : 0, 1, &one);
		replay(FIX "t13-keyupdate.pcap", FIX "t13-keyupdate.keys", late ? 6 : 0, 2, &two);
		assert_string_equal(one.tcp.tls_status, two.tcp.tls_status);
		assert_int_equal(one.n_hits, two.n_hits);
		for (size_t i = 0; i < one.n_hits; i++) {
			assert_int_equal(one.hits[i].frame, two.hits[i].frame);
			assert_int_equal(one.hits[i].offset, two.hits[i].offset);
			assert_int_equal(one.hits[i].decrypted, two.hits[i].decrypted);
		}
	}
}

/*
 * HTTP/2 with prior knowledge: the requests tshark reads (h2c.tshark.tsv)
 * name the flows and give their first request line and user agent; the
 * IMEI in a :path query is a hit under http_query, key "imei", not
 * decrypted.
 */
static void test_h2c(void **state)
{
	(void)state;
	struct result res;
	replay("tests/fixtures/http2/h2c.pcap", NULL, 0, 1, &res);
	assert_int_equal(res.n_tcp, 4);
	assert_null(res.tcp.tls_status);
	assert_string_equal(res.names[0], "127.0.0.1");
	assert_string_equal(res.urls[0], "127.0.0.1:8080/index.html");
	assert_string_equal(res.uas[0], "DemoApp/2.1 (Android 13; Pixel 7)");
	assert_string_equal(res.names[1], "localhost");
	assert_string_equal(res.urls[1], "localhost:8080/v1/events");
	assert_string_equal(res.uas[1], "okhttp/4.12.0");
	assert_string_equal(res.urls[2], "localhost:8080/v1/events?z=1");
	bool found = false;
	for (size_t i = 0; i < res.n_hits; i++) {
		if (strcmp(res.types[i], "imei") != 0 || strcmp(res.hits[i].where, "http_query") != 0)
			continue;
		assert_string_equal(res.fields[i], "imei");
		assert_false(res.hits[i].decrypted);
		assert_int_equal(res.hits[i].dir, FLOW_OUT);
		found = true;
	}
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls13_keyed),
		cmocka_unit_test(test_tls12_keyed),
		cmocka_unit_test(test_no_keys),
		cmocka_unit_test(test_key_missing),
		cmocka_unit_test(test_late_keys),
		cmocka_unit_test(test_two_threads_same),
		cmocka_unit_test(test_h2c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
