/*
 * fuzz_engine.c - a short capture through the whole replay engine.
 *
 * Input: a link-type selector byte, then frames, each a 2-byte big-endian
 * length and that many bytes (a length past the end takes what is left).
 * A frame's time advances by its first byte in milliseconds, and by 400 s
 * when that byte is 0xff, so idle expiry (UDP 60 s, TCP 300 s) happens too.
 * The flow table is kept small (8 live flows) so eviction runs, and the
 * identifier scanner is on, so the flow table, nDPI, reassembly, the HTTP
 * parser, the TLS parser, the DNS cache and the end-of-flow naming all see
 * the same hostile frames in one process. A key log (empty: no client
 * random of a fuzzed handshake is in it) is given, so TLS flows go through
 * tls_decrypt.c's handshake and record parsing and wait for keys, and the
 * HTTP/2 decoder sees every TCP stream that could be HTTP/2.
 *
 * Building an engine costs nDPI's initialisation (about a quarter of a
 * second under the sanitizers), so one engine serves FUZZ_ENGINE_REUSE
 * inputs in a row (default 256): each input ends with engine_finish(),
 * which ends every flow, so what carries over is only the DNS cache,
 * interned strings and the record and hit counts, all bounded. Set
 * FUZZ_ENGINE_REUSE=1 to build a fresh engine per input when a crash does
 * not replay from its file alone.
 */
#include "flowaudit/engine.h"
#include "flowaudit/keylog.h"

#include "fuzz_common.h"

#define FUZZ_MAX_FRAMES 256

static struct idscan *g_ids;
static struct keylog *g_keys;
static struct engine *g_engine;
static unsigned g_uses, g_reuse = 256;
static size_t g_acc;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_ids = fuzz_idscan();
	g_keys = keylog_new(16);
	const char *r = getenv("FUZZ_ENGINE_REUSE");
	if (r != NULL && atoi(r) > 0)
		g_reuse = (unsigned)atoi(r);
	return 0;
}

static void on_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits,
		    void *user)
{
	size_t *acc = user;
	/* Read every string a record hands on: they must still be alive. */
	const char *s[] = {r->transport, r->protocol, r->category, r->name, r->alpn, r->ja3,
			   r->user_agent, r->http_url, r->dns_query, r->sig_pattern};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i] != NULL)
			*acc += strlen(s[i]);
	for (size_t i = 0; i < r->n_other_names; i++)
		*acc += strlen(r->other_names[i]);
	if (r->tls_status != NULL)
		*acc += strlen(r->tls_status);
	for (size_t i = 0; i < n_hits; i++)
		*acc += strlen(hits[i].type) + strlen(hits[i].encoding) + strlen(hits[i].where) +
			(hits[i].field ? strlen(hits[i].field) : 0);
}

static struct engine *engine_get(void)
{
	if (g_engine != NULL && g_uses < g_reuse) {
		g_uses++;
		return g_engine;
	}
	engine_free(g_engine);
	struct engine_cfg cfg;
	engine_cfg_default(&cfg);
	cfg.flows.max_flows = 8;
	cfg.max_records = 64;
	cfg.max_hits = 64;
	cfg.reasm_limit = 4096;
	cfg.ids = g_ids;
	cfg.keys = g_keys;
	cfg.on_flow = on_flow;
	cfg.user = &g_acc;
	struct fa_err err = {{0}};
	if (engine_new(&cfg, &g_engine, &err) != FA_OK) {
		fprintf(stderr, "fuzz: engine_new: %s\n", err.msg);
		abort();
	}
	g_uses = 1;
	return g_engine;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct engine *e = engine_get();
	int lt = fuzz_linktype(data[0]);
	size_t pos = 1;
	fa_time ts = 1700000000LL * 1000000;
	for (uint64_t n = 1; pos + 2 <= size && n <= FUZZ_MAX_FRAMES; n++) {
		size_t len = ((size_t)data[pos] << 8) | data[pos + 1];
		pos += 2;
		if (len > size - pos)
			len = size - pos;
		/* Each frame in its own allocation so ASan catches reads past it. */
		uint8_t *buf = malloc(len ? len : 1);
		if (buf == NULL)
			break;
		memcpy(buf, data + pos, len);
		pos += len;
		uint8_t tick = len ? buf[0] : 0;
		ts += tick == 0xff ? 400LL * 1000000 : (fa_time)tick * 1000;
		struct source_frame fr = {
			.data = buf, .caplen = (uint32_t)len, .wirelen = (uint32_t)len + (tick & 3),
			.ts = ts, .linktype = lt, .file = 0, .frame = n,
		};
		engine_frame(e, &fr);
		free(buf);
	}
	engine_finish(e);

	struct flow_record r;
	for (uint64_t id = 1; id <= engine_record_count(e); id++)
		if (engine_record_get(e, id, &r))
			g_acc += r.n_hits;
	size_t nh = 0;
	(void)engine_hits(e, &nh);
	struct engine_stats st;
	engine_stats(e, &st);
	return 0;
}
